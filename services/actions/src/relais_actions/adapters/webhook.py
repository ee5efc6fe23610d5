"""The merchant webhook adapter: one signed POST, bounded by a timeout.

Rules:
- the body is the JSON of `ActionWebhookRequest`, sent byte for byte as signed;
- headers: `Idempotency-Key: <action id>` (the merchant sees one key per action,
  however often it is sent) and `Relais-Signature: t=<unix seconds>,v1=<hex>`,
  HMAC-SHA256 over `<t>.<body>` with each of the merchant's current secrets
  (the UTF-8 bytes of the configured secret);
- redirects are not followed; a timeout or a connection error is reported as a
  CallResult without status, never raised: the domain decides what it means.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from relais_actions.domain.delivery import CallFailure, CallResult
from relais_contracts.webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    ActionWebhookResponse,
    signature_header,
)

USER_AGENT = "Relais-Actions/1"


@dataclass(frozen=True)
class Endpoint:
    """One merchant's webhook, with its secrets resolved (never log them)."""

    url: str
    secrets: tuple[bytes, ...]
    timeout_s: float

    def __repr__(self) -> str:
        return f"Endpoint(url={self.url!r}, secrets=<{len(self.secrets)} hidden>)"


def signed_headers(
    *, endpoint: Endpoint, body: bytes, idempotency_key: str, timestamp: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: idempotency_key,
        SIGNATURE_HEADER: signature_header(list(endpoint.secrets), timestamp, body),
    }


async def post_action(
    client: httpx.AsyncClient,
    *,
    endpoint: Endpoint,
    body: bytes,
    idempotency_key: str,
    timestamp: int,
) -> CallResult:
    headers = signed_headers(
        endpoint=endpoint, body=body, idempotency_key=idempotency_key, timestamp=timestamp
    )
    try:
        response = await client.post(
            endpoint.url,
            content=body,
            headers=headers,
            timeout=endpoint.timeout_s,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        return CallResult(failure=CallFailure.TIMEOUT)
    except httpx.TransportError:
        return CallResult(failure=CallFailure.CONNECTION_ERROR)
    return CallResult(status=response.status_code, response=parsed_response(response))


def parsed_response(response: httpx.Response) -> ActionWebhookResponse | None:
    """The body of a 2xx answer; None when absent or not the documented shape."""
    if not response.is_success or not response.content:
        return None
    try:
        return ActionWebhookResponse.model_validate_json(response.content)
    except ValidationError:
        return None
