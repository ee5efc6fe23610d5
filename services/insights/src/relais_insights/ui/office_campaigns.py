"""The campaign pages: the list with progress, the new-campaign form, its preview, and
one campaign's progress.

Rules: rendered inside the office frame, usable without JavaScript; the selection
travels as hidden fields (`f_<filter>` for the orders list's filters, `shipment_id` for
ids picked one by one) from the form to the preview to the sending; only agents and
admins see the forms that send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relais_contracts.topics.notification_commands import BroadcastContent, CampaignContent
from relais_insights.adapters.notifier_preview import RenderedPreview
from relais_insights.campaign_repository import Target
from relais_insights.domain.campaigns import Campaign, CampaignSelection
from relais_insights.domain.office import Role
from relais_insights.service.office_users import SignedInUser
from relais_insights.ui import texts
from relais_insights.ui.office import office_language, render_office
from relais_insights.ui.office_orders import Shown
from relais_runtime.merchants import MerchantConfig

FILTER_PREFIX = "f_"


@dataclass(frozen=True)
class Draft:
    """What the form holds so far (shown back as it was typed when refused)."""

    selection: CampaignSelection
    name: str = ""
    content_kind: str = "anomaly_scenario"
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)
    chat_scenario_id: str = ""


def hidden_selection(selection: CampaignSelection) -> list[tuple[str, str]]:
    """The selection as (name, value) hidden fields."""
    if selection.shipment_ids is not None:
        return [("shipment_id", shipment_id) for shipment_id in selection.shipment_ids]
    return [(FILTER_PREFIX + k, v) for k, v in (selection.filters or {}).items()]


def _progress_row(campaign: Campaign, shown: Shown, base: str) -> dict[str, Any]:
    progress = campaign.progress
    return {
        "campaign_id": str(campaign.campaign_id),
        "url": f"{base}/campaigns/{campaign.campaign_id}",
        "name": campaign.name,
        "content": texts.say(shown.language, f"campaign_content_{campaign.content.kind}"),
        "created_at": shown.when(campaign.created_at),
        "requested": campaign.requested,
        "sent": progress.sent,
        "deferred": progress.deferred,
        "suppressed": progress.suppressed,
        "failed": progress.failed,
        "waiting": max(campaign.requested - progress.answered, 0),
        "reasons": sorted(progress.reasons.items()),
    }


def render_campaigns(
    *, merchant: MerchantConfig, user: SignedInUser, lang: str | None, campaigns: list[Campaign]
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    base = f"/office/{merchant.merchant_id}"
    return render_office(
        "office/campaigns.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="campaigns",
        rows=[_progress_row(c, shown, base) for c in campaigns],
        may_send=user.can(Role.AGENT),
    )


def render_campaign(
    *, merchant: MerchantConfig, user: SignedInUser, lang: str | None, campaign: Campaign
) -> str:
    language = office_language(lang, user, merchant)
    shown = Shown(language, merchant.time_zone, merchant.merchant_id)
    row = _progress_row(campaign, shown, f"/office/{merchant.merchant_id}")
    return render_office(
        "office/campaign.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="campaigns",
        campaign=row,
        selection=campaign.selection,
    )


def sample_text(content: CampaignContent, merchant: MerchantConfig) -> tuple[str, str] | None:
    """The broadcast's subject and body in the merchant's first language (else the first)."""
    if not isinstance(content, BroadcastContent):
        return None
    text = content.text_for(merchant.locales[0])
    return text.subject, text.body


def render_new_campaign(
    *,
    merchant: MerchantConfig,
    user: SignedInUser,
    lang: str | None,
    draft: Draft,
    count: int,
    error: str | None = None,
    preview: CampaignContent | None = None,
    sample: Target | None = None,
    rendered: RenderedPreview | None = None,
) -> str:
    """The form, or (with `preview`) the count, one message and the button that sends."""
    language = office_language(lang, user, merchant)
    return render_office(
        "office/campaign_new.html",
        merchant=merchant,
        user=user,
        lang=language,
        section="campaigns",
        draft=draft,
        hidden=hidden_selection(draft.selection),
        explicit=draft.selection.shipment_ids is not None,
        count=count,
        error=error,
        preview=preview,
        sample_order=sample.order_number if sample else None,
        rendered=rendered,
        sample_text=sample_text(preview, merchant) if preview is not None else None,
        locales=list(merchant.locales),
    )
