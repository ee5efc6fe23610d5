"""Pure logic of the shared runtime: settings errors, redaction, dead-letter building."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from aiokafka import ConsumerRecord
from pydantic import Field

from relais_contracts.envelope import Event
from relais_contracts.registry import Service, Topic
from relais_runtime import dead_letters as letters
from relais_runtime.dead_letters import build_dead_letter
from relais_runtime.failures import is_transient
from relais_runtime.logging import REDACTED, redact_personal_data
from relais_runtime.migrations import to_sqlalchemy_url
from relais_runtime.settings import ConfigurationError, RuntimeSettings, load_settings


class Pinged(Event):
    event_type: Literal["Pinged"] = "Pinged"
    schema_version: Literal[1] = 1
    shipment_id: str
    note: str = Field(max_length=5)


TOPIC = Topic(
    name="relais.unit.v1",
    description="unit",
    key="shipment id",
    message_types=(Pinged,),
    producers=(Service.ANY,),
    consumers=(Service.ANY,),
)


def record(value: bytes, *, key: bytes | None = b"shp-9") -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic="relais.unit.v1",
        partition=2,
        offset=41,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=[("event_type", b"Pinged")],
    )


def decode_error_kind(raw: bytes) -> str:
    with pytest.raises(Exception) as caught:  # noqa: PT011
        TOPIC.decode(raw)
    return letters.decode_error_kind(caught.value)  # type: ignore[arg-type]


def valid() -> dict[str, Any]:
    event = Pinged(
        occurred_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        merchant_id="acme",
        correlation_id="shp-9",
        shipment_id="shp-9",
        note="hi",
    )
    data: dict[str, Any] = json.loads(event.model_dump_json())
    return data


def test_decode_errors_are_classified() -> None:
    assert decode_error_kind(b"{oops") == "undecodable"
    assert decode_error_kind(json.dumps({**valid(), "note": "too long"}).encode()) == "invalid"
    assert decode_error_kind(json.dumps({**valid(), "event_type": "Nope"}).encode()) == (
        "unknown_event_type"
    )


def test_unknown_fields_are_ignored_when_reading() -> None:
    event = TOPIC.decode(json.dumps({**valid(), "added_in_a_later_version": 1}).encode())
    assert isinstance(event, Pinged)
    assert event.note == "hi"


def test_a_dead_letter_keeps_the_original_bytes_and_where_they_came_from() -> None:
    letter = build_dead_letter(
        record(b"\x00\xffbinary"), group="tracker", kind="undecodable", message="not JSON"
    )
    assert letter.original_value() == b"\x00\xffbinary"
    assert letter.source_key() == b"shp-9"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "relais.unit.v1",
        2,
        41,
    )
    assert letter.source_headers == {"event_type": "Pinged"}
    assert letter.partition_key() == b"shp-9"
    assert letter.correlation_id == "relais.unit.v1/2/41"


def test_a_dead_letter_without_key_is_keyed_by_its_topic() -> None:
    letter = build_dead_letter(record(b"x", key=None), group="g", kind="invalid", message="m")
    assert letter.partition_key() == b"relais.unit.v1"


def test_personal_data_is_redacted_at_any_depth() -> None:
    event = redact_personal_data(
        None,
        "info",
        {
            "event": "order received",
            "email": "jeanne@example.fr",
            "order": {"id": "A-1", "customer": {"phone": "+33600000000"}},
            "parcels": [{"address": "3 rue X", "tracking": "6A123"}],
        },
    )
    assert event["email"] == REDACTED
    assert event["order"] == {"id": "A-1", "customer": REDACTED}
    assert event["parcels"] == [{"address": REDACTED, "tracking": "6A123"}]
    assert "jeanne" not in json.dumps(event)


def test_bad_settings_name_the_variable_and_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAIS_HTTP_PORT", "eighty")
    monkeypatch.setenv("RELAIS_LOG_LEVEL", "loud")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(RuntimeSettings)
    message = str(caught.value)
    assert "environment: http_port (RELAIS_HTTP_PORT): Input should be a valid integer" in message
    assert "log_level (RELAIS_LOG_LEVEL)" in message
    assert "eighty" not in message


def test_database_url_falls_back_to_the_platform_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RELAIS_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/x")
    assert load_settings(RuntimeSettings).database_url == "postgresql://u:p@db:5432/x"


def test_sqlalchemy_url_uses_asyncpg() -> None:
    assert to_sqlalchemy_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        to_sqlalchemy_url("mysql://u@h/db")


def test_transient_errors_are_the_retryable_ones() -> None:
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError())


def test_a_merchant_scoped_key_splits_back_into_its_parts() -> None:
    from relais_contracts.envelope import split_partition_key

    assert split_partition_key(b"acme/shp-1/2") == ("acme", "shp-1/2")
    with pytest.raises(ValueError, match="not a merchant-scoped key"):
        split_partition_key(b"no-slash")
