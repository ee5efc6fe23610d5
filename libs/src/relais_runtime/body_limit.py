"""A request body size limit, enforced before anything parses the body.

Rules:
- a request whose Content-Length exceeds the limit is answered 413 at once: its body is
  never read, the app never sees the request;
- a body without Content-Length (chunked) is counted as it streams: the moment it
  passes the limit, reading stops, whatever the app was going to answer is dropped,
  and the answer is 413 (an app that had already begun answering, which no Relais
  route does, has its answer cut short instead);
- a 413 closes the connection (`Connection: close`): the rest of the body is never
  read, so the connection cannot carry another request;
- the limit applies to every HTTP route of the app (forms, JSON, webhooks); a route may
  set a lower limit of its own (the tracker's carrier webhooks do); websocket and
  lifespan messages pass through untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
"""1 MiB: far above any order, form or carrier payload Relais accepts."""


class BodyTooLarge(Exception):
    """Raised to the app when a streamed body passes the limit (the middleware answers)."""


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (or not a number: the
    server refuses those itself)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def refuse(send: Send, *, max_body_bytes: int) -> None:
    """Answer 413 with a JSON detail, and close the connection."""
    body = json.dumps({"detail": f"request body larger than {max_body_bytes} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Exchange:
    """One request's progress: body bytes received, and what was answered."""

    limit: int
    received: int = 0
    exceeded: bool = False
    started: bool = False

    def count(self, message: Message) -> None:
        if message["type"] != "http.request":
            return
        self.received += len(message.get("body", b""))
        if self.received > self.limit:
            self.exceeded = True
            raise BodyTooLarge


class BodySizeLimit:
    """Pure ASGI middleware refusing request bodies over `max_body_bytes` with 413."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_body_bytes < 0:
            raise ValueError("max_body_bytes must not be negative")
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await refuse(send, max_body_bytes=self.max_body_bytes)
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = _Exchange(limit=self.max_body_bytes)

        async def counted_receive() -> Message:
            if exchange.exceeded:
                raise BodyTooLarge
            message = await receive()
            exchange.count(message)
            return message

        async def guarded_send(message: Message) -> None:
            if exchange.exceeded:
                return
            if message["type"] == "http.response.start":
                exchange.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exchange.exceeded:
                raise
        if exchange.exceeded and not exchange.started:
            await refuse(send, max_body_bytes=self.max_body_bytes)
