"""The security headers every HTTP response of every service carries, at least.

Rules:
- a response keeps every header its route set (a page's own Content-Security-Policy, a
  static file's Cache-Control); this middleware only adds the ones missing, so it also
  covers what no route wrote: 404 for an unknown path, 405, 413, FastAPI's 422;
- nothing is sniffed, no referrer leaves (URLs carry signed links), nothing is framed
  unless the route's own policy names who may (frame-ancestors), and nothing is cached
  unless the route says so (answers carry personal data);
- the default policy restricts only what cannot break a page (framing, <base>,
  plugins); the customer pages set their complete policy themselves (relais_chat.headers).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_POLICY: Final = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
DEFAULTS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", DEFAULT_POLICY.encode()),
)


def with_defaults(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus each default it lacks; X-Frame-Options DENY when framing is refused."""
    present = {name.lower(): value for name, value in headers}
    added = [(name, value) for name, value in DEFAULTS if name not in present]
    policy = present.get(b"content-security-policy", DEFAULT_POLICY.encode())
    if b"x-frame-options" not in present and b"frame-ancestors 'none'" in policy:
        added.append((b"x-frame-options", b"DENY"))
    return [*headers, *added]


class SecurityHeaders:
    """Pure ASGI middleware (no body buffering): rewrites only the response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": with_defaults(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_with_headers)
