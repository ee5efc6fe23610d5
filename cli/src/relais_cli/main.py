"""The `relais` command: one entry point for running, testing and operating Relais."""

from __future__ import annotations

import typer

from relais_cli import (
    carriers_cmd,
    chaos_cmd,
    contracts_cmd,
    dead_letters_cmd,
    demo_cmd,
    erase_cmd,
    fuzz_cmd,
    i18n_cmd,
    infra_cmd,
    insights_cmd,
    lint_cmd,
    merchant_cmd,
    normalize_cmd,
    pages_cmd,
    run_cmd,
    settings_reference,
    test_cmd,
    topics_cmd,
    tracker_cmd,
    webhook_cmd,
)

app = typer.Typer(
    name="relais",
    help=(
        "Relais: post-purchase parcel monitoring, proactive customer messages and "
        "decision-tree chat.\n\n"
        "Start here: `relais demo` runs the whole stack with two demo merchants and a "
        "simulated day of parcels; `relais up` runs it without demo traffic; `relais test` "
        "runs the test suite."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(infra_cmd.app, name="infra")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(contracts_cmd.app, name="contracts")
app.add_typer(webhook_cmd.app, name="webhook")
app.add_typer(dead_letters_cmd.app, name="dead-letters")
app.add_typer(insights_cmd.app, name="insights")
app.add_typer(tracker_cmd.app, name="tracker")
app.add_typer(carriers_cmd.app, name="carriers")
app.add_typer(merchant_cmd.app, name="merchant")
app.add_typer(settings_reference.app, name="settings")
app.add_typer(i18n_cmd.app, name="i18n")
app.command("run")(run_cmd.run)
app.command("up")(run_cmd.up)
app.command("demo")(demo_cmd.demo)
app.command("erase")(erase_cmd.erase)
app.command("chaos", help=chaos_cmd.HELP)(chaos_cmd.chaos)
app.command("fuzz")(fuzz_cmd.fuzz)
app.command("lint")(lint_cmd.lint)
app.command("normalize")(normalize_cmd.normalize)
app.command("lighthouse")(pages_cmd.lighthouse)
app.command("screenshots")(pages_cmd.screenshots)
app.command("test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    test_cmd.test
)


@app.command(
    "bench",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": [],
    },
)
def bench(context: typer.Context) -> None:
    """Benchmarks that print figures: tracker, detector, chat (`relais bench --help`)."""
    # Imported on use: the benchmarks load every service, which `relais --help` need not.
    from relais_cli.bench.app import app as bench_app

    bench_app(args=context.args, prog_name="relais bench")


if __name__ == "__main__":
    app()
