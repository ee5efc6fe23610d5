"""The `relais` command: one entry point for running, testing and operating Relais."""

from __future__ import annotations

import typer

from relais_cli import (
    bench_cmd,
    contracts_cmd,
    demo_cmd,
    infra_cmd,
    lint_cmd,
    normalize_cmd,
    run_cmd,
    test_cmd,
    topics_cmd,
    webhook_cmd,
)

app = typer.Typer(
    name="relais",
    help=(
        "Relais: post-purchase parcel monitoring, proactive customer messages and "
        "decision-tree chat.\n\n"
        "Start here: `relais up` brings up the local infrastructure (Kafka, PostgreSQL, "
        "SMTP) and the five services; `relais test` runs the test suite."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(infra_cmd.app, name="infra")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(contracts_cmd.app, name="contracts")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(webhook_cmd.app, name="webhook")
app.command("run")(run_cmd.run)
app.command("up")(run_cmd.up)
app.command("demo")(demo_cmd.demo)
app.command("lint")(lint_cmd.lint)
app.command("normalize")(normalize_cmd.normalize)
app.command("test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    test_cmd.test
)

if __name__ == "__main__":
    app()
