"""Routes as plain functions with FastAPI dependencies, not closures in a router factory.

A service's wiring builds one context object (its application steps, settings and
signers) and hands it to `router_for(context)`. Route functions are module-level;
they receive the context, and anything derived from it (the authenticated merchant,
the session, the period), through `Depends`:

    router = router_for(context)
    router.add_api_route("/orders/{order_id}", get_order, methods=["GET"])

    async def get_order(order_id: str, shop: Annotated[Shop, Depends(context_of(Shop))]):
        ...

The router's own dependency puts the context on the request before any other
dependency runs, so tests mount the router on any FastAPI app, and two services in
one process (the end-to-end stack) never see each other's context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request

ContextT = TypeVar("ContextT")

_STATE_KEY = "relais_route_context"


def router_for(context: object, **router_options: Any) -> APIRouter:
    """An APIRouter whose routes find `context` with `Depends(context_of(<its type>))`."""

    async def attach_context(request: Request) -> None:
        setattr(request.state, _STATE_KEY, context)

    dependencies = [Depends(attach_context), *router_options.pop("dependencies", ())]
    return APIRouter(dependencies=dependencies, **router_options)


def context_of(kind: type[ContextT]) -> Callable[[Request], Awaitable[ContextT]]:
    """A dependency returning the context of the router that matched, checked to be a `kind`.

    Both dependencies are coroutines: FastAPI would run plain functions in a worker
    thread, a thread hop each on every request."""

    async def context(request: Request) -> ContextT:
        found = getattr(request.state, _STATE_KEY, None)
        if not isinstance(found, kind):
            raise TypeError(f"route needs a {kind.__name__} context; mount it with router_for()")
        return found

    context.__name__ = f"context_of_{kind.__name__}"
    return context
