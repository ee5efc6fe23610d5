"""`relais dead-letters`: list, show and replay the messages consumers set aside.

Runbook: docs/runbooks/dead-letters.md. Pure parts in dead_letters.py, Kafka in
dead_letters_kafka.py. Reading joins no consumer group and commits nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from relais_cli.dead_letters import (
    KNOWN_KINDS,
    DeadLetter,
    Filters,
    build_filters,
    build_replay,
    compacted_topics,
    describe_key,
    details,
    replay_hazard,
    select,
    source_key,
    summary,
)
from relais_cli.dead_letters_kafka import (
    DEAD_LETTER_TOPIC,
    DeadLetterError,
    Reading,
    later_offsets,
    publish_replays,
    read_letters,
)
from relais_cli.infra_cmd import load_settings
from relais_cli.kafka_access import kafka_security_from_env

app = typer.Typer(
    help=(
        f"Dead letters ({DEAD_LETTER_TOPIC}): list them, show one, replay them to the "
        "consumer group that failed. Runbook: docs/runbooks/dead-letters.md."
    ),
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True, highlight=False)

T = TypeVar("T")
Row = dict[str, Any]
WIDE = 400

BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        help="Kafka bootstrap servers (default: RELAIS_KAFKA_BOOTSTRAP, else 127.0.0.1:9092).",
    ),
]
GroupOption = Annotated[
    list[str] | None,
    typer.Option("--group", "-g", help="Consumer group that dead-lettered it (repeatable)."),
]
TopicOption = Annotated[
    list[str] | None,
    typer.Option("--topic", "-t", help="Source topic the message came from (repeatable)."),
]
KindOption = Annotated[
    list[str] | None,
    typer.Option("--kind", "-k", help=f"Reason kind (repeatable): {', '.join(KNOWN_KINDS)}, ..."),
]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since", help="Dead-lettered at or after: ISO time (UTC if no offset) or ago (2h, 3d)."
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", help="Dead-lettered before: ISO time or ago (30m)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout instead of a table.")]


def _bootstrap(bootstrap: str | None) -> str:
    return bootstrap or load_settings().kafka_bootstrap


def _filters(
    *,
    groups: list[str] | None,
    topics: list[str] | None,
    kinds: list[str] | None,
    since: str | None,
    until: str | None,
    ids: list[str] | None = None,
) -> Filters:
    try:
        filters = build_filters(
            groups=groups or (),
            topics=topics or (),
            kinds=kinds or (),
            since=since,
            until=until,
            ids=ids or (),
            now=datetime.now(UTC),
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    unknown = sorted(filters.kinds - set(KNOWN_KINDS))
    if unknown:
        err.print(
            Text(
                f"note: reason kind(s) {', '.join(unknown)} unknown to this version "
                f"(known: {', '.join(KNOWN_KINDS)})",
                style="yellow",
            )
        )
    return filters


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # The client's own connection errors would print as stray log lines: ours say it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(coroutine)
    except DeadLetterError as error:
        err.print(Text(str(error), style="red"))
        raise typer.Exit(1) from None


def _read(bootstrap: str | None, filters: Filters) -> Reading:
    reading = _run(read_letters(_bootstrap(bootstrap), filters, security=kafka_security_from_env()))
    if reading.unreadable:
        err.print(
            f"[yellow]{reading.unreadable} record(s) of {DEAD_LETTER_TOPIC} are not readable "
            "dead letters: skipped[/]"
        )
    return reading


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _source(letter: DeadLetter) -> str:
    return f"{letter.source_topic}/{letter.source_partition}/{letter.source_offset}"


@app.command("list")
def list_(
    group: GroupOption = None,
    topic: TopicOption = None,
    kind: KindOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="The N most recent (0: all).")
    ] = 50,
    as_json: JsonOption = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Dead letters matching the filters, oldest first (the most recent --limit of them).

    Reads the topic up to its current end without a consumer group: moves no offsets.
    """
    filters = _filters(groups=group, topics=topic, kinds=kind, since=since, until=until)
    reading = _read(bootstrap, filters)
    letters = select(reading.letters, limit)
    if as_json:
        typer.echo(json.dumps([summary(letter) for letter in letters], indent=2))
    elif letters:
        table = Table()
        for header in ("time (UTC)", "group", "source topic/partition/offset", "kind"):
            table.add_column(header, no_wrap=True)
        table.add_column("reason", no_wrap=True, overflow="ellipsis", min_width=20)
        table.add_column("id", no_wrap=True, min_width=36)
        for letter in letters:
            table.add_row(
                Text(_when(letter.occurred_at), no_wrap=True),
                Text(letter.consumer_group),
                Text(_source(letter)),
                Text(letter.reason.kind),
                Text(letter.short_reason()),
                Text(str(letter.event_id), no_wrap=True),
            )
        # Piped or captured, rich would assume 80 columns: a row per line reads better.
        Console(width=None if sys.stdout.isatty() else WIDE).print(table)
    matching = len({letter.event_id for letter in reading.letters})
    err.print(
        f"{len(letters)} of {matching} matching dead letter(s) shown "
        f"({reading.scanned} read from {DEAD_LETTER_TOPIC})"
        + ("; `relais dead-letters show ID` for one" if letters and not as_json else "")
    )


