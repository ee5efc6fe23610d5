"""The whole stack of `relais bench journey`: an isolated infrastructure and the six
services in processes, as the chaos run starts them (relais_cli.chaos).

Rules:
- the bench has its own Kafka, PostgreSQL and SMTP catcher (relais_cli.infra.isolated,
  ports `BENCH`, state dir ~/.local/state/relais-bench), cleared at the start: nobody
  else's traffic reaches the services measured, the Maildir holds only the bench's
  mail, and the shared `relais infra` is neither loaded nor disturbed;
- each service runs as `relais run <service>` in its own process (the chaos
  Supervisor), on the system clock, with the demo merchants changed so that a failed
  delivery attempt is emailed at once: no quiet hours, no frequency cap, email only,
  no milestone messages;
- the orders are placed through the tracker's order API before anything is measured,
  and the run waits until the tracker holds every one of them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.progress import Progress

from relais_cli.chaos.processes import Supervisor, wait_all
from relais_cli.demo.carriers import GENERIC
from relais_cli.demo.story import Merchant
from relais_cli.demo_cmd import carrier_webhooks_environment, write_demo_merchants
from relais_cli.infra.isolated import IsolatedInfra, IsolatedPorts
from relais_cli.infra.paths import kafka_deploy_dir
from relais_cli.run_cmd import service_environment

BENCH_PORTS = IsolatedPorts(39092, 39093, 39432, 39025, 39001)
MERCHANT = "maison-lumiere"


def default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "relais-bench"


class NoActions:
    """The merchants' action webhook: nowhere (a failed attempt starts no action)."""

    def url(self, merchant_id: str) -> str:
        return f"http://127.0.0.1:9/{merchant_id}/actions"


def emailed_at_once(config: dict[str, Any]) -> None:
    """A merchant whose failed-attempt anomaly is emailed at once, and nothing else is."""
    notification = config["notification"]
    notification.pop("quiet_hours", None)
    notification.pop("frequency_cap", None)
    notification["milestones"] = {}
    notification["channels"] = ["email"]
    notification["fallback"] = False
    for binding in notification.get("anomalies", {}).values():
        binding.pop("channels", None)
    notification["urgent"] = []


@dataclass
class Stack:
    infra: IsolatedInfra
    supervisor: Supervisor
    merchant: Merchant
    api_key: str
    carrier_secret: str

    @property
    def tracker_url(self) -> str:
        return f"http://127.0.0.1:{self.infra.ports.services['tracker']}"

    def stop(self, *, keep_infra: bool) -> None:
        self.supervisor.stop(grace_s=10.0)
        if not keep_infra:
            asyncio.run(self.infra.down())


def start_stack(console: Console, *, state_dir: Path, logs_dir: Path) -> Stack:
    infra = IsolatedInfra(name="bench", state_dir=state_dir, ports=BENCH_PORTS)
    started = time.monotonic()
    try:
        with console.status(
            f"isolated infrastructure: Kafka :{BENCH_PORTS.kafka}, PostgreSQL "
            f":{BENCH_PORTS.postgres}, SMTP :{BENCH_PORTS.smtp} (state {state_dir})"
        ):
            asyncio.run(infra.reset())
            asyncio.run(infra.up())
        console.print(f"isolated infrastructure up in {time.monotonic() - started:.0f} s")
        return start_services(console, infra, logs_dir=logs_dir)
    except BaseException:
        # Whatever failed (a component, a service that cannot start, Ctrl-C): nothing of
        # the isolated infrastructure is left running.
        with console.status("stopping the isolated infrastructure"):
            asyncio.run(infra.down())
        raise


def start_services(console: Console, infra: IsolatedInfra, *, logs_dir: Path) -> Stack:
    merchants_dir = infra.settings.paths.root / "merchants"
    merchants, api_keys = write_demo_merchants(
        source=kafka_deploy_dir().parent / "merchants",
        target=merchants_dir,
        stub=NoActions(),
        run="bench",
        adjust=emailed_at_once,
    )
    carrier_secret = secrets.token_urlsafe(32)
    ports = infra.ports.services
    environment = (
        infra.environment()
        | service_environment(state_dir=infra.settings.paths.root, merchants_dir=merchants_dir)
        | carrier_webhooks_environment({GENERIC: carrier_secret})
        | {
            "RELAIS_PUBLIC_CHAT_BASE_URL": f"http://127.0.0.1:{ports['chat']}",
            "RELAIS_PUBLIC_NOTIFIER_BASE_URL": f"http://127.0.0.1:{ports['notifier']}",
            "RELAIS_LOG_LEVEL": "warning",
            # the set-up waits for every consumer group to catch up (wait_until_caught_up)
            "RELAIS_CONSUMER_LAG_INTERVAL_S": str(LAG_INTERVAL_S),
        }
    )
    supervisor = Supervisor(environment=environment, ports=ports, logs_dir=logs_dir)
    supervisor.start()
    stack = Stack(
        infra=infra,
        supervisor=supervisor,
        merchant=next(m for m in merchants if m.merchant_id == MERCHANT),
        api_key=api_keys[MERCHANT],
        carrier_secret=carrier_secret,
    )
    try:
        with console.status("starting the six services (relais run <service>)"):
            health = wait_all(ports, path="/health", timeout_s=120)
            ready = wait_all(ports, path="/ready", timeout_s=60)
        console.print(f"services: /health {health}, /ready {ready} (logs in {logs_dir})")
        if any(status != 200 for status in ready.values()):
            raise RuntimeError(f"services not ready: {ready}; see the logs in {logs_dir}")
    except BaseException:
        supervisor.stop(grace_s=10.0)
        raise
    return stack


