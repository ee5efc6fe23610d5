"""Deterministic ids: the same fact, seen twice, gets the same id.

Rules:
- every id that a retry, a redelivery or a replay could re-create is derived (UUIDv5
  under RELAIS_NAMESPACE) from the fact's natural key, never drawn at random;
- a derived id is stable across versions of Relais: changing a recipe below is a
  breaking change;
- idempotency keys of side effects (an email, an SMS, a webhook) are derived here too,
  so that every service computes the same key for the same effect.
"""

from __future__ import annotations

from datetime import UTC, datetime
from hashlib import sha1
from typing import Final
from uuid import UUID, SafeUUID

RELAIS_NAMESPACE: Final = UUID("6f1f4c2e-8a0b-5d3e-9c47-1e2d3f4a5b6c")
_NAMESPACE_BYTES: Final = RELAIS_NAMESPACE.bytes
_VERSION_5_MASK: Final = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5_BITS: Final = (5 << 76) | (0x8000 << 48)


def derived_id(kind: str, *parts: str) -> UUID:
    """UUIDv5 of `kind` and `parts`, joined unambiguously."""
    name = "\x1f".join((kind, *(part.replace("\x1f", " ") for part in parts)))
    return _uuid5(name)


def _uuid5(name: str) -> UUID:
    """uuid.uuid5(RELAIS_NAMESPACE, name), bit for bit, without UUID.__init__'s argument
    checks (half of uuid5's time; the tracker derives three ids per carrier event)."""
    digest = sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()
    value = (int.from_bytes(digest[:16]) & _VERSION_5_MASK) | _VERSION_5_BITS
    derived = object.__new__(UUID)
    object.__setattr__(derived, "int", value)
    object.__setattr__(derived, "is_safe", SafeUUID.unknown)
    return derived


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def tracking_event_id(
    carrier: str, tracking_number: str, carrier_code: str, occurred_at: datetime
) -> UUID:
    """One carrier event, whoever follows it: a carrier re-sending the same event (same
    code, same instant) yields the same id. Not the id it is published under: see
    `recorded_tracking_event_id`."""
    return derived_id(
        "tracking-event", carrier, tracking_number.upper(), carrier_code, _instant(occurred_at)
    )


def recorded_tracking_event_id(merchant_id: str, carrier_event_id: UUID) -> UUID:
    """The id of a carrier event as recorded for one merchant (TrackingEventRecorded):
    two merchants sharing a tracking number get distinct ids (consumers are idempotent
    on event ids, a shared one would drop the second merchant's event); a re-send of
    the carrier event keeps its id."""
    return derived_id("tracking-event-recorded", merchant_id, str(carrier_event_id))


def anomaly_id(merchant_id: str, shipment_id: str, anomaly_type: str, occurrence: int = 1) -> UUID:
    return derived_id("anomaly", merchant_id, shipment_id, anomaly_type, str(occurrence))


def milestone_id(merchant_id: str, shipment_id: str, milestone: str) -> UUID:
    return derived_id("milestone", merchant_id, shipment_id, milestone)


def notification_key(trigger_id: UUID, channel: str, purpose: str = "initial") -> str:
    """Idempotency key of one message: one per (trigger, channel, purpose).

    `purpose` separates messages of one trigger that are meant to be distinct
    (`initial`, `escalation-1`, `reminder-1`); a redelivery reuses the same key.
    """
    return f"{trigger_id}:{channel}:{purpose}"


def review_id(trigger_id: UUID, purpose: str) -> UUID:
    """One review per (trigger, purpose), whatever the channels: the message an agent
    sends or dismisses at once."""
    return derived_id("review", str(trigger_id), purpose)


def notification_purpose(idempotency_key: str) -> str:
    """The purpose part of a `notification_key`."""
    return idempotency_key.rsplit(":", 1)[-1]


def notification_id(idempotency_key: str) -> UUID:
    return derived_id("notification", idempotency_key)


def conversation_id(merchant_id: str, subject_id: UUID) -> UUID:
    """One conversation per anomaly (or per delivered milestone, for the survey)."""
    return derived_id("conversation", merchant_id, str(subject_id))


def answer_id(conversation: UUID, node_id: str, submission: str) -> UUID:
    """`submission` is the form's one-time token: a double submit yields the same id."""
    return derived_id("answer", str(conversation), node_id, submission)


def resolution_id(conversation: UUID) -> UUID:
    """A conversation chooses at most one resolution."""
    return derived_id("resolution", str(conversation))


def callback_id(conversation: UUID) -> UUID:
    return derived_id("callback", str(conversation))


def action_id(source_id: UUID, action_type: str) -> UUID:
    """`source_id`: the resolution, callback or (automatic action) anomaly it carries out.

    Also the Idempotency-Key of the merchant webhook.
    """
    return derived_id("action", str(source_id), action_type)
