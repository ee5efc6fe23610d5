"""A real HTTP server playing the merchants' action endpoints, recording every request.

Each path is one merchant's endpoint; a test scripts what it answers, request after
request (the last behaviour repeats): a status, or a delay before answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from tests.conftest import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay_s: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.monotonic() when it arrived."""

    @property
    def idempotency_key(self) -> str:
        return self.headers["idempotency-key"]


@dataclass
class MerchantServer:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=lambda: defaultdict(list))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts[path] = list(answers)

    def requests_to(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    def next_answer(self, path: str) -> Answer:
        answers = self.scripts.get(path) or [Answer()]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await request.body()
        path = request.url.path
        self.received.append(
            Received(path=path, headers=dict(request.headers), body=body, at=time.monotonic())
        )
        answer = self.next_answer(path)
        if answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if 200 <= answer.status < 300:
            reference = f"ref-{request.headers.get('idempotency-key')}"
            return JSONResponse({"status": "completed", "reference": reference}, answer.status)
        return JSONResponse({"error": "scripted failure"}, answer.status)


@contextlib.asynccontextmanager
async def serving(app: ASGIApp, *, port: int) -> AsyncIterator[None]:
    """`app` answers on 127.0.0.1:`port` for the block; a server that fails to start raises."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def running_merchant_server() -> AsyncIterator[MerchantServer]:
    merchant = MerchantServer(port=free_port())
    app = Starlette(routes=[Route("/{path:path}", merchant.endpoint, methods=["POST"])])
    async with serving(app, port=merchant.port):
        yield merchant
