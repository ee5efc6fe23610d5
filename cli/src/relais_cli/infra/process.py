"""Background processes, pid files, ports and log files.

Rules:
- a pid file names a process only while that process is alive, not a zombie, and its
  command line contains every marker the caller expects (a recycled pid is not ours);
- background processes get their own session and never share our terminal: stdin is
  /dev/null, stdout and stderr go to their log file;
- stopping is SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BufferedWriter
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit status and combined stdout and stderr."""

    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def read_pid(pid_file: Path) -> int | None:
    """The pid on the first line of `pid_file` (postmaster.pid has more lines), or None."""
    try:
        lines = pid_file.read_text().splitlines()
    except OSError:
        return None
    first = lines[0].strip() if lines else ""
    return int(first) if first.isdigit() else None


def write_pid(pid_file: Path, pid: int) -> None:
    """Atomically record `pid` (write to a temporary file, then rename)."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def remove_pid(pid_file: Path) -> None:
    pid_file.unlink(missing_ok=True)


def is_running(pid: int, *, markers: Sequence[str] = ()) -> bool:
    """True when `pid` is alive, not a zombie, and its command line contains every marker."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user (postgres)
    proc = PROC / str(pid)
    if not proc.is_dir():
        return not markers  # no /proc: we can only trust the pid
    try:
        state = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (
            proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except (OSError, IndexError):
        return False
    return state != "Z" and all(marker in cmdline for marker in markers)


def owned_pid(pid_file: Path, *, markers: Sequence[str]) -> int | None:
    """The pid in `pid_file` if that process is running and matches; None otherwise."""
    pid = read_pid(pid_file)
    if pid is None or not is_running(pid, markers=markers):
        return None
    return pid


def find_pid(*, markers: Sequence[str]) -> int | None:
    """A running process whose command line has every marker (lost pid file), via /proc."""
    if not markers or not PROC.is_dir():
        return None
    pids = (int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit())
    for pid in pids:
        if pid != os.getpid() and is_running(pid, markers=markers):
            return pid
    return None


def adopt_pid(pid_file: Path, *, markers: Sequence[str]) -> int | None:
    """Our process: from its pid file, or found by its command line (the pid file is rewritten).

    Markers must be specific to this state dir (a path inside it), so that a process of
    another checkout or user is never adopted.
    """
    pid = owned_pid(pid_file, markers=markers)
    if pid is None:
        pid = find_pid(markers=markers)
        if pid is not None:
            write_pid(pid_file, pid)
    return pid


def rotate_log(log_file: Path) -> None:
    """Keep one previous log: <name>.log becomes <name>.log.1 when it is not empty."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists() and log_file.stat().st_size > 0:
        log_file.replace(log_file.with_name(log_file.name + ".1"))


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, output appended to `log_file`; returns at once."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
        )


async def run(
    argv: Sequence[str],
    *,
    log_file: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin_text: str | None = None,
) -> Completed:
    """Run `argv` to completion without blocking the event loop.

    Output is captured and returned; with `log_file` it goes to that file (appended) and
    what was appended is returned. Use `log_file` for anything that may leave a daemon
    behind holding its stdout (pg_ctl), since a pipe would then never reach end-of-file.
    """
    offset, sink = _open_sink(log_file)
    try:
        child = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
        data, _ = await child.communicate(None if stdin_text is None else stdin_text.encode())
    finally:
        if isinstance(sink, BufferedWriter):
            sink.close()
    if log_file is not None:
        data = _read_from(log_file, offset=offset)
    return Completed(returncode=child.returncode or 0, output=data.decode(errors="replace"))


def _open_sink(log_file: Path | None) -> tuple[int, BufferedWriter | int]:
    """(current size, open file) of `log_file`, or (0, PIPE) without one."""
    if log_file is None:
        return 0, subprocess.PIPE
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handle = log_file.open("ab")
    return handle.tell(), handle


def _read_from(path: Path, *, offset: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read()


async def port_open(host: str, port: int, *, timeout_s: float = 1.0) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def terminate(pid: int, *, markers: Sequence[str], grace_s: float) -> bool:
    """SIGTERM the process, SIGKILL it after `grace_s`; True when it was running."""
    if not is_running(pid, markers=markers):
        return False
    _signal(pid, signal.SIGTERM)
    if not await _gone_within(pid, markers=markers, seconds=grace_s):
        _signal(pid, signal.SIGKILL)
        await _gone_within(pid, markers=markers, seconds=10.0)
    return True


async def _gone_within(pid: int, *, markers: Sequence[str], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not is_running(pid, markers=markers):
            return True
        await asyncio.sleep(0.1)
    return False


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def tail(path: Path, *, lines: int) -> list[str]:
    """The last `lines` lines of a text file (empty when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            data = handle.read().decode(errors="replace")
    except OSError:
        return []
    return data.splitlines()[-lines:]


def describe_failure(what: str, *, log_file: Path, lines: int = 15) -> str:
    """An error message with the log lines that explain it.

    The first error lines of the log's end (ERROR, FATAL, Caused by, or an exception's
    first line) come first, then its last lines.
    """
    recent = tail(log_file, lines=2000)
    errors = [line for line in recent if _looks_like_error(line)][:8]
    last = [line for line in recent[-lines:] if line not in errors and not _is_frame(line)]
    excerpt = [*errors, *(["  ..."] if errors and last else []), *last]
    body = "\n".join(f"  | {line}" for line in excerpt)
    return f"{what} (log: {log_file})" + (f"\n{body}" if body else "")


def _is_frame(line: str) -> bool:
    """A stack-trace frame (`at …`, `... 6 more`): noise in an error summary."""
    head = line.lstrip()
    return head.startswith(("at ", "... ")) and line[:1].isspace()


def _looks_like_error(line: str) -> bool:
    head = line.lstrip()
    return (
        any(marker in line for marker in (" ERROR ", " FATAL ", " FATAL:", " ERROR:"))
        or head.startswith("Caused by:")
        or (not head.startswith("at ") and "Exception: " in head)
    )
