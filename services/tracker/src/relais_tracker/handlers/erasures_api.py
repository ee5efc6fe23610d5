"""The merchant erasure API: forget one customer everywhere in Relais.

    POST /v1/erasures               {"customer_email": ...} -> 202 the erasure's id and counts
    GET  /v1/erasures/{erasure_id}  the audit record of one erasure (counts and times)

Rules:
- authenticated like the order API (`Authorization: Bearer <key>`, one of the merchant's
  order API keys; 401 otherwise); the merchant is the key's owner: a merchant erases
  only its own customers and reads only its own erasures (another's is answered 404);
- the body is one field, `customer_email`; anything else, a missing or malformed
  address: 422 naming the field (never echoing the value) and nothing is erased or
  published;
- 202 once the tracker's own part is committed (relais_tracker.service.erasure): the
  tombstones are in its outbox, and the other services erase their copies when they
  read them, shortly after. Erasing an address again is harmless: nothing is left to
  find, and the answer counts zero;
- neither the address nor anything derived from it appears in the answer or the logs;
  the audit record keeps a salted hash of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator

from relais_runtime.api_keys import ApiKeyRing
from relais_runtime.metrics import ORDER_API_REQUESTS
from relais_runtime.routes import context_of, router_for
from relais_tracker import repository
from relais_tracker.domain.erasure import InvalidEmail, normalized_email
from relais_tracker.handlers.orders_api import RequestOutcome, orders_key_owner
from relais_tracker.handlers.orders_api_models import (
    BEARER,
    UNAUTHORIZED,
    ErrorMessage,
    ValidationProblems,
    json_object,
)
from relais_tracker.service.erasure import CustomerErasure, ErasureSource


@dataclass(frozen=True)
class ErasureApi:
    pool: asyncpg.Pool
    keys: ApiKeyRing
    erasure: CustomerErasure


class ErasureRequest(BaseModel):
    """The customer to forget, named by the email address of their orders (compared
    trimmed and case-insensitively)."""

    model_config = ConfigDict(extra="forbid")

    customer_email: str = Field(min_length=3, max_length=254, examples=["camille@example.fr"])

    @field_validator("customer_email")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            return normalized_email(value)
        except InvalidEmail as error:
            raise ValueError(str(error)) from None


class ErasureAccepted(BaseModel):
    """The tracker erased what it held of the customer and published the tombstones;
    every other service erases its copy when it reads them, shortly after."""

    erasure_id: UUID = Field(description="The id of this erasure's audit record.")
    orders: int = Field(description="Orders of this customer the tracker erased.")
    shipments: int = Field(description="Shipments erased (one tombstone each).")
    requested_at: datetime
    completed_at: datetime = Field(description="When the tracker's own part committed.")


class ErasureView(ErasureAccepted):
    """An erasure's audit record: counts and times, never the address."""

    tracking_events: int
    held_events: int
    source: str = Field(description="`api` or `cli` (`relais erase`).")


Api = Annotated[ErasureApi, Depends(context_of(ErasureApi))]
ErasureBody = Annotated[
    dict[str, Any], PlainValidator(json_object, json_schema_input_type=ErasureRequest), Body()
]


def merchant(
    api: Api, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
) -> str:
    """The owner of the request's API key; 401 without a valid one."""
    return orders_key_owner(api.keys, credentials, operation="erase")


Merchant = Annotated[str, Depends(merchant)]


async def erase(merchant_id: Merchant, body: ErasureBody, api: Api) -> JSONResponse:
    try:
        request = ErasureRequest.model_validate(body)
    except ValidationError as error:
        ORDER_API_REQUESTS.labels(operation="erase", outcome=RequestOutcome.INVALID).inc()
        raise HTTPException(
            status_code=422,
            detail=[
                {"loc": ["body", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
                for problem in error.errors(include_url=False, include_input=False)
            ],
        ) from None
    async with api.pool.acquire() as connection:
        outcome = await api.erasure.erase(
            connection,
            merchant_id=merchant_id,
            email=request.customer_email,
            source=ErasureSource.API,
        )
    ORDER_API_REQUESTS.labels(operation="erase", outcome=RequestOutcome.ACCEPTED).inc()
    accepted = ErasureAccepted(
        erasure_id=outcome.erasure_id,
        orders=outcome.counts.orders,
        shipments=outcome.counts.shipments,
        requested_at=outcome.requested_at,
        completed_at=outcome.completed_at,
    )
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202)


async def read(
    merchant_id: Merchant,
    erasure_id: Annotated[UUID, Path(description="The id POST /v1/erasures answered.")],
    api: Api,
) -> ErasureView:
    async with api.pool.acquire() as connection:
        record = await repository.get_erasure(
            connection, merchant_id=merchant_id, erasure_id=erasure_id
        )
    if record is None:
        ORDER_API_REQUESTS.labels(operation="read_erasure", outcome=RequestOutcome.NOT_FOUND).inc()
        raise HTTPException(status_code=404, detail=f"no erasure {erasure_id}")
    ORDER_API_REQUESTS.labels(operation="read_erasure", outcome=RequestOutcome.FOUND).inc()
    return ErasureView(
        erasure_id=record.erasure_id,
        orders=record.orders,
        shipments=record.shipments,
        tracking_events=record.tracking_events,
        held_events=record.held_events,
        source=record.source,
        requested_at=record.requested_at,
        completed_at=record.completed_at,
    )


INVALID: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorMessage, "description": "The body is larger than the limit."},
    422: {
        "model": ValidationProblems,
        "description": "No `customer_email`, not an address, or another field: each "
        "problem with its field. Nothing was erased.",
    },
}


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorMessage,
        "description": "No such erasure for this merchant (another merchant's is answered "
        "the same way).",
    }
}


def erasures_router(api: ErasureApi) -> APIRouter:
    router = router_for(api, prefix="/v1/erasures", tags=["erasures"])
    router.add_api_route(
        "",
        erase,
        methods=["POST"],
        status_code=202,
        response_model=ErasureAccepted,
        responses={**UNAUTHORIZED, **INVALID},
        summary="Erase a customer",
        description="Forget everything Relais holds about one customer of this merchant "
        "(orders, shipments, messages, conversations, actions...), named by email.",
    )
    router.add_api_route(
        "/{erasure_id}",
        read,
        methods=["GET"],
        response_model=ErasureView,
        responses={**UNAUTHORIZED, **NOT_FOUND},
        summary="Read an erasure",
        description="The audit record of one erasure: its counts and times.",
    )
    return router
