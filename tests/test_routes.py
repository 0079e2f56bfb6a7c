"""Per-route windows and the ASGI (FastAPI) and WSGI (Flask) adapters, on real apps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from burnguard import CircuitBreaker, Ledger, PrometheusExporter, SLODefinition, SLOTracker, Subject, Unit
from burnguard.asgi import GuardMiddleware
from burnguard.middleware import RouteBudget, RouteGuard, RouteSLO
from burnguard.routes import RouteTable
from burnguard.wsgi import FlaskGuard
from burnguard.wsgi import GuardMiddleware as WSGIGuardMiddleware

T0 = 1_767_225_600.0


def test_route_table_figures_and_bounds() -> None:
    table = RouteTable(max_routes=2, retain_seconds=86_400)
    users = table.route("GET /users/{id}")
    for i in range(100):
        users.record((i + 1) / 1000, error=i % 4 == 0, bytes=100, at=T0 + i * 0.1)
    s = users.summary(60.0, now=T0 + 60)
    assert (s.route, s.requests, s.errors, s.bytes) == ("GET /users/{id}", 100, 25, 10_000)
    assert s.error_ratio == 0.25
    assert s.mean_seconds == pytest.approx(0.0505)
    assert s.max == 0.1
    for got, want in [(s.p50, 0.050), (s.p90, 0.090), (s.p95, 0.095), (s.p99, 0.099)]:
        assert got == pytest.approx(want, rel=0.01)
    assert s.covered_seconds == 60.0 and s.rps == pytest.approx(100 / 60)
    empty = users.summary(60.0, now=T0 + 3600)
    assert empty.requests == 0 and empty.p99 != empty.p99  # nan
    table.route("GET /a")
    assert table.route("GET /b").key == "OTHER" and table.route("GET /c").key == "OTHER"
    assert table.keys() == ["GET /a", "GET /users/{id}", "OTHER"]
    assert users.memory_bytes < 400_000 and users.dropped == 0


def test_bad_input_names_the_parameter() -> None:
    table = RouteTable(retain_seconds=86_400)
    route = table.route("GET /")
    for duration in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^duration "):
            route.record(duration)
    with pytest.raises(ValueError, match=r"^bytes must be >= 0; got -1"):
        route.record(0.1, bytes=-1)
    with pytest.raises(ValueError, match=r"^at "):
        route.record(0.1, at=float("nan"))
    for window in (0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^window_seconds "):
            route.summary(window)
    with pytest.raises(ValueError, match=r"^now "):
        route.summary(60.0, now=-1.0)
    for warmup in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^warmup_seconds "):
            route.summary(60.0, warmup_seconds=warmup)
    with pytest.raises(ValueError, match=r"^window_seconds "):
        route.summary(3 * 86_400.0)
    for bad in (0, -1, 2.5, 2**64):
        with pytest.raises(ValueError, match=r"^max_routes "):
            RouteTable(max_routes=bad)  # type: ignore[arg-type]
    for wrong in (True, "8", None):
        with pytest.raises(TypeError, match=r"^max_routes must be an integer"):
            RouteTable(max_routes=wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retain_seconds"):
        RouteTable(retain_seconds=float("nan"))


def fastapi_app(**options: Any) -> tuple[FastAPI, RouteGuard]:
    app = FastAPI()

    @app.get("/users/{uid}")
    async def user(uid: int) -> dict[str, int]:
        return {"id": uid}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> Any:
            for _ in range(3):
                yield b"x" * 1000

        return StreamingResponse(chunks())

    guard = RouteGuard(**options)
    app.add_middleware(GuardMiddleware, guard=guard)
    return app, guard


def get_all(app: Any, *paths: str) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get(p) for p in paths]

    return asyncio.run(run())


def test_asgi_records_route_templates_errors_and_bytes() -> None:
    availability = SLOTracker(SLODefinition("api", 0.99))
    app, guard = fastapi_app(slos={"*": RouteSLO(availability=availability)})
    answers = get_all(app, "/users/1", "/users/2", "/users/3", "/nope", "/boom", "/stream")
    assert [r.status_code for r in answers] == [200, 200, 200, 404, 500, 200]
    figures = {s.route: s for s in guard.routes.summaries()}
    assert set(figures) == {"GET /users/{uid}", "GET /boom", "GET /stream", "UNMATCHED"}
    assert (figures["GET /users/{uid}"].requests, figures["GET /users/{uid}"].bytes) == (3, 24)
    assert figures["GET /boom"].errors == 1
    assert figures["GET /stream"].bytes == 3000
    assert figures["UNMATCHED"].errors == 0  # a 404 is not a server error
    snap = availability.snapshot()
    assert (snap.total, snap.failures) == (6, 1)
    assert guard.recording_errors == 0


def test_asgi_cardinality_is_bounded() -> None:
    breaker = CircuitBreaker("boom", sliding_window_size=1, minimum_number_of_calls=1)
    app, guard = fastapi_app(
        routes=RouteTable(max_routes=1), unmatched_label="NONE", breakers={"GET /boom": breaker}
    )
    get_all(app, "/users/1", "/stream", "/boom", "/a", "/b")
    assert breaker.snapshot().failed_calls == 1, "an overflowed route keeps its breaker"
    assert guard.routes.keys() == ["GET /users/{uid}", "OTHER"]
    assert {s.route: s.requests for s in guard.routes.summaries()} == {"GET /users/{uid}": 1, "OTHER": 4}


def test_asgi_breaker_answers_503_with_retry_after_while_open() -> None:
    clock = [1000.0]
    breaker = CircuitBreaker(
        "boom",
        sliding_window_size=2,
        minimum_number_of_calls=2,
        wait_duration_in_open_state=30.0,
        clock=lambda: clock[0],
    )
    app, guard = fastapi_app(breakers={"GET /boom": breaker})
    answers = get_all(app, "/boom", "/boom", "/boom", "/users/1")
    assert [r.status_code for r in answers] == [500, 500, 503, 200]
    assert answers[2].headers["retry-after"] == "30"
    plan = guard.plan("GET", "/boom")
    assert plan.rejections.circuit_open == 1
    assert breaker.state == "OPEN"
    figures = {s.route: s for s in guard.routes.summaries()}
    assert (figures["GET /boom"].requests, figures["GET /boom"].errors) == (3, 3)
    body = PrometheusExporter(routes=guard, route_window=60).render()[0].decode()
    assert 'burnguard_route_requests{route="GET /boom",window_seconds="60"} 3.0' in body
    assert 'burnguard_route_errors{route="GET /users/{uid}",window_seconds="60"} 0.0' in body
    assert 'burnguard_route_response_bytes{route="GET /users/{uid}",window_seconds="60"} 8.0' in body
    assert 'burnguard_route_latency_seconds{quantile="0.99",route="GET /boom",window_seconds="60"}' in body
    assert 'burnguard_route_rejected_requests_total{reason="circuit_open",route="GET /boom"} 1.0' in body


def test_asgi_budget_answers_429_when_denied_and_charges_admitted_requests() -> None:
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 2)
    budget = RouteBudget(ledger, Subject(tenant="acme"))
    app, guard = fastapi_app(budgets={"/users/{uid}": budget})  # by template: any method
    answers = get_all(app, "/users/1", "/users/2", "/users/3", "/stream")
    assert [r.status_code for r in answers] == [200, 200, 429, 200]
    assert b"BUDGET_EXCEEDED" in answers[2].content
    balance = ledger.balances("tenant:acme")[0]
    assert (balance.spent, balance.reserved) == (2, 0)
    assert guard.plan("GET", "/users/{uid}").rejections.budget_denied == 1


def test_asgi_budget_is_released_when_the_handler_raises() -> None:
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 5)
    app, _ = fastapi_app(budgets={"GET /boom": RouteBudget(ledger, Subject(tenant="acme"), cost=2)})
    assert [r.status_code for r in get_all(app, "/boom")] == [500]
    balance = ledger.balances("tenant:acme")[0]
    assert (balance.spent, balance.reserved) == (0, 0)


def test_asgi_recording_faults_never_reach_the_request(caplog: pytest.LogCaptureFixture) -> None:
    def broken(status: int, error: BaseException | None) -> bool:
        raise RuntimeError("classifier bug")

    app, guard = fastapi_app(classify=broken)
    assert [r.status_code for r in get_all(app, "/users/1", "/users/2")] == [200, 200]
    assert guard.recording_errors == 2
    assert "could not record" in caplog.text


def test_asgi_matches_mounted_routes_before_the_handler() -> None:
    async def item(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    breaker = CircuitBreaker("items")
    guard = RouteGuard(breakers={"GET /api/items/{id}": breaker})
    app = Starlette(
        routes=[Mount("/api", routes=[Route("/items/{id}", item)])],
        middleware=[Middleware(GuardMiddleware, guard=guard)],
    )

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/api/items/7")).status_code

    assert asyncio.run(run()) == 200
    assert guard.routes.keys() == ["GET /api/items/{id}"]
    assert (breaker.snapshot().calls, breaker.snapshot().failed_calls) == (1, 0)


def test_guard_options_are_checked() -> None:
    with pytest.raises(ValueError, match="not both"):
        GuardMiddleware(FastAPI(), guard=RouteGuard(), max_routes=3)
    with pytest.raises(TypeError):
        RouteGuard(unknown=1)  # type: ignore[call-arg]
    ledger = Ledger()
    with pytest.raises(ValueError, match="estimate"):
        RouteBudget(ledger, Subject(tenant="acme"), cost=-1)
    with pytest.raises(ValueError, match="ttl_ms"):
        RouteBudget(ledger, Subject(tenant="acme"), ttl_ms=0)
    with pytest.raises(ValueError, match="latency_threshold_seconds"):
        RouteSLO(latency=SLOTracker(SLODefinition("x", 0.9)))


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/users/<int:uid>")
    def user(uid: int) -> dict[str, int]:
        return {"id": uid}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @app.get("/stream")
    def stream() -> Response:
        return Response((b"y" * 500 for _ in range(4)), mimetype="text/plain")

    return app


def fetch(client: Any, path: str) -> tuple[int, bytes]:
    """GET, reading the whole body as a server does (a request is recorded once its body is)."""
    response = client.get(path)
    return response.status_code, response.data


def test_flask_extension_records_rule_templates() -> None:
    app = flask_app()
    latency = SLOTracker(SLODefinition("fast", 0.9, latency_threshold_seconds=1.0))
    ext = FlaskGuard(slos={"*": RouteSLO(latency=latency)})
    ext.init_app(app)
    assert app.extensions["burnguard"] is ext.guard
    client = app.test_client()
    answers = [fetch(client, p) for p in ("/users/1", "/users/2", "/nope", "/boom", "/stream")]
    assert answers[-1] == (200, b"y" * 2000)
    codes = [code for code, _ in answers]
    assert codes == [200, 200, 404, 500, 200]
    figures = {s.route: s for s in ext.guard.routes.summaries()}
    assert set(figures) == {"GET /users/<int:uid>", "GET /boom", "GET /stream", "UNMATCHED"}
    assert figures["GET /users/<int:uid>"].requests == 2
    assert figures["GET /boom"].errors == 1
    assert figures["GET /stream"].bytes == 2000
    snap = latency.snapshot()
    assert (snap.total, snap.failures) == (5, 1)


def test_flask_breaker_and_budget_enforcement() -> None:
    app = flask_app()
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 1)
    breaker = CircuitBreaker("boom", sliding_window_size=1, minimum_number_of_calls=1)
    ext = FlaskGuard(
        app, breakers={"GET /boom": breaker}, budgets={"*": RouteBudget(ledger, Subject(tenant="acme"))}
    )
    client = app.test_client()
    assert fetch(client, "/boom")[0] == 500
    second = client.get("/boom")
    assert second.status_code == 503 and int(second.headers["Retry-After"]) in (60, 61)  # rounded up
    # The failed /boom's credit was released; the rejected one never reached the budget.
    assert [fetch(client, f"/users/{i}")[0] for i in (1, 2)] == [200, 429]
    assert ext.guard.recording_errors == 0


def test_flask_hook_runs_first_and_its_faults_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    app = flask_app()

    @app.before_request
    def gate() -> Response | None:
        return Response("gated", 403) if "gate" in request.args else None

    ext = FlaskGuard(app)
    client = app.test_client()
    assert fetch(client, "/users/1?gate=1") == (403, b"gated")
    [s] = ext.guard.routes.summaries()
    assert (s.route, s.requests) == ("GET /users/<int:uid>", 1), "the guard's hook ran before the app's"

    def broken(self: RouteGuard, method: str, template: str | None) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(RouteGuard, "plan", broken)
    assert fetch(client, "/users/2")[0] == 200
    assert ext.guard.recording_errors == 2, "the hook's fault, then the unmatched fallback's"


def test_wsgi_middleware_with_a_route_function() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    wrapped = WSGIGuardMiddleware(app, route_of=lambda environ: "/static")
    from werkzeug.test import Client

    assert fetch(Client(wrapped), "/anything") == (200, b"hello")
    [s] = wrapped.guard.routes.summaries()
    assert (s.route, s.requests, s.bytes) == ("GET /static", 1, 5)


def test_a_request_far_ahead_does_not_hide_later_ones() -> None:
    import time

    table = RouteTable(retain_seconds=86_400)
    route = table.route("GET /")
    now = time.time()
    route.record(0.1, at=now + 365 * 86_400)  # a bad timestamp, a year ahead
    for i in range(100):
        route.record(0.1, at=now + i * 0.1)
    assert route.summary(60, at=now + 10).requests == 100
    assert route.dropped == 1
    assert route.first_seen is not None and route.first_seen <= now + 1


def test_a_stray_request_stamped_in_1970_does_not_disable_warm_up() -> None:
    table = RouteTable()
    route = table.route("GET /")
    route.record(0.1, at=1.0)
    now = time.time()
    route.record(0.1, at=now)
    first = route.first_seen
    assert first is not None and abs(first - now) < 1.0
    # It was kept (until a newer request reuses its slot), not dropped.
    assert route.dropped == 0


@pytest.mark.parametrize("stored", [False, True])
def test_a_request_settles_alike_natively_and_with_slos_kept_in_python_stores(stored: bool) -> None:
    from burnguard.slo.storage import InMemoryStore

    def tracker(name: str, **latency: float) -> SLOTracker:
        store = InMemoryStore(3600) if stored else None
        return SLOTracker(SLODefinition(name, 0.99, **latency), store=store)

    availability, latency = tracker("api"), tracker("fast", latency_threshold_seconds=10.0)
    breaker = CircuitBreaker("users", minimum_number_of_calls=100)
    app, guard = fastapi_app(
        slos={"*": RouteSLO(availability=availability, latency=latency)},
        breakers={"GET /users/{uid}": breaker},
    )
    answers = get_all(app, "/users/1", "/users/2", "/boom")
    assert [r.status_code for r in answers] == [200, 200, 500]
    plan = guard.plan("GET", "/users/{uid}")
    assert (plan.settle is None) is stored
    assert (availability.snapshot().total, availability.snapshot().failures) == (3, 1)
    assert (latency.snapshot().total, latency.snapshot().failures) == (3, 1)
    assert (breaker.snapshot().calls, breaker.snapshot().failed_calls) == (2, 0)
    totals = guard.routes.route("GET /users/{uid}").totals()
    assert (
        totals.requests_by_class["2xx"],
        guard.routes.route("GET /boom").totals().requests_by_class["5xx"],
    ) == (2, 1)
    assert guard.recording_errors == 0


def test_the_new_route_options_refuse_bad_input_naming_the_parameter() -> None:
    from burnguard.prometheus import PrometheusExporter

    stats = RouteTable().route("GET /x")
    for bounds, index in (([0.1, float("nan")], 1), ([float("inf")], 0), ([-1.0], 0), ([0.5, 0.2], 1)):
        with pytest.raises(ValueError, match=rf"^bounds\[{index}\] must be "):
            stats.histogram(bounds)
    for status in (-1, 70_000):
        with pytest.raises(ValueError, match=r"^status must be in"):
            stats.record(0.1, False, 0, None, status)
    with pytest.raises(ValueError, match=r"^name must be a non-empty string"):
        RouteTable(name="")
    with pytest.raises(TypeError, match=r"^shared must be"):
        RouteTable(shared=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^shared must be"):
        RouteGuard(shared=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^shared must be"):
        CircuitBreaker("x", shared=3)  # type: ignore[arg-type]
    for buckets, index in (([float("nan")], 0), ([1.0, -2.0], 1), ([2.0, 1.0], 1), ([1.0, float("inf")], 1)):
        with pytest.raises(ValueError, match=rf"^latency_buckets\[{index}\] must be finite seconds > 0"):
            PrometheusExporter(latency_buckets=buckets)
    assert stats.totals().requests == 0, "nothing was recorded by the refused calls"
