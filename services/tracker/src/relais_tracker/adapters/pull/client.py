"""What every carrier's pull client does around its one request: limits, tokens, retries,
and handing the answer to the carrier's adapter.

Rules (each carrier module only builds its request and names its error codes):
- each call first takes a place from the carrier's limiter (adapters.pull.rate);
- a 401 on a call made with an OAuth token invalidates the token and repeats the call
  once with a new one; a 401 without a token to renew, or a second 401, is a
  `PollError` (credentials refused: every shipment of that carrier fails alike);
- a 429 pauses the carrier for its `Retry-After` (else for the backoff) and is retried;
- a 5xx, a timeout or a connection error is retried after an exponential backoff with
  full jitter (`PollRetry`); still failing after `max_attempts`: `PollError`;
- a 404 means the carrier knows nothing of the number yet: None;
- another 4xx skips the shipment: `PollRejected` with the HTTP status and the carrier's
  error code (never the tracking number nor the body: they are personal data);
- a 2xx is handed to the carrier's adapter (`CarrierAdapter.parse`): events, and the raw
  answer is returned for publication; no event, or a documented "not found" code in an
  answer the adapter cannot read: None; any other unreadable answer: `PollRejected`.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from relais_tracker.adapters.carrier_poller import (
    FetchedPayload,
    PollError,
    PollRejected,
    PollRetry,
)
from relais_tracker.adapters.carriers.base import CarrierAdapter, PayloadError
from relais_tracker.adapters.pull.config import PULL_APIS, PullCredentials
from relais_tracker.adapters.pull.oauth import (
    Grant,
    TokenAnswerInvalid,
    TokenCache,
    TokenRefused,
    grant_of,
)
from relais_tracker.adapters.pull.rate import CarrierLimiter, RateLimited, retry_after_s

_CODE = re.compile(r"[^A-Za-z0-9._-]+")


class Retry(Exception):
    """This try failed for a reason worth another try (429, 5xx, a broken token answer)."""

    def __init__(self, reason: str, *, paused: bool = False) -> None:
        super().__init__(reason)
        self.paused = paused
        """The limiter already holds the carrier for the wait (a 429)."""


def safe_code(value: Any) -> str | None:
    """A carrier error code fit for a log line: short, letters, digits, `._-` only."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    code = _CODE.sub("", str(value))[:64]
    return code or None


def codes_of(items: Any, *, key: str = "code") -> list[str]:
    """The safe codes of a list of `{code, message}` objects (anything else: none)."""
    if not isinstance(items, list):
        return []
    codes = [safe_code(item.get(key)) for item in items if isinstance(item, dict)]
    return [code for code in codes if code]


def json_document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


