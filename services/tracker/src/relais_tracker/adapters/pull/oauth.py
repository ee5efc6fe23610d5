"""OAuth2 client-credentials tokens, cached until shortly before they expire.

Rules:
- one token per carrier account, shared by every poll of the process; when several
  polls need a new one at once, one request is made (the others wait for it);
- a token is used until `margin` before its `expires_in` (the smaller of
  `max_margin_s` and a tenth of its lifetime: a 1-hour FedEx token is renewed
  6 minutes early, a 4-hour UPS token 10 minutes early with the default 600 s);
- a call answered 401 invalidates the token it used (`invalidate`), so the next
  `get` fetches a new one: a token revoked or expired early is replaced once, not
  looped on (the caller retries the call once, see adapters.pull.client);
- the secret never leaves `TokenRequest` (a `SecretStr` until the request is built)
  and neither the secret nor a token is ever logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


class TokenRefused(Exception):
    """The token endpoint refused the credentials (400, 401, 403): not retried."""

    def __init__(self, carrier: str, *, status: int, code: str | None) -> None:
        super().__init__(f"{carrier}: token endpoint answered {status} ({code or 'no code'})")
        self.status = status
        self.code = code


class TokenAnswerInvalid(Exception):
    """The token endpoint answered 2xx without a usable access token."""


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in_s: float


def grant_of(document: Any) -> Grant:
    """The token and its lifetime from a client-credentials answer (UPS sends
    `expires_in` as a string, FedEx as a number)."""
    if not isinstance(document, dict):
        raise TokenAnswerInvalid("token answer is not a JSON object")
    token = document.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenAnswerInvalid("token answer has no access_token")
    try:
        expires_in = float(document.get("expires_in", 0))
    except (TypeError, ValueError):
        raise TokenAnswerInvalid("token answer has an unreadable expires_in") from None
    if expires_in <= 0:
        raise TokenAnswerInvalid("token answer has no positive expires_in")
    return Grant(access_token=token, expires_in_s=expires_in)


class TokenCache:
    """The current token of one account; `fetch` asks the token endpoint for a new one."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Grant]],
        *,
        max_margin_s: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_margin_s = max_margin_s
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def _fresh(self) -> str | None:
        if self._token is not None and self._monotonic() < self._renew_at:
            return self._token
        return None

    async def get(self) -> str:
        """A token valid for a while yet; fetched when there is none."""
        token = self._fresh()
        if token is not None:
            return token
        async with self._lock:
            token = self._fresh()  # another poll may have fetched it meanwhile
            if token is not None:
                return token
            issued = self._monotonic()
            grant = await self._fetch()
            margin = min(self._max_margin_s, grant.expires_in_s / 10)
            self._token = grant.access_token
            self._renew_at = issued + grant.expires_in_s - margin
            return grant.access_token

    def invalidate(self, token: str) -> None:
        """Forget `token` (answered 401), unless a newer one already replaced it."""
        if self._token == token:
            self._token = None
