"""Tracking event ids: deterministic per carrier event, distinct per merchant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from relais_contracts import ids
from relais_contracts.topics.carrier_updates import UpdateSource
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_tracker.adapters.carriers.base import NormalizedEvent
from relais_tracker.domain.shipments import carrier_event_from, tracking_event_recorded

AT = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def carrier_event(code: str = "PU") -> NormalizedEvent:
    return NormalizedEvent(
        tracking_number="RL123456789",
        status=TrackingStatus.IN_TRANSIT,
        substatus=Substatus.ACCEPTED_BY_CARRIER,
        incident=None,
        occurred_at=AT,
        description="Pris en charge",
        location=None,
        carrier_code=code,
    )


def recorded_id(merchant_id: str, event: NormalizedEvent) -> object:
    received = carrier_event_from(
        event, carrier="generic", source=UpdateSource.WEBHOOK, carrier_update_id=None
    )
    record = tracking_event_recorded(
        received,
        merchant_id=merchant_id,
        shipment_id="S-1",
        order_id="O-1",
        produced_at=AT,
    )
    return record.event_id


def test_two_merchants_sharing_a_tracking_number_publish_distinct_event_ids() -> None:
    assert recorded_id("shop-a", carrier_event()) != recorded_id("shop-b", carrier_event())


def test_a_carrier_re_send_keeps_its_id_for_the_same_merchant() -> None:
    assert recorded_id("shop-a", carrier_event()) == recorded_id("shop-a", carrier_event())
    assert recorded_id("shop-a", carrier_event()) != recorded_id("shop-a", carrier_event("AR"))


def test_the_recorded_id_is_derived_from_the_merchant_and_the_carrier_event() -> None:
    carrier_id = ids.tracking_event_id("generic", "rl123456789", "PU", AT)
    assert recorded_id("shop-a", carrier_event()) == ids.recorded_tracking_event_id(
        "shop-a", carrier_id
    )


def test_derived_ids_are_the_standard_uuid5_under_the_relais_namespace() -> None:
    """The fast derivation must stay bit for bit uuid.uuid5: ids already published must
    not change (ids' rule: a recipe change is a breaking change)."""
    names = ["", "x", "tracking-event\x1fcolissimo\x1f6A123\x1fPCH", "é€\x1f" * 40, "a" * 500]
    for name in names:
        derived = ids._uuid5(name)
        standard = uuid.uuid5(ids.RELAIS_NAMESPACE, name)
        assert derived == standard
        assert str(derived) == str(standard)
        assert hash(derived) == hash(standard)
        assert (derived.version, derived.variant) == (5, uuid.RFC_4122)
    assert ids.derived_id("anomaly", "m", "s") == uuid.uuid5(
        ids.RELAIS_NAMESPACE, "anomaly\x1fm\x1fs"
    )
