"""HTTP, internal: `POST /internal/preview` renders a campaign's message for one shipment
(service.previewing) and `GET /internal/sent/<merchant>/<notification id>` gives the copy
of a sent message (its links neutralised, domain.sent_copy), both for the back office
(insights), which calls them over the cluster's network; they are never routed by the
ingress (they answer with a customer's first name in the message) and change nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from relais_contracts.topics.notification_commands import CampaignContent
from relais_notifier import repository
from relais_notifier.handlers import UnsubscribeContext
from relais_notifier.service.previewing import preview
from relais_runtime.routes import context_of, router_for

Context = Annotated[UnsubscribeContext, Depends(context_of(UnsubscribeContext))]


class PreviewIn(BaseModel):
    merchant_id: str = Field(min_length=1, max_length=64)
    shipment_id: str = Field(min_length=1, max_length=128)
    content: CampaignContent


class PreviewOut(BaseModel):
    channel: str
    language: str
    subject: str | None
    text: str
    html: str | None


async def render_preview(body: PreviewIn, context: Context) -> PreviewOut:
    """One message as the campaign would send it now; 404 when there is nothing to render."""
    found = await preview(
        context.pool,
        context.merchants,
        context.renderer,
        merchant_id=body.merchant_id,
        shipment_id=body.shipment_id,
        content=body.content,
        now=context.clock.now(),
    )
    if found is None:
        raise HTTPException(status_code=404, detail="nothing to preview for this shipment")
    return PreviewOut(
        channel=found.channel.value,
        language=found.language,
        subject=found.subject,
        text=found.text,
        html=found.html,
    )


class SentCopyOut(BaseModel):
    channel: str
    subject: str | None
    html: str | None
    text: str | None
    body: str | None
    sent_at: datetime | None


async def sent_copy(
    merchant_id: Annotated[str, Path(min_length=1, max_length=64)],
    notification_id: UUID,
    context: Context,
) -> SentCopyOut:
    """The merchant's sent message as kept; 404 for another merchant's, an unsent or an
    erased one (the same answer: nothing here)."""
    async with context.pool.acquire() as connection:
        found = await repository.get_sent_copy(
            connection, merchant_id=merchant_id, notification_id=notification_id
        )
    if found is None:
        raise HTTPException(status_code=404, detail="no copy of this message")
    return SentCopyOut(
        channel=found.channel.value,
        subject=found.parts.get("subject"),
        html=found.parts.get("html"),
        text=found.parts.get("text"),
        body=found.parts.get("body"),
        sent_at=found.sent_at,
    )


def build_preview_router(context: UnsubscribeContext) -> APIRouter:
    router = router_for(context, tags=["internal"])
    router.add_api_route(
        "/internal/preview", render_preview, methods=["POST"], response_model=PreviewOut
    )
    router.add_api_route(
        "/internal/sent/{merchant_id}/{notification_id}",
        sent_copy,
        methods=["GET"],
        response_model=SentCopyOut,
    )
    return router
