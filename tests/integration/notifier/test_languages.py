"""Customers in German, Dutch, Austrian German and Portuguese receive their email, through
real PostgreSQL and a real SMTP server, in the language of the fallback chain: their
own, else the language without the region, else the merchant's default, else English."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import uuid4

import pytest

from tests.integration.notifier import factories
from tests.integration.notifier.conftest import Harness, SmtpServer

MORNING = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # 11:00 in Berlin, Amsterdam, Vienna


async def email_for(
    harness: Harness, smtp: SmtpServer, *, merchant_id: str, locale: str
) -> EmailMessage:
    harness.clock.set(MORNING)
    tag = uuid4().hex[:8]
    shipment_id, email = f"S-{tag}", f"customer-{tag}@example.com"
    await harness.consume(
        factories.state(
            merchant_id=merchant_id,
            shipment_id=shipment_id,
            email=email,
            locale=locale,
            time_zone="Europe/Berlin",
        )
    )
    assert await harness.consume(
        factories.anomaly(merchant_id=merchant_id, shipment_id=shipment_id)
    )
    await harness.dispatcher.dispatch_due()
    [message] = smtp.recorder.to(email)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


@pytest.mark.parametrize(
    ("locale", "language", "subject", "body"),
    [
        (
            "de-DE",
            "de",
            "Ihre Bestellung #10452 verspätet sich",
            "die spätestens am Donnerstag, 6. März 2025 ankommen sollte",
        ),
        (
            "nl-NL",
            "nl",
            "Uw bestelling #10452 heeft vertraging",
            "verwacht uiterlijk donderdag 6 maart 2025",
        ),
        # No Austrian catalogue: German words, Austrian Babel formats (Jänner, März...).
        (
            "de-AT",
            "de",
            "Ihre Bestellung #10452 verspätet sich",
            "Hallo Camille,",
        ),
        # No Portuguese: velocity-sports' default language (en) it is.
        ("pt-PT", "en", "Your order #10452 is running late", "Hello Camille,"),
    ],
)
async def test_a_formal_merchants_customer_reads_the_email_in_their_language(
    harness: Harness, smtp: SmtpServer, locale: str, language: str, subject: str, body: str
) -> None:
    message = await email_for(harness, smtp, merchant_id="velocity-sports", locale=locale)
    assert message["Subject"] == subject
    assert message["Content-Language"] == language
    assert body in text_of(message)
    assert f'<html lang="{language}">' in html_of(message)


async def test_a_portuguese_customer_of_a_french_merchant_reads_french(
    harness: Harness, smtp: SmtpServer
) -> None:
    """maison-lumiere's languages are [fr, en]: its default, French, comes before English
    (and its informal tone says tu)."""
    message = await email_for(harness, smtp, merchant_id="maison-lumiere", locale="pt-PT")
    assert message["Subject"] == "Ta commande #10452 a du retard"
    assert message["Content-Language"] == "fr"
    assert "Salut Camille," in text_of(message)


async def test_a_german_customer_of_a_merchant_not_serving_german_reads_its_default(
    harness: Harness, smtp: SmtpServer
) -> None:
    """maison-lumiere serves fr and en only: German pages, messages and scenarios are
    for merchants that declare `de` (the informal German "du" is unit-tested)."""
    message = await email_for(harness, smtp, merchant_id="maison-lumiere", locale="de-DE")
    assert message["Subject"] == "Ta commande #10452 a du retard"
    assert message["Content-Language"] == "fr"
