"""`relais demo`: `relais up` plus a simulated day of carrier traffic, then a summary.

Rules:
- the services run exactly as `relais up` runs them (supervised, one log each), with one
  accelerated clock (`RELAIS_CLOCK=scaled:...`) shared by all five so they agree on
  virtual time;
- the demo merchants come from deploy/merchants, copied into the state dir with order
  API keys generated for this run (only their SHA-256 is written; the keys live in this
  process) and action webhooks pointed at a local merchant stub that verifies signatures;
- each carrier's calls go to its own endpoint (`/webhooks/carriers/<carrier>`, or
  `generic` for the parcels its format cannot tell, see demo/carriers.py), signed the
  way that carrier signs (`carriers.FORMATS[...].auth`) with a platform credential
  generated for this run, one secret per carrier;
- every order, tracking number and email of a run carries its run id, so the summary
  counts only this run's anomalies, notifications and mail.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol

import asyncpg
import httpx
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from relais_cli.demo.carriers import FORMATS, GENERIC, RELAY_AUTH, WebhookAuth
from relais_cli.demo.merchant_stub import MerchantStub
from relais_cli.demo.story import CarrierCall, DayOfTraffic, Merchant, OrderCall, day_of_traffic
from relais_cli.infra.settings import InfraSettings
from relais_cli.infra.smtp import read_messages
from relais_cli.office_users_cmd import demo_email, ensure_demo_users
from relais_cli.run_cmd import (
    DEFAULT_PORTS,
    Child,
    ServiceName,
    raise_child_died,
    relais_command,
    service_environment,
    show_children,
    start_child,
    stop_children,
    wait_healthy,
)
from relais_runtime.clock import ScaledClock
from relais_runtime.settings import RuntimeSettings

console = Console(stderr=True)
CARRIER_WEBHOOKS_ENV = "RELAIS_CARRIER_WEBHOOKS"
STARTUP_ALLOWANCE_S = 20.0
CURRENCIES = {"Europe/London": "GBP"}


def demo(
    orders: Annotated[int, typer.Option(min=1, max=5000, help="Orders in the day.")] = 200,
    speed: Annotated[float, typer.Option(min=1, help="Virtual seconds per real second.")] = 1800.0,
    days: Annotated[float, typer.Option(min=1, help="Virtual days simulated.")] = 4.0,
    seed: Annotated[int, typer.Option(help="Seed of the story generator.")] = 7,
) -> None:
    """Run Relais with two demo merchants and a simulated day of carrier traffic.

    Starts everything as `relais up` does, plays ORDERS orders through the order API
    and their carrier scans through the carrier webhooks in accelerated time, prints
    anomalies by type, notifications by outcome, the inbox and links to open, then
    stays up until Ctrl-C.
    """
    for step in (("infra", "up"), ("topics", "apply")):
        subprocess.run(relais_command(*step), check=True)
    paths = InfraSettings().paths
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"d{secrets.token_hex(3)}"
    stub = MerchantStub(secrets={})
    merchants_dir = paths.root / "demo" / "merchants"
    merchants, api_keys = write_demo_merchants(
        source=Path.cwd() / "deploy/merchants", target=merchants_dir, stub=stub
    )
    environment = service_environment(state_dir=paths.root, merchants_dir=merchants_dir)
    stub.secrets = merchant_secrets(merchants_dir=merchants_dir, environment=environment)
    stub.start()
    carrier_secrets = {carrier: secrets.token_urlsafe(32) for carrier in (*FORMATS, GENERIC)}
    real_start = datetime.now(UTC) + timedelta(seconds=STARTUP_ALLOWANCE_S)
    virtual_start = real_start.replace(hour=8, minute=0, second=0, microsecond=0)
    clock = ScaledClock(real_start=real_start, virtual_start=virtual_start, factor=speed)
    environment |= {
        "RELAIS_CLOCK": f"scaled:{real_start.isoformat()}|{virtual_start.isoformat()}|{speed}",
        **carrier_webhooks_environment(carrier_secrets),
    }
    day = day_of_traffic(
        merchants=merchants, orders=orders, start=virtual_start, run_id=run_id, seed=seed
    )
    children = [
        start_child(service, directory=paths.logs_dir, environment=environment)
        for service in ServiceName
    ]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        wait_healthy(children)
        show_children(children)
        office_passwords = ensure_demo_users(sorted(api_keys))
        show_back_office(office_passwords)
        console.print(
            f"demo run {run_id}: {orders} orders, 1 real second = {speed / 60:.0f} virtual "
            f"minutes, virtual time starts {virtual_start:%Y-%m-%d %H:%M} UTC"
        )
        simulate(
            day=day,
            clock=clock,
            api_keys=api_keys,
            carrier_secrets=carrier_secrets,
            until=virtual_start + timedelta(days=days, hours=4),
            children=children,
        )
        summarize(run_id=run_id, day=day, stub=stub, mail_dir=paths.mail_dir)
        first_order = min(datetime.fromisoformat(call.body["placed_at"]) for call in day.orders)
        show_insights(api_keys=api_keys, period=(first_order.date(), clock.now().date()))
        show_back_office(office_passwords)
        console.print(
            f"The clock keeps running {speed:.0f}x: customer links expire after the merchants' "
            f"chat.link_max_age_days (21 virtual days = {21 * 86400 / speed / 60:.0f} real "
            "minutes for velocity-sports)."
        )
        console.print("Relais is up with the demo. Ctrl-C stops the services.")
        while True:
            supervise(children)
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping services...")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        stop_children(children)
        stub.stop()
        console.print("services stopped; `relais infra down` stops the infrastructure.")


class WebhookTarget(Protocol):
    def url(self, merchant_id: str) -> str: ...


def write_demo_merchants(
    *,
    source: Path,
    target: Path,
    stub: WebhookTarget,
    run: str = "demo",
    adjust: Callable[[dict[str, Any]], None] = lambda _config: None,
) -> tuple[list[Merchant], dict[str, str]]:
    """Copy the merchants with this run's API key hashes and the stub's webhook URL;
    `adjust` changes anything else of each merchant's configuration in place."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.yaml"):
        old.unlink()
    merchants, keys = [], {}
    for path in sorted(source.glob("*.yaml")):
        config: dict[str, Any] = yaml.safe_load(path.read_text())
        merchant_id = config["merchant_id"]
        key = "rk_" + secrets.token_urlsafe(32)
        keys[merchant_id] = key
        digest = hashlib.sha256(key.encode()).hexdigest()
        config.setdefault("tracking", {})["api_keys"] = [{"id": f"{run}-run", "sha256": digest}]
        config["actions"]["webhook"]["url"] = stub.url(merchant_id)
        adjust(config)
        (target / path.name).write_text(
            f"# Generated by `relais {run}` for one run; do not edit.\n"
            + yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        )
        time_zone = config["time_zone"]
        merchants.append(
            Merchant(
                merchant_id=merchant_id,
                locale={"fr": "fr-FR", "en": "en-GB"}.get(config["locales"][0], "en-GB"),
                time_zone=time_zone,
                currency=CURRENCIES.get(time_zone, "EUR"),
            )
        )
    return merchants, keys


