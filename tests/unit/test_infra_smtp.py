"""Storing and reading the mail the SMTP catcher receives."""

from __future__ import annotations

import mailbox
from pathlib import Path
from types import SimpleNamespace

import pytest

from relais_cli.infra import smtp
from relais_cli.infra.smtp_server import MaildirHandler, with_envelope

RAW = (
    b"From: shop@example.test\r\nTo: customer@example.test\r\n"
    b"Subject: Your parcel\r\n\r\nIt is on its way.\r\n"
)


def test_envelope_headers_are_prepended_and_line_endings_normalised() -> None:
    stored = with_envelope(RAW, mail_from="shop@example.test", rcpt_tos=["a@x.test", "b@x.test"])
    assert stored.startswith(
        b"X-Relais-Envelope-From: shop@example.test\nX-Relais-Envelope-To: a@x.test, b@x.test\n"
    )
    assert b"\r\n" not in stored


async def test_handler_stores_each_message_in_the_maildir(tmp_path: Path) -> None:
    handler = MaildirHandler(tmp_path / "mail")
    envelope = SimpleNamespace(
        original_content=RAW, content=RAW, mail_from="shop@example.test", rcpt_tos=["c@x.test"]
    )
    reply = await handler.handle_DATA(None, None, envelope)
    assert reply.startswith("250")
    [received] = smtp.read_messages(tmp_path / "mail")
    assert received.subject == "Your parcel"
    assert received.to == "customer@example.test"
    assert received.envelope_to == ("c@x.test",)
    assert received.text().strip() == "It is on its way."


def test_messages_are_read_oldest_first_and_can_be_cleared(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    for n in range(3):
        box.add(f"Subject: m{n}\n\nbody\n".encode())
    subjects = [mail.subject for mail in smtp.read_messages(tmp_path / "mail")]
    assert sorted(subjects) == ["m0", "m1", "m2"]
    assert smtp.count_messages(tmp_path / "mail") == 3
    assert smtp.clear_messages(tmp_path / "mail") == 3
    assert smtp.count_messages(tmp_path / "mail") == 0
    assert smtp.read_messages(tmp_path / "mail") == []


def test_an_absent_maildir_holds_no_messages(tmp_path: Path) -> None:
    assert smtp.read_messages(tmp_path / "nothing") == []
    assert smtp.count_messages(tmp_path / "nothing") == 0
    assert smtp.clear_messages(tmp_path / "nothing") == 0


def test_waiting_for_messages_times_out_with_a_count(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="0 of 1"):
        smtp.wait_for_messages(maildir=tmp_path, timeout_s=0.2)