@app.command("show")
def show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter's event id.")],
    as_json: JsonOption = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Everything about one dead letter: origin, reason, headers, original value.

    The value is shown as pretty JSON when it is JSON, else as text, else base64.

    The original value may hold personal data: do not paste it into tickets.
    """
    filters = _filters(
        groups=None, topics=None, kinds=None, since=None, until=None, ids=[letter_id]
    )
    letters = select(_read(bootstrap, filters).letters)
    if not letters:
        err.print(Text(f"no dead letter {letter_id} on {DEAD_LETTER_TOPIC}", style="red"))
        raise typer.Exit(1)
    letter = letters[0]
    about = details(letter)
    if as_json:
        typer.echo(json.dumps(about, indent=2, ensure_ascii=False))
        return
    out = Console(highlight=False)
    key_format, key = describe_key(letter.key())
    rows: list[tuple[str, str]] = [
        ("dead letter", str(letter.event_id)),
        ("dead-lettered at", letter.occurred_at.isoformat()),
        ("consumer group", letter.consumer_group),
        (
            "source",
            f"topic {letter.source_topic}, partition {letter.source_partition}, "
            f"offset {letter.source_offset}",
        ),
        ("reason", f"{letter.reason.kind} after {letter.reason.attempts} attempt(s)"),
        ("merchant", letter.merchant_id),
        ("correlation id", letter.correlation_id),
        (
            "key",
            "(none)" if key is None else f"{key}" + (" (base64)" if key_format == "base64" else ""),
        ),
        ("stored at", f"{DEAD_LETTER_TOPIC} partition {letter.partition}, offset {letter.offset}"),
    ]
    if letter.replay_of:
        rows.append(("replay of", letter.replay_of))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    for name, value in rows:
        facts.add_row(name, Text(value))
    out.print(facts)
    out.print("\n[bold]reason[/]")
    out.print(Text(letter.reason.message or "(no message)"))
    out.print("\n[bold]headers[/]")
    if letter.source_headers:
        headers = Table.grid(padding=(0, 2))
        headers.add_column(no_wrap=True)
        headers.add_column()
        for name, value in letter.source_headers.items():
            headers.add_row(Text(name), Text(value))
        out.print(headers)
    else:
        out.print("(none)")
    out.print(f"\n[bold]value[/] ({about['value_format']}, {len(letter.value())} bytes)")
    if about["value_format"] == "json":
        typer.echo(json.dumps(about["value"], indent=2, ensure_ascii=False))
    else:
        out.print(Text(str(about["value"])))


@app.command("replay")
def replay(
    ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="ID", help="Dead-letter event ids (with or instead of filters)."),
    ] = None,
    group: GroupOption = None,
    topic: TopicOption = None,
    kind: KindOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Only the N most recent (0: all).")
    ] = 0,
    everything: Annotated[
        bool, typer.Option("--all", help="Replay every letter on the topic (no filter given).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be replayed; publish nothing.")
    ] = False,
    as_json: JsonOption = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Re-publish dead letters to their source topic, for the group that failed only.

    Each selected letter's original key, value and headers go back to its source topic,
    oldest first, with the headers relais-replay-for (the letter's consumer group: the
    other groups skip the record) and relais-replay-of (the letter's id). Asks nothing;
    prints each replay.

    Idempotent: consumers claim event ids, so a message already processed is skipped.
    """
    filters = _filters(groups=group, topics=topic, kinds=kind, since=since, until=until, ids=ids)
    if not filters.narrows and not everything:
        err.print(
            "[red]name dead-letter ids or filters (--group, --topic, --kind, --since, "
            "--until), or pass --all to replay every letter[/]"
        )
        raise typer.Exit(2)
    target = _bootstrap(bootstrap)
    letters = select(_read(target, filters).letters, limit)
    missing = sorted(
        str(wanted) for wanted in filters.ids - {letter.event_id for letter in letters}
    )
    if missing:
        err.print(
            Text(
                f"no dead letter {', '.join(missing)} on {DEAD_LETTER_TOPIC} (matching the "
                "filters): nothing replayed",
                style="red",
            )
        )
        raise typer.Exit(1)
    chosen, rows = _screen(target, letters)
    records = [build_replay(letter) for letter in chosen]
    by_id = {letter.event_id: letter for letter in chosen}
    if dry_run:
        for record in records:
            rows.append(_replay_row(by_id[record.letter_id], "would_replay", topic=record.topic))
    else:
        for done in _run(publish_replays(target, records, security=kafka_security_from_env())):
            rows.append(
                _replay_row(
                    by_id[done.record.letter_id],
                    "replayed",
                    topic=done.record.topic,
                    partition=done.partition,
                    offset=done.offset,
                )
            )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            typer.echo(_replay_line(row))
    verb = "would be replayed (dry run)" if dry_run else "replayed"
    skipped = sum(1 for row in rows if row["status"] == "skipped")
    err.print(f"{len(records)} dead letter(s) {verb}, {skipped} skipped")


