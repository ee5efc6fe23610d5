"""The order API's OpenAPI document (typed bodies, security scheme, error answers) and
the answers it describes, on a router mounted with an in-memory producer (no Kafka).

The integration tests (tests/integration/tracker/test_orders_api.py) run the same API
against a real tracker; here the point is that describing it changed none of them."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from relais_contracts.topics import orders
from relais_runtime.api_keys import ApiKeyRing, api_key_sha256
from relais_tracker.domain import ENVELOPE_FIELDS
from relais_tracker.handlers.orders_api import OrderApi, orders_router
from relais_tracker.handlers.orders_api_models import OrderRequest, OrderUpdateRequest
from tests.conftest import REPO_ROOT

KEY = "rk_" + "k" * 43
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class MemoryProducer:
    """What publish_events needs of an AIOKafkaProducer: `send` returning a future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(self, topic: str, *, value: bytes, key: bytes | None, headers: Any) -> Any:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def example_order() -> dict[str, Any]:
    example = json.loads(
        (orders.TOPIC.examples_dir() / "OrderPlaced-home-colissimo.json").read_text()
    )
    for name in ENVELOPE_FIELDS | {"correlation_id"}:
        example.pop(name, None)
    return dict(example)


def app_with(producer: MemoryProducer, *, merchant_id: str = "shop-a") -> FastAPI:
    api = OrderApi(
        producer=producer,  # type: ignore[arg-type]
        pool=None,  # type: ignore[arg-type]
        topic=orders.TOPIC,
        keys=ApiKeyRing(merchants_by_hash={api_key_sha256(KEY): merchant_id}),
        now=lambda: NOW,
    )
    app = FastAPI()
    app.include_router(orders_router(api))
    return app


@pytest.fixture
def openapi() -> dict[str, Any]:
    return app_with(MemoryProducer()).openapi()


