"""Routes find their context through a dependency, per router, never through a global."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from relais_runtime.routes import context_of, router_for


@dataclass(frozen=True)
class Shop:
    name: str


@dataclass(frozen=True)
class Other:
    name: str


def greeting(shop: Annotated[Shop, Depends(context_of(Shop))]) -> dict[str, str]:
    return {"shop": shop.name}


def shop_name(shop: Annotated[Shop, Depends(context_of(Shop))]) -> str:
    return shop.name


def nested(name: Annotated[str, Depends(shop_name)]) -> dict[str, str]:
    return {"nested": name}


def test_each_router_hands_its_own_context_to_its_routes() -> None:
    app = FastAPI()
    first = router_for(Shop("first"), prefix="/a")
    first.add_api_route("/hello", greeting, methods=["GET"])
    first.add_api_route("/nested", nested, methods=["GET"])
    second = router_for(Shop("second"), prefix="/b")
    second.add_api_route("/hello", greeting, methods=["GET"])
    app.include_router(first)
    app.include_router(second)
    client = TestClient(app)

    assert client.get("/a/hello").json() == {"shop": "first"}
    assert client.get("/b/hello").json() == {"shop": "second"}
    assert client.get("/a/nested").json() == {"nested": "first"}


def test_a_route_mounted_with_another_context_type_fails_loudly() -> None:
    app = FastAPI()
    router = router_for(Other("x"))
    router.add_api_route("/hello", greeting, methods=["GET"])
    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=True)

    with pytest.raises(TypeError, match="needs a Shop context"):
        client.get("/hello")
