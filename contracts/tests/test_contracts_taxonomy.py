"""The tracking taxonomy: closed, consistent, and able to say what carriers and
aggregators say (issue 3's list, AfterShip, Karrio)."""

from __future__ import annotations

import pytest

from relais_contracts import reference_mappings as refs
from relais_contracts.docs import DOCS_DIR, render_all
from relais_contracts.tracking import (
    INCIDENT_REASONS,
    SUBSTATUSES,
    UNKNOWN_CODE_DEFAULT,
    UNSPECIFIED,
    FaultParty,
    Incident,
    IncidentReason,
    Substatus,
    TrackingStatus,
    check_pair,
    default_fault,
    is_final,
    status_of,
    substatuses_of,
)

B = Substatus


def test_statuses_are_exactly_the_nine() -> None:
    assert [s.value for s in TrackingStatus] == [
        "pending",
        "info_received",
        "in_transit",
        "out_for_delivery",
        "failed_attempt",
        "available_for_pickup",
        "delivered",
        "exception",
        "expired",
    ]


def test_every_substatus_belongs_to_one_status() -> None:
    assert set(SUBSTATUSES) == set(Substatus)
    for status in TrackingStatus:
        assert UNSPECIFIED[status] in substatuses_of(status)
        assert status_of(UNSPECIFIED[status]) is status


@pytest.mark.parametrize(
    ("status", "substatus"),
    [
        (TrackingStatus.DELIVERED, B.DELIVERED_TO_RECIPIENT),
        (TrackingStatus.DELIVERED, B.DELIVERED_TO_NEIGHBOUR),
        (TrackingStatus.DELIVERED, B.DELIVERED_TO_THIRD_PARTY),
        (TrackingStatus.DELIVERED, B.DELIVERED_TO_SAFE_PLACE),
        (TrackingStatus.DELIVERED, B.DELIVERED_TO_RECEPTION),
        (TrackingStatus.DELIVERED, B.PICKED_UP_AT_PICKUP_POINT),
        (TrackingStatus.DELIVERED, B.SIGNED_FOR),
        (TrackingStatus.FAILED_ATTEMPT, B.RECIPIENT_ABSENT),
        (TrackingStatus.FAILED_ATTEMPT, B.BUSINESS_CLOSED),
        (TrackingStatus.EXCEPTION, B.CUSTOMER_MOVED),
        (TrackingStatus.EXCEPTION, B.INCORRECT_ADDRESS),
        (TrackingStatus.EXCEPTION, B.INCOMPLETE_ADDRESS),
        (TrackingStatus.EXCEPTION, B.REFUSED_BY_RECIPIENT),
        (TrackingStatus.EXCEPTION, B.RETURNING_TO_SENDER),
        (TrackingStatus.EXCEPTION, B.RETURNED_TO_SENDER),
        (TrackingStatus.EXCEPTION, B.DAMAGED),
        (TrackingStatus.EXCEPTION, B.LOST),
        (TrackingStatus.EXCEPTION, B.HELD_AT_CUSTOMS),
        (TrackingStatus.EXCEPTION, B.DELAYED_WEATHER),
        (TrackingStatus.EXCEPTION, B.DELAYED_PROCESSING),
        (TrackingStatus.EXCEPTION, B.DELAYED_EXTERNAL),
        (TrackingStatus.EXCEPTION, B.HELD_FOR_PAYMENT),
    ],
)
def test_issue_vocabulary_is_expressible(status: TrackingStatus, substatus: Substatus) -> None:
    check_pair(status, substatus)


def test_check_pair_rejects_a_foreign_substatus() -> None:
    with pytest.raises(ValueError, match="belongs to status 'delivered'"):
        check_pair(TrackingStatus.EXCEPTION, B.SIGNED_FOR)


def test_final_substatuses() -> None:
    assert all(is_final(s) for s in substatuses_of(TrackingStatus.DELIVERED))
    assert is_final(B.RETURNED_TO_SENDER)
    assert is_final(B.EXPIRED_UNSPECIFIED)
    assert not is_final(B.LOST), "a lost parcel may be found: keep tracking"
    assert not is_final(B.RETURNING_TO_SENDER)


def test_unknown_code_default_is_harmless() -> None:
    status, substatus = UNKNOWN_CODE_DEFAULT
    check_pair(status, substatus)
    assert status is TrackingStatus.IN_TRANSIT
    assert not is_final(substatus)


