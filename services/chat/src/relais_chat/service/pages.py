"""The steps behind the customer's pages: check the link, find its subject, apply an
answer or open the conversation, and gather what the page shows.

Rules:
- the token decides everything (domain.access): the merchant is the one inside it
  and every database read is scoped by that merchant;
- a link to something the chat does not know (yet) is `SubjectUnknown`;
- a valid answer is applied and `Answered` (the page redirects back to itself); an
  invalid one leaves the conversation as it was and comes back with its errors;
- each view of the tracking page is published (TrackingPageViewed) through the
  outbox, in its own transaction;
- a link from one page to another (chat to tracking, tracking to the chat about the
  open anomaly) is as old as the link that opened the first page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from relais_chat import desk_repository, repository
from relais_chat.desk_repository import AgentAnswer
from relais_chat.domain import events
from relais_chat.domain.access import Denied, Granted, check_link
from relais_chat.domain.conversation import Subject, customer_locale, form_context
from relais_chat.domain.engine import Rejected
from relais_chat.domain.scenarios import Scenario
from relais_chat.repository import StoredConversation
from relais_chat.service.conversations import answer, get_or_start, offered
from relais_chat.service.lookup import Lookup
from relais_chat.service.subjects import load_subject
from relais_contracts.topics import conversations as conversations_topic
from relais_contracts.topics.conversations import EntryPoint
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.links import LinkPurpose, LinkSigner
from relais_runtime.merchants import MerchantConfig
from relais_runtime.outbox import enqueue


@dataclass(frozen=True)
class SubjectUnknown:
    """The link is genuine but names nothing the chat knows (yet)."""

    merchant: MerchantConfig


@dataclass(frozen=True)
class Answered:
    """A valid answer was applied (or was a replay that changed nothing)."""


@dataclass(frozen=True)
class ConversationView:
    """What a chat or survey page shows; `conversation` is None when the subject was
    closed before anybody opened it."""

    merchant: MerchantConfig
    subject: Subject
    conversation: StoredConversation | None
    scenario: Scenario | None
    events: list[TrackingEventRecorded]
    now: datetime
    rejected: Rejected | None
    form: Mapping[str, str]
    survey: bool
    tracking_url: str
    agent_answers: tuple[AgentAnswer, ...] = ()
    """What the merchant's desk answered, on a chat page (never a survey page)."""


@dataclass(frozen=True)
class TrackingView:
    merchant: MerchantConfig
    state: ShipmentStateChanged
    events: list[TrackingEventRecorded]
    now: datetime
    chat_url: str | None = None
    """The chat about the shipment's open anomaly, if it has one."""


@dataclass(frozen=True)
class CalendarSubject:
    merchant: MerchantConfig
    state: ShipmentStateChanged
    now: datetime


