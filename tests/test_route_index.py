"""The ASGI adapter's route index picks the route Starlette's router picks, for any routes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Mount, Route

from burnguard._route_index import RouteIndex

SEGMENTS = st.sampled_from(["a", "b", "c", "{x}", "{n:int}", "f{x}.txt", ""])
PATH_SEGMENTS = st.sampled_from(["a", "b", "c", "7", "f1.txt", "", "zz"])


def _endpoint(template: str) -> Any:
    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse(template)

    return endpoint


def _template(segments: list[str]) -> str:
    """A path from segments, each parameter named after its position (names must differ)."""
    return "/" + "/".join(s.replace("{x", f"{{x{i}").replace("{n", f"{{n{i}") for i, s in enumerate(segments))


@st.composite
def route_lists(draw: Any, prefix: str = "", depth: int = 0) -> list[Any]:
    routes: list[Any] = []
    for _ in range(draw(st.integers(0, 6))):
        template = _template(draw(st.lists(SEGMENTS, min_size=1, max_size=3)))
        if depth == 0 and draw(st.integers(0, 4)) == 0:
            mount = "/" + draw(st.sampled_from(["a", "b", "{m}"]))
            routes.append(Mount(mount, routes=draw(route_lists(prefix + mount, 1))))
            continue
        methods = draw(st.sampled_from([["GET"], ["POST"], ["GET", "POST"]]))
        routes.append(Route(template, _endpoint(prefix + template), methods=methods))
    return routes


def _router_pick(app: Starlette, method: str, path: str) -> tuple[int, str]:
    """What the real app answers: (status, body)."""
    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    scope["app"] = app
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] = answer.get("body", b"") + message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return answer["status"], answer["body"].decode()


@settings(max_examples=300, deadline=None)
@given(route_lists(), st.sampled_from(["GET", "POST"]), st.lists(PATH_SEGMENTS, max_size=4))
def test_the_index_finds_the_routers_route(routes: list[Any], method: str, segments: list[str]) -> None:
    app = Starlette(routes=routes)
    path = _template(segments)
    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    index = RouteIndex(app.router.routes)
    found = index.match(scope)
    status, body = _router_pick(app, method, path)
    if status == 200:
        assert found == body  # the endpoint answers with its own template
    elif status == 405:
        assert found is not None  # a partial match: a route exists for another method
    else:
        assert found is None or any(isinstance(r, Mount) and found == r.path for r in routes)


def test_an_index_notices_routes_added_later() -> None:
    app = Starlette(routes=[Route("/a", _endpoint("/a"))])
    index = RouteIndex(app.router.routes)
    assert index.current(app.router.routes)
    app.add_route("/b", _endpoint("/b"))
    assert not index.current(app.router.routes)
    scope = {"type": "http", "method": "GET", "path": "/b", "headers": [], "query_string": b""}
    assert RouteIndex(app.router.routes).match(scope) == "/b"


def test_an_index_notices_routes_added_under_a_mount() -> None:
    inner = Starlette(routes=[Route("/a", _endpoint("/v1/a"))])
    app = Starlette(routes=[Mount("/v1", app=inner)])
    index = RouteIndex(app.router.routes)
    scope = {"type": "http", "method": "GET", "path": "/v1/b", "headers": [], "query_string": b""}
    assert index.match(scope) == "/v1"
    inner.add_route("/b", _endpoint("/v1/b"))
    assert not index.current(app.router.routes)
    assert RouteIndex(app.router.routes).match(scope) == "/v1/b"


def test_a_request_tries_only_the_routes_under_its_prefix() -> None:
    tried: list[str] = []

    class Counting:
        def __init__(self, route: Route) -> None:
            self.path, self.regex = route.path, route.path_regex

        def match(self, path: str) -> Any:
            tried.append(self.path)
            return self.regex.match(path)

    routes = [Route(f"/r{i}/items", _endpoint(f"/r{i}/items")) for i in range(100)]
    routes.append(Route("/users/{uid}", _endpoint("/users/{uid}")))
    for route in routes:
        route.path_regex = Counting(route)  # type: ignore[assignment]
    scope = {"type": "http", "method": "GET", "path": "/users/7", "headers": [], "query_string": b""}
    assert RouteIndex(routes).match(scope) == "/users/{uid}"
    assert tried == ["/users/{uid}"]


def test_routes_with_their_own_matches_are_asked_in_order() -> None:
    class Only7(Route):
        def matches(self, scope: Any) -> Any:
            return super().matches(scope) if scope["path"].endswith("/7") else (Match.NONE, {})

    routes = [Only7("/users/{uid}", _endpoint("only 7")), Route("/users/{name}", _endpoint("/users/{name}"))]
    app = Starlette(routes=[Mount("/v1", routes=routes)])
    for path, expected in [("/v1/users/7", "/v1/users/{uid}"), ("/v1/users/8", "/v1/users/{name}")]:
        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
        assert RouteIndex(app.router.routes).match(scope) == expected


def test_the_first_route_in_the_routers_order_wins_across_prefixes() -> None:
    literal, param = Route("/a/b", _endpoint("/a/b")), Route("/{x}/b", _endpoint("/{x}/b"))
    scope = {"type": "http", "method": "GET", "path": "/a/b", "headers": [], "query_string": b""}
    assert RouteIndex([literal, param]).match(scope) == "/a/b"
    assert RouteIndex([param, literal]).match(scope) == "/{x}/b"


def test_fastapi_routers_included_at_any_depth_are_found_by_their_full_template() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.responses import PlainTextResponse as FastAPIText

    app = FastAPI()
    api, inner = APIRouter(prefix="/api"), APIRouter(prefix="/inner")

    @api.get("/items/{item_id}", response_class=FastAPIText)
    async def item(item_id: int) -> str:
        return "/api/items/{item_id}"

    @inner.post("/x/{y}", response_class=FastAPIText)
    async def inner_x(y: str) -> str:
        return "/api/inner/x/{y}"

    @app.get("/api/{anything}", response_class=FastAPIText)
    async def anything(anything: str) -> str:
        return "/api/{anything}"

    api.include_router(inner)
    app.include_router(api)
    index = RouteIndex(app.router.routes)
    cases = [("GET", "/api/items/3"), ("POST", "/api/inner/x/q"), ("GET", "/api/zz"), ("GET", "/docs")]
    for method, path in cases:
        scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
        status, body = _router_pick(app, method, path)
        assert status == 200
        expected = "/docs" if path == "/docs" else body
        assert index.match(scope) == expected, (method, path)
    scope = {"type": "http", "method": "GET", "path": "/api/inner/x/q", "headers": [], "query_string": b""}
    assert _router_pick(app, "GET", "/api/inner/x/q")[0] == 405
    assert index.match(scope) == "/api/inner/x/{y}"


def test_paths_below_a_root_path_are_matched_as_the_router_reads_them() -> None:
    app = Starlette(routes=[Route("/users/{uid}", _endpoint("/users/{uid}"))])
    scope = {"type": "http", "method": "GET", "path": "/svc/users/7", "root_path": "/svc", "headers": []}
    assert RouteIndex(app.router.routes).match(scope) == "/users/{uid}"


def test_the_middleware_enforces_routes_added_after_it_served_requests() -> None:
    from starlette.testclient import TestClient

    from burnguard import CircuitBreaker, RouteGuard
    from burnguard.asgi import GuardMiddleware

    breaker = CircuitBreaker("late")
    app = Starlette(routes=[Route("/a", _endpoint("/a"))])
    app.add_middleware(GuardMiddleware, guard=RouteGuard(breakers={"GET /late": breaker}))
    client = TestClient(app)
    assert client.get("/a").status_code == 200
    app.add_route("/late", _endpoint("/late"))
    breaker.force_open()
    assert client.get("/late").status_code == 503
    assert client.get("/a").status_code == 200
