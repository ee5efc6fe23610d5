"""The merchant webhook adapter: one signed POST, bounded by a timeout.

Rules:
- the body is the JSON of `ActionWebhookRequest`, sent byte for byte as signed;
- headers: `Idempotency-Key: <action id>` (the merchant sees one key per action,
  however often it is sent) and the signature of the merchant's scheme
  (`actions.webhook.signature`), with each of its current secrets:
  - `relais`: `Relais-Signature: t=<unix seconds>,v1=<hex>`, HMAC-SHA256 over
    `<t>.<body>` keyed with the UTF-8 bytes of the configured secret;
  - `standard` (Standard Webhooks, standardwebhooks.com): `webhook-id: <action id>`
    (the same on every retry), `webhook-timestamp: <unix seconds>` and
    `webhook-signature: v1,<base64>` (space-separated, one per secret), HMAC-SHA256
    over `<id>.<timestamp>.<body>` keyed with the base64-decoded part of a `whsec_`
    secret;
  - `both`: the headers of both;
- redirects are not followed; a timeout or a connection error is reported as a
  CallResult without status, never raised: the domain decides what it means.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import ValidationError

from relais_actions.domain.delivery import CallFailure, CallResult
from relais_contracts.webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    ActionWebhookResponse,
    signature_header,
)
from relais_runtime.merchants.actions import SignatureScheme, standard_webhook_key

USER_AGENT = "Relais-Actions/1"

STANDARD_ID_HEADER: Final = "webhook-id"
STANDARD_TIMESTAMP_HEADER: Final = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER: Final = "webhook-signature"
STANDARD_SIGNATURE_VERSION: Final = "v1"


@dataclass(frozen=True)
class Endpoint:
    """One merchant's webhook, with its secrets resolved (never log them)."""

    url: str
    secrets: tuple[bytes, ...]
    timeout_s: float
    signature: SignatureScheme = SignatureScheme.RELAIS

    def __post_init__(self) -> None:
        if self.signature.standard:
            for secret in self.secrets:
                standard_webhook_key(secret.decode())

    def __repr__(self) -> str:
        return (
            f"Endpoint(url={self.url!r}, secrets=<{len(self.secrets)} hidden>, "
            f"signature={self.signature.value})"
        )


def standard_signature(secrets: list[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,<base64>` per secret, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        f"{STANDARD_SIGNATURE_VERSION},"
        + base64.b64encode(
            hmac.new(standard_webhook_key(secret.decode()), signed, hashlib.sha256).digest()
        ).decode()
        for secret in secrets
    )


def signed_headers(
    *, endpoint: Endpoint, body: bytes, idempotency_key: str, timestamp: int
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    secrets = list(endpoint.secrets)
    if endpoint.signature.relais:
        headers[SIGNATURE_HEADER] = signature_header(secrets, timestamp, body)
    if endpoint.signature.standard:
        headers[STANDARD_ID_HEADER] = idempotency_key
        headers[STANDARD_TIMESTAMP_HEADER] = str(timestamp)
        headers[STANDARD_SIGNATURE_HEADER] = standard_signature(
            secrets, idempotency_key, timestamp, body
        )
    return headers


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
