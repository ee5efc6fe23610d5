"""Personal data is marked in the models and redact() keeps it out of logs."""

from __future__ import annotations

import json
from typing import Any

from contracts_examples import EXAMPLES

from relais_contracts.privacy import REDACTED, personal_paths, redact
from relais_contracts.topics import ALL_TOPICS
from relais_contracts.topics.shipment_state import ShipmentStateChanged

# Field names that always hold personal data wherever they appear.
ALWAYS_PERSONAL = {
    "email",
    "phone",
    "first_name",
    "last_name",
    "line1",
    "line2",
    "comment",
    "note",
    "payload",
    "voucher_code",
    "customer",
    "original_value_b64",
}


def _decoded(event_type: str) -> Any:
    item = next(e for e in EXAMPLES if e.event_type == event_type)
    return item.topic.decode(item.raw)


def test_redact_hides_contact_and_address_keeps_ids() -> None:
    event = _decoded("ShipmentStateChanged")
    text = json.dumps(redact(event), ensure_ascii=False)
    for secret in ("camille", "Camille", "Durand", "+336", "rue des Lilas", "Digicode"):
        assert secret not in text
    data = redact(event)
    assert data["customer"] == REDACTED
    assert data["delivery"]["address"] == REDACTED
    assert data["shipment_id"] == event.shipment_id
    assert data["status"] == event.status.value


def test_redact_reaches_into_unions_and_lists() -> None:
    answer = redact(_decoded("AnswerRecorded"))
    assert answer["answer"]["kind"]
    callback = redact(_decoded("CallbackRequested"))
    assert callback["phone"] == REDACTED
    assert callback["note"] == REDACTED
    assert callback["slot"]["start"]
    order = redact(_decoded("OrderPlaced"))
    assert order["customer"] == REDACTED
    assert order["parcels"][0]["shipment_id"]
    raw = redact(_decoded("CarrierUpdateReceived"))
    assert raw["payload"] == REDACTED
    assert raw["carrier"]


def test_redacted_examples_contain_no_contact_data() -> None:
    for item in EXAMPLES:
        text = json.dumps(redact(item.topic.decode(item.raw)), ensure_ascii=False)
        for needle in ("@example", "+33", "+44", "Durand", "Bennett", "Martin"):
            assert needle not in text, f"{item.path.name} leaks {needle!r}"


def test_personal_paths() -> None:
    paths = personal_paths(ShipmentStateChanged)
    assert "customer" in paths
    assert "delivery.address" in paths
    assert "shipment_id" not in paths


def test_fields_named_like_personal_data_are_marked() -> None:
    def check(schema: dict[str, Any], defs: dict[str, Any], where: str) -> None:
        for name, prop in schema.get("properties", {}).items():
            if name in ALWAYS_PERSONAL:
                assert prop.get("x-personal-data") is True, f"{where}.{name} is not marked"

    for topic in ALL_TOPICS:
        for model in topic.message_types:
            schema = model.model_json_schema(mode="serialization")
            defs = schema.get("$defs", {})
            check(schema, defs, model.__name__)
            for def_name, definition in defs.items():
                check(definition, defs, def_name)