def test_incident_reasons_have_a_fault_party() -> None:
    assert set(INCIDENT_REASONS) == set(IncidentReason)
    parties = {default_fault(r) for r in IncidentReason}
    assert parties == set(FaultParty)
    incident = Incident.of(IncidentReason.RECIPIENT_MOVED)
    assert incident.fault is FaultParty.RECIPIENT


def test_aftership_tags_all_map() -> None:
    assert set(refs.AFTERSHIP_TAGS) == {
        "Pending",
        "InfoReceived",
        "InTransit",
        "OutForDelivery",
        "AttemptFail",
        "AvailableForPickup",
        "Delivered",
        "Exception",
        "Expired",
    }
    assert set(refs.AFTERSHIP_TAGS.values()) == set(TrackingStatus)


def test_aftership_subtags_all_map_consistently() -> None:
    expected = (
        [f"Delivered_00{i}" for i in range(1, 6)]
        + ["AvailableForPickup_001", "InfoReceived_001", "Expired_001"]
        + [f"Exception_{i:03d}" for i in (*range(1, 14), *range(16, 22))]
        + [f"AttemptFail_00{i}" for i in range(1, 4)]
        + [f"InTransit_00{i}" for i in range(1, 10)]
        + [f"OutForDelivery_00{i}" for i in range(1, 5)]
        + [f"Pending_00{i}" for i in range(1, 7)]
    )
    assert set(expected) <= set(refs.AFTERSHIP_SUBTAGS)
    for code, mapped in refs.AFTERSHIP_SUBTAGS.items():
        tag = code.split("_")[0]
        if code != "OutForDelivery_002":  # older list: "available for pickup", another status
            assert mapped.status is refs.AFTERSHIP_TAGS[tag], code
        if mapped.incident is not None:
            assert mapped.status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT)
    fallback = refs.aftership_fallback("Exception")
    assert fallback.substatus is B.EXCEPTION_UNSPECIFIED


def test_karrio_tracking_status_all_map() -> None:
    assert set(refs.KARRIO_TRACKING_STATUS) == {
        "pending",
        "picked_up",
        "on_hold",
        "cancelled",
        "delivered",
        "in_transit",
        "delivery_failed",
        "delivery_delayed",
        "out_for_delivery",
        "ready_for_pickup",
        "return_to_sender",
        "unknown",
    }


def test_karrio_incident_reasons_all_map() -> None:
    karrio = {
        "carrier_damaged_parcel", "carrier_sorting_error", "carrier_address_not_found",
        "carrier_parcel_lost", "carrier_not_enough_time", "carrier_vehicle_issue",
        "carrier_capacity_exceeded", "carrier_mechanical_delay", "retailer_cancelled",
        "retailer_incorrect_data", "retailer_not_ready", "retailer_incorrect_parcel",
        "retailer_incorrect_dimensions", "retailer_packaging_issue", "consignee_refused",
        "consignee_business_closed", "consignee_not_available", "consignee_not_home",
        "consignee_cancelled", "consignee_verification_failed", "consignee_incorrect_address",
        "consignee_access_restricted", "consignee_safe_place_unavailable", "customs_delay",
        "customs_documentation", "customs_duties_unpaid", "customs_prohibited",
        "customs_inspection", "weather_delay", "natural_disaster", "force_majeure",
        "parcel_being_researched", "security_issue", "regulatory_hold", "unknown",
    }  # fmt: skip
    assert set(refs.KARRIO_INCIDENT_REASON) == karrio
    assert len(set(refs.KARRIO_INCIDENT_REASON.values())) == len(karrio), "lossless"
    for name, reason in refs.KARRIO_INCIDENT_REASON.items():
        prefix = name.split("_")[0]
        expected = {
            "carrier": FaultParty.CARRIER,
            "retailer": FaultParty.RETAILER,
            "consignee": FaultParty.RECIPIENT,
            "customs": FaultParty.CUSTOMS,
        }.get(prefix)
        if expected is not None:
            assert default_fault(reason) is expected, name


@pytest.mark.parametrize("name", sorted(render_all()))
def test_committed_docs_are_up_to_date(name: str) -> None:
    committed = DOCS_DIR / name
    assert committed.is_file(), "run `relais contracts docs`"
    assert committed.read_text(encoding="utf-8") == render_all()[name], (
        "contracts/docs is stale: run `relais contracts docs`"
    )