@dataclass(frozen=True)
class CustomerPages:
    """The pages' application: the routes' context (relais_runtime.routes)."""

    pool: asyncpg.Pool
    merchants: Mapping[str, MerchantConfig]
    scenarios: Mapping[str, Scenario]
    signer: LinkSigner
    clock: Clock
    lookup: Lookup

    def access(self, token: str, purpose: LinkPurpose) -> Granted | Denied:
        return check_link(
            signer=self.signer,
            token=token,
            purpose=purpose,
            now=self.clock.now(),
            merchants=self.merchants,
        )

    async def conversation(
        self,
        granted: Granted,
        *,
        purpose: LinkPurpose,
        form: Mapping[str, str] | None,
        entry: EntryPoint,
    ) -> SubjectUnknown | Answered | ConversationView:
        """Apply the answer in `form` if any, then the conversation (started on first visit)."""
        merchant = granted.merchant
        now = self.clock.now()
        async with self.pool.acquire() as connection:
            subject = await load_subject(
                connection,
                purpose=purpose,
                merchant_id=merchant.merchant_id,
                subject_key=granted.claims.subject,
                scenarios=self.scenarios,
            )
            if subject is None:
                return SubjectUnknown(merchant)
            rejected: Rejected | None = None
            if form is not None:
                rejected = await self._answer(connection, merchant, subject, form, now)
                if rejected is None:
                    return Answered()
            stored = await get_or_start(
                connection,
                merchant=merchant,
                subject=subject,
                scenarios=self.scenarios,
                entry=entry,
                now=now,
            )
            tracking_events = await repository.list_tracking_events(
                connection, merchant_id=merchant.merchant_id, shipment_id=subject.shipment_id
            )
            answers = await desk_repository.list_agent_answers(
                connection,
                merchant_id=merchant.merchant_id,
                shipment_id=subject.shipment_id,
                anomaly_id=subject.subject_id,
            )
        return ConversationView(
            merchant=merchant,
            subject=subject,
            conversation=stored,
            scenario=offered(merchant, self.scenarios[stored.scenario_id]) if stored else None,
            events=tracking_events,
            now=now,
            rejected=rejected,
            form=form or {},
            survey=purpose is LinkPurpose.SURVEY,
            tracking_url=f"/t/{self._tracking_token(granted, subject)}",
            agent_answers=() if purpose is LinkPurpose.SURVEY else tuple(answers),
        )

    async def _answer(
        self,
        connection: DbConnection,
        merchant: MerchantConfig,
        subject: Subject,
        form: Mapping[str, str],
        now: datetime,
    ) -> Rejected | None:
        return await answer(
            connection,
            merchant=merchant,
            subject=subject,
            scenarios=self.scenarios,
            node_id=form.get("node", ""),
            step=_step(form.get("step")),
            form=form,
            context=form_context(merchant, subject, now),
            now=now,
        )

    def _tracking_token(self, granted: Granted, subject: Subject) -> str:
        """The tracking link is as old as the link that opened the conversation."""
        return self._sibling_token(granted, LinkPurpose.TRACKING, subject.shipment_id)

    def _sibling_token(self, granted: Granted, purpose: LinkPurpose, subject: str) -> str:
        """A link from one page to another is as old as the link that opened the first."""
        return self.signer.sign(
            merchant_id=granted.merchant.merchant_id,
            purpose=purpose,
            subject=subject,
            issued_at=granted.claims.issued_at,
        )

    async def tracking(
        self, granted: Granted, *, entry: EntryPoint
    ) -> SubjectUnknown | TrackingView:
        merchant = granted.merchant
        now = self.clock.now()
        async with self.pool.acquire() as connection:
            state = await repository.get_shipment(
                connection, merchant_id=merchant.merchant_id, shipment_id=granted.claims.subject
            )
            if state is None:
                return SubjectUnknown(merchant)
            tracking_events = await repository.list_tracking_events(
                connection, merchant_id=merchant.merchant_id, shipment_id=state.shipment_id
            )
            anomaly = await repository.get_open_anomaly(
                connection, merchant_id=merchant.merchant_id, shipment_id=state.shipment_id
            )
            locale = customer_locale(merchant, state)
            async with connection.transaction():
                viewed = events.tracking_viewed(state, entry=entry, locale=locale, now=now)
                await enqueue(connection, topic=conversations_topic.TOPIC, events=[viewed])
        chat_url = None
        if anomaly is not None:
            token = self._sibling_token(granted, LinkPurpose.CHAT, str(anomaly.anomaly_id))
            chat_url = f"/c/{token}"
        return TrackingView(merchant, state, tracking_events, now, chat_url)

    async def calendar(self, granted: Granted) -> SubjectUnknown | CalendarSubject:
        merchant = granted.merchant
        async with self.pool.acquire() as connection:
            state = await repository.get_shipment(
                connection, merchant_id=merchant.merchant_id, shipment_id=granted.claims.subject
            )
        if state is None:
            return SubjectUnknown(merchant)
        return CalendarSubject(merchant, state, self.clock.now())


def _step(raw: str | None) -> int:
    """The form's step; a missing or garbled one never matches (the answer is stale)."""
    try:
        return int(raw or "")
    except ValueError:
        return -1
