"""Security headers on every response of the customer pages' router.

Rules:
- `security_headers` is the one place that writes them; `SecuredRoute`, the router's
  route class, adds them to every response its routes return, keeping any header a
  route set itself (a page's own Content-Security-Policy, a static file's cache);
- Content-Security-Policy: everything from the chat's own origin (`default-src
  'self'`), no inline script at all, the one inline style of a page (the merchant's
  colours) allowed by its SHA-256 hash, images also over https (merchant logos and
  product pictures), forms posted only to the chat itself;
- frame-ancestors: the merchant's `tracking.page.frame_ancestors` on the pages a
  merchant may embed (lookup and tracking), `'none'` everywhere else; X-Frame-Options
  DENY goes with `'none'` for browsers that know only that header;
- no referrer ever leaves a page (its URL holds a signed link), nothing is sniffed,
  and a page is never stored by a cache (`no-store`) unless the route says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Coroutine, Sequence
from functools import lru_cache
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


@lru_cache(maxsize=256)
def style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(
    *, frame_ancestors: Sequence[str] = (), inline_styles: Sequence[str] = ()
) -> str:
    return _policy(tuple(frame_ancestors), tuple(inline_styles))


@lru_cache(maxsize=256)
def _policy(frame_ancestors: tuple[str, ...], inline_styles: tuple[str, ...]) -> str:
    """Pure, remembered: a merchant's pages ask for the same few policies."""
    styles = " ".join(["'self'", *(style_hash(css) for css in inline_styles if css)])
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "font-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {ancestors}",
        )
    )


def security_headers(
    *, frame_ancestors: Sequence[str] = (), inline_styles: Sequence[str] = ()
) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(
            frame_ancestors=frame_ancestors, inline_styles=inline_styles
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Strict-Transport-Security": "max-age=31536000",
    }
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def secure(response: Response) -> Response:
    """Add the default headers the response does not set itself."""
    for name, value in security_headers().items():
        if name.lower() == "x-frame-options" and "frame-ancestors 'none'" not in (
            response.headers.get("content-security-policy", "frame-ancestors 'none'")
        ):
            continue
        response.headers.setdefault(name, value)
    return response


class SecuredRoute(APIRoute):
    """An APIRoute whose responses carry `security_headers` (see the module's rules)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def secured(request: Request) -> Response:
            return secure(await handler(request))

        return secured
