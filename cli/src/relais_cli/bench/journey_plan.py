"""What `relais bench journey` sends and how it recognises the emails (pure functions).

Rules:
- every order gets `per_order` carrier events in a row: ordinary scans, then one failed
  delivery attempt (recipient absent), the anomaly the notifier emails at once for the
  bench merchants (no quiet hours, no frequency cap, no milestone emails); so one event
  in `per_order` makes exactly one email, spread evenly over the run;
- event i of a rate is due at i / rate seconds after the rate's start (a fixed
  schedule, the same whatever the answers);
- an email belongs to the order whose customer address it was sent to: the order's
  customer is `<order id, lower case>@example.com` (relais_cli.demo.story.order_body).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from relais_cli.demo.carriers import GENERIC, Place, Scan, generic_payload
from relais_cli.demo.story import Merchant, order_body

ORDINARY_SCANS = (
    "arrived_at_facility",
    "departed_facility",
    "in_transit_unspecified",
    "out_for_delivery_unspecified",
)
FAILED_ATTEMPT = "recipient_absent"
FAILED_ATTEMPT_REASON = "recipient_not_home"
CARRIER = "colissimo"
PLACE = Place("Lyon", "69003", "FR")
ENVELOPE_TO = re.compile(rb"^X-Relais-Envelope-To:\s*([^\r\n]+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    at_s: float
    order: int
    """Index of the order (0-based, within the rate)."""
    step: int
    anomaly: bool
    """True for the failed attempt: the event that makes an email."""


def events_per_order(anomaly_share: float) -> int:
    """Carrier events per order so that `anomaly_share` of them make an email."""
    return max(1, round(1 / anomaly_share))


def schedule(*, rate: float, duration_s: float, per_order: int) -> list[Step]:
    """The events of one rate: `rate` per second for `duration_s`, whole orders only."""
    orders = max(1, math.floor(rate * duration_s / per_order))
    return [
        Step(
            at_s=index / rate,
            order=index // per_order,
            step=index % per_order,
            anomaly=index % per_order == per_order - 1,
        )
        for index in range(orders * per_order)
    ]


def order_id(run: str, rate_index: int, order: int) -> str:
    return f"J{run}R{rate_index}-{order:06d}"


def tracking_number(run: str, rate_index: int, order: int) -> str:
    return f"JB{run}{rate_index}{order:06d}".upper()


def order_request(
    *, merchant: Merchant, run: str, rate_index: int, order: int, now: datetime
) -> dict[str, object]:
    """The body of POST /v1/orders for one bench order (shipped two hours ago, due in
    five days: no lateness anomaly can fire during the run)."""
    return order_body(
        merchant=merchant,
        order_id=order_id(run, rate_index, order),
        tracking_number=tracking_number(run, rate_index, order),
        carrier_name=CARRIER,
        sent_as=GENERIC,
        shipped=now - timedelta(hours=2),
        promised_by=now + timedelta(days=5),
        city=PLACE,
        first_name="Bench",
        pickup=False,
        value="30.00",
    )


def scan_payload(
    *, run: str, rate_index: int, step: Step, per_order: int, now: datetime
) -> dict[str, object]:
    """The generic-format webhook body of one event: the order's scans one minute apart,
    the last one an hour ago at most (never in the future)."""
    kind = FAILED_ATTEMPT if step.anomaly else ORDINARY_SCANS[step.step % len(ORDINARY_SCANS)]
    scan = Scan(
        at=now - timedelta(hours=1) + timedelta(minutes=step.step - per_order),
        kind=kind,
        place=PLACE,
        incident=FAILED_ATTEMPT_REASON if step.anomaly else None,
    )
    return generic_payload(
        carrier=CARRIER, tracking_number=tracking_number(run, rate_index, step.order), scan=scan
    )


def mail_order_key(head: bytes) -> str | None:
    """The order id (lower case) an email was sent for, from its envelope recipient;
    None for a mail to anyone else."""
    found = ENVELOPE_TO.search(head)
    if found is None:
        return None
    for recipient in found.group(1).decode(errors="replace").split(","):
        local, _, domain = recipient.strip().lower().partition("@")
        if domain == "example.com" and local.startswith("j"):
            return local
    return None


def json_bytes(payload: dict[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
