"""Each service's HTTP surface: /health, /ready, /metrics, plus its own routes.

- /health answers 200 while the process runs (liveness: restart me if not), with the
  service's name and the Relais version; building the app also sets
  `relais_build_info{version,service}` to 1;
- /ready answers 200 only when every readiness check passes (Kafka and
  PostgreSQL reachable), 503 otherwise with the failing checks named;
- /metrics is the Prometheus exposition of `relais_runtime.metrics`;
- every request body is limited to `max_body_bytes` before anything parses it: 413
  beyond (relais_runtime.body_limit);
- every response carries at least the baseline security headers
  (relais_runtime.security_headers), errors FastAPI writes itself included.

uvicorn's own logging configuration is off (`log_config=None`): its loggers propagate to
the root handler of `relais_runtime.logging` (JSON, redaction, no query strings), and
access lines are not written (`access_log=False`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from relais_runtime.body_limit import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from relais_runtime.metrics import BUILD_INFO
from relais_runtime.security_headers import SecurityHeaders
from relais_runtime.version import version

ReadinessCheck = Callable[[], Awaitable[bool]]


def build_http_app(
    *,
    service: str,
    readiness: Mapping[str, ReadinessCheck],
    problems: Callable[[], Mapping[str, str]] | None = None,
    routers: Sequence[APIRouter] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    running = version()
    BUILD_INFO.labels(version=running, service=service).set(1)
    app = FastAPI(title=f"Relais {service}", version=running, docs_url="/docs", redoc_url=None)
    app.add_middleware(BodySizeLimit, max_body_bytes=max_body_bytes)
    app.add_middleware(SecurityHeaders)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service, "version": running}

    @app.get("/ready", tags=["operations"])
    async def ready() -> JSONResponse:
        names = list(readiness)
        results = await asyncio.gather(*(readiness[name]() for name in names))
        checks = {
            name: "ok" if passed else "failing" for name, passed in zip(names, results, strict=True)
        }
        status = 200 if all(results) else 503
        body: dict[str, object] = {
            "status": "ok" if status == 200 else "not ready",
            "checks": checks,
        }
        if problems is not None and (found := problems()):
            body["problems"] = dict(found)
        return JSONResponse(body, status)

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    return app


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the service runtime."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def make_server(app: FastAPI, *, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    return EmbeddedServer(config)
