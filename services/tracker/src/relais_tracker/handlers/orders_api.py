"""The merchant order API: orders over HTTP, published to the orders topic.

    POST /v1/orders                    the whole order (OrderPlaced) -> 202
    POST /v1/orders/batch              {"orders": [order, ...]} (one OrderPlaced each,
                                       up to MAX_BATCH_ORDERS) -> 202
    PUT  /v1/orders/{order_id}         the whole order again (OrderUpdated) -> 202
    POST /v1/orders/{order_id}/cancel  {"reason": ...} (OrderCancelled) -> 202
    POST /v1/orders/{order_id}/delay   {"reason": ..., "new_ship_by"/"new_delivery_by": ...}
                                       (OrderUpdated: the stored order, new promise) -> 202
    GET  /v1/orders/{order_id}         the order as the tracker knows it, with its shipments

Request and response bodies, the security scheme and the error answers are described
in the OpenAPI document (/docs, /openapi.json) by orders_api_models; docs/api.md has a
curl example of each call.

Rules:
- every call carries one of the merchant's API keys (`Authorization: Bearer <key>`);
  no key or an unknown key: 401; the merchant is the key's owner, never a field of
  the body: a merchant can only write and read its own orders, and another
  merchant's order is answered 404 like a missing one;
- the body is validated with the orders topic's own models (envelope fields are
  set by the API: merchant_id from the key, correlation_id = order_id, the event
  time): invalid -> 422 listing each field and its message (never the values);
  a parcel's `carrier` is first put through the alias table (`Mondial Relay`,
  `mondial-relay` -> `mondial_relay`; relais_tracker.adapters.carriers.aliases), so
  the published order carries Relais carrier codes; a parcel with a tracking number
  and no carrier gets the one its number's format names with certainty (UPS `1Z`,
  UPU S10...: relais_tracker.domain.tracking_numbers), else `generic`;
- an accepted order is published to the orders topic and Kafka's acknowledgement
  awaited before answering 202; the tracker then applies it like any order event
  (it never writes its tables from the API), so a GET may lag a POST briefly;
- a retried identical request produces the same event id (consumers ignore it);
- a batch of orders is validated whole before anything is published: one invalid
  order -> 422 naming each problem with the order's index (`["body", "orders", 3,
  "parcels", 0, "carrier"]`) and nothing published; else each order is published as
  the single endpoint would publish it (same event id), all handed to the producer
  without waiting for each acknowledgement, and 202 once Kafka acknowledged every one.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Security
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import PlainValidator, ValidationError

from relais_contracts import ids
from relais_contracts.envelope import Event
from relais_contracts.registry import Topic
from relais_contracts.topics.orders import OrderCancelled, OrderPlaced, OrderUpdated
from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.kafka import publish_events
from relais_runtime.merchants.tracking import ApiScope
from relais_runtime.metrics import ORDER_API_REQUESTS
from relais_runtime.routes import context_of, router_for
from relais_tracker.adapters.carriers.aliases import carrier_code
from relais_tracker.domain import ENVELOPE_FIELDS
from relais_tracker.domain.delays import DelayDeclaration
from relais_tracker.domain.shipments import parcel_carrier
from relais_tracker.handlers.orders_api_models import (
    BEARER,
    CONFLICT,
    ERRORS,
    MAX_BATCH_ORDERS,
    NOT_FOUND,
    UNAUTHORIZED,
    CancelRequest,
    DelayRequest,
    OrderAccepted,
    OrderBatchAccepted,
    OrderBatchRequest,
    OrderRequest,
    OrderUpdateRequest,
    OrderView,
    json_object,
    json_object_or_null,
)
from relais_tracker.service.delays import DelayRefused, declare_delay
from relais_tracker.service.order_view import order_view


@dataclass(frozen=True)
class OrderApi:
    producer: AIOKafkaProducer
    pool: asyncpg.Pool
    topic: Topic
    keys: ApiKeyRing
    now: Callable[[], datetime]


class RequestOutcome(StrEnum):
    """The `outcome` label of relais_order_api_requests_total."""

    ACCEPTED = "accepted"
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    FOUND = "found"
    NOT_FOUND = "not_found"


Api = Annotated[OrderApi, Depends(context_of(OrderApi))]


def orders_key_owner(
    keys: ApiKeyRing, credentials: HTTPAuthorizationCredentials | None, *, operation: str
) -> str:
    """The owner of a key with the orders scope: 401 without a valid key (counted under
    `operation`), 403 when the key lacks the scope."""
    owner = keys.merchant_of(credentials.credentials) if credentials is not None else None
    if owner is None or credentials is None:
        ORDER_API_REQUESTS.labels(operation=operation, outcome=RequestOutcome.UNAUTHORIZED).inc()
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if ApiScope.ORDERS not in keys.scopes_of(credentials.credentials):
        raise HTTPException(status_code=403, detail="this key lacks the orders scope")
    return owner


async def merchant(
    api: Api, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> str:
    """The owner of the request's API key; 401 without a valid one. A coroutine: FastAPI
    would run a plain function in a worker thread, a thread hop on every request."""
    return orders_key_owner(api.keys, credentials, operation="any")


Merchant = Annotated[str, Depends(merchant)]
OrderId = Annotated[str, Path(description="The merchant's id of the order.")]
# Read as a JSON object (then aliased and validated by the topic's models), described
# in OpenAPI as the typed request.
OrderBody = Annotated[
    dict[str, Any], PlainValidator(json_object, json_schema_input_type=OrderRequest), Body()
]
UpdateBody = Annotated[
    dict[str, Any], PlainValidator(json_object, json_schema_input_type=OrderUpdateRequest), Body()
]
BatchBody = Annotated[
    dict[str, Any], PlainValidator(json_object, json_schema_input_type=OrderBatchRequest), Body()
]
CancelBody = Annotated[
    dict[str, Any] | None,
    PlainValidator(json_object_or_null, json_schema_input_type=CancelRequest),
    Body(),
]


def _request_id(merchant_id: str, operation: str, body: dict[str, Any]) -> Any:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return ids.derived_id("order-api", merchant_id, operation, digest)


def _invalid(operation: str, error: ValidationError) -> HTTPException:
    ORDER_API_REQUESTS.labels(operation=operation, outcome=RequestOutcome.INVALID).inc()
    return HTTPException(status_code=422, detail=_problems(error, at=["body"]))


def _problems(error: ValidationError, *, at: list[str | int]) -> list[dict[str, Any]]:
    """Each problem of `error` located under `at`, without the input (never echoed)."""
    return [
        {"loc": [*at, *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors(include_url=False, include_input=False)
    ]


def _envelope_free(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    problems = _envelope_problems(body, at=["body"])
    if problems:
        ORDER_API_REQUESTS.labels(operation=operation, outcome=RequestOutcome.INVALID).inc()
        raise HTTPException(status_code=422, detail=problems)
    return _with_carrier_codes(body)


def _envelope_problems(body: dict[str, Any], *, at: list[str | int]) -> list[dict[str, Any]]:
    return [
        {"loc": [*at, name], "msg": "set by the API, not by the caller"}
        for name in sorted(ENVELOPE_FIELDS & body.keys())
    ]


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
        number = parcel.get("tracking_number") if isinstance(parcel, dict) else None
        if carrier is None and isinstance(number, str) and number.strip():
            code = parcel_carrier(None, number)
        named.append({**parcel, "carrier": code} if code is not None else parcel)
    return {**body, "parcels": named}


async def _publish(api: OrderApi, operation: str, event: Event) -> JSONResponse:
    await publish_events(api.producer, topic=api.topic.name, events=[event])
    ORDER_API_REQUESTS.labels(operation=operation, outcome=RequestOutcome.ACCEPTED).inc()
    return JSONResponse(
        {"accepted": str(event.event_id), "event_type": event.event_type},
        status_code=202,
    )


def _placed(merchant_id: str, fields: dict[str, Any], now: datetime) -> OrderPlaced:
    """The OrderPlaced of an order's fields (carrier codes already applied);
    ValidationError when they are not a valid order."""
    return OrderPlaced.model_validate(
        {
            **fields,
            "event_id": _request_id(merchant_id, "place", fields),
            "merchant_id": merchant_id,
            "correlation_id": fields.get("order_id") or "-",
            "occurred_at": fields.get("placed_at"),
            "produced_at": now,
        }
    )


async def place(merchant_id: Merchant, body: OrderBody, api: Api) -> JSONResponse:
    fields = _envelope_free("place", body)
    try:
        event = _placed(merchant_id, fields, api.now())
    except ValidationError as error:
        raise _invalid("place", error) from None
    return await _publish(api, "place", event)


def _batch_events(
    merchant_id: str, body: dict[str, Any], now: datetime
) -> tuple[list[OrderPlaced], list[dict[str, Any]]]:
    """Each order of the batch as its OrderPlaced, or the problems (loc with the index)."""
    orders = body.get("orders")
    if not isinstance(orders, list) or not 1 <= len(orders) <= MAX_BATCH_ORDERS:
        message = f"a list of 1 to {MAX_BATCH_ORDERS} orders"
        return [], [{"loc": ["body", "orders"], "msg": message}]
    events: list[OrderPlaced] = []
    problems: list[dict[str, Any]] = []
    for index, order in enumerate(orders):
        at: list[str | int] = ["body", "orders", index]
        if not isinstance(order, dict):
            problems.append({"loc": at, "msg": "Input should be a valid dictionary"})
            continue
        envelope = _envelope_problems(order, at=at)
        if envelope:
            problems += envelope
            continue
        try:
            events.append(_placed(merchant_id, _with_carrier_codes(order), now))
        except ValidationError as error:
            problems += _problems(error, at=at)
    return events, problems


async def place_batch(merchant_id: Merchant, body: BatchBody, api: Api) -> JSONResponse:
    events, problems = _batch_events(merchant_id, body, api.now())
    if problems:
        ORDER_API_REQUESTS.labels(operation="place_batch", outcome=RequestOutcome.INVALID).inc()
        raise HTTPException(status_code=422, detail=problems)
    await publish_events(api.producer, topic=api.topic.name, events=events)
    ORDER_API_REQUESTS.labels(operation="place_batch", outcome=RequestOutcome.ACCEPTED).inc()
    return JSONResponse(
        {"accepted": [str(event.event_id) for event in events], "event_type": "OrderPlaced"},
        status_code=202,
    )


async def update(
    merchant_id: Merchant, order_id: OrderId, body: UpdateBody, api: Api
) -> JSONResponse:
    fields = _envelope_free("update", body)
    if fields.get("order_id", order_id) != order_id:
        raise HTTPException(422, [{"loc": ["body", "order_id"], "msg": "differs from URL"}])
    moment = api.now()
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
    return await _publish(api, "update", event)


async def cancel(
    merchant_id: Merchant, order_id: OrderId, api: Api, body: CancelBody = None
) -> JSONResponse:
    fields = _envelope_free("cancel", body or {})
    moment = api.now()
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
    return await _publish(api, "cancel", event)


DelayBody = Annotated[
    dict[str, Any], PlainValidator(json_object, json_schema_input_type=DelayRequest), Body()
]


async def delay(
    merchant_id: Merchant, order_id: OrderId, body: DelayBody, api: Api
) -> JSONResponse:
    try:
        request = DelayRequest.model_validate(body)
    except ValidationError as error:
        raise _invalid("delay", error) from None
    outcome = await declare_delay(
        api.pool,
        merchant_id=merchant_id,
        order_id=order_id,
        declaration=DelayDeclaration(**request.model_dump()),
        event_id=_request_id(merchant_id, "delay", {**body, "order_id": order_id}),
        now=api.now(),
    )
    if isinstance(outcome, DelayRefused):
        missing = outcome.status == 404
        ORDER_API_REQUESTS.labels(
            operation="delay",
            outcome=RequestOutcome.NOT_FOUND if missing else RequestOutcome.INVALID,
        ).inc()
        raise HTTPException(status_code=outcome.status, detail=outcome.detail)
    return await _publish(api, "delay", outcome)


async def read(merchant_id: Merchant, order_id: OrderId, api: Api) -> JSONResponse:
    view = await order_view(api.pool, merchant_id=merchant_id, order_id=order_id)
    if view is None:
        ORDER_API_REQUESTS.labels(operation="read", outcome=RequestOutcome.NOT_FOUND).inc()
        raise HTTPException(status_code=404, detail=f"no order {order_id!r}")
    ORDER_API_REQUESTS.labels(operation="read", outcome=RequestOutcome.FOUND).inc()
    # The view as it is, as FastAPI would encode it (OrderView only describes it).
    return JSONResponse(jsonable_encoder(view))


def orders_router(api: OrderApi) -> APIRouter:
    router = router_for(api, prefix="/v1/orders", tags=["orders"])
    router.add_api_route(
        "",
        place,
        methods=["POST"],
        status_code=202,
        response_model=OrderAccepted,
        responses=ERRORS,
        summary="Place an order",
        description="Publish a new order (OrderPlaced) for the tracker to follow.",
    )
    router.add_api_route(
        "/batch",
        place_batch,
        methods=["POST"],
        status_code=202,
        response_model=OrderBatchAccepted,
        responses=ERRORS,
        summary="Place several orders",
        description=f"Publish up to {MAX_BATCH_ORDERS} new orders (one OrderPlaced each) "
        "in one request; if one is invalid, none is published.",
    )
    router.add_api_route(
        "/{order_id}",
        update,
        methods=["PUT"],
        status_code=202,
        response_model=OrderAccepted,
        responses=ERRORS,
        summary="Replace an order",
        description="Publish the whole order again (OrderUpdated): shipped parcels, "
        "tracking numbers, a new address or promise.",
    )
    router.add_api_route(
        "/{order_id}/cancel",
        cancel,
        methods=["POST"],
        status_code=202,
        response_model=OrderAccepted,
        responses=ERRORS,
        summary="Cancel an order",
        description="Publish OrderCancelled: its shipments stop being followed.",
    )
    router.add_api_route(
        "/{order_id}/delay",
        delay,
        methods=["POST"],
        status_code=202,
        response_model=OrderAccepted,
        responses={**ERRORS, **NOT_FOUND, **CONFLICT},
        summary="Declare an order late",
        description="The order will ship or arrive later than promised: the stored order "
        "is published again (OrderUpdated) with the new promise and the reason, and the "
        "customer is told at once.",
    )
    router.add_api_route(
        "/{order_id}",
        read,
        methods=["GET"],
        response_model=OrderView,
        responses={**UNAUTHORIZED, **NOT_FOUND},
        summary="Read an order",
        description="The order, its state and its shipments as the tracker knows them.",
    )
    return router