def merchant_secrets(*, merchants_dir: Path, environment: dict[str, str]) -> dict[str, str]:
    """Each merchant's action webhook secret, as the actions service will resolve it."""
    found = {}
    for path in merchants_dir.glob("*.yaml"):
        config = yaml.safe_load(path.read_text())
        name = config["actions"]["webhook"]["secret"]["env"]
        found[config["merchant_id"]] = environment.get(name) or os.environ[name]
    return found


def supervise(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is not None:
            raise_child_died(child)


def simulate(
    *,
    day: DayOfTraffic,
    clock: ScaledClock,
    api_keys: dict[str, str],
    carrier_secrets: Mapping[str, str],
    until: datetime,
    children: list[Child],
) -> None:
    """Send each call when virtual time reaches it, then let virtual time run to `until`."""
    tracker = f"http://127.0.0.1:{DEFAULT_PORTS[ServiceName.TRACKER]}"
    calls = sorted(
        [(call.at, 0, call) for call in day.orders] + [(call.at, 1, call) for call in day.scans],
        key=lambda item: (item[0], item[1]),
    )
    refused: dict[str, int] = {}
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[virtual]}"),
    )
    with httpx.Client(base_url=tracker, timeout=10) as client, Progress(*columns) as progress:
        calls_task = progress.add_task("carrier + order calls", total=len(calls), virtual="")
        span = (until - clock.virtual_start).total_seconds() / 3600
        time_task = progress.add_task("virtual hours", total=span, virtual="")
        index = 0
        while True:
            now = clock.now()
            label = f"{now:%a %H:%M} (virtual, UTC)"
            while index < len(calls) and calls[index][0] <= now:
                call = calls[index][2]
                try:
                    outcome = str(
                        send(client, call=call, api_keys=api_keys, carrier_secrets=carrier_secrets)
                    )
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                if outcome != "202":
                    refused[outcome] = refused.get(outcome, 0) + 1
                index += 1
                progress.advance(calls_task)
            elapsed = (now - clock.virtual_start).total_seconds() / 3600
            progress.update(calls_task, virtual=label)
            progress.update(time_task, completed=max(0.0, min(span, elapsed)), virtual="")
            if now >= until:
                break
            supervise(children)
            time.sleep(0.2)
    if refused:
        console.print(f"[yellow]calls not accepted by the tracker (status: count): {refused}")


