"""The notifier's consumers and HTTP routes (thin: decode, call the application step).

Consumers (each in the consumer policy's transaction, idempotent on event id and,
below that, on each message's idempotency key):
- shipment state -> the contact read model (newer versions only);
- anomalies and milestones -> planned messages (pending, due now), or a
  suppression when the merchant does not notify this trigger; a resolved anomaly
  makes its pending messages stale, a delivered parcel its pending milestone news;
- action results -> the confirmation of a completed action (a failed action is not
  announced);
- the back office's commands -> a campaign's message, or a resend (service.campaigns);
- the desk's replies -> the email that an answer waits in the chat, or the survey of a
  closed case (domain.desk).
Nothing is sent here: the dispatcher (service.dispatcher), woken by NOTIFY at commit,
sends what is due. A merchant without configuration is a permanent error
(dead-lettered with the reason), and so is an event type a topic should not carry.

HTTP: `/u/{token}` GET shows the unsubscribe confirmation, POST unsubscribes
(also the RFC 8058 one-click POST a mailbox sends on its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from relais_contracts.envelope import Event, split_partition_key
from relais_contracts.topics import (
    action_results,
    anomalies,
    desk_replies,
    notification_commands,
    shipment_state,
)
from relais_contracts.topics.action_results import ActionCompleted, ActionFailed
from relais_contracts.topics.anomalies import (
    AnomalyDetected,
    AnomalyEscalated,
    AnomalyResolved,
    ShipmentMilestoneReached,
)
from relais_contracts.topics.desk_replies import AnswerCustomer, SendSurvey
from relais_contracts.topics.notification_commands import (
    CampaignMessageRequested,
    MessageResendRequested,
    ReviewDecided,
)
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.service.campaigns import Campaigns
from relais_notifier.service.contacts import forget_contact, remember_contact
from relais_notifier.service.planning import Planning
from relais_notifier.service.unsubscribing import LinkProblem, opt_out, read_unsubscribe_token
from relais_notifier.texts.rendering import Renderer
from relais_notifier.texts.unsubscribe import unsubscribe_page
from relais_runtime.clock import Clock
from relais_runtime.consumer import MessageContext, PermanentError
from relais_runtime.failures import unexpected_event
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.notification import NotificationSettings
from relais_runtime.routes import context_of, router_for


class Notifier:
    """The consumers, bound to the merchants' configuration and the clock."""

    def __init__(self, *, merchants: Mapping[str, MerchantConfig], clock: Clock) -> None:
        self._merchants = merchants
        self._planning = Planning(clock=clock)
        self._campaigns = Campaigns(clock=clock)

    def _settings(self, merchant_id: str) -> NotificationSettings | None:
        merchant = self._merchants.get(merchant_id)
        if merchant is None:
            raise PermanentError(f"no configuration for merchant {merchant_id!r}")
        return merchant.notification

    async def on_shipment_erased(self, key: bytes, context: MessageContext) -> None:
        """A tombstone on the shipment state erases the customer's contact."""
        merchant_id, shipment_id = split_partition_key(key)
        await forget_contact(context.connection, merchant_id=merchant_id, shipment_id=shipment_id)

    async def on_shipment_state(self, event: Event, context: MessageContext) -> None:
        match event:
            case ShipmentStateChanged():
                await remember_contact(context.connection, event)
            case _:
                unexpected_event(event, where=shipment_state.TOPIC.name)

    async def on_anomaly(self, event: Event, context: MessageContext) -> None:
        settings = self._settings(event.merchant_id)
        if settings is None:
            return
        connection = context.connection
        match event:
            case AnomalyDetected() | AnomalyEscalated():
                await self._planning.anomaly(connection, event, settings)
            case AnomalyResolved():
                await self._planning.anomaly_resolved(connection, event)
            case ShipmentMilestoneReached():
                await self._planning.milestone(connection, event, settings)
            case _:
                unexpected_event(event, where=anomalies.TOPIC.name)

    async def on_action_result(self, event: Event, context: MessageContext) -> None:
        match event:
            case ActionCompleted():
                settings = self._settings(event.merchant_id)
                if settings is not None:
                    await self._planning.action_completed(context.connection, event, settings)
            case ActionFailed():
                return
            case _:
                unexpected_event(event, where=action_results.TOPIC.name)

    async def on_notification_command(self, event: Event, context: MessageContext) -> None:
        """The back office's commands (one subscription for the whole topic: a new command
        type is one more case here)."""
        connection = context.connection
        match event:
            case CampaignMessageRequested():
                settings = self._settings(event.merchant_id)
                if settings is not None:
                    await self._campaigns.message_requested(connection, event, settings)
            case MessageResendRequested():
                await self._campaigns.resend_requested(connection, event)
            case ReviewDecided():
                await self._planning.reviewing.decide(connection, event)
            case _:
                unexpected_event(event, where=notification_commands.TOPIC.name)

    async def on_desk_reply(self, event: Event, context: MessageContext) -> None:
        match event:
            case AnswerCustomer() | SendSurvey():
                settings = self._settings(event.merchant_id)
                if settings is not None:
                    await self._planning.desk_reply(context.connection, event, settings)
            case _:
                unexpected_event(event, where=desk_replies.TOPIC.name)


@dataclass(frozen=True)
class UnsubscribeContext:
    pool: asyncpg.Pool
    merchants: Mapping[str, MerchantConfig]
    links: LinkMaker
    renderer: Renderer
    clock: Clock


Unsubscribing = Annotated[UnsubscribeContext, Depends(context_of(UnsubscribeContext))]


def _page(
    context: UnsubscribeContext,
    request: Request,
    merchant: MerchantConfig | None,
    *,
    key: str,
    status: int,
    form: bool,
) -> HTMLResponse:
    body = unsubscribe_page(
        context.renderer,
        accept_language=request.headers.get("accept-language", ""),
        merchant=merchant,
        key=key,
        form=form,
    )
    return HTMLResponse(body, status_code=status)


async def confirm(token: str, request: Request, context: Unsubscribing) -> HTMLResponse:
    opt = read_unsubscribe_token(
        token, links=context.links, merchants=context.merchants, now=context.clock.now()
    )
    if isinstance(opt, LinkProblem):
        return _page(context, request, None, key=opt.key, status=opt.status, form=False)
    merchant = context.merchants[opt.merchant_id]
    return _page(context, request, merchant, key="confirm", status=200, form=True)


async def unsubscribe(token: str, request: Request, context: Unsubscribing) -> HTMLResponse:
    opt = read_unsubscribe_token(
        token, links=context.links, merchants=context.merchants, now=context.clock.now()
    )
    if isinstance(opt, LinkProblem):
        return _page(context, request, None, key=opt.key, status=opt.status, form=False)
    await opt_out(context.pool, opt, at=context.clock.now())
    merchant = context.merchants[opt.merchant_id]
    return _page(context, request, merchant, key="done", status=200, form=False)


def build_router(context: UnsubscribeContext) -> APIRouter:
    router = router_for(context, tags=["customers"])
    router.add_api_route("/u/{token}", confirm, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route("/u/{token}", unsubscribe, methods=["POST"], response_class=HTMLResponse)
    return router
