"""The notifier's internal routes: the preview (`POST /internal/preview`), one campaign
message rendered for one shipment, never sent; the copy of a sent message
(`GET /internal/sent/<merchant>/<notification id>`), its links neutralised by the notifier.

Rules: rendering belongs to the notifier (its templates, the customer's language and
first name, the merchant's branding); a preview is a convenience, so an unreachable,
slow (PREVIEW_TIMEOUT_S) or refusing notifier gives None and the page shows the count
and the merchant's words without the rendered message; the same for a sent copy, whose
page then says the copy is not available. Nothing personal is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import TypeAdapter

from relais_contracts.topics.notification_commands import CampaignContent

PREVIEW_TIMEOUT_S: Final = 3.0
CONTENT: TypeAdapter[CampaignContent] = TypeAdapter(CampaignContent)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedPreview:
    channel: str
    subject: str | None
    text: str
    html: str | None


async def render_preview(
    notifier_url: str | None, *, merchant_id: str, shipment_id: str, content: CampaignContent
) -> RenderedPreview | None:
    if notifier_url is None:
        return None
    body = {
        "merchant_id": merchant_id,
        "shipment_id": shipment_id,
        "content": CONTENT.dump_python(content, mode="json"),
    }
    try:
        async with httpx.AsyncClient(timeout=PREVIEW_TIMEOUT_S) as client:
            response = await client.post(f"{notifier_url}/internal/preview", json=body)
    except httpx.HTTPError as error:
        log.warning("campaign preview unavailable", extra={"error": type(error).__name__})
        return None
    if response.status_code != 200:
        return None
    found = response.json()
    return RenderedPreview(
        channel=str(found["channel"]),
        subject=found.get("subject"),
        text=str(found["text"]),
        html=found.get("html"),
    )


@dataclass(frozen=True)
class SentCopy:
    """A sent message as the notifier kept it: subject, html and text for an email, body
    for an SMS."""

    channel: str
    subject: str | None
    html: str | None
    text: str | None
    body: str | None
    sent_at: datetime | None


async def fetch_sent_copy(
    notifier_url: str | None, *, merchant_id: str, notification_id: UUID
) -> SentCopy | None:
    """None when the notifier is not configured, unreachable, slow or has no copy."""
    if notifier_url is None:
        return None
    url = f"{notifier_url}/internal/sent/{quote(merchant_id, safe='')}/{notification_id}"
    try:
        async with httpx.AsyncClient(timeout=PREVIEW_TIMEOUT_S) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        log.warning("sent copy unavailable", extra={"error": type(error).__name__})
        return None
    if response.status_code != 200:
        return None
    found = response.json()
    sent_at = found.get("sent_at")
    return SentCopy(
        channel=str(found["channel"]),
        subject=found.get("subject"),
        html=found.get("html"),
        text=found.get("text"),
        body=found.get("body"),
        sent_at=datetime.fromisoformat(sent_at) if sent_at else None,
    )