def send(
    client: httpx.Client,
    *,
    call: OrderCall | CarrierCall,
    api_keys: dict[str, str],
    carrier_secrets: Mapping[str, str],
) -> int:
    """Place an order or post a carrier event to its carrier's endpoint; the HTTP status."""
    if isinstance(call, OrderCall):
        key = api_keys[call.merchant_id]
        return client.post(
            "/v1/orders", json=call.body, headers={"Authorization": f"Bearer {key}"}
        ).status_code
    body = json.dumps(call.payload).encode()
    headers = carrier_headers(carrier=call.carrier, secret=carrier_secrets[call.carrier], body=body)
    return client.post(
        f"/webhooks/carriers/{call.carrier}", content=body, headers=headers
    ).status_code


def webhook_auth(carrier: str) -> WebhookAuth:
    fmt = FORMATS.get(carrier)
    return fmt.auth if fmt is not None else RELAY_AUTH


def secret_env(carrier: str) -> str:
    return f"RELAIS_DEMO_{carrier.upper()}_WEBHOOK_SECRET"


def carrier_webhooks_environment(carrier_secrets: Mapping[str, str]) -> dict[str, str]:
    """The tracker's environment for one platform credential per carrier: each secret in
    its own variable, RELAIS_CARRIER_WEBHOOKS naming them (never the secrets themselves)."""
    credentials = {
        carrier: {
            "scheme": webhook_auth(carrier).scheme,
            "header": webhook_auth(carrier).header,
            "prefix": webhook_auth(carrier).prefix,
            "secret": {"env": secret_env(carrier)},
        }
        for carrier in carrier_secrets
    }
    return {
        **{secret_env(carrier): secret for carrier, secret in carrier_secrets.items()},
        CARRIER_WEBHOOKS_ENV: json.dumps(credentials),
    }


def carrier_headers(*, carrier: str, secret: str, body: bytes) -> dict[str, str]:
    """The headers the carrier authenticates `body` with: its shared secret, or the hex
    HMAC-SHA256 of the raw body, in its header after its prefix."""
    auth = webhook_auth(carrier)
    if auth.scheme == "shared_secret":
        value = secret
    else:
        value = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", auth.header: f"{auth.prefix}{value}"}


HEADLINE = (
    ("parcels", "parcels", "{}"),
    ("anomalies", "anomalies", "{}"),
    ("anomaly_share", "parcels with an anomaly", "{:.1%}"),
    ("told_share", "anomalies told to the customer", "{:.1%}"),
    ("median_minutes_to_tell", "median minutes to tell", "{:.1f}"),
    ("resolution_rate", "anomalies resolved", "{:.1%}"),
    ("csat_average", "CSAT (1 to 5)", "{:.2f}"),
    ("views_per_order", "tracking page views per order", "{:.2f}"),
    ("on_time_rate", "delivered on time", "{:.1%}"),
    ("contacts_avoided", "contacts avoided", "{:.1f}"),
)


def fetch_headlines(
    client: httpx.Client, api_keys: dict[str, str], *, period: tuple[date, date], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Each merchant's headline, read again until two reads agree: the insights
    consumers may still be catching up with the topics (a first start replays them)."""
    previous: dict[str, dict[str, Any]] | None = None
    deadline = time.monotonic() + timeout_s
    while True:
        found = {}
        for merchant_id, key in sorted(api_keys.items()):
            response = client.get(
                f"/api/v1/merchants/{merchant_id}/insights",
                params={"from": period[0].isoformat(), "to": period[1].isoformat()},
                headers={"Authorization": f"Bearer {key}"},
            )
            if response.status_code == 200:
                found[merchant_id] = response.json()["headline"]
            else:
                console.print(f"[yellow]insights for {merchant_id}: {response.status_code}")
        if found == previous or time.monotonic() > deadline:
            return found
        previous = found
        time.sleep(3)


def show_insights(
    *, api_keys: dict[str, str], period: tuple[date, date], timeout_s: float = 90
) -> None:
    """The headline KPIs of each demo merchant from the insights API over the demo's
    virtual days, from its first order's placement (parcels count by the day their
    order was placed; an earlier demo run on the same days counts too), and its
    dashboard link."""
    base = f"http://127.0.0.1:{DEFAULT_PORTS[ServiceName.INSIGHTS]}"
    with httpx.Client(base_url=base, timeout=30) as client:
        headlines = fetch_headlines(client, api_keys, period=period, timeout_s=timeout_s)
    table = Table(title=f"Insights: headline KPIs (insights API, {period[0]} to {period[1]})")
    table.add_column("KPI")
    for merchant_id in headlines:
        table.add_column(merchant_id, justify="right")
    for name, title, shape in HEADLINE:
        table.add_row(
            title,
            *(
                "—" if headline[name] is None else shape.format(headline[name])
                for headline in headlines.values()
            ),
        )
    table.add_row(
        "money saved",
        *(f"{h['money_saved']} {h['currency']}" for h in headlines.values()),
    )
    console.print(table)
    console.print("[bold]Dashboards[/bold] (sign in with this run's API key of the merchant):")
    for merchant_id, key in sorted(api_keys.items()):
        console.print(f"  {base}/insights/{merchant_id}", markup=False)
        console.print(f"    API key for this run: {key}", markup=False)


def show_back_office(passwords: dict[str, str]) -> None:
    """Each demo merchant's back-office link and its demo admin (password new each run)."""
    base = f"http://127.0.0.1:{DEFAULT_PORTS[ServiceName.INSIGHTS]}"
    console.print("[bold]Back office[/bold] (a demo admin per merchant, password new each run):")
    for merchant_id, password in sorted(passwords.items()):
        console.print(f"  {base}/office/{merchant_id}/login", markup=False)
        console.print(f"    email {demo_email(merchant_id)}  password {password}", markup=False)