def test_the_security_scheme_is_the_bearer_key_the_api_checks(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["MerchantApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == [{"MerchantApiKey": []}], (method, path)
            names = [parameter["name"].lower() for parameter in operation.get("parameters", [])]
            assert "authorization" not in names, "the key is the scheme, not a parameter"
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorMessage"
            }


def test_bodies_and_answers_are_typed(openapi: dict[str, Any]) -> None:
    def ref(operation: dict[str, Any], *where: str) -> str:
        node: Any = operation
        for key in where:
            node = node[key]
        value: str = node["content"]["application/json"]["schema"]["$ref"]
        return value.rsplit("/", 1)[1]

    paths = openapi["paths"]
    place = paths["/v1/orders"]["post"]
    update = paths["/v1/orders/{order_id}"]["put"]
    cancel = paths["/v1/orders/{order_id}/cancel"]["post"]
    read = paths["/v1/orders/{order_id}"]["get"]
    assert ref(place, "requestBody") == "OrderRequest"
    assert place["requestBody"]["required"] is True
    assert ref(update, "requestBody") == "OrderUpdateRequest"
    assert ref(cancel, "requestBody") == "CancelRequest"
    assert cancel["requestBody"].get("required", False) is False, "the reason may be left out"
    for operation in (place, update, cancel):
        assert ref(operation, "responses", "202") == "OrderAccepted"
        assert ref(operation, "responses", "422") == "ValidationProblems"
        assert ref(operation, "responses", "413") == "ErrorMessage"
    assert ref(read, "responses", "200") == "OrderView"
    assert ref(read, "responses", "404") == "ErrorMessage"

    schemas = openapi["components"]["schemas"]
    request = schemas["OrderRequest"]
    contract = set(orders.OrderPlaced.model_fields) - ENVELOPE_FIELDS - {"correlation_id"}
    assert set(request["properties"]) == contract
    assert not ENVELOPE_FIELDS & set(request["properties"]), "the API sets the envelope"
    assert "order_id" in request["required"]
    assert "order_id" not in schemas["OrderUpdateRequest"].get("required", [])
    assert request["properties"]["parcels"]["items"] == {"$ref": "#/components/schemas/Parcel"}
    assert schemas["CancelRequest"]["properties"]["reason"]["$ref"].endswith("CancellationReason")


def test_the_documented_request_accepts_the_topic_example() -> None:
    body = example_order()
    OrderRequest.model_validate(body)
    OrderUpdateRequest.model_validate({k: v for k, v in body.items() if k != "order_id"})


async def test_the_answers_are_those_the_api_always_gave() -> None:
    producer = MemoryProducer()
    transport = httpx.ASGITransport(app=app_with(producer))
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
        body = example_order()
        bearer = {"Authorization": f"Bearer {KEY}"}

        for headers in ({}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer no"}):
            refused = await client.post("/v1/orders", json=body, headers=headers)
            assert refused.status_code == 401
            assert refused.json() == {"detail": "missing or invalid API key"}
            assert refused.headers["www-authenticate"] == "Bearer"
        padded = {"Authorization": f"bearer   {KEY}  "}
        assert (await client.post("/v1/orders", json=body, headers=padded)).status_code == 202

        not_an_object = await client.post("/v1/orders", json=[1], headers=bearer)
        assert not_an_object.status_code == 422
        problem = not_an_object.json()["detail"][0]
        assert (problem["loc"], problem["type"]) == (["body"], "dict_type")

        spoofed = await client.post(
            "/v1/orders", json={**body, "merchant_id": "shop-b"}, headers=bearer
        )
        assert spoofed.status_code == 422
        assert spoofed.json() == {
            "detail": [{"loc": ["body", "merchant_id"], "msg": "set by the API, not by the caller"}]
        }
        wrong_url = await client.put("/v1/orders/other", json=body, headers=bearer)
        assert wrong_url.json() == {
            "detail": [{"loc": ["body", "order_id"], "msg": "differs from URL"}]
        }

        placed = await client.post("/v1/orders", json=body, headers=bearer)
        assert placed.status_code == 202
        answer = placed.json()
        assert set(answer) == {"accepted", "event_type"}
        assert answer["event_type"] == "OrderPlaced"
        UUID(answer["accepted"])

        cancelled = await client.post(f"/v1/orders/{body['order_id']}/cancel", headers=bearer)
        assert (cancelled.status_code, cancelled.json()["event_type"]) == (202, "OrderCancelled")
        with_null = await client.post(
            f"/v1/orders/{body['order_id']}/cancel",
            content=b"null",
            headers={**bearer, "Content-Type": "application/json"},
        )
        assert with_null.status_code == 202
        bad_reason = await client.post(
            f"/v1/orders/{body['order_id']}/cancel", json={"reason": "bored"}, headers=bearer
        )
        assert bad_reason.status_code == 422
        assert bad_reason.json()["detail"][0]["loc"] == ["body", "reason"]

    published = [orders.TOPIC.decode(value) for _, _, value in producer.sent]
    assert [event.event_type for event in published] == [
        "OrderPlaced",
        "OrderPlaced",
        "OrderCancelled",
        "OrderCancelled",
    ]
    assert {event.merchant_id for event in published} == {"shop-a"}


DOC = Path(REPO_ROOT) / "docs" / "api.md"
DOC_MERCHANT = "maison-lumiere"


@dataclass(frozen=True)
class Exchange:
    name: str
    method: str
    path: str
    body: bytes | None
    with_key: bool
    status: int
    headers: dict[str, str]
    answer: Any


def documented_exchanges() -> list[Exchange]:
    """Each `<!-- request: name -->` curl block of docs/api.md with its `answer`."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for name, block in re.findall(r"<!-- request: ([\w-]+) -->\n```bash\n(.*?)```", text, re.S):
        answer = re.search(rf"<!-- answer: {name} -->\n```http\n(.*?)```", text, re.S)
        assert answer, f"docs/api.md: request {name} has no answer"
        head, _, payload = answer.group(1).partition("\n\n")
        status_line, *header_lines = head.splitlines()
        method = re.search(r"-X (\w+)", block)
        path = re.search(r'"\$RELAIS_TRACKER(/[^"]*)"', block)
        assert path, f"docs/api.md: request {name} has no $RELAIS_TRACKER URL"
        body = re.search(r"<<'JSON'\n(.*?)\nJSON\n", block, re.S)
        found.append(
            Exchange(
                name=name,
                method=method.group(1) if method else "GET",
                path=path.group(1),
                body=body.group(1).encode() if body else None,
                with_key="$RELAIS_API_KEY" in block,
                status=int(status_line.split()[1]),
                headers=dict(line.split(": ", 1) for line in header_lines),
                answer=json.loads(payload),
            )
        )
    return found


async def test_the_documented_requests_get_the_documented_answers() -> None:
    exchanges = documented_exchanges()
    assert {e.name for e in exchanges} >= {"place", "update", "cancel", "invalid", "no-key"}
    producer = MemoryProducer()
    transport = httpx.ASGITransport(app=app_with(producer, merchant_id=DOC_MERCHANT))
    async with httpx.AsyncClient(transport=transport, base_url="http://tracker") as client:
        for exchange in exchanges:
            headers = {"Content-Type": "application/json"} if exchange.body else {}
            if exchange.with_key:
                headers["Authorization"] = f"Bearer {KEY}"
            response = await client.request(
                exchange.method, exchange.path, content=exchange.body, headers=headers
            )
            assert response.status_code == exchange.status, (exchange.name, response.text)
            for name, value in exchange.headers.items():
                assert response.headers[name] == value, (exchange.name, name)
            answer = response.json()
            if exchange.method == "PUT":  # an update's event id includes when it came
                answer["accepted"] = exchange.answer["accepted"]
            assert answer == exchange.answer, exchange.name
