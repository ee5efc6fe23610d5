"""The body size limit through a real uvicorn server on loopback, spoken to over raw TCP:
a declared Content-Length over the limit is answered 413 before a byte of the body is
sent; a chunked body is answered 413 while the client is still streaming it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Body

from relais_runtime.http import build_http_app, make_server
from tests.conftest import free_port

LIMIT = 4096


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    parsed: list[dict[str, Any]] = []
    router = APIRouter()

    @router.post("/v1/things")
    async def things(body: dict[str, Any] = Body()) -> dict[str, int]:  # noqa: B008
        parsed.append(body)
        return {"keys": len(body)}

    port = free_port()
    app = build_http_app(service="test", readiness={}, routers=[router], max_body_bytes=LIMIT)
    uvicorn_server = make_server(app, host="127.0.0.1", port=port)
    task = asyncio.create_task(uvicorn_server.serve())
    while not uvicorn_server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port, parsed
    finally:
        uvicorn_server.should_exit = True
        await task


async def _status_line(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    return head.split(b"\r\n", 1)[0], head


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(
    server: tuple[int, list[dict[str, Any]]],
) -> None:
    port, parsed = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /v1/things HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        await writer.drain()
        status, head = await _status_line(reader)
    finally:
        writer.close()
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"connection: close" in head.lower()
    assert parsed == []


async def test_a_chunked_body_is_refused_while_it_streams(
    server: tuple[int, list[dict[str, Any]]],
) -> None:
    port, parsed = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    chunk = b"x" * 1024
    try:
        writer.write(
            b"POST /v1/things HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(b'7\r\n{"a": "\r\n')
        for _ in range(LIMIT // len(chunk) + 1):
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        status, _ = await _status_line(reader)  # the final 0-chunk was never sent
    finally:
        writer.close()
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert parsed == []


async def test_bodies_under_the_limit_are_served(server: tuple[int, list[dict[str, Any]]]) -> None:
    port, parsed = server
    body = {"text": "x" * (LIMIT - 100)}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/v1/things", json=body)
    assert response.status_code == 200
    assert parsed == [body]
