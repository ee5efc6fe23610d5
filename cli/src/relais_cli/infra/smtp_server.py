"""A real SMTP server on loopback that stores every message it receives in a Maildir.

Run by `relais infra up` as
    python -m relais_cli.infra.smtp_server --port 1025 --maildir <state>/mail
Each message is stored as received, preceded by X-Relais-Envelope-From and
X-Relais-Envelope-To headers (the SMTP envelope, which Bcc recipients only appear in).
The log names message keys and sizes, never addresses or content.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import mailbox
import signal
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

log = logging.getLogger("relais.smtp")

ENVELOPE_FROM = "X-Relais-Envelope-From"
ENVELOPE_TO = "X-Relais-Envelope-To"


def with_envelope(content: bytes, *, mail_from: str, rcpt_tos: list[str]) -> bytes:
    """The message with the SMTP envelope prepended as headers, lines ending in LF.

    SMTP delivers CRLF line endings; a Maildir file holds LF ones.
    """
    header = f"{ENVELOPE_FROM}: {mail_from}\n{ENVELOPE_TO}: {', '.join(rcpt_tos)}\n"
    return header.encode("utf-8") + content.replace(b"\r\n", b"\n")


class MaildirHandler:
    """aiosmtpd handler: every accepted message becomes one file in the Maildir."""

    def __init__(self, maildir: Path) -> None:
        self._maildir = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        stored = with_envelope(
            data, mail_from=str(envelope.mail_from), rcpt_tos=[str(r) for r in envelope.rcpt_tos]
        )
        key = self._maildir.add(stored)
        log.info(
            "stored message %s (%d bytes, %d recipients)", key, len(data), len(envelope.rcpt_tos)
        )
        return "250 Message accepted for delivery"


class Session(SMTP):
    """One client connection, tracked so that a stop can let it finish."""

    open_sessions: set[Session] = set()
    none_open = asyncio.Event()

    def connection_made(self, transport: Any) -> None:
        Session.open_sessions.add(self)
        Session.none_open.clear()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        Session.open_sessions.discard(self)
        if not Session.open_sessions:
            Session.none_open.set()
        super().connection_lost(error)


async def serve(*, host: str, port: int, maildir: Path, drain_s: float = 5.0) -> None:
    """Serve until SIGTERM or SIGINT, then stop like a mail server does: no new
    connection is accepted, and the sessions in progress get `drain_s` to finish, so a
    message is never stored without its 250 reaching the sender (which would send it
    again)."""
    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Session(handler, hostname="relais-smtp", enable_SMTPUTF8=True),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("listening on %s:%d, storing into %s", host, port, maildir)
    await stop.wait()
    server.close()
    if Session.open_sessions:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(Session.none_open.wait(), timeout=drain_s)
    for session in list(Session.open_sessions):
        if session.transport is not None:
            session.transport.close()
    await server.wait_closed()
    log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs peers and commands
    asyncio.run(serve(host=args.host, port=args.port, maildir=args.maildir))


if __name__ == "__main__":
    main()
