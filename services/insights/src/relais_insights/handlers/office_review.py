"""HTTP: the review queue (page and API): anomaly messages held until an agent decides.

Rules:
- the page lists the held reviews oldest first, any role reads it; "Send" and "Dismiss"
  are CSRF-checked POST forms for agents and admins (a viewer gets the refusal page);
- the API: `GET /v1/office/<m>/review` and `POST /v1/office/<m>/review/<id>/send|dismiss`
  with a key holding the `backoffice` scope;
- a decision on a review that is not held (already decided, withdrawn, unknown, or of
  another merchant) publishes nothing: the page shows the queue saying so with 409, the
  API answers 404 for an id this merchant never had and 409 for a closed one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from relais_contracts.topics.notification_commands import ReviewDecision
from relais_insights.handlers.access import InsightsApp
from relais_insights.handlers.office_access import (
    ApiCaller,
    CsrfForm,
    OfficeAgent,
    OfficeMerchant,
    OfficeUser,
)
from relais_insights.handlers.office_orders import add_office_api_route
from relais_insights.service.review_queue import NotHeld, QueueItem, ReviewQueue
from relais_insights.ui.review import render_review

DECISIONS = {"send": ReviewDecision.SEND, "dismiss": ReviewDecision.DISMISS}


def review_queue(insights: InsightsApp) -> ReviewQueue:
    return ReviewQueue(pool=insights.pool)


Reviews = Annotated[ReviewQueue, Depends(review_queue)]


class ReviewOut(BaseModel):
    review_id: UUID
    shipment_id: str
    order_number: str | None
    anomaly_id: UUID
    anomaly_type: str
    purpose: str
    channels: list[str]
    held_at: datetime
    waited_s: int
    over_limit: bool

    @classmethod
    def of(cls, item: QueueItem) -> ReviewOut:
        review = item.row.review
        return cls(
            review_id=review.review_id,
            shipment_id=review.shipment_id,
            order_number=item.row.order_number,
            anomaly_id=review.anomaly_id,
            anomaly_type=review.anomaly_type,
            purpose=review.purpose,
            channels=list(review.channels),
            held_at=review.held_at,
            waited_s=item.waited_s,
            over_limit=item.over_limit,
        )


class ReviewQueueOut(BaseModel):
    review_alert_after_s: int
    reviews: list[ReviewOut]


class DecisionOut(BaseModel):
    review_id: UUID
    decision: ReviewDecision
    decided_at: datetime


async def api_queue(
    caller: ApiCaller, merchant: OfficeMerchant, reviews: Reviews, insights: InsightsApp
) -> ReviewQueueOut:
    """The messages held for review, oldest first, with how long each has waited."""
    items = await reviews.items(merchant, now=insights.configuration.clock.now())
    notification = merchant.notification
    limit = notification.review_alert_after.total_seconds() if notification else 7200
    return ReviewQueueOut(
        review_alert_after_s=int(limit), reviews=[ReviewOut.of(item) for item in items]
    )


def api_decision(decision: ReviewDecision) -> Any:
    async def decide(
        review_id: UUID,
        caller: ApiCaller,
        merchant: OfficeMerchant,
        reviews: Reviews,
        insights: InsightsApp,
    ) -> DecisionOut:
        decided = await reviews.decide(
            merchant,
            review_id,
            decision,
            user=None,
            now=insights.configuration.clock.now(),
            key_id=caller.key_id,
        )
        if isinstance(decided, NotHeld):
            if decided.state is None:
                raise HTTPException(status_code=404, detail="no such review")
            raise HTTPException(status_code=409, detail=f"this review is {decided.state}")
        return DecisionOut(
            review_id=decided.review_id, decision=decided.decision, decided_at=decided.decided_at
        )

    decide.__name__ = f"api_review_{decision.value}"
    decide.__doc__ = (
        f"{decision.value.capitalize()} a held message (once; 409 when no longer held, 404"
        " when unknown)."
    )
    return decide


async def review_page(
    merchant: OfficeMerchant,
    user: OfficeUser,
    request: Request,
    reviews: Reviews,
    insights: InsightsApp,
) -> HTMLResponse:
    items = await reviews.items(merchant, now=insights.configuration.clock.now())
    lang = request.query_params.get("lang")
    notice = request.query_params.get("done")
    html = render_review(merchant=merchant, user=user, lang=lang, items=items, done=notice)
    return HTMLResponse(html)


def page_decision(decision: ReviewDecision) -> Any:
    async def decide(
        review_id: UUID,
        merchant: OfficeMerchant,
        user: OfficeAgent,
        form: CsrfForm,
        reviews: Reviews,
        insights: InsightsApp,
    ) -> Response:
        now = insights.configuration.clock.now()
        decided = await reviews.decide(merchant, review_id, decision, user=user, now=now)
        given = form.get("lang")
        lang = given if isinstance(given, str) and given in ("fr", "en") else None
        if isinstance(decided, NotHeld):
            items = await reviews.items(merchant, now=now)
            html = render_review(
                merchant=merchant, user=user, lang=lang, items=items, done="closed"
            )
            return HTMLResponse(html, status_code=409)
        suffix = f"&lang={lang}" if lang else ""
        target = f"/office/{merchant.merchant_id}/review?done={decision.value}{suffix}"
        return RedirectResponse(target, status_code=303)

    decide.__name__ = f"office_review_{decision.value}"
    return decide


def add_review_routes(router: APIRouter) -> None:
    """The review page, its two forms and the API, on the insights router."""
    base = "/office/{merchant_id}/review"
    router.add_api_route(
        base, review_page, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
    )
    add_office_api_route(router, "/review", api_queue, method="GET", response_model=ReviewQueueOut)
    for name, decision in DECISIONS.items():
        router.add_api_route(
            f"{base}/{{review_id}}/{name}",
            page_decision(decision),
            methods=["POST"],
            include_in_schema=False,
        )
        add_office_api_route(
            router,
            f"/review/{{review_id}}/{name}",
            api_decision(decision),
            method="POST",
            response_model=DecisionOut,
        )
