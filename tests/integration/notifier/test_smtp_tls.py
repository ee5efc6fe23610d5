"""The SMTP adapter against a server that requires STARTTLS and authentication.

The certificate is self-signed, made for this run with openssl, and given to the
adapter as its CA bundle (RELAIS_SMTP_CA_FILE): the certificate is verified.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from relais_contracts.topics.notifications import FailureReason
from relais_notifier.adapters.channels import ChannelError
from relais_notifier.adapters.channels.email import SmtpConfig, SmtpSender, build_email
from relais_notifier.texts.rendering import RenderedEmail
from tests.integration.notifier.conftest import SmtpRecorder, free_port

USER = "relais"
PASSWORD = "test-only-password"


def authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    good = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=good, handled=False)


@dataclass
class TlsServer:
    port: int
    ca_file: Path
    recorder: SmtpRecorder


@pytest.fixture(scope="module")
def tls_smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield TlsServer(port=port, ca_file=cert, recorder=recorder)
    finally:
        controller.stop()


def message(to: str) -> Any:
    return build_email(
        rendered=RenderedEmail(language="en", subject="Hello", text="Hi", html="<p>Hi</p>"),
        sender_address="shop@example.com",
        sender_name="Shop",
        recipient=to,
        reply_to=None,
        idempotency_key="00000000-0000-5000-8000-000000000000:email:initial",
        unsubscribe_url=None,
        sent_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
    )


def sender(server: TlsServer, **changes: Any) -> SmtpSender:
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "starttls": True,
        "username": USER,
        "password": PASSWORD,
        "ca_file": str(server.ca_file),
        "timeout_s": 5,
    }
    fields.update(changes)
    return SmtpSender(SmtpConfig(**fields))


async def test_starttls_and_login_deliver(tls_smtp: TlsServer) -> None:
    receipt = await sender(tls_smtp).send(message("tls@example.com"))
    [received] = tls_smtp.recorder.to("tls@example.com")
    assert received["Message-ID"].strip() == receipt.message_id


async def test_one_connection_carries_the_messages_that_follow(tls_smtp: TlsServer) -> None:
    """STARTTLS and login once: the next message goes over the connection the first
    one left open, until the sender closes it."""
    smtp = sender(tls_smtp)
    await smtp.send(message("kept-1@example.com"))
    await smtp.send(message("kept-2@example.com"))
    assert tls_smtp.recorder.to("kept-1@example.com")
    assert tls_smtp.recorder.to("kept-2@example.com")
    peers = tls_smtp.recorder.peers
    assert peers[-1] == peers[-2]
    assert smtp.idle_connections == 1
    await smtp.aclose()
    assert smtp.idle_connections == 0


async def test_a_connection_idle_too_long_is_not_used_again(tls_smtp: TlsServer) -> None:
    smtp = SmtpSender(sender(tls_smtp).config, idle_s=0)
    await smtp.send(message("stale-1@example.com"))
    await smtp.send(message("stale-2@example.com"))
    assert tls_smtp.recorder.to("stale-2@example.com")
    peers = tls_smtp.recorder.peers
    assert peers[-1] != peers[-2]
    await smtp.aclose()


async def test_wrong_password_is_a_configuration_error(tls_smtp: TlsServer) -> None:
    with pytest.raises(ChannelError) as refused:
        await sender(tls_smtp, password="wrong").send(message("nope@example.com"))
    assert refused.value.reason is FailureReason.CONFIGURATION_ERROR
    assert tls_smtp.recorder.to("nope@example.com") == []


async def test_an_unknown_certificate_is_refused(tls_smtp: TlsServer) -> None:
    with pytest.raises(ChannelError) as untrusted:
        await sender(tls_smtp, ca_file=None).send(message("mitm@example.com"))
    assert untrusted.value.transient
    assert tls_smtp.recorder.to("mitm@example.com") == []
