"""The merchant order API: orders over HTTP, published to the orders topic.

    POST /v1/orders                    the whole order (OrderPlaced) -> 202
    PUT  /v1/orders/{order_id}         the whole order again (OrderUpdated) -> 202
    POST /v1/orders/{order_id}/cancel  {"reason": ...} (OrderCancelled) -> 202
    GET  /v1/orders/{order_id}         the order as the tracker knows it, with its shipments

Rules:
- every call carries one of the merchant's API keys (`Authorization: Bearer <key>`);
  no key or an unknown key: 401; the merchant is the key's owner, never a field of
  the body: a merchant can only write and read its own orders, and another
  merchant's order is answered 404 like a missing one;
- the body is validated with the orders topic's own models (envelope fields are
  set by the API: merchant_id from the key, correlation_id = order_id, the event
  time): invalid -> 422 listing each field and its message (never the values);
  a parcel's `carrier` is first put through the alias table (`Mondial Relay`,
  `mondial-relay` -> `mondial_relay`; relais_tracker.carriers.aliases), so the
  published order carries Relais carrier codes;
- an accepted order is published to the orders topic and Kafka's acknowledgement
  awaited before answering 202; the tracker then applies it like any order event
  (it never writes its tables from the API), so a GET may lag a POST briefly;
- a retried identical request produces the same event id (consumers ignore it).

(No `from __future__ import annotations` here: FastAPI must see the route functions'
annotations, which name types local to `orders_router`.)
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Body, Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.kafka import publish_events
from relais_runtime.metrics import ORDER_API_REQUESTS
from relais_tracker import repository
from relais_tracker.carriers.aliases import carrier_code

ENVELOPE_FIELDS = frozenset(
    {"event_id", "event_type", "schema_version", "occurred_at", "produced_at", "merchant_id"}
)


def _request_id(merchant_id: str, operation: str, body: dict[str, Any]) -> Any:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return ids.derived_id("order-api", merchant_id, operation, digest)


def _invalid(operation: str, error: ValidationError) -> HTTPException:
    ORDER_API_REQUESTS.labels(operation=operation, outcome="invalid").inc()
    return HTTPException(
        status_code=422,
        detail=[
            {"loc": ["body", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
            for problem in error.errors(include_url=False, include_input=False)
        ],
    )


def _envelope_free(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    present = sorted(ENVELOPE_FIELDS & body.keys())
    if present:
        ORDER_API_REQUESTS.labels(operation=operation, outcome="invalid").inc()
        raise HTTPException(
            status_code=422,
            detail=[
                {"loc": ["body", name], "msg": "set by the API, not by the caller"}
                for name in present
            ],
        )
    return _with_carrier_codes(body)


def _with_carrier_codes(body: dict[str, Any]) -> dict[str, Any]:
    """The body with each parcel's carrier named by its Relais code when the alias table
    can tell (anything else is left for validation to judge)."""
    parcels = body.get("parcels")
    if not isinstance(parcels, list):
        return body
    named = []
    for parcel in parcels:
        carrier = parcel.get("carrier") if isinstance(parcel, dict) else None
        code = carrier_code(carrier) if isinstance(carrier, str) else None
        named.append({**parcel, "carrier": code} if code is not None else parcel)
    return {**body, "parcels": named}


def orders_router(
    *,
    producer: AIOKafkaProducer,
    pool: asyncpg.Pool,
    topic: Topic,
    keys: ApiKeyRing,
    now: Callable[[], datetime],
) -> APIRouter:
    router = APIRouter(prefix="/v1/orders", tags=["orders"])

    def merchant(authorization: Annotated[str | None, Header()] = None) -> str:
        owner = keys.merchant_of_header(authorization)
        if owner is None:
            ORDER_API_REQUESTS.labels(operation="any", outcome="unauthorized").inc()
            raise HTTPException(
                status_code=401,
                detail="missing or invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return owner

    Merchant = Annotated[str, Depends(merchant)]
    OrderBody = Annotated[dict[str, Any], Body()]

    async def publish(operation: str, event: Event) -> JSONResponse:
        await publish_events(producer, topic=topic.name, events=[event])
        ORDER_API_REQUESTS.labels(operation=operation, outcome="accepted").inc()
        return JSONResponse(
            {"accepted": str(event.event_id), "event_type": event.event_type},
            status_code=202,
        )

    @router.post("", status_code=202)
    async def place(merchant_id: Merchant, body: OrderBody) -> JSONResponse:
        fields = _envelope_free("place", body)
        try:
            event = OrderPlaced.model_validate(
                {
                    **fields,
                    "event_id": _request_id(merchant_id, "place", fields),
                    "merchant_id": merchant_id,
                    "correlation_id": fields.get("order_id") or "-",
                    "occurred_at": fields.get("placed_at"),
                    "produced_at": now(),
                }
            )
        except ValidationError as error:
            raise _invalid("place", error) from None
        return await publish("place", event)

    @router.put("/{order_id}", status_code=202)
    async def update(merchant_id: Merchant, order_id: str, body: OrderBody) -> JSONResponse:
        fields = _envelope_free("update", body)
        if fields.get("order_id", order_id) != order_id:
            raise HTTPException(422, [{"loc": ["body", "order_id"], "msg": "differs from URL"}])
        moment = now()
        try:
            event = OrderUpdated.model_validate(
                {
                    **fields,
                    "order_id": order_id,
                    "event_id": _request_id(merchant_id, "update", {**fields, "at": moment}),
                    "merchant_id": merchant_id,
                    "correlation_id": order_id,
                    "occurred_at": moment,
                    "produced_at": moment,
                }
            )
        except ValidationError as error:
            raise _invalid("update", error) from None
        return await publish("update", event)

    @router.post("/{order_id}/cancel", status_code=202)
    async def cancel(
        merchant_id: Merchant, order_id: str, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> JSONResponse:
        fields = _envelope_free("cancel", body or {})
        moment = now()
        try:
            event = OrderCancelled.model_validate(
                {
                    **fields,
                    "order_id": order_id,
                    "event_id": _request_id(merchant_id, "cancel", {"order_id": order_id}),
                    "merchant_id": merchant_id,
                    "correlation_id": order_id,
                    "occurred_at": moment,
                    "produced_at": moment,
                }
            )
        except ValidationError as error:
            raise _invalid("cancel", error) from None
        return await publish("cancel", event)

    @router.get("/{order_id}")
    async def read(merchant_id: Merchant, order_id: str) -> dict[str, Any]:
        async with pool.acquire() as connection:
            order = await repository.get_order(
                connection, merchant_id=merchant_id, order_id=order_id
            )
            shipments = await repository.list_shipment_summaries(
                connection, merchant_id=merchant_id, order_id=order_id
            )
        if order is None:
            ORDER_API_REQUESTS.labels(operation="read", outcome="not_found").inc()
            raise HTTPException(status_code=404, detail=f"no order {order_id!r}")
        ORDER_API_REQUESTS.labels(operation="read", outcome="found").inc()
        snapshot = repository.snapshot_of(order["snapshot"]) or {}
        for name in ENVELOPE_FIELDS | {"correlation_id"}:
            snapshot.pop(name, None)
        return {
            "order_id": order["order_id"],
            "state": order["state"],
            "as_of": order["as_of"].isoformat(),
            "order": snapshot or None,
            "shipments": shipments,
        }

    return router
