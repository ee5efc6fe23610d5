"""Composing a message: rendered in the customer's language, its links signed at this
moment (a deferred message's link is valid for its full period from when it leaves).

A template or variable the catalogue lacks raises `RenderingError`; an SMS for a
provider without credentials raises a permanent `ChannelError` (configuration_error)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from relais_contracts.topics.notifications import Channel, FailureReason
from relais_notifier.adapters.channels import ChannelError
from relais_notifier.adapters.channels.email import build_email
from relais_notifier.adapters.links import LinkMaker
from relais_notifier.domain.outcomes import Notification
from relais_notifier.domain.policy import Contact
from relais_notifier.domain.sms import measure_sms
from relais_notifier.texts.rendering import Renderer, RenderRequest
from relais_runtime.merchants import MerchantConfig
from relais_runtime.merchants.notification import EmailChannel, SmsChannel


@dataclass(frozen=True)
class OutgoingSms:
    provider: str
    to: str
    sender: str
    body: str
    segments: int


@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready to hand over: exactly one of `email` and `sms` is set."""

    channel: Channel
    link_expires_at: datetime
    email: EmailMessage | None = None
    sms: OutgoingSms | None = None


class Composer:
    def __init__(
        self, *, renderer: Renderer, links: LinkMaker, sms_providers: Collection[str]
    ) -> None:
        self._renderer = renderer
        self._links = links
        self._sms_providers = sms_providers

    def compose(
        self, row: Notification, merchant: MerchantConfig, contact: Contact, *, now: datetime
    ) -> Outgoing:
        settings = merchant.notification
        assert settings is not None
        request, address = self._request(row, merchant, contact, now=now)
        if row.channel is Channel.EMAIL:
            assert settings.email is not None
            return self._email(row, request, settings.email, address, now=now)
        assert settings.sms is not None
        return self._sms(row, request, settings.sms, address)

    def _request(
        self, row: Notification, merchant: MerchantConfig, contact: Contact, *, now: datetime
    ) -> tuple[RenderRequest, str]:
        """What to render, and the address it goes to; a planned row holds every part."""
        assert row.facts is not None
        assert row.template is not None
        assert row.link_kind is not None
        assert row.link_subject is not None
        link = self._links.link(
            merchant_id=row.merchant_id, kind=row.link_kind, subject=row.link_subject, now=now
        )
        address = contact.address(row.channel)
        assert address is not None
        unsubscribe = (
            self._links.unsubscribe_url(
                merchant_id=row.merchant_id, channel=row.channel, address=address, now=now
            )
            if row.channel is Channel.EMAIL
            else None
        )
        request = RenderRequest(
            template=row.template,
            locale=contact.locale,
            merchant=merchant,
            first_name=contact.first_name,
            time_zone=contact.time_zone,
            facts=row.facts,
            link=link.url,
            link_expires_at=link.expires_at,
            unsubscribe_url=unsubscribe,
        )
        return request, address

    def _email(
        self,
        row: Notification,
        request: RenderRequest,
        channel: EmailChannel,
        address: str,
        *,
        now: datetime,
    ) -> Outgoing:
        rendered = self._renderer.email(request)
        message = build_email(
            rendered=rendered,
            sender_address=channel.sender_address,
            sender_name=channel.sender_name or request.merchant.branding.display_name,
            recipient=address,
            reply_to=channel.reply_to,
            idempotency_key=row.idempotency_key,
            unsubscribe_url=request.unsubscribe_url,
            sent_at=now,
        )
        return Outgoing(channel=row.channel, email=message, link_expires_at=request.link_expires_at)

    def _sms(
        self, row: Notification, request: RenderRequest, channel: SmsChannel, address: str
    ) -> Outgoing:
        if channel.provider.value not in self._sms_providers:
            raise ChannelError(
                f"SMS provider {channel.provider.value} has no credentials",
                transient=False,
                reason=FailureReason.CONFIGURATION_ERROR,
            )
        body = self._renderer.sms(request)
        return Outgoing(
            channel=row.channel,
            link_expires_at=request.link_expires_at,
            sms=OutgoingSms(
                provider=channel.provider.value,
                to=address,
                sender=channel.sender_id,
                body=body,
                segments=measure_sms(body).segments,
            ),
        )
