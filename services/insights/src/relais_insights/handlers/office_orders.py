"""HTTP: the back office's orders, as pages and as a typed API.

Rules:
- pages (/office/<merchant>/orders...) need a signed-in user of that merchant (any
  role: reading is a viewer's right); the API (/v1/office/<merchant>/...) needs a
  bearer key with the `backoffice` scope (handlers.office_access decides both, before
  any read);
- a bad filter or cursor is refused naming the field: 422 from the API, the list page
  with the reason (400) from the pages; nothing is read;
- an order number unknown to the merchant is 404, the same as another merchant's;
- a message's page (/office/<merchant>/orders/<order>/messages/<notification id>) shows
  the copy the notifier kept of a message the order's timeline says was sent (404 for
  any other id); the notifier unreachable or without a copy is a line saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError

from relais_insights.adapters.notifier_preview import fetch_sent_copy
from relais_insights.domain.order_filters import CursorError, ShipmentQuery
from relais_insights.domain.order_timeline import ListedShipment, TimelineEntry, TimelineKind
from relais_insights.handlers.access import InsightsApp
from relais_insights.handlers.office_access import ApiCaller, OfficeMerchant, OfficeUser
from relais_insights.service.office_orders import OfficeOrders, OrderView
from relais_insights.ui import texts
from relais_insights.ui.office import office_language
from relais_insights.ui.office_orders import render_message, render_order, render_orders

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="MerchantApiKey",
    description="A merchant API key with the `backoffice` scope: `Authorization: Bearer <key>`.",
)
"""Documents the security scheme in OpenAPI; ApiCaller checks the key and its scope."""


def add_office_api_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    *,
    method: str,
    response_model: Any,
    **extra: Any,
) -> None:
    """A route of the office API: /v1/office/{merchant_id}<path>, under the "back office"
    tag, with the BEARER scheme in OpenAPI (the endpoint's ApiCaller checks the key)."""
    router.add_api_route(
        f"/v1/office/{{merchant_id}}{path}",
        endpoint,
        methods=[method],
        response_model=response_model,
        tags=["back office"],
        dependencies=[Depends(BEARER)],
        **extra,
    )


def office_orders(insights: InsightsApp) -> OfficeOrders:
    return OfficeOrders(pool=insights.pool, cursors=insights.configuration.cursors)


Orders = Annotated[OfficeOrders, Depends(office_orders)]


class ShipmentOut(BaseModel):
    shipment_id: str
    order_id: str
    order_number: str
    customer_email: str | None
    customer_name: str | None
    tracking_number: str | None
    carrier: str | None
    status: str
    substatus: str
    country: str | None
    region: str | None
    ordered_at: datetime
    shipped_at: datetime | None
    promised_delivery_by: date | None
    delivered_at: datetime | None
    cancelled: bool
    parcel_index: int
    parcel_count: int
    open_anomalies: list[str]
    anomalies_raised: int
    told: bool
    resolved: bool
    last_event_at: datetime

    @classmethod
    def of(cls, shipment: ListedShipment) -> ShipmentOut:
        values = {name: getattr(shipment, name) for name in cls.model_fields}
        values["open_anomalies"] = list(shipment.open_anomalies)
        return cls.model_validate(values)


class ShipmentPageOut(BaseModel):
    shipments: list[ShipmentOut]
    next_cursor: str | None
    previous_cursor: str | None


class TimelineEntryOut(BaseModel):
    event_id: UUID
    shipment_id: str
    at: datetime
    kind: TimelineKind
    summary: str
    ref_id: UUID | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: TimelineEntry) -> TimelineEntryOut:
        return cls(
            event_id=entry.event_id,
            shipment_id=entry.shipment_id,
            at=entry.at,
            kind=entry.kind,
            summary=entry.summary,
            ref_id=entry.ref_id,
            detail=dict(entry.detail),
        )


class OrderOut(BaseModel):
    order_number: str
    order_id: str
    shipments: list[ShipmentOut]
    timeline: list[TimelineEntryOut]

    @classmethod
    def of(cls, order: OrderView) -> OrderOut:
        return cls(
            order_number=order.order_number,
            order_id=order.order_id,
            shipments=[ShipmentOut.of(s) for s in order.shipments],
            timeline=[TimelineEntryOut.of(e) for e in order.timeline],
        )


def cursor_refused(error: CursorError) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["query", "cursor"], "msg": str(error), "type": "value_error"}],
    )