def summarize(*, run_id: str, day: DayOfTraffic, stub: MerchantStub, mail_dir: Path) -> None:
    anomalies, notifications = asyncio.run(count_outcomes(run_id=run_id))
    scenarios = Table(title="Scenarios played (parcels)")
    scenarios.add_column("scenario")
    scenarios.add_column("parcels", justify="right")
    for kind, count in sorted(day.scenarios.items(), key=lambda item: -item[1]):
        scenarios.add_row(kind, str(count))
    console.print(scenarios)
    console.print(counts_table("Anomalies by type", ("type", "opened"), anomalies))
    console.print(
        counts_table(
            "Notifications by outcome",
            ("channel", "status", "deferred or suppressed because", "count"),
            notifications,
        )
    )
    actions = Table(title="Actions received by the merchant stub")
    actions.add_column("action")
    actions.add_column("count", justify="right")
    for action, count in sorted(stub.received_for(run_id).items()):
        actions.add_row(action, str(count))
    console.print(actions)
    show_links(run_id=run_id, mail_dir=mail_dir)


async def count_outcomes(*, run_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    connection = await asyncpg.connect(RuntimeSettings().database_url)
    try:
        pattern = f"{run_id}-%"
        anomalies = await connection.fetch(
            "SELECT anomaly_type, count(*) FROM detector.anomalies"
            " WHERE shipment_id LIKE $1 GROUP BY 1 ORDER BY 2 DESC",
            pattern,
        )
        notifications = await connection.fetch(
            "SELECT channel, status, coalesce(outcome_reason, ''), count(*)"
            " FROM notifier.notifications"
            " WHERE shipment_id LIKE $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC",
            pattern,
        )
    finally:
        await connection.close()
    return [tuple(row) for row in anomalies], [tuple(row) for row in notifications]


def counts_table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in ("count", "opened") else "left")
    for row in rows:
        table.add_row(*(str(value) for value in row))
    return table


LINK = re.compile(r"https?://[^\s\"'<>]+/(?:c|t|s)/[A-Za-z0-9._~-]+")


def show_links(*, run_id: str, mail_dir: Path) -> None:
    mails = [mail for mail in read_messages(mail_dir) if f"{run_id}-" in mail.to]
    console.print(
        f"Emails: {len(mails)} for this run in the Maildir {mail_dir} "
        "(list them with `relais infra mail`)."
    )
    chats: dict[str, list[tuple[str, str]]] = {}
    others: dict[str, list[tuple[str, str]]] = {"/t/": [], "/s/": []}
    for mail in mails:
        sender = str(mail.message.get("From", ""))
        for link in LINK.findall(mail.text()):
            if "/c/" in link:
                chats.setdefault(sender, []).append((mail.subject, link))
            else:
                others["/t/" if "/t/" in link else "/s/"].append((mail.subject, link))
    some_chats = [link for links in chats.values() for link in links[:2]]  # every merchant
    shown = (
        ("Chat links", some_chats[:4]),
        ("Tracking link", others["/t/"][:1]),
        ("Survey link", others["/s/"][:1]),
    )
    for title, links in shown:
        console.print(f"[bold]{title}[/bold] (open in a browser):")
        for subject, link in links:
            console.print(f"  {subject}", markup=False)
            console.print(f"    {link}", markup=False, soft_wrap=True)
