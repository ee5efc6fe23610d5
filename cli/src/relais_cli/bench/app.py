"""The `relais bench` typer app: one command per benchmark."""

from __future__ import annotations

import typer

from relais_cli.bench import chat, detector, journey, office, orders, pages, tracker

app = typer.Typer(help="Benchmarks: commands that print figures.", no_args_is_help=True)
app.command("detector")(detector.detector)
app.command("chat")(chat.chat)
app.command("tracker")(tracker.tracker)
app.command("orders")(orders.orders_bench)
app.command("office")(office.office)
app.command("journey")(journey.journey)
app.command("pages")(pages.pages)
