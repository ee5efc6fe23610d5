"""Why a carrier event is held, and how an operator sees it (pure, no I/O).

Rules:
- an event is held because no shipment follows its tracking number, or because those
  that do are of an incompatible carrier (domain.shipments.compatible_carriers), or of
  another merchant than the one whose credential received it; a held event with a
  matching shipment only waits for that order's next update (it arrived meanwhile);
- a tracking number is shown masked but for its last 4 characters: the list is for
  operators, the number identifies a customer's parcel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from relais_contracts.envelope import UNKNOWN_MERCHANT
from relais_tracker.domain.shipments import compatible_carriers


class HeldReason(StrEnum):
    NO_ORDER = "no order with that number"
    CARRIER_INCOMPATIBLE = "carrier incompatible"
    OTHER_MERCHANT = "order of another merchant"
    ORDER_ARRIVED = "matching order arrived since (taken at its next update)"


def why_held(
    *, carrier: str, merchant_id: str, parcels: Sequence[tuple[str, str]]
) -> tuple[HeldReason, tuple[str, ...]]:
    """Why an event of `carrier`, received for `merchant_id`, matched none of `parcels`
    (each (merchant, carrier) following its number); with the parcels' carriers when
    they are incompatible."""
    if not parcels:
        return HeldReason.NO_ORDER, ()
    compatible = [(m, c) for m, c in parcels if compatible_carriers(carrier, c)]
    if not compatible:
        return HeldReason.CARRIER_INCOMPATIBLE, tuple(sorted({c for _, c in parcels}))
    if merchant_id != UNKNOWN_MERCHANT and all(m != merchant_id for m, _ in compatible):
        return HeldReason.OTHER_MERCHANT, ()
    return HeldReason.ORDER_ARRIVED, ()


def masked(tracking_number: str, *, shown: int = 4) -> str:
    """`*******3210`: every character but the last `shown`."""
    if len(tracking_number) <= shown:
        return "*" * len(tracking_number)
    return "*" * (len(tracking_number) - shown) + tracking_number[-shown:]


def age_text(age: timedelta) -> str:
    """`3d 4h`, `5h 12m`, `7m`: the largest two units."""
    minutes = max(int(age.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def expires_in(received_at: datetime, *, ttl: timedelta, now: datetime) -> timedelta:
    return received_at + ttl - now
