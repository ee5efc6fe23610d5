"""How a carrier's raw answer travels in a CarrierUpdateReceived (pure, no I/O).

Rules:
- a body that is valid UTF-8 travels as text; anything else as base64, so no byte of
  what the carrier sent is lost or altered;
- `payload_bytes` gives back exactly the bytes `payload_text` was given.
"""

from __future__ import annotations

import base64

from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, PayloadEncoding


def payload_text(body: bytes) -> tuple[str, PayloadEncoding]:
    try:
        return body.decode("utf-8"), PayloadEncoding.TEXT
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), PayloadEncoding.BASE64


def payload_bytes(update: CarrierUpdateReceived) -> bytes:
    if update.encoding is PayloadEncoding.BASE64:
        return base64.b64decode(update.payload)
    return update.payload.encode()