class PullClient(ABC):
    """One carrier's tracking API (see the module's rules)."""

    carrier: ClassVar[str]
    uses_oauth: ClassVar[bool] = False
    """The API takes an OAuth2 bearer token (`token_request` asks for one)."""
    not_found_codes: ClassVar[frozenset[str]] = frozenset()
    """Error codes that mean "no such tracking number yet" in a 2xx answer."""
    retry_codes: ClassVar[frozenset[str]] = frozenset()
    """Error codes of a 2xx answer that mean a passing failure on the carrier's side."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        credentials: PullCredentials,
        limiter: CarrierLimiter,
        retry: PollRetry,
        adapter: CarrierAdapter,
        base_url: str | None = None,
    ) -> None:
        self._http = http
        self.credentials = credentials
        self.base_url = str(base_url or credentials.base_url or PULL_APIS[self.carrier].base_url)
        self.base_url = self.base_url.rstrip("/")
        self._limiter = limiter
        self._retry = retry
        self._adapter = adapter
        self.tokens: TokenCache | None = None
        if self.uses_oauth:
            self.tokens = TokenCache(self._new_token)

    @abstractmethod
    def tracking_request(self, tracking_number: str, *, token: str | None) -> httpx.Request:
        """The carrier's tracking request for one number."""

    def token_request(self) -> httpx.Request:
        """The OAuth2 client-credentials request (carriers with `uses_oauth`)."""
        raise NotImplementedError(f"{self.carrier} takes no OAuth token")

    async def _new_token(self) -> Grant:
        return await self.token_grant(self.token_request())

    def secret(self, name: str) -> str:
        """A credential's value, for building a request only (never logged)."""
        value = getattr(self.credentials, name)
        if value is None:
            raise PollError(f"{self.carrier}: {name} is not configured")
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    def error_codes(self, body: bytes) -> list[str]:
        """The carrier's error codes in an answer's body (for logs, "not found" and
        retries); none known by default."""
        return []

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, tracking_number: str) -> FetchedPayload | None:
        last = "no attempt"
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                return await self._attempt(tracking_number)
            except (RateLimited, TokenRefused) as error:
                raise PollError(str(error)) from None
            except (httpx.TransportError, Retry, TokenAnswerInvalid) as error:
                last = f"{type(error).__name__}: {str(error)[:120]}"
                if attempt == self._retry.max_attempts:
                    break
                if not (isinstance(error, Retry) and error.paused):
                    await asyncio.sleep(self.backoff_s(attempt))
        raise PollError(
            f"{self.carrier}: gave up after {self._retry.max_attempts} attempts ({last})"
        )

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, initial * 2^(attempt - 1))]."""
        ceiling = min(self._retry.backoff_max_s, self._retry.backoff_initial_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    async def _attempt(self, tracking_number: str) -> FetchedPayload | None:
        token = await self.tokens.get() if self.tokens is not None else None
        response = await self._send(self.tracking_request(tracking_number, token=token))
        if response.status_code == 401 and self.tokens is not None and token is not None:
            self.tokens.invalidate(token)
            token = await self.tokens.get()
            response = await self._send(self.tracking_request(tracking_number, token=token))
        return self._answer(response)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        await self._limiter.acquire()
        response = await self._http.send(request)
        self._check_throttled(response)
        return response

    def _check_throttled(self, response: httpx.Response) -> None:
        """429: pause the carrier for its Retry-After (else the backoff) and retry; 5xx:
        retry after the backoff."""
        status = response.status_code
        if status == 429:
            wait = retry_after_s(response.headers.get("retry-after"), now=datetime.now(UTC))
            self._limiter.pause(wait if wait is not None else self._retry.backoff_initial_s)
            raise Retry(f"HTTP 429, retry after {wait if wait is not None else '?'} s", paused=True)
        if status >= 500:
            raise Retry(f"HTTP {status}")

    def _answer(self, response: httpx.Response) -> FetchedPayload | None:
        status = response.status_code
        if status == 401:
            raise PollError(f"{self.carrier}: credentials refused (HTTP 401)")
        if status == 404:
            return None
        if not 200 <= status < 300:
            raise PollRejected(self.carrier, status=status, code=self._first_code(response))
        try:
            events = self._adapter.parse(response.content)
        except PayloadError:
            codes = self.error_codes(response.content)
            if self.not_found_codes.intersection(codes):
                return None
            if self.retry_codes.intersection(codes):
                raise Retry(f"{self.carrier} error code {codes[0]}") from None
            raise PollRejected(
                self.carrier, status=status, code=(codes[0] if codes else "unreadable answer")
            ) from None
        if not events:
            return None
        return FetchedPayload(
            content_type=response.headers.get("content-type") or "application/json",
            body=response.content,
        )

    def _first_code(self, response: httpx.Response) -> str | None:
        codes = self.error_codes(response.content)
        return codes[0] if codes else None

    async def token_grant(self, request: httpx.Request) -> Grant:
        """Ask a token endpoint (through the limiter): a grant, `Retry` (429, 5xx),
        `TokenRefused` (400, 401, 403) or `TokenAnswerInvalid`."""
        response = await self._send(request)
        if response.status_code >= 400:
            raise TokenRefused(
                self.carrier, status=response.status_code, code=self._first_code(response)
            )
        return grant_of(json_document(response.content))
