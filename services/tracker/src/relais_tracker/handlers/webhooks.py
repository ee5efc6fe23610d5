"""Carrier webhooks: `POST /webhooks/carriers/{carrier}`, one endpoint per carrier or
aggregator, named any way the alias table knows (`mondial-relay` is `mondial_relay`:
relais_tracker.adapters.carriers.aliases); credentials and the published update use
the adapter's code.

Rules, checked in this order (each a dependency of the next), nothing published
unless all pass:
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

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from relais_contracts.registry import Topic
from relais_contracts.topics.carrier_updates import CarrierUpdateReceived, UpdateSource
from relais_runtime.kafka import publish_events
from relais_runtime.logging import get_logger
from relais_runtime.metrics import CARRIER_WEBHOOKS
from relais_runtime.routes import context_of, router_for
from relais_tracker.adapters import carriers
from relais_tracker.adapters.carriers.base import CarrierAdapter, NormalizedEvent, PayloadError
from relais_tracker.adapters.webhook_auth import WebhookAuthenticator
from relais_tracker.domain.payloads import payload_text

log = get_logger(__name__)

TRACKING_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
"""relais_contracts.common.TrackingNumber: a number outside it only keys the update by id."""


@dataclass(frozen=True)
class WebhookIntake:
    producer: AIOKafkaProducer
    topic: Topic
    authenticator: WebhookAuthenticator
    max_body_bytes: int
    now: Callable[[], datetime]


class WebhookOutcome(StrEnum):
    """The `outcome` label of relais_carrier_webhooks_total."""

    ACCEPTED = "accepted"
    UNKNOWN_CARRIER = "unknown_carrier"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    MALFORMED = "malformed"


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


def single_tracking_number(events: list[NormalizedEvent]) -> str | None:
    numbers = {event.tracking_number for event in events}
    return numbers.pop() if len(numbers) == 1 else None


def _refuse(carrier: str, outcome: WebhookOutcome, status: int, detail: str) -> HTTPException:
    CARRIER_WEBHOOKS.labels(carrier=carrier, outcome=outcome).inc()
    return HTTPException(status_code=status, detail=detail)


Intake = Annotated[WebhookIntake, Depends(context_of(WebhookIntake))]


async def carrier_adapter(carrier: str) -> CarrierAdapter:
    """The adapter of the carrier the path names; 404 when there is none."""
    adapter = carriers.adapter_for(carrier)
    if adapter is None:
        raise _refuse(
            "unknown",
            WebhookOutcome.UNKNOWN_CARRIER,
            404,
            f"no adapter for carrier {carrier[:64]!r}",
        )
    return adapter


Adapter = Annotated[CarrierAdapter, Depends(carrier_adapter)]


async def limited_body(adapter: Adapter, intake: Intake, request: Request) -> bytes:
    """The raw body; 413 when it is over the limit."""
    try:
        return await read_limited(request, limit=intake.max_body_bytes)
    except BodyTooLarge:
        raise _refuse(
            adapter.carrier,
            WebhookOutcome.TOO_LARGE,
            413,
            f"body larger than {intake.max_body_bytes} bytes",
        ) from None


RawBody = Annotated[bytes, Depends(limited_body)]


async def webhook_sender(adapter: Adapter, body: RawBody, intake: Intake, request: Request) -> str:
    """The merchant a verified call is from (UNKNOWN_MERCHANT for a platform
    credential); 401 when no credential of the carrier verifies it now."""
    merchant_id = intake.authenticator.authenticate(
        carrier=adapter.carrier, headers=request.headers, body=body, now=intake.now()
    )
    if merchant_id is None:
        raise _refuse(
            adapter.carrier,
            WebhookOutcome.UNAUTHORIZED,
            401,
            "missing or invalid carrier credential",
        )
    return merchant_id


Sender = Annotated[str, Depends(webhook_sender)]


async def receive(
    adapter: Adapter, body: RawBody, merchant_id: Sender, intake: Intake, request: Request
) -> JSONResponse:
    carrier = adapter.carrier
    try:
        events = adapter.parse(body)
    except PayloadError as error:
        raise _refuse(
            carrier, WebhookOutcome.MALFORMED, 400, f"malformed {carrier} payload: {error}"
        ) from None
    received_at = intake.now()
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
    await publish_events(intake.producer, topic=intake.topic.name, events=[update])
    CARRIER_WEBHOOKS.labels(carrier=carrier, outcome=WebhookOutcome.ACCEPTED).inc()
    log.info("carrier webhook accepted", carrier=carrier, events=len(events))
    body_out: dict[str, Any] = {"accepted": str(update.event_id), "events": len(events)}
    return JSONResponse(body_out, status_code=202)


def webhooks_router(intake: WebhookIntake) -> APIRouter:
    router = router_for(intake, tags=["carrier webhooks"])
    router.add_api_route("/webhooks/carriers/{carrier}", receive, methods=["POST"], status_code=202)
    return router
