"""The pure parts of a customer's erasure: how an address is compared, what is hashed,
which columns of the tracker go, what the API accepts, and the CLI's refusals."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from relais_cli.main import app
from relais_tracker.domain.erasure import (
    ERASURE_PLAN,
    InvalidEmail,
    Treatment,
    digest_matches,
    email_digest,
    merchant_key,
    new_salt,
    normalized_email,
    personal_columns,
    tombstone_event_id,
)
from relais_tracker.handlers.erasures_api import ErasureRequest


@pytest.mark.parametrize(
    "spelling",
    ["camille.martin@example.fr", "  Camille.Martin@Example.FR ", "\tCAMILLE.MARTIN@EXAMPLE.FR\n"],
)
def test_every_spelling_of_an_address_is_the_same_customer(spelling: str) -> None:
    assert normalized_email(spelling) == "camille.martin@example.fr"


@pytest.mark.parametrize(
    "text", ["", "   ", "camille", "@example.fr", "camille@", "a@b@example.fr", "ca mille@x.fr"]
)
def test_a_text_that_is_not_an_address_names_nobody(text: str) -> None:
    with pytest.raises(InvalidEmail):
        normalized_email(text)


def test_the_audit_hash_matches_any_spelling_and_depends_on_its_salt() -> None:
    salt = new_salt()
    digest = email_digest("camille@example.fr", salt=salt)
    assert "camille" not in digest
    assert digest_matches(" CAMILLE@example.fr", salt=salt, digest=digest)
    assert not digest_matches("camila@example.fr", salt=salt, digest=digest)
    assert email_digest("camille@example.fr", salt=new_salt()) != digest


def test_orders_keep_their_business_columns_and_lose_their_snapshot() -> None:
    orders = ERASURE_PLAN["orders"]
    assert orders["snapshot"] is Treatment.NULLED
    kept = {column for column, how in orders.items() if how is Treatment.KEPT}
    assert kept == {
        "merchant_id",
        "order_id",
        "state",
        "as_of",
        "order_number",
        "parcel_count",
        "updated_at",
        "erased_at",
    }


def test_every_table_holding_a_customer_is_erased() -> None:
    """The tables whose rows carry personal data (customer, addresses, carrier payloads,
    published copies) lose those rows or columns; the others are left alone."""
    columns = personal_columns()
    assert columns["orders"] == frozenset({"snapshot"})
    for table in ("shipments", "tracking_events", "pending_tracking_events", "outbox"):
        assert columns[table] == frozenset({"*"}), table
    assert "processed_events" not in columns
    assert "unknown_carrier_codes" not in columns


def test_a_tombstone_id_is_stable_for_one_erasure_and_distinct_across_keys() -> None:
    erasure = uuid4()
    key = merchant_key("acme", "shp-1")
    assert key == b"acme/shp-1"
    first = tombstone_event_id(erasure, topic="relais.shipment-state.v1", key=key)
    assert first == tombstone_event_id(erasure, topic="relais.shipment-state.v1", key=key)
    assert first != tombstone_event_id(erasure, topic="relais.orders.v1", key=key)
    assert first != tombstone_event_id(uuid4(), topic="relais.shipment-state.v1", key=key)


def test_the_api_request_normalises_the_address() -> None:
    request = ErasureRequest.model_validate({"customer_email": " Camille@Example.FR "})
    assert request.customer_email == "camille@example.fr"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "customer_email"),
        ({"customer_email": "not an address"}, "customer_email"),
        ({"customer_email": 42}, "customer_email"),
        ({"customer_email": "a@b.fr", "order_id": "1"}, "order_id"),
    ],
)
def test_a_bad_request_names_its_field_without_echoing_it(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        ErasureRequest.model_validate(body)
    problems = raised.value.errors(include_url=False, include_input=False)
    assert [problem["loc"] for problem in problems] == [(field,)]
    assert "not an address" not in str(problems)


def test_the_cli_refuses_a_customer_that_is_not_an_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RELAIS_MERCHANTS_DIR", raising=False)
    result = CliRunner().invoke(app, ["erase", "--merchant", "acme", "--customer", "nobody"])
    assert result.exit_code == 2
    assert "--customer: not an email address" in result.output


def test_the_cli_refuses_an_unknown_merchant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("RELAIS_MERCHANTS_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app, ["erase", "--merchant", "acme", "--customer", "camille@example.fr"]
    )
    assert result.exit_code == 2
    assert "--merchant: no merchant 'acme'" in result.output
