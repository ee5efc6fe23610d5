"""The local SMTP catcher: lifecycle for `relais infra`, and reading what it received.

Rules:
- the server (relais_cli.infra.smtp_server) runs in the background with this Python;
- every received message is one file of a Maildir (<state>/mail), readable with
  `read_messages()` by tests and the demo, oldest first;
- a program already listening on the SMTP port is left alone and reported, but mail
  sent there does not reach the Maildir.
"""

from __future__ import annotations

import asyncio
import email
import mailbox
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

from relais_cli.infra import daemon, process
from relais_cli.infra.base import Action, ComponentStatus, InfraError, Outcome, Reporter
from relais_cli.infra.daemon import Daemon
from relais_cli.infra.settings import LOOPBACK, InfraSettings
from relais_cli.infra.smtp_server import ENVELOPE_TO

NAME = "smtp"
MODULE = "relais_cli.infra.smtp_server"
READY_TIMEOUT_S = 15.0
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP catcher stored."""

    key: str
    received_at: datetime
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    @property
    def envelope_to(self) -> tuple[str, ...]:
        """Every SMTP recipient, Bcc included."""
        raw = str(self.message.get(ENVELOPE_TO, ""))
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def text(self) -> str:
        """The plain-text body (or the HTML one when there is no plain text)."""
        body = self.message.get_body(preferencelist=("plain", "html"))
        return "" if body is None else str(body.get_content())


def default_maildir() -> Path:
    """The Maildir of the current environment's state dir (reads the environment now)."""
    return InfraSettings().paths.mail_dir


def read_messages(maildir: Path | None = None) -> list[ReceivedMail]:
    """Every stored message, oldest first; an absent Maildir holds no messages."""
    directory = maildir or default_maildir()
    if not (directory / "cur").is_dir():
        return []
    box = mailbox.Maildir(directory, factory=None, create=False)
    received = []
    for key in list(box.iterkeys()):
        try:
            stored = box.get_message(key)
            raw = box.get_bytes(key)
        except (KeyError, FileNotFoundError):
            continue  # removed meanwhile
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        received.append(
            ReceivedMail(
                key=key,
                received_at=datetime.fromtimestamp(stored.get_date(), tz=UTC),
                message=message,
            )
        )
    received.sort(key=lambda mail: (mail.received_at, mail.key))
    return received


def wait_for_messages(
    *,
    count: int = 1,
    timeout_s: float = 10.0,
    maildir: Path | None = None,
    where: Callable[[ReceivedMail], bool] | None = None,
) -> list[ReceivedMail]:
    """Poll until at least `count` stored messages match `where`; raise TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while True:
        matching = [mail for mail in read_messages(maildir) if where is None or where(mail)]
        if len(matching) >= count:
            return matching
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(matching)} of {count} expected messages after {timeout_s} s")
        time.sleep(0.1)


def count_messages(maildir: Path | None = None) -> int:
    """How many messages are stored, from the file names alone (nothing is parsed)."""
    directory = maildir or default_maildir()
    if not (directory / "cur").is_dir():
        return 0
    return sum(1 for _ in mailbox.Maildir(directory, factory=None, create=False).iterkeys())


def clear_messages(maildir: Path | None = None) -> int:
    """Delete every stored message; returns how many there were."""
    directory = maildir or default_maildir()
    if not (directory / "cur").is_dir():
        return 0
    box = mailbox.Maildir(directory, factory=None, create=False)
    keys = list(box.iterkeys())
    for key in keys:
        box.discard(key)
    return len(keys)


def _daemon(settings: InfraSettings) -> Daemon:
    return Daemon(
        component=NAME,
        pid_file=settings.paths.pid(NAME),
        log_file=settings.paths.log(NAME),
        markers=(MODULE, str(settings.paths.mail_dir)),
        port=settings.smtp_port,
        stop_grace_s=STOP_GRACE_S,
    )


async def up(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Start the SMTP catcher unless it already runs; return once it accepts connections."""
    started = time.monotonic()
    catcher = _daemon(settings)
    pid = process.adopt_pid(catcher.pid_file, markers=catcher.markers)
    answers = await process.port_open(LOOPBACK, settings.smtp_port)
    if pid is not None and answers:
        return daemon.outcome(catcher, action=Action.RUNNING, started=started, detail=f"pid {pid}")
    if pid is None and answers:
        detail = f"not ours: mail will not reach {settings.paths.mail_dir}"
        return daemon.outcome(catcher, action=Action.EXTERNAL, started=started, detail=detail)
    if pid is None:
        pid = _start(settings, reporter=reporter)
    await _wait_ready(settings, pid=pid)
    return daemon.outcome(catcher, action=Action.STARTED, started=started, detail=f"pid {pid}")


def _start(settings: InfraSettings, *, reporter: Reporter) -> int:
    paths = settings.paths
    paths.ensure()
    mailbox.Maildir(paths.mail_dir, create=True)
    process.rotate_log(paths.log(NAME))
    argv = [
        sys.executable,
        "-m",
        MODULE,
        "--host",
        LOOPBACK,
        "--port",
        str(settings.smtp_port),
        "--maildir",
        str(paths.mail_dir),
    ]
    reporter.step(NAME, f"starting the SMTP catcher on {settings.smtp_address}")
    child = process.spawn(argv, log_file=paths.log(NAME), cwd=paths.root)
    process.write_pid(paths.pid(NAME), child.pid)
    return child.pid


async def _wait_ready(settings: InfraSettings, *, pid: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if await process.port_open(LOOPBACK, settings.smtp_port):
            return
        if not process.is_running(pid):
            break
        await asyncio.sleep(0.1)
    raise InfraError(
        process.describe_failure(
            "the SMTP catcher did not start", log_file=settings.paths.log(NAME)
        )
    )


async def down(settings: InfraSettings, *, reporter: Reporter) -> Outcome:
    """Stop the SMTP catcher if `up` started it; stored mail is kept."""
    return await daemon.stop(_daemon(settings), reporter=reporter)


async def status(settings: InfraSettings) -> ComponentStatus:
    """Up when the port accepts connections; `pid` only when `up` started the catcher.

    The Maildir is counted in a thread: a large one must not stall the other components'
    probes, which share this event loop (and their timeouts).
    """
    catcher = _daemon(settings)
    pid = daemon.running_pid(catcher)
    answers = await process.port_open(LOOPBACK, settings.smtp_port)
    mail_dir = settings.paths.mail_dir
    stored = await asyncio.to_thread(count_messages, mail_dir) if pid is not None else 0
    detail = f"{stored} message(s) in {mail_dir}" if pid is not None else ""
    return daemon.status_row(catcher, pid=pid, answers=answers, detail=detail)
