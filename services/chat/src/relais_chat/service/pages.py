"""The steps behind the customer's pages: check the link, find its subject, apply an
answer or open the conversation, and gather what the page shows.

Rules:
- the token decides everything (domain.access): the merchant is the one inside it
  and every database read is scoped by that merchant;
- a link to something the chat does not know (yet) is `SubjectUnknown`;
- a valid answer is applied and `Answered` (the page redirects back to itself); an
  invalid one leaves the conversation as it was and comes back with its errors;
- a page view is one short transaction on the pages' own pool (adapters.page_pool):
  one statement reads all the page shows. Only the first view of a chat or survey
  link writes (it starts the conversation); every view of the tracking page is
  published (TrackingPageViewed, each view a fact) through the outbox in batches
  (service.views). Answers (POST) are applied on the service's pool;
- a link from one page to another (chat to tracking, tracking to the chat about the
  open anomaly) is as old as the link that opened the first page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from relais_chat import repository
from relais_chat.adapters.page_pool import PagePool
from relais_chat.desk_repository import AgentAnswer
from relais_chat.domain import events
from relais_chat.domain.access import Denied, Granted, check_link
from relais_chat.domain.conversation import Subject, customer_locale, form_context
from relais_chat.domain.engine import Rejected
from relais_chat.domain.scenarios import Scenario
from relais_chat.repository import StoredConversation
from relais_chat.service.conversations import answer, get_or_start, offered
from relais_chat.service.lookup import Lookup
from relais_chat.service.subjects import read_subject, subject_ref
from relais_chat.service.views import ViewRecorder
from relais_contracts.topics.conversations import EntryPoint
from relais_contracts.topics.shipment_state import ShipmentStateChanged
from relais_contracts.topics.tracking_events import TrackingEventRecorded
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.links import LinkPurpose, LinkSigner
from relais_runtime.merchants import MerchantConfig

TOKENS_REMEMBERED = 4096


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
    page_pool: PagePool
    """The pages' own connections: every GET's one transaction."""
    views: ViewRecorder
    merchants: Mapping[str, MerchantConfig]
    scenarios: Mapping[str, Scenario]
    signer: LinkSigner
    clock: Clock
    lookup: Lookup
    _tokens: dict[tuple[str, LinkPurpose, str, datetime], str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        """Apply the answer in `form` if any, then the conversation (started on first visit).

        A view is one statement (subjects.read_subject); the first view also starts the
        conversation (one write transaction), an answer is applied on the service's pool."""
        merchant = granted.merchant
        now = self.clock.now()
        ref = subject_ref(
            purpose=purpose,
            merchant_id=merchant.merchant_id,
            subject_key=granted.claims.subject,
            scenarios=self.scenarios,
        )
        if ref is None:
            return SubjectUnknown(merchant)
        rejected: Rejected | None = None
        async with (self.page_pool if form is None else self.pool).acquire() as connection:
            subject, read = await read_subject(connection, ref)
            if subject is None:
                return SubjectUnknown(merchant)
            stored = read.conversation
            if form is not None:
                rejected = await self._answer(connection, merchant, subject, form, now)
                if rejected is None:
                    return Answered()
                stored = await repository.get_conversation(
                    connection,
                    merchant_id=merchant.merchant_id,
                    conversation_id=ref.conversation_id,
                )
            if stored is None and not subject.closed:
                stored = await get_or_start(
                    connection,
                    merchant=merchant,
                    subject=subject,
                    scenarios=self.scenarios,
                    entry=entry,
                    now=now,
                )
        return ConversationView(
            merchant=merchant,
            subject=subject,
            conversation=stored,
            scenario=offered(merchant, self.scenarios[stored.scenario_id]) if stored else None,
            events=read.events,
            now=now,
            rejected=rejected,
            form=form or {},
            survey=purpose is LinkPurpose.SURVEY,
            tracking_url=f"/t/{self._tracking_token(granted, subject)}",
            agent_answers=() if purpose is LinkPurpose.SURVEY else tuple(read.agent_answers),
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
        """A link from one page to another is as old as the link that opened the first.
        Signing is deterministic: a token is signed once, then remembered (bounded)."""
        key = (granted.merchant.merchant_id, purpose, subject, granted.claims.issued_at)
        token = self._tokens.get(key)
        if token is None:
            token = self.signer.sign(
                merchant_id=key[0], purpose=purpose, subject=subject, issued_at=key[3]
            )
            if len(self._tokens) >= TOKENS_REMEMBERED:
                self._tokens.clear()
            self._tokens[key] = token
        return token

    async def tracking(
        self, granted: Granted, *, entry: EntryPoint
    ) -> SubjectUnknown | TrackingView:
        """One statement reads the page; its view is recorded (service.views)."""
        merchant = granted.merchant
        now = self.clock.now()
        async with self.page_pool.acquire() as connection:
            read = await repository.get_tracking_page(
                connection, merchant_id=merchant.merchant_id, shipment_id=granted.claims.subject
            )
        if read is None:
            return SubjectUnknown(merchant)
        state = read.state
        locale = customer_locale(merchant, state)
        self.views.record(events.tracking_viewed(state, entry=entry, locale=locale, now=now))
        chat_url = None
        if read.open_anomaly is not None:
            anomaly_id = str(read.open_anomaly.anomaly_id)
            token = self._sibling_token(granted, LinkPurpose.CHAT, anomaly_id)
            chat_url = f"/c/{token}"
        return TrackingView(merchant, state, read.events, now, chat_url)

    async def calendar(self, granted: Granted) -> SubjectUnknown | CalendarSubject:
        merchant = granted.merchant
        async with self.page_pool.acquire() as connection:
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