async def api_shipments(
    caller: ApiCaller,
    merchant: OfficeMerchant,
    query: Annotated[ShipmentQuery, Query()],
    orders: Orders,
) -> ShipmentPageOut:
    """The merchant's shipments, newest order first, filtered, one page per call."""
    try:
        page = await orders.page(
            merchant_id=merchant.merchant_id, time_zone=merchant.time_zone, query=query
        )
    except CursorError as error:
        raise cursor_refused(error) from None
    return ShipmentPageOut(
        shipments=[ShipmentOut.of(s) for s in page.shipments],
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
    )


async def api_order(
    order_number: str, caller: ApiCaller, merchant: OfficeMerchant, orders: Orders
) -> OrderOut:
    """One order: its shipments and their single timeline, oldest entry first."""
    found = await orders.order(merchant_id=merchant.merchant_id, order_number=order_number)
    if found is None:
        raise HTTPException(status_code=404, detail="not found")
    return OrderOut.of(found)


def _refusal(language: str, error: ValidationError | CursorError) -> str:
    if isinstance(error, CursorError):
        field, reason = "cursor", str(error)
    else:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "query"
        reason = first["msg"]
    return texts.say(language, "orders_bad_filter", field=field, reason=reason)


async def orders_page(
    merchant: OfficeMerchant, user: OfficeUser, request: Request, orders: Orders
) -> HTMLResponse:
    asked = {k: v for k, v in request.query_params.items() if k != "lang"}
    lang = request.query_params.get("lang")
    try:
        query = ShipmentQuery.model_validate(asked)
        page = await orders.page(
            merchant_id=merchant.merchant_id, time_zone=merchant.time_zone, query=query
        )
    except (ValidationError, CursorError) as error:
        language = office_language(lang, user, merchant)
        html = render_orders(
            merchant=merchant,
            user=user,
            lang=lang,
            query=ShipmentQuery(),
            page=None,
            error=_refusal(language, error),
        )
        return HTMLResponse(html, status_code=400)
    html = render_orders(merchant=merchant, user=user, lang=lang, query=query, page=page)
    return HTMLResponse(html)


async def order_page(
    order_number: str,
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    orders: Orders,
) -> HTMLResponse:
    found = await orders.order(merchant_id=merchant.merchant_id, order_number=order_number)
    lang = request.query_params.get("lang")
    if found is None:
        raise HTTPException(status_code=404, detail="not found")
    return HTMLResponse(render_order(merchant=merchant, user=user, lang=lang, order=found))


def sent_message(order: OrderView, notification_id: UUID) -> TimelineEntry | None:
    """The order's timeline entry saying this message was sent, if there is one."""
    for entry in order.timeline:
        if (
            entry.kind is TimelineKind.MESSAGE
            and entry.ref_id == notification_id
            and entry.detail.get("outcome") == "sent"
        ):
            return entry
    return None


async def message_page(
    order_number: str,
    notification_id: UUID,
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    orders: Orders,
    insights: InsightsApp,
) -> HTMLResponse:
    found = await orders.order(merchant_id=merchant.merchant_id, order_number=order_number)
    entry = sent_message(found, notification_id) if found is not None else None
    if found is None or entry is None:
        raise HTTPException(status_code=404, detail="not found")
    copy = await fetch_sent_copy(
        insights.configuration.notifier_url,
        merchant_id=merchant.merchant_id,
        notification_id=notification_id,
    )
    lang = request.query_params.get("lang")
    html = render_message(
        merchant=merchant, user=user, lang=lang, order=found, entry=entry, copy=copy
    )
    return HTMLResponse(html)


def add_order_routes(router: APIRouter) -> None:
    """The orders pages and API, on the insights router (with its Insights context); a
    message's page comes before the order's, whose order number takes the rest of the path."""
    html: dict[str, Any] = {"response_class": HTMLResponse, "include_in_schema": False}
    router.add_api_route("/office/{merchant_id}/orders", orders_page, methods=["GET"], **html)
    router.add_api_route(
        "/office/{merchant_id}/orders/{order_number:path}/messages/{notification_id}",
        message_page,
        methods=["GET"],
        **html,
    )
    router.add_api_route(
        "/office/{merchant_id}/orders/{order_number:path}", order_page, methods=["GET"], **html
    )
    add_office_api_route(
        router, "/shipments", api_shipments, method="GET", response_model=ShipmentPageOut
    )
    add_office_api_route(
        router, "/orders/{order_number:path}", api_order, method="GET", response_model=OrderOut
    )
