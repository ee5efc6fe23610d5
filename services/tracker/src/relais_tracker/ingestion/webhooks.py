"""Carrier webhooks: `POST /webhooks/carriers/{carrier}`, one endpoint per carrier or
aggregator, named any way the alias table knows (`mondial-relay` is `mondial_relay`:
relais_tracker.carriers.aliases); credentials and the published update use the
adapter's code.

Rules, checked in this order, nothing published unless all pass:
- a carrier without an adapter: 404;
- a body larger than the limit: 413, from Content-Length before reading, or as soon
  as the streamed body passes the limit;
- no configured credential of that carrier verifies the call, or its signature's
  timestamp is outside the tolerance (replay): 401;
- the carrier's adapter cannot parse the body: 400 with the adapter's reason;
- otherwise the body is published raw to the carrier-updates topic and Kafka's
  acknowledgement is awaited before answering 202: an accepted payload is never lost.
The payload is personal data: never logged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from relais_contracts.registry import Topic
from relais_contracts.topics.carrier_updates import (
    CarrierUpdateReceived,
    PayloadEncoding,
    UpdateSource,
)
from relais_runtime.kafka import publish_events
from relais_runtime.logging import get_logger
from relais_runtime.metrics import CARRIER_WEBHOOKS
from relais_tracker import carriers
from relais_tracker.carriers.base import NormalizedEvent, PayloadError
from relais_tracker.ingestion.auth import WebhookAuthenticator

log = get_logger(__name__)

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
"""relais_contracts.common.TrackingNumber: a number outside it only keys the update by id."""


class BodyTooLarge(Exception):
    pass


async def read_limited(request: Request, *, limit: int) -> bytes:
    """The body, refusing (BodyTooLarge) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def payload_text(body: bytes) -> tuple[str, PayloadEncoding]:
    try:
        return body.decode("utf-8"), PayloadEncoding.TEXT
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), PayloadEncoding.BASE64


def single_tracking_number(events: list[NormalizedEvent]) -> str | None:
    numbers = {event.tracking_number for event in events}
    return numbers.pop() if len(numbers) == 1 else None


def _refuse(carrier: str, outcome: str, status: int, detail: str) -> HTTPException:
    CARRIER_WEBHOOKS.labels(carrier=carrier, outcome=outcome).inc()
    return HTTPException(status_code=status, detail=detail)


def webhooks_router(
    *,
    producer: AIOKafkaProducer,
    topic: Topic,
    authenticator: WebhookAuthenticator,
    max_body_bytes: int,
    now: Callable[[], datetime],
) -> APIRouter:
    router = APIRouter(tags=["carrier webhooks"])

    @router.post("/webhooks/carriers/{carrier}", status_code=202)
    async def receive(carrier: str, request: Request) -> JSONResponse:
        adapter = carriers.adapter_for(carrier)
        if adapter is None:
            raise _refuse(
                "unknown", "unknown_carrier", 404, f"no adapter for carrier {carrier[:64]!r}"
            )
        carrier = adapter.carrier
        try:
            body = await read_limited(request, limit=max_body_bytes)
        except BodyTooLarge:
            raise _refuse(
                carrier, "too_large", 413, f"body larger than {max_body_bytes} bytes"
            ) from None
        merchant_id = authenticator.authenticate(
            carrier=carrier, headers=request.headers, body=body, now=now()
        )
        if merchant_id is None:
            raise _refuse(carrier, "unauthorized", 401, "missing or invalid carrier credential")
        try:
            events = adapter.parse(body)
        except PayloadError as error:
            raise _refuse(
                carrier, "malformed", 400, f"malformed {carrier} payload: {error}"
            ) from None
        received_at = now()
        payload, encoding = payload_text(body)
        tracking_number = single_tracking_number(events)
        if tracking_number is not None and not TRACKING_NUMBER.match(tracking_number):
            tracking_number = None
        update = CarrierUpdateReceived(
            occurred_at=received_at,
            produced_at=received_at,
            merchant_id=merchant_id,
            correlation_id=f"{carrier}:{tracking_number or 'batch'}",
            carrier=carrier,
            source=UpdateSource.WEBHOOK,
            received_at=received_at,
            content_type=(request.headers.get("content-type") or "application/octet-stream")[:200],
            encoding=encoding,
            payload=payload,
            tracking_number=tracking_number,
            endpoint=request.url.path[:200],
        )
        await publish_events(producer, topic=topic.name, events=[update])
        CARRIER_WEBHOOKS.labels(carrier=carrier, outcome="accepted").inc()
        log.info("carrier webhook accepted", carrier=carrier, events=len(events))
        body_out: dict[str, Any] = {"accepted": str(update.event_id), "events": len(events)}
        return JSONResponse(body_out, status_code=202)

    return router
