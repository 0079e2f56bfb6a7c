"""Per-request overhead of the ASGI middleware: a bare ASGI app against the same app wrapped
by burnguard's SLOMiddleware and by slo-budget-tracker's. Each round drives 1,000 requests
through the app directly (no HTTP stack), so the figures are per 1,000 requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import slo_budget_tracker as peer

import burnguard

REQUESTS = 1_000
SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": []}
START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"ok"}


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send(START)
    await send(BODY)


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def send(message: Any) -> None:
    return None


def _drive(asgi: Any) -> Any:
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(REQUESTS):
            await asgi(SCOPE, receive, send)

    return lambda: loop.run_until_complete(many())


def _ours() -> Any:
    t = burnguard.SLOTracker(burnguard.SLODefinition(name="a", target=0.999))
    return burnguard.SLOMiddleware(app, tracker=t)


def _theirs() -> Any:
    t = peer.SLOTracker(peer.SLODefinition(name="a", target=0.999))
    return peer.SLOMiddleware(app, tracker=t)


@pytest.mark.benchmark(group="asgi: 1,000 requests")
@pytest.mark.parametrize("variant", ["bare app", "burnguard", "slo-budget-tracker"])
def test_asgi_overhead(benchmark, variant: str) -> None:  # type: ignore[no-untyped-def]
    asgi = {"bare app": lambda: app, "burnguard": _ours, "slo-budget-tracker": _theirs}[variant]()
    benchmark(_drive(asgi))


# Per-route middleware on a real Starlette app (router, one templated route), called directly.


async def _user(request: Any) -> Any:
    from starlette.responses import Response

    return Response(b"ok")


def _starlette(*middleware: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.routing import Route

    return Starlette(routes=[Route("/users/{uid}", _user)], middleware=list(middleware))


ROUTE_SCOPE = {"type": "http", "method": "GET", "path": "/users/7", "headers": [], "query_string": b""}


def _drive_routes(asgi: Any) -> Any:
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(REQUESTS):
            await asgi(dict(ROUTE_SCOPE), receive, send)

    return lambda: loop.run_until_complete(many())


def _route_variant(variant: str) -> Any:
    from starlette.middleware import Middleware

    if variant == "bare app":
        return _starlette()
    if variant == "burnguard":
        return _starlette(Middleware(burnguard.asgi.GuardMiddleware))
    if variant == "burnguard + SLO + breaker":
        slo = burnguard.RouteSLO(availability=burnguard.SLOTracker(burnguard.SLODefinition("a", 0.999)))
        guard = burnguard.RouteGuard(slos={"*": slo}, breakers={"*": burnguard.CircuitBreaker("api")})
        return _starlette(Middleware(burnguard.asgi.GuardMiddleware, guard=guard))
    if variant == "cloudmeter":
        from cloudmeter.fastapi import CloudMeterMiddleware

        return _starlette(Middleware(CloudMeterMiddleware, port=0))
    tracker = peer.SLOTracker(peer.SLODefinition(name="a", target=0.999))
    return _starlette(Middleware(peer.SLOMiddleware, tracker=tracker))


@pytest.mark.benchmark(group="per-route middleware on Starlette: 1,000 requests")
@pytest.mark.parametrize(
    "variant", ["bare app", "burnguard", "burnguard + SLO + breaker", "cloudmeter", "slo-budget-tracker"]
)
def test_route_middleware_overhead(benchmark, variant: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info.update(baseline=variant == "bare app", calls=REQUESTS)
    benchmark(_drive_routes(_route_variant(variant)))


# Enforcement (SLO + breaker on every route) with 1, 20 and 100 routes in the app, the hot one
# last (FastAPI's own docs routes come first too): what the guard adds must not grow with them.


def _enforced_app(framework: str, routes: int, guarded: bool) -> Any:
    from starlette.middleware import Middleware

    middleware = []
    if guarded:
        slo = burnguard.RouteSLO(availability=burnguard.SLOTracker(burnguard.SLODefinition("a", 0.999)))
        guard = burnguard.RouteGuard(slos={"*": slo}, breakers={"*": burnguard.CircuitBreaker("api")})
        middleware = [Middleware(burnguard.asgi.GuardMiddleware, guard=guard)]
    if framework == "starlette":
        from starlette.applications import Starlette
        from starlette.routing import Route

        table = [Route(f"/other{i}/{{x}}", _user) for i in range(routes - 1)]
        return Starlette(routes=[*table, Route("/users/{uid}", _user)], middleware=middleware)
    from fastapi import FastAPI

    app = FastAPI(middleware=middleware)

    async def other(x: str) -> str:
        return "ok"

    async def user(uid: int) -> str:
        return "ok"

    for i in range(routes - 1):
        app.add_api_route(f"/other{i}/{{x}}", other)
    app.add_api_route("/users/{uid}", user)
    return app


@pytest.mark.benchmark(group="enforcement by app size: 1,000 requests")
@pytest.mark.parametrize("routes", [1, 20, 100])
@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
@pytest.mark.parametrize("variant", ["bare app", "burnguard SLO + breaker"])
def test_enforcement_by_app_size(benchmark, framework: str, routes: int, variant: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"enforcement on {framework}, {routes} routes: 1,000 requests"
    benchmark.extra_info.update(baseline=variant == "bare app", calls=REQUESTS)
    benchmark(_drive_routes(_enforced_app(framework, routes, variant != "bare app")))
