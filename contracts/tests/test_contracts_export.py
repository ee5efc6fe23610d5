"""Exported JSON Schemas are valid, accept every example, and the AsyncAPI document
describes every topic; the committed copy in contracts/schemas is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from contracts_examples import EXAMPLES, Example
from jsonschema import Draft202012Validator

from relais_contracts.export import ASYNCAPI_FILE, COMMITTED_DIR, export, render, schema_path
from relais_contracts.topics import ALL_TOPICS
from relais_contracts.webhooks import WEBHOOK_MODELS


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("schemas")
    export(directory)
    return directory


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_one_schema_per_message_type_and_topic(exported: Path) -> None:
    expected = {schema_path(t, m) for t in ALL_TOPICS for m in t.message_types}
    expected |= {f"webhooks/{m.__name__}.v1.schema.json" for m in WEBHOOK_MODELS}
    found = {p.relative_to(exported).as_posix() for p in exported.rglob("*.schema.json")}
    assert found == expected
    assert (exported / ASYNCAPI_FILE).is_file()


def test_every_schema_is_valid_draft_2020_12(exported: Path) -> None:
    for path in exported.rglob("*.schema.json"):
        schema = _load(path)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("item", EXAMPLES, ids=lambda e: f"{e.topic.name}/{e.path.name}")
def test_example_validates_against_exported_schema(exported: Path, item: Example) -> None:
    model = next(m for m in item.topic.message_types if m.__name__ == item.event_type)
    schema = _load(exported / schema_path(item.topic, model))
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(item.data), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_schema_rejects_what_the_model_rejects(exported: Path) -> None:
    item = next(e for e in EXAMPLES if e.event_type == "OrderPlaced")
    model = next(m for m in item.topic.message_types if m.__name__ == "OrderPlaced")
    validator = Draft202012Validator(_load(exported / schema_path(item.topic, model)))
    bad = {**item.data, "order_value": {"amount": 12.5, "currency": "euro"}}
    assert not validator.is_valid(bad), "money is a decimal string and an ISO 4217 code"
    missing = {k: v for k, v in item.data.items() if k != "event_id"}
    assert not validator.is_valid(missing), "producers write every envelope field"


def test_personal_fields_are_marked_in_schemas(exported: Path) -> None:
    schema = _load(exported / "relais.shipment-state.v1/ShipmentStateChanged.v1.schema.json")
    assert schema["properties"]["customer"]["x-personal-data"] is True
    contact = schema["$defs"]["CustomerContact"]["properties"]
    assert contact["email"]["x-personal-data"] is True
    assert "x-personal-data" not in schema["properties"]["shipment_id"]


def test_asyncapi_document(exported: Path) -> None:
    doc = _load(exported / ASYNCAPI_FILE)
    assert doc["asyncapi"].startswith("3.")
    assert set(doc["channels"]) == {t.name for t in ALL_TOPICS}
    schemas = doc["components"]["schemas"]
    messages = doc["components"]["messages"]
    for topic in ALL_TOPICS:
        channel = doc["channels"][topic.name]
        assert channel["address"] == topic.name
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == topic.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [topic.cleanup.value]
        assert set(channel["messages"]) == set(topic.event_types)
        for event_type in topic.event_types:
            message = messages[event_type]
            name = message["payload"]["$ref"].rsplit("/", 1)[-1]
            assert name in schemas
            assert message["bindings"]["kafka"]["key"]["description"]
            assert message["examples"], f"{event_type} has examples"
    for operation in doc["operations"].values():
        channel_name = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        assert channel_name in doc["channels"]
        for ref in operation["messages"]:
            assert ref["$ref"].rsplit("/", 1)[-1] in doc["channels"][channel_name]["messages"]
    Draft202012Validator.check_schema({"$defs": schemas})


def test_asyncapi_refs_all_resolve(exported: Path) -> None:
    doc = _load(exported / ASYNCAPI_FILE)

    def refs(value: object) -> list[str]:
        if isinstance(value, dict):
            found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
            return found + [r for v in value.values() for r in refs(v)]
        if isinstance(value, list):
            return [r for v in value for r in refs(v)]
        return []

    for ref in refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_export_is_deterministic_and_clean_removes_stale(tmp_path: Path) -> None:
    stale = tmp_path / "relais.gone.v1" / "Gone.v1.schema.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    export(tmp_path, clean=True)
    assert not stale.exists()
    assert render() == render()


def test_committed_schemas_are_up_to_date() -> None:
    files = render()
    committed = {p.relative_to(COMMITTED_DIR).as_posix() for p in COMMITTED_DIR.rglob("*.json")}
    assert committed == set(files), "run `relais contracts export --clean contracts/schemas`"
    for relative, content in files.items():
        assert (COMMITTED_DIR / relative).read_text(encoding="utf-8") == content, (
            f"{relative} is stale: run `relais contracts export --clean contracts/schemas`"
        )
