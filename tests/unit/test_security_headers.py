"""Every response of every service carries the baseline security headers, the errors
FastAPI writes itself included, and a route's own headers win."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from relais_runtime.http import build_http_app
from relais_runtime.security_headers import DEFAULT_POLICY, with_defaults

router = APIRouter()


@router.get("/framed")
async def framed() -> HTMLResponse:
    return HTMLResponse(
        "<p>embeddable</p>",
        headers={
            "Content-Security-Policy": "default-src 'self'; frame-ancestors https://shop.example",
            "Cache-Control": "public, max-age=60",
        },
    )


@router.get("/typed")
async def typed(count: int = Query()) -> dict[str, int]:
    return {"count": count}


client = TestClient(build_http_app(service="tests", readiness={}, routers=[router]))


def baseline_of(response_headers: dict[str, str]) -> None:
    assert response_headers["x-content-type-options"] == "nosniff"
    assert response_headers["referrer-policy"] == "no-referrer"


def test_health_unknown_paths_and_validation_errors_carry_the_baseline() -> None:
    for path, status in (("/health", 200), ("/no-such-page", 404), ("/typed?count=x", 422)):
        response = client.get(path)
        assert response.status_code == status, path
        baseline_of(dict(response.headers))
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["content-security-policy"] == DEFAULT_POLICY, path
        assert response.headers["x-frame-options"] == "DENY", path


def test_a_route_that_sets_its_own_policy_and_cache_keeps_them() -> None:
    response = client.get("/framed")
    baseline_of(dict(response.headers))
    assert "frame-ancestors https://shop.example" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "x-frame-options" not in response.headers


def test_headers_are_added_once_and_never_duplicated() -> None:
    once = with_defaults([(b"content-type", b"text/plain")])
    twice = with_defaults(once)
    assert twice == once
    assert len({name for name, _ in once}) == len(once)
