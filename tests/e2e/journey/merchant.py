"""The merchants' systems in the journey: a real HTTP server receiving action webhooks.

Rules (what a careful merchant does, docs/webhooks.md):
- a request whose Relais-Signature does not verify with that merchant's secret, at the
  merchant's own (real) time, is answered 401 and has no effect;
- the first request carrying a new Idempotency-Key is answered 503 when `flaky_once`
  is set (the merchant's back office is briefly down), so Relais must retry it;
- an effect (the reship, the callback ticket...) is recorded once per Idempotency-Key;
  a key seen again gets the first answer again and no second effect.
Every request is kept, verified or not, so a test can check what was sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relais_contracts.webhooks import SignatureError, verify_signature
from tests.integration.actions.merchant_server import free_port, serving


@dataclass(frozen=True)
class Received:
    merchant_id: str
    idempotency_key: str
    signature: str
    body: bytes
    status: int

    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass(frozen=True)
class Effect:
    merchant_id: str
    idempotency_key: str
    shipment_id: str
    action: str
    reference: str


@dataclass
class MerchantSystems:
    secrets: dict[str, str]
    flaky_once: bool = True
    port: int = 0
    received: list[Received] = field(default_factory=list)
    effects: dict[str, Effect] = field(default_factory=dict)
    """By idempotency key: what the merchant actually did."""
    failed_once: set[str] = field(default_factory=set)

    def url(self, merchant_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{merchant_id}/relais/actions"

    def requests_for(self, shipment_id: str) -> list[Received]:
        return [r for r in self.received if r.json().get("shipment_id") == shipment_id]

    def effects_for(self, shipment_id: str) -> list[Effect]:
        return [e for e in self.effects.values() if e.shipment_id == shipment_id]

    async def endpoint(self, request: Request) -> Response:
        merchant_id = request.path_params["merchant"]
        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        signature = request.headers.get("relais-signature", "")
        status, answer = self.answer(
            merchant_id=merchant_id, key=key, signature=signature, body=body
        )
        self.received.append(
            Received(
                merchant_id=merchant_id,
                idempotency_key=key,
                signature=signature,
                body=body,
                status=status,
            )
        )
        return JSONResponse(answer, status_code=status)

    def answer(
        self, *, merchant_id: str, key: str, signature: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        secret = self.secrets.get(merchant_id)
        if secret is None:
            return 404, {"message": "unknown merchant"}
        try:
            verify_signature(secret.encode(), signature, body, datetime.now(UTC))
        except SignatureError as error:
            return 401, {"message": str(error)}
        if not key:
            return 400, {"message": "Idempotency-Key is required"}
        if key not in self.effects:
            if self.flaky_once and key not in self.failed_once:
                self.failed_once.add(key)
                return 503, {"message": "back office briefly unavailable"}
            request = json.loads(body)
            self.effects[key] = Effect(
                merchant_id=merchant_id,
                idempotency_key=key,
                shipment_id=str(request.get("shipment_id", "")),
                action=str(request.get("action", {}).get("action", "")),
                reference=f"BO-{len(self.effects) + 1:04d}",
            )
        return 200, {"status": "completed", "reference": self.effects[key].reference}


@asynccontextmanager
async def running_merchant_systems(*, secrets: dict[str, str]) -> AsyncIterator[MerchantSystems]:
    systems = MerchantSystems(secrets=secrets, port=free_port())
    app = Starlette(
        routes=[Route("/{merchant}/relais/actions", systems.endpoint, methods=["POST"])]
    )
    async with serving(app, port=systems.port):
        yield systems
