"""An open-loop HTTP/1.1 sender: each request goes out at its scheduled time, whatever
the answers to the previous ones (no coordinated omission).

Rules:
- it runs in its own process (`sender_process`), so that the bench's other work
  (reading the Maildir, the progress display) never delays a request;
- requests are written on a fixed pool of keep-alive connections by plain asyncio
  streams: no HTTP library sits between the schedule and the socket, so the sender
  costs tens of microseconds per request and is not the bottleneck;
- a request waits for a free connection only when every connection is busy; how late
  each request went out compared with its schedule is recorded (`Sent.late_s`), so a
  sender that fell behind shows in the report instead of hiding in the latencies;
- a connection the server closed is opened again and the request written once more;
  a request that still gets no answer is recorded with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    at_s: float
    """Seconds after the sender's start when the request is due."""
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sent:
    sent_at: float
    """Wall-clock time (time.time()) when the request was written."""
    late_s: float
    """How long after its scheduled time it was written."""
    status: int
    """The answer's status code; 0 when none came."""
    took_s: float = 0.0
    """From the request written to its answer read."""


def request_bytes(host: str, job: Job) -> bytes:
    lines = [
        f"POST {job.path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {len(job.body)}",
        *(f"{name}: {value}" for name, value in job.headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + job.body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response (status line, headers, Content-Length body); its status code."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed by the server")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, data: bytes) -> int:
        for attempt in (1, 2):
            try:
                if self.writer is None or self.reader is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(data)
                return await read_response(self.reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                await self.close()
                if attempt == 2:
                    return 0
        return 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def send_open_loop(
    *,
    host: str,
    port: int,
    jobs: list[Job],
    start_wall: float,
    connections: int,
    on_sent: Any = None,
) -> list[Sent | None]:
    """Send every job at `start_wall + job.at_s`; one `Sent` per job, in job order."""
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    results: list[Sent | None] = [None] * len(jobs)
    authority = f"{host}:{port}"

    async def worker() -> None:
        connection = Connection(host, port)
        try:
            while (index := await queue.get()) is not None:
                job = jobs[index]
                sent_at = time.time()
                status = await connection.exchange(request_bytes(authority, job))
                took_s = time.time() - sent_at
                results[index] = Sent(sent_at, sent_at - (start_wall + job.at_s), status, took_s)
                if on_sent is not None:
                    on_sent()
        finally:
            await connection.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for index, job in enumerate(jobs):
        delay = start_wall + job.at_s - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(index)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return results


def sender_process(
    host: str,
    port: int,
    jobs: list[Job],
    lead_s: float,
    connections: int,
    progress: Any,
    results: Any,
) -> None:
    """Entry of the sender's process: starts the schedule `lead_s` after it is ready
    (its imports done), sends, counts in `progress` (a shared integer), then puts
    [(sent_at, late_s, status, took_s) or None, ...] on the `results` queue."""

    def count() -> None:
        with progress.get_lock():
            progress.value += 1

    sent = asyncio.run(
        send_open_loop(
            host=host,
            port=port,
            jobs=jobs,
            start_wall=time.time() + lead_s,
            connections=connections,
            on_sent=count,
        )
    )
    results.put([None if s is None else (s.sent_at, s.late_s, s.status, s.took_s) for s in sent])
