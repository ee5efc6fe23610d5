"""Carrier webhook requests the tracker must refuse, with the answer each one must get.

Rules:
- every case is signed with the carrier's credential unless it tests the credential
  itself: a refusal must come from the body, not from a missing signature;
- expected answers: a body over the limit 413 (declared with Content-Length or
  streamed without one), a call without a valid signature 401, an unknown carrier 404,
  anything else a 4xx; a 5xx or a dropped connection is always a failure;
- deterministic for a given `random.Random`; no I/O.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

STREAM_CHUNK: Final = 64 * 1024


class WebhookKind(StrEnum):
    RANDOM_BYTES = "random_bytes"
    HUGE = "huge"
    DEEPLY_NESTED = "deeply_nested"
    WRONG_SHAPE = "wrong_shape"
    UNSIGNED = "unsigned"
    UNKNOWN_CARRIER = "unknown_carrier"


class Expect(StrEnum):
    CLIENT_ERROR = "4xx"
    TOO_LARGE = "413"
    UNAUTHORIZED = "401"
    NOT_FOUND = "404"
    NO_SERVER_ERROR = "<500"

    def met_by(self, status: int) -> bool:
        if self is Expect.CLIENT_ERROR:
            return 400 <= status < 500
        if self is Expect.NO_SERVER_ERROR:
            return 100 <= status < 500
        return status == int(self.value)


@dataclass(frozen=True)
class WebhookCase:
    kind: str
    carrier: str
    description: str
    body: bytes
    """The body sent (empty when `stream_bytes` is set)."""
    expect: Expect
    content_type: str = "application/json"
    signed: bool = True
    stream_bytes: int = 0
    """When > 0: this many bytes are streamed without a Content-Length (chunked)."""

    @property
    def size(self) -> int:
        return self.stream_bytes or len(self.body)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


WRONG_SHAPES: Final[tuple[tuple[str, Any], ...]] = (
    ("empty object", {}),
    ("empty array", []),
    ("JSON string", "shipment delivered"),
    ("JSON number", 12345),
    ("JSON null", None),
    ("JSON true", True),
    ("events is a string", {"events": "delivered"}),
    ("events holds null", {"events": [None]}),
    ("events holds an empty object", {"events": [{}]}),
    ("tracking number is an object", {"trackingNumber": {"$ne": None}, "events": []}),
    ("shipments with an array id", {"shipments": [{"id": ["x"], "events": [{}]}]}),
    ("array of objects", [{"code": "DELIVERED", "date": "tomorrow"}]),
    ("number beyond float range", {"events": [{"timestamp": 1e308, "code": 10**400}]}),
    ("date in an unknown format", {"events": [{"date": "31/02/2025 25:61", "code": "X"}]}),
    ("Chronopost body with wrong types", {"skybillNumber": 42, "events": {"code": 1}}),
    ("DHL body with wrong types", {"shipments": {"id": 1, "status": []}}),
    ("UPS body with wrong types", {"trackingNumber": [], "activityStatus": 3}),
    ("FedEx body with wrong types", {"output": {"completeTrackResults": "none"}}),
    ("generic body with wrong types", {"tracking_number": 1, "carrier": [], "events": 1}),
)


def random_bodies(rng: random.Random, *, count: int) -> list[tuple[str, bytes]]:
    sizes = (1, 16, 256, 2048, 16_384)
    found = []
    for index in range(count):
        size = sizes[index % len(sizes)]
        found.append((f"{size} random bytes", rng.randbytes(size)))
    return found


def nested_bodies(*, limit: int) -> list[tuple[str, bytes]]:
    """Arrays and objects nested as deep as fits under `limit` bytes (and shallower)."""
    found = []
    for depth in (1_000, 10_000, 100_000):
        if 2 * depth <= limit:
            found.append((f"arrays nested {depth} deep", b"[" * depth + b"]" * depth))
    object_depth = min(50_000, (limit - 8) // 6)
    found.append(
        (
            f"objects nested {object_depth} deep",
            b'{"a":' * object_depth + b"1" + b"}" * object_depth,
        )
    )
    inner = min(20_000, (limit - 64) // 2)
    found.append(
        (
            f"events nested {inner} deep",
            b'{"events": ' + b"[" * inner + b"]" * inner + b"}",
        )
    )
    return found


def webhook_cases(
    carriers: list[str],
    *,
    rng: random.Random,
    limit: int,
    app_limit: int,
    per_carrier: int,
) -> list[WebhookCase]:
    """The cases of one run: per carrier, random bytes, wrong shapes and deep nesting
    (`per_carrier` of each, sampled); then bodies over the webhook limit (`limit`) and
    over every HTTP route's limit (`app_limit`), unsigned calls and an unknown carrier."""
    cases = []
    nested = nested_bodies(limit=limit)
    for carrier in carriers:
        for description, body in random_bodies(rng, count=per_carrier):
            cases.append(
                WebhookCase(
                    kind=WebhookKind.RANDOM_BYTES,
                    carrier=carrier,
                    description=description,
                    body=body,
                    expect=Expect.CLIENT_ERROR,
                    content_type=rng.choice(("application/json", "application/octet-stream")),
                )
            )
        shapes = rng.sample(WRONG_SHAPES, min(per_carrier, len(WRONG_SHAPES)))
        for description, value in shapes:
            cases.append(
                WebhookCase(
                    kind=WebhookKind.WRONG_SHAPE,
                    carrier=carrier,
                    description=description,
                    body=_json(value),
                    expect=Expect.CLIENT_ERROR,
                )
            )
        for description, body in rng.sample(nested, min(per_carrier, len(nested))):
            cases.append(
                WebhookCase(
                    kind=WebhookKind.DEEPLY_NESTED,
                    carrier=carrier,
                    description=description,
                    body=body,
                    expect=Expect.CLIENT_ERROR,
                )
            )
    target = carriers[0] if carriers else "generic"
    for carrier in (target, rng.choice(carriers) if carriers else target):
        cases.append(
            WebhookCase(
                kind=WebhookKind.HUGE,
                carrier=carrier,
                description=f"{limit + 1} bytes (webhook limit + 1), with Content-Length",
                body=(b'{"events": [' + b" " * limit)[: limit + 1],
                expect=Expect.TOO_LARGE,
            )
        )
    cases += [
        WebhookCase(
            kind=WebhookKind.HUGE,
            carrier=target,
            description=f"{app_limit * 2} bytes (twice the HTTP limit), with Content-Length",
            body=b"x" * (app_limit * 2),
            expect=Expect.TOO_LARGE,
            content_type="application/octet-stream",
        ),
        WebhookCase(
            kind=WebhookKind.HUGE,
            carrier=target,
            description=f"{limit * 4} bytes streamed without Content-Length",
            body=b"",
            expect=Expect.TOO_LARGE,
            stream_bytes=limit * 4,
        ),
        WebhookCase(
            kind=WebhookKind.UNSIGNED,
            carrier=target,
            description="valid-looking JSON without a signature",
            body=_json({"events": [{"code": "DELIVERED"}]}),
            expect=Expect.UNAUTHORIZED,
            signed=False,
        ),
        WebhookCase(
            kind=WebhookKind.UNSIGNED,
            carrier=target,
            description="random bytes without a signature",
            body=rng.randbytes(128),
            expect=Expect.UNAUTHORIZED,
            signed=False,
        ),
        WebhookCase(
            kind=WebhookKind.UNKNOWN_CARRIER,
            carrier="pigeon_post",
            description="a carrier without an adapter",
            body=_json({"events": []}),
            expect=Expect.NOT_FOUND,
        ),
    ]
    return cases


def stream_chunks(total: int) -> list[bytes]:
    """`total` bytes of JSON-ish filler in chunks of STREAM_CHUNK."""
    chunks = []
    left = total
    while left > 0:
        size = min(STREAM_CHUNK, left)
        chunks.append(b" " * size)
        left -= size
    return chunks
