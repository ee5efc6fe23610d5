"""Defence in depth: whatever slipped into a message's facts or a merchant's settings, every
mail header is one clean line (no exception, no injected header), and SMS text too."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

from relais_notifier.adapters.channels.email import build_email
from relais_notifier.texts.rendering import RenderedEmail, header_text
from tests.unit.notifier.test_rendering import FACTS, RENDERER, request

INJECTION = "A\r\nBcc: x@y"
SENT_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _headers(raw: bytes) -> list[tuple[str, str]]:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return [(name.lower(), str(value)) for name, value in parsed.items()]


def test_header_text_makes_one_line() -> None:
    assert header_text(INJECTION) == "A Bcc: x@y"
    assert header_text(" Lumi\x00ère\t\x1b[0m \n") == "Lumi ère [0m"


def test_a_subject_built_from_an_order_number_with_crlf_is_one_safe_header() -> None:
    facts = FACTS.model_copy(update={"order_number": INJECTION})
    rendered = RENDERER.email(request("delivery_late", locale="en-GB", facts=facts))
    assert "\r" not in rendered.subject
    assert "\n" not in rendered.subject

    message = build_email(
        rendered=rendered,
        sender_address="notifications@relais.example",
        sender_name="Maison Lumière",
        recipient="camille@example.fr",
        reply_to=None,
        idempotency_key="notif:1:email:anomaly",
        unsubscribe_url=None,
        sent_at=SENT_AT,
    )

    headers = _headers(message.as_bytes())
    subjects = [value for name, value in headers if name == "subject"]
    assert subjects == [rendered.subject]
    assert "A Bcc: x@y" in subjects[0]
    assert "bcc" not in {name for name, _ in headers}


def test_every_header_value_is_neutralized() -> None:
    rendered = RenderedEmail(
        language="fr\r\nX-Evil: 1", subject=f"Commande {INJECTION}", text="t", html="<p>h</p>"
    )

    message = build_email(
        rendered=rendered,
        sender_address="notifications@relais.example",
        sender_name="Shop\r\nBcc: evil@x.fr",
        recipient="camille@example.fr\r\nCc: other@x.fr",
        reply_to="help@shop.fr\nBcc: evil@x.fr",
        idempotency_key="notif:1\r\n:email",
        unsubscribe_url="https://notify.example/u/T\r\nBcc: evil@x.fr",
        sent_at=SENT_AT,
    )

    raw = message.as_bytes()
    names = [name for name, _ in _headers(raw)]
    assert not {"bcc", "cc", "x-evil"} & set(names)
    assert len(names) == len(set(names)), "every header once"
    assert b"\x00" not in raw
    assert dict(_headers(raw))["subject"] == "Commande A Bcc: x@y"


def test_sms_text_is_one_line() -> None:
    facts = FACTS.model_copy(update={"order_number": "A\r\n\x00B"})
    text = RENDERER.sms(request("delivery_late", locale="en-GB", facts=facts))
    assert "A B" in text
    assert not any(ord(character) < 32 for character in text)
