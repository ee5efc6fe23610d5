"""The sent copy's link neutralisation (domain.sent_copy): no link target survives, in
any quoting, in HTML or text; an image's source does."""

from __future__ import annotations

from relais_notifier.domain.sent_copy import email_copy, neutralised_html, sms_copy

TOKEN = "eyJtIjoidmVsb2NpdHkifQ.c2lnbmF0dXJl"


def test_every_href_points_nowhere_in_any_quoting() -> None:
    html = (
        f'<a href="https://chat.example/t/{TOKEN}">Track</a>'
        f"<a href='https://n.example/u/{TOKEN}'>Unsubscribe</a>"
        f"<a HREF=https://n.example/u/{TOKEN}>bare</a>"
        '<a href="mailto:help@shop.example">Help</a>'
    )
    out = neutralised_html(html)
    assert TOKEN not in out
    assert "mailto" not in out
    assert out.lower().count('href="#"') == 4
    assert ">Track</a>" in out


def test_an_image_source_stays_and_any_other_url_goes() -> None:
    html = (
        '<img src="https://cdn.example/lamp.jpg" alt="Lamp">'
        f"<p>Or paste https://chat.example/c/{TOKEN} in your browser</p>"
        f'<div data-url="https://chat.example/s/{TOKEN}"></div>'
        f'<img srcset="https://chat.example/s/{TOKEN} 2x">'
    )
    out = neutralised_html(html)
    assert '<img src="https://cdn.example/lamp.jpg" alt="Lamp">' in out
    assert TOKEN not in out
    assert "<p>Or paste [link] in your browser</p>" in out


def test_an_emails_text_and_subject_and_an_sms_lose_their_urls() -> None:
    copy = email_copy(
        subject="Your order http://shop.example/o/1",
        html=None,
        text=f"Hello Camille,\nTrack it: https://chat.example/t/{TOKEN}.\nStop: https://n.example/u/{TOKEN}",
    )
    assert copy == {
        "subject": "Your order [link]",
        "html": None,
        "text": "Hello Camille,\nTrack it: [link]\nStop: [link]",
    }
    assert sms_copy(body=f"Shipped! https://chat.example/t/{TOKEN}") == {"body": "Shipped! [link]"}