def _screen(bootstrap: str, letters: list[DeadLetter]) -> tuple[list[DeadLetter], list[Row]]:
    """The letters that may be replayed, and a row for each one that may not
    (dead_letters.replay_hazard: compacted source topics)."""
    compacted = compacted_topics()
    on_compacted = [letter for letter in letters if letter.source_topic in compacted]
    later = (
        _run(later_offsets(bootstrap, on_compacted, security=kafka_security_from_env()))
        if on_compacted
        else {}
    )
    chosen: list[DeadLetter] = []
    skipped: list[Row] = []
    for letter in letters:
        where = source_key(letter)
        hazard = replay_hazard(
            letter,
            compacted=letter.source_topic in compacted,
            later_offset=None if where is None else later.get(where),
        )
        if hazard is None:
            chosen.append(letter)
        else:
            skipped.append(_replay_row(letter, "skipped", note=hazard))
    return chosen, skipped


def _replay_row(
    letter: DeadLetter,
    status: str,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    note: str | None = None,
) -> Row:
    return {
        "status": status,
        "dead_letter_id": str(letter.event_id),
        "consumer_group": letter.consumer_group,
        "kind": letter.reason.kind,
        "source": _source(letter),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "note": note,
    }


def _replay_line(row: Row) -> str:
    about = f"{row['dead_letter_id']} for {row['consumer_group']} ({row['kind']})"
    if row["status"] == "skipped":
        return f"skipped {about}: {row['note']}"
    where = "" if row["partition"] is None else f"/{row['partition']}/{row['offset']}"
    verb = "would replay" if row["status"] == "would_replay" else "replayed"
    return f"{verb} {about}: {row['source']} -> {row['topic']}{where}"