async def place_orders(
    stack: Stack,
    bodies: list[dict[str, Any]],
    *,
    progress: Progress,
    concurrency: int = 4,
    per_request: int = 100,
) -> None:
    """POST every order (not measured), `per_request` at a time through the batch order
    API, then wait until the tracker holds them all and every consumer caught up."""
    task = progress.add_task("orders placed (set-up)", total=len(bodies))
    pending = (bodies[i : i + per_request] for i in range(0, len(bodies), per_request))
    refused: list[int] = []
    async with httpx.AsyncClient(base_url=stack.tracker_url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {stack.api_key}"}

        async def post(batch: list[dict[str, Any]]) -> int:
            """Status of one batch's POST, tried again (the same orders: no duplicate) when
            the connection broke, as a busy server closing a kept-alive one does."""
            for attempt in range(1, 4):
                try:
                    response = await client.post(
                        "/v1/orders/batch", json={"orders": batch}, headers=headers
                    )
                except httpx.TransportError:
                    if attempt == 3:
                        raise
                    await asyncio.sleep(0.5 * attempt)
                else:
                    return response.status_code
            raise AssertionError("unreachable")

        async def worker() -> None:
            for batch in pending:
                status = await post(batch)
                if status != 202:
                    refused.append(status)
                progress.advance(task, len(batch))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if refused:
        raise RuntimeError(f"{len(refused)} order batches refused by the order API: {set(refused)}")
    task = progress.add_task("orders held by the tracker", total=len(bodies))
    await wait_for_shipments(
        stack.infra.database_url, at_least=len(bodies), progress=progress, task=task
    )
    await wait_until_caught_up(stack, progress=progress)


LAG_INTERVAL_S = 2.0


def total_consumer_lag(exposition: str) -> float:
    """The sum of relais_consumer_lag over a service's /metrics text."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("relais_consumer_lag{")
    )


async def _stack_lag(client: httpx.AsyncClient, ports: Iterable[int]) -> float | None:
    """The consumer lag of every service together; None when one could not answer (too
    busy to answer is not caught up)."""
    lag = 0.0
    for port in ports:
        try:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.HTTPError:
            return None
        lag += total_consumer_lag(response.text)
    return lag


async def wait_until_caught_up(
    stack: Stack, *, progress: Progress, timeout_s: float = 300.0
) -> float:
    """Wait until no service's consumers are behind (two readings in a row, one lag refresh
    apart): the set-up's burst of orders is digested everywhere (insights, chat, the
    detector) before a rate is measured, else the first rate pays for it. Returns the
    seconds waited; past `timeout_s` it goes on (the lag is then printed)."""
    ports = stack.infra.ports.services
    task = progress.add_task("set-up digested (consumer lag)", total=None)
    started = time.monotonic()
    zero_readings = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() - started < timeout_s:
            lag = await _stack_lag(client, ports.values())
            shown = "unknown" if lag is None else f"{lag:,.0f}"
            progress.update(task, description=f"set-up digested (consumer lag {shown})")
            zero_readings = zero_readings + 1 if lag == 0 else 0
            if zero_readings >= 2:
                break
            await asyncio.sleep(LAG_INTERVAL_S + 0.5)
    progress.update(task, total=1, completed=1)
    return time.monotonic() - started


async def wait_for_shipments(
    database_url: str, *, at_least: int, progress: Progress, task: Any, timeout_s: float = 900
) -> None:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "tracker"})
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout_s:
            held: int = await connection.fetchval("SELECT count(*) FROM shipments")
            progress.update(task, completed=min(held, at_least))
            if held >= at_least:
                return
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    raise RuntimeError(f"the tracker holds fewer than {at_least} shipments after {timeout_s} s")
