"""The order API's bodies and security scheme, as its OpenAPI document shows them.

Rules:
- a request body is the orders topic's model (relais_contracts.topics.orders) without
  the envelope fields the API sets; the models here are derived from the topic's, field
  by field, so the document cannot drift from what is validated. They only describe: the
  API still reads the body as a JSON object, puts each parcel's carrier through the
  alias table, then validates with the topic's own models (orders_api);
- a response is described, never re-validated or re-serialized: the API answers
  byte for byte what it answered before these models existed;
- the security scheme is the one the API checks, `Authorization: Bearer <key>` with
  one of the merchant's order API keys (relais_runtime.api_keys).
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any, Literal, Optional
from uuid import UUID

from fastapi.security import HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticKnownError

from relais_contracts.envelope import Contract
from relais_contracts.shipment import DelayReason
from relais_contracts.text import OptionalSingleLine
from relais_contracts.topics.orders import CancellationReason, OrderPlaced, OrderUpdated
from relais_contracts.tracking import Substatus, TrackingStatus
from relais_tracker.domain import ENVELOPE_FIELDS
from relais_tracker.domain.orders import OrderState

SET_BY_THE_API = ENVELOPE_FIELDS | {"correlation_id"}
"""Fields of an order event the API sets: a request naming one of ENVELOPE_FIELDS is
refused (422); a `correlation_id` is replaced by the order id."""

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="MerchantApiKey",
    bearerFormat="rk_<43 characters>",
    description="One of the merchant's order API keys (`relais merchant add-key`), sent as "
    "`Authorization: Bearer <key>`. The key names the merchant: a merchant reads and "
    "writes only its own orders.",
)


def _without_envelope(
    name: str, event: type[Contract], doc: str, *, optional: frozenset[str] = frozenset()
) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for field_name, info in event.model_fields.items():
        if field_name in SET_BY_THE_API:
            continue
        if field_name in optional:
            optional_info = copy.copy(info)
            optional_info.default = None
            fields[field_name] = (Optional[info.annotation], optional_info)  # noqa: UP045
        else:
            fields[field_name] = (info.annotation, info)
    model: type[BaseModel] = create_model(
        name, __base__=Contract, __doc__=doc, __module__=__name__, **fields
    )
    return model


OrderRequest = _without_envelope(
    "OrderRequest",
    OrderPlaced,
    "A new order, whole (published as OrderPlaced). A parcel's `carrier` may also be a "
    "common name of the carrier (`Mondial Relay`, `mondial-relay`): the API turns it into "
    "its code; left out next to a tracking number, it is the carrier that number's format "
    "names, else `generic`. `order_id` is the merchant's; a retried identical request "
    "publishes the same event.",
)
OrderUpdateRequest = _without_envelope(
    "OrderUpdateRequest",
    OrderUpdated,
    "The whole order again, replacing what the tracker knew (published as OrderUpdated): "
    "a parcel missing from it is no longer part of the order. `order_id` comes from the "
    "URL; if given it must be the same.",
    optional=frozenset({"order_id"}),
)


MAX_BATCH_ORDERS = 1000
"""Orders one POST /v1/orders/batch may carry."""


class OrderBatchRequest(BaseModel):
    """Several new orders at once, each an OrderRequest (each published as its own
    OrderPlaced, with the event id the single endpoint would give it). If one of them is
    invalid, nothing is published: the 422 names each problem by the order's index."""

    orders: list[OrderRequest] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=MAX_BATCH_ORDERS
    )


class CancelRequest(BaseModel):
    """Why the whole order is cancelled (published as OrderCancelled); the body may be
    left out (`other`)."""

    model_config = ConfigDict(extra="ignore")

    reason: CancellationReason = CancellationReason.OTHER


class DelayRequest(BaseModel):
    """The order will be late: why, and the new date (published as OrderUpdated: the
    stored order with its promises replaced and `delay` set; the customer is told at
    once). Give `new_ship_by`, `new_delivery_by` or both."""

    model_config = ConfigDict(extra="forbid")

    reason: DelayReason
    note: OptionalSingleLine = Field(
        default=None, max_length=300, description="Your own words, shown to the customer."
    )
    new_ship_by: AwareDatetime | None = Field(
        default=None, description="When the order will now be handed to the carrier."
    )
    new_delivery_by: date | None = Field(
        default=None, description="The new last delivery day, in the customer's time zone."
    )


class OrderAccepted(BaseModel):
    """The order event is on the orders topic (Kafka acknowledged it); the tracker applies
    it shortly after, so a GET may show the previous state for a moment."""

    accepted: UUID = Field(
        description="The event id; the same for a retried identical request (deduplicated)."
    )
    event_type: Literal["OrderPlaced", "OrderUpdated", "OrderCancelled"]


class OrderBatchAccepted(BaseModel):
    """Every order of the batch is on the orders topic (Kafka acknowledged them all)."""

    accepted: list[UUID] = Field(
        description="The event id of each order, in the request's order; the same for a "
        "retried identical order (deduplicated)."
    )
    event_type: Literal["OrderPlaced"]


class ShipmentSummary(BaseModel):
    """One parcel of the order as the tracker follows it."""

    shipment_id: str
    carrier: str | None = Field(description="The carrier's code, once shipped.")
    tracking_number: str | None
    status: TrackingStatus
    substatus: Substatus
    final: bool = Field(description="Nothing more is expected (delivered, returned, ...).")
    version: int = Field(description="Grows with every change of the shipment's state.")
    parcel_index: int | None = Field(description="The parcel's place in the order.")
    last_event_at: str | None = Field(
        description="ISO 8601 time of the last carrier event, if any."
    )


class OrderView(BaseModel):
    """The order as the tracker knows it (it may lag a POST or PUT by a moment)."""

    order_id: str
    state: OrderState
    as_of: datetime = Field(description="Time of the last order event applied.")
    order: dict[str, Any] | None = Field(
        description="The order as last sent (an OrderRequest, every field written), "
        "without the envelope."
    )
    shipments: list[ShipmentSummary] = Field(description="In parcel order.")


class ErrorMessage(BaseModel):
    detail: str


class FieldProblem(BaseModel):
    """One problem of the body: where, and why. The value itself is never echoed."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description='Where: `["body", "parcels", 0, "carrier"]`.')
    msg: str
    type: str | None = Field(
        default=None, description="Absent for the API's own checks (envelope fields, URL)."
    )


class ValidationProblems(BaseModel):
    detail: list[FieldProblem]


def json_object(value: Any) -> dict[str, Any]:
    """A body read as a JSON object, as `dict[str, Any]` validates it."""
    if not isinstance(value, dict):
        raise PydanticKnownError("dict_type")
    return value


def json_object_or_null(value: Any) -> dict[str, Any] | None:
    return None if value is None else json_object(value)


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorMessage,
        "description": "No API key, an unknown one, or another scheme than Bearer "
        '(`{"detail": "missing or invalid API key"}`, `WWW-Authenticate: Bearer`).',
    },
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    413: {
        "model": ErrorMessage,
        "description": "The body is larger than RELAIS_HTTP_MAX_BODY_BYTES.",
    },
    422: {
        "model": ValidationProblems,
        "description": "The body is not a valid order: each field with its message. "
        "Nothing was published.",
    },
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorMessage,
        "description": "No such order for this merchant (another merchant's order is "
        "answered the same way).",
    }
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorMessage,
        "description": "The order is cancelled: it can no longer be declared late.",
    }
}
