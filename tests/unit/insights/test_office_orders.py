"""The back office's orders read model, pure parts: the list's filters and the WHERE clause
they make, the signed page cursor, and the timeline entries of real contract messages
(no contact, address, typed answer or phone in any of them)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from relais_contracts.envelope import Event
from relais_contracts.topics import conversations, orders, shipment_state
from relais_insights.domain.order_filters import (
    CursorCodec,
    CursorError,
    Position,
    ShipmentQuery,
    day_range,
    prefix_upper_bound,
    search_terms,
)
from relais_insights.domain.order_timeline import (
    TimelineKind,
    office_shipment,
    timeline_entry,
)
from relais_insights.order_repository import OPEN, list_statement, shipment_conditions
from relais_insights.topics import CONSUMED_TOPICS, FACT_TOPICS

SECRET = "unit-test-cursor-secret-0123456789abcdef"
OTHER_SECRET = "another-unit-test-cursor-secret-0123456789"


def conditions_of(**filters: object) -> tuple[str, list[object]]:
    query = ShipmentQuery.model_validate(filters)
    built = shipment_conditions(query, merchant_id="shop-a", time_zone="Europe/Paris")
    return built.sql(), built.params


def test_no_filter_is_the_merchant_only() -> None:
    assert conditions_of() == ("merchant_id = $1", ["shop-a"])


def test_filters_become_bound_conditions_in_order() -> None:
    sql, params = conditions_of(
        status="failed_attempt", carrier="colissimo", country="fr", region="fr-75", told="false"
    )
    assert sql == (
        "merchant_id = $1 AND status = $2 AND carrier = $3 AND country = $4 AND region = $5"
        " AND told = $6"
    )
    assert params == ["shop-a", "failed_attempt", "colissimo", "FR", "FR-75", False]


def test_an_anomaly_type_uses_the_partial_index_predicate() -> None:
    sql, params = conditions_of(anomaly="lost", resolved="false")
    assert sql == f"merchant_id = $1 AND {OPEN} AND open_anomalies @> ARRAY[$2]::text[]"
    assert params == ["shop-a", "lost"]


def test_resolved_or_not() -> None:
    assert conditions_of(resolved="true")[0] == "merchant_id = $1 AND resolved"
    assert conditions_of(resolved="false")[0] == f"merchant_id = $1 AND {OPEN}"


def test_days_are_whole_days_in_the_merchants_zone() -> None:
    sql, params = conditions_of(ordered_from="2026-03-01", ordered_to="2026-03-31")
    assert sql == "merchant_id = $1 AND ordered_at >= $2 AND ordered_at < $3"
    assert params[1] == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert params[2] == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    shipped = day_range(date(2026, 7, 1), None, "Europe/Paris")
    assert shipped.start == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    assert shipped.end is None


def test_a_search_is_an_email_or_a_number_prefix() -> None:
    sql, params = conditions_of(q="Jeanne.Martin@Example.org")
    assert sql == "merchant_id = $1 AND customer_email = $2"
    assert params == ["shop-a", "jeanne.martin@example.org"]
    sql, params = conditions_of(q="ML-104")
    assert 'order_number COLLATE "C" >= $2 AND order_number COLLATE "C" < $3' in sql
    assert 'tracking_number COLLATE "C" >= $4 AND tracking_number COLLATE "C" < $5' in sql
    assert params == ["shop-a", "ML-104", "ML-105", "ML-104", "ML-105"]
    assert search_terms(None).email is None
    assert prefix_upper_bound("6A12") == "6A13"


def test_the_page_position_is_a_row_comparison_and_sets_the_order() -> None:
    query = ShipmentQuery()
    at = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    after = shipment_conditions(
        query, merchant_id="m", time_zone="UTC", position=Position(at, "S-9")
    )
    assert after.sql() == "merchant_id = $1 AND (ordered_at, shipment_id) < ($2, $3)"
    assert after.params == ["m", at, "S-9"]
    before = shipment_conditions(
        query, merchant_id="m", time_zone="UTC", position=Position(at, "S-9", before=True)
    )
    assert before.sql().endswith("(ordered_at, shipment_id) > ($2, $3)")
    assert list_statement(before, before=True, limit=51).endswith(
        "ORDER BY ordered_at ASC, shipment_id ASC LIMIT 51"
    )
    assert "DESC, shipment_id DESC" in list_statement(after, before=False, limit=51)


def test_a_value_is_never_inlined_in_the_sql() -> None:
    sql, params = conditions_of(q="x');DROP")
    assert "DROP" not in sql
    assert "x');DROP" in params


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "teleported"),
        ("anomaly", "abducted"),
        ("carrier", "Not A Carrier"),
        ("country", "FRA"),
        ("region", "FR75"),
        ("ordered_from", "yesterday"),
        ("told", "perhaps"),
        ("limit", "0"),
        ("limit", "1000"),
        ("q", "two words"),
        ("stauts", "delivered"),
    ],
)
def test_a_bad_filter_is_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ShipmentQuery.model_validate({field: value})
    assert refused.value.errors()[0]["loc"][0] == field


def test_a_range_backwards_is_refused() -> None:
    with pytest.raises(ValidationError, match="ordered_to is before ordered_from"):
        ShipmentQuery.model_validate({"ordered_from": "2026-03-02", "ordered_to": "2026-03-01"})


def test_empty_form_fields_mean_any_and_filters_round_trip_to_links() -> None:
    query = ShipmentQuery.model_validate(
        {"status": "", "carrier": "dhl", "told": "true", "q": "", "limit": "20"}
    )
    assert query.status is None
    assert query.filters() == {"carrier": "dhl", "told": "true"}
    assert ShipmentQuery.model_validate(query.filters()) == query.model_copy(update={"limit": 50})


def test_a_cursor_round_trips_and_any_change_is_refused() -> None:
    codec = CursorCodec([SECRET])
    position = Position(datetime(2026, 3, 5, 10, 0, 0, 123456, tzinfo=UTC), "S/1#2", before=True)
    token = codec.encode("shop-a", position)
    assert codec.decode("shop-a", token) == position
    with pytest.raises(CursorError):
        codec.decode("shop-b", token)  # another merchant's cursor
    body, mac = token.split(".")
    forged = json.dumps(["2026-03-05T10:00:00+00:00", "S-0", 1], separators=(",", ":"))
    import base64

    forged_body = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    for bad in (f"{forged_body}.{mac}", f"{body}.{mac[:-2]}AA", "garbage", "a.b.c", ""):
        with pytest.raises(CursorError):
            codec.decode("shop-a", bad)


def test_cursors_survive_a_secret_rotation() -> None:
    old = CursorCodec([SECRET]).encode("m", Position(datetime(2026, 1, 1, tzinfo=UTC), "s"))
    rotated = CursorCodec([OTHER_SECRET, SECRET])
    assert rotated.decode("m", old).shipment_id == "s"
    with pytest.raises(CursorError):
        CursorCodec([OTHER_SECRET]).decode("m", old)


SHIPMENT_TOPICS = [topic for topic in CONSUMED_TOPICS if topic is not orders.TOPIC]
EXAMPLES = [
    (topic, path)
    for topic in SHIPMENT_TOPICS
    for path in sorted(topic.examples_dir().glob("*.json"))
]
PERSONAL_WORDS = ("@", "+33", "+44", "rue ", "street", "jeanne", "martin")


@pytest.mark.parametrize(("topic", "path"), EXAMPLES, ids=[p.name for _, p in EXAMPLES])
def test_every_shipment_event_leaves_an_entry_without_personal_data(
    topic: object, path: object
) -> None:
    event: Event = topic.decode(path.read_bytes())  # type: ignore[attr-defined]
    entry = timeline_entry(event)
    if isinstance(event, shipment_state.ShipmentStateChanged) and event.cause == "tracking_event":
        assert entry is None  # the carrier scan is its own entry
        return
    assert entry is not None, event.event_type
    assert (entry.event_id, entry.at) == (event.event_id, event.occurred_at)
    assert entry.shipment_id == event.shipment_id  # type: ignore[attr-defined]
    shown = (entry.summary + json.dumps(dict(entry.detail))).lower()
    if entry.kind is not TimelineKind.SURVEY_ANSWER:
        assert not any(word in shown for word in PERSONAL_WORDS), shown


def test_orders_events_leave_no_entry_of_their_own() -> None:
    for path in orders.TOPIC.examples_dir().glob("*.json"):
        assert timeline_entry(orders.TOPIC.decode(path.read_bytes())) is None
    assert orders.TOPIC in FACT_TOPICS


def test_an_address_answer_keeps_only_the_question() -> None:
    event = conversations.TOPIC.decode(
        (conversations.TOPIC.examples_dir() / "AnswerRecorded-address.json").read_bytes()
    )
    entry = timeline_entry(event)
    assert entry is not None
    assert entry.kind is TimelineKind.CHAT_ANSWER
    assert set(entry.detail) <= {"node", "answer_kind", "choice", "day"}


def test_the_shipment_row_lowercases_the_email_and_keeps_the_region() -> None:
    path = (
        shipment_state.TOPIC.examples_dir() / "ShipmentStateChanged-colissimo-out-for-delivery.json"
    )
    state = shipment_state.TOPIC.decode(path.read_bytes())
    assert isinstance(state, shipment_state.ShipmentStateChanged)
    upper = state.model_copy(
        update={"customer": state.customer.model_copy(update={"email": "Jeanne@Example.ORG"})}
    )
    row = office_shipment(upper)
    assert row.customer_email == "jeanne@example.org"
    assert row.order_number == state.order_number
    assert row.tracking_number == state.tracking_number
    assert row.region is not None
    assert row.region.startswith(row.country or "?")
    assert row.ordered_at == state.placed_at
