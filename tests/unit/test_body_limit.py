"""The body size limit of every service's HTTP app (relais_runtime.body_limit): 413 from
Content-Length before reading, 413 while a chunked body streams past the limit, never
parsing an oversized body; smaller bodies reach the app unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Body
from starlette.types import Message, Receive, Scope, Send

from relais_runtime.body_limit import DEFAULT_MAX_BODY_BYTES, BodySizeLimit, declared_length
from relais_runtime.http import build_http_app

LIMIT = 1024


class EchoApp:
    """Reads the whole body, then answers 200 with its size; remembers what it saw."""

    def __init__(self) -> None:
        self.calls = 0
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        payload = json.dumps({"size": len(body)}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": payload})


def _scope(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/", "headers": headers}


class Exchange:
    """The client side of one ASGI request: body chunks in, messages out."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.read = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        index = self.read
        self.read += 1
        if index >= len(self._chunks):
            return {"type": "http.disconnect"}
        more = index + 1 < len(self._chunks)
        return {"type": "http.request", "body": self._chunks[index], "more_body": more}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def headers(self) -> dict[bytes, bytes]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"])

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent if "body" in m))


async def _run(app: EchoApp, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> Exchange:
    exchange = Exchange(chunks)
    await BodySizeLimit(app, max_body_bytes=LIMIT)(_scope(headers), exchange.receive, exchange.send)
    return exchange


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    app = EchoApp()
    exchange = await _run(app, [(b"content-length", b"1025")], [b"x" * 1025])

    assert exchange.status == 413
    assert exchange.body == {"detail": f"request body larger than {LIMIT} bytes"}
    assert exchange.headers[b"connection"] == b"close"
    assert (app.calls, exchange.read) == (0, 0), "neither the app nor the body was touched"


async def test_a_chunked_body_is_refused_once_it_passes_the_limit() -> None:
    app = EchoApp()
    chunks = [b"x" * 400] * 10
    exchange = await _run(app, [(b"transfer-encoding", b"chunked")], chunks)

    assert exchange.status == 413
    assert [m["type"] for m in exchange.sent] == ["http.response.start", "http.response.body"]
    assert exchange.read == 3, "reading stopped at the chunk that passed the limit"
    assert app.bodies == [], "the app never got the body"


async def test_a_lying_content_length_is_still_counted() -> None:
    app = EchoApp()
    exchange = await _run(app, [(b"content-length", b"10")], [b"x" * 600, b"x" * 600])

    assert exchange.status == 413


@pytest.mark.parametrize("size", [0, 1, LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_bodies_up_to_the_limit_pass_unchanged(size: int, chunked: bool) -> None:
    app = EchoApp()
    body = bytes(range(256)) * (size // 256) + b"y" * (size % 256)
    headers = (
        [(b"transfer-encoding", b"chunked")]
        if chunked
        else [(b"content-length", str(size).encode())]
    )
    chunks = [body[i : i + 100] for i in range(0, size, 100)] if chunked else [body]
    exchange = await _run(app, headers, chunks or [b""])

    assert exchange.status == 200
    assert app.bodies == [body]


async def test_other_scopes_and_app_errors_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        if scope["type"] == "http":
            raise RuntimeError("the app's own bug")

    limited = BodySizeLimit(app, max_body_bytes=LIMIT)
    exchange = Exchange([])
    await limited({"type": "lifespan"}, exchange.receive, exchange.send)
    with pytest.raises(RuntimeError, match="the app's own bug"):
        await limited(_scope([]), exchange.receive, exchange.send)
    assert seen == ["lifespan", "http"]


def test_declared_length_reads_the_header() -> None:
    assert declared_length(_scope([(b"Content-Length", b" 42 ")])) == 42
    assert declared_length(_scope([(b"content-length", b"-1")])) is None
    assert declared_length(_scope([])) is None


def _service_app(parsed: list[dict[str, Any]], max_body_bytes: int | None = None) -> Any:
    """A service app with one JSON route; the default limit unless one is given."""
    router = APIRouter()

    @router.post("/v1/things")
    async def things(body: dict[str, Any] = Body()) -> dict[str, int]:  # noqa: B008
        parsed.append(body)
        return {"keys": len(body)}

    if max_body_bytes is None:
        return build_http_app(service="test", readiness={}, routers=[router])
    return build_http_app(
        service="test", readiness={}, routers=[router], max_body_bytes=max_body_bytes
    )


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for index in range(0, len(data), size):
        yield data[index : index + size]


async def test_every_service_app_limits_bodies_before_parsing() -> None:
    parsed: list[dict[str, Any]] = []
    app = _service_app(parsed, max_body_bytes=2048)
    big = json.dumps({"text": "x" * 4096}).encode()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        declared = await client.post("/v1/things", content=big)
        streamed = await client.post("/v1/things", content=_chunks(big, 512))
        small = await client.post("/v1/things", json={"a": 1, "b": 2})

    assert (declared.status_code, streamed.status_code, small.status_code) == (413, 413, 200)
    assert declared.json() == {"detail": "request body larger than 2048 bytes"}
    assert parsed == [{"a": 1, "b": 2}], "no oversized body was parsed"


async def test_the_default_limit_is_one_mebibyte() -> None:
    parsed: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=_service_app(parsed))
    over = json.dumps({"text": "x" * DEFAULT_MAX_BODY_BYTES}).encode()
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.post("/v1/things", content=over)
        accepted = await client.post("/v1/things", json={"text": "x" * 1000})

    assert DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert (refused.status_code, accepted.status_code) == (413, 200)
