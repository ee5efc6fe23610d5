"""The carrier pull API client: GET <base_url>/<carrier>/<tracking number>.

Rules:
- calls are rate limited (a leaky bucket shared by every poll of this process) and a
  failed call (connection error, timeout, 429, 5xx) is retried with exponential
  backoff and jitter; a call still failing after its retries raises `PollError`;
- a 404 means the carrier knows nothing yet (None, not an error); another 4xx but 401
  and 429 refuses this shipment's request (`PollRejected`: the shipment is skipped
  until its next poll);
- the answer is returned raw, with its content type: reading it is the carrier
  adapters' job, downstream.

The carriers' own APIs have their clients in relais_tracker.adapters.pull (same port,
`CarrierPoller`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)


@dataclass(frozen=True)
class FetchedPayload:
    content_type: str
    body: bytes


class CarrierPoller(Protocol):
    async def fetch(self, *, carrier: str, tracking_number: str) -> FetchedPayload | None:
        """The carrier's current tracking payload; None when it knows nothing of the number.
        Raises PollError when the carrier could not be reached after retries."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when polling stops."""
        ...


class PollError(Exception):
    """The carrier could not be asked (unreachable, refused our credentials, rate
    limited) after the retries: the shipment is polled again at its next turn."""


class PollRejected(PollError):
    """The carrier refused the request for this shipment (a 4xx other than 401, 404
    and 429, or an answer no adapter reads): skipped until its next poll. The message
    names the carrier, the HTTP status and the carrier's error code, never the
    tracking number or the answer's body (personal data)."""

    def __init__(self, carrier: str, *, status: int, code: str | None = None) -> None:
        super().__init__(f"{carrier}: HTTP {status}" + (f" ({code})" if code else ""))
        self.carrier = carrier
        self.status = status
        self.code = code


class RetryableStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _retryable(error: BaseException) -> bool:
    return isinstance(error, httpx.TransportError | RetryableStatus)


def _detail(error: Exception) -> str:
    """What a log may say of a failed call: an HTTP error's status, not its URL (which
    holds the tracking number)."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    return str(error)[:200]


@dataclass(frozen=True)
class PollRetry:
    max_attempts: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0


class HttpCarrierPoller:
    """GET <base_url>/<carrier>/<tracking number> over httpx."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        limiter: AsyncLimiter,
        retry: PollRetry,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._limiter = limiter
        self._retry = retry

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, *, carrier: str, tracking_number: str) -> str:
        return f"{self._base_url}/{quote(carrier, safe='')}/{quote(tracking_number, safe='')}"

    async def fetch(self, *, carrier: str, tracking_number: str) -> FetchedPayload | None:
        url = self.url(carrier=carrier, tracking_number=tracking_number)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_random_exponential(
                multiplier=self._retry.backoff_initial_s, max=self._retry.backoff_max_s
            ),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._get(url, carrier=carrier)
        except (httpx.HTTPError, RetryableStatus) as error:
            raise PollError(f"{carrier}: {type(error).__name__}: {_detail(error)}") from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _get(self, url: str, *, carrier: str) -> FetchedPayload | None:
        async with self._limiter:
            response = await self._client.get(url)
        if response.status_code == 404:
            return None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableStatus(response.status_code)
        if 400 <= response.status_code < 500 and response.status_code != 401:
            raise PollRejected(carrier, status=response.status_code)
        response.raise_for_status()
        return FetchedPayload(
            content_type=response.headers.get("content-type", "application/octet-stream"),
            body=response.content,
        )
