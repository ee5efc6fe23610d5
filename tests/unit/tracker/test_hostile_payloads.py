"""Payloads no carrier sends are refused as unparseable (a 400), never a crash (a 500)."""

from __future__ import annotations

import pytest

from relais_tracker.adapters.carriers import ADAPTERS, PayloadError, parse

HOSTILE = {
    "nested arrays": b"[" * 5000 + b"]" * 5000,
    "nested objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "random bytes": bytes(range(256)) * 4,
    "empty": b"",
}


@pytest.mark.parametrize("carrier", sorted(ADAPTERS))
@pytest.mark.parametrize("payload", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_payload_is_a_payload_error(carrier: str, payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse(carrier, payload)
