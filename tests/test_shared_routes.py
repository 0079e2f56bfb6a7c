"""Route tables shared through an arena by several processes: one set of routes for the host,
exact totals from many processes, one bound on routes for all of them, and workers killed
mid-request losing at most that request."""

from __future__ import annotations

import multiprocessing
import random
from typing import Any

import pytest

from burnguard import CircuitBreaker, RouteGuard, RouteTable
from burnguard.prometheus import PrometheusExporter

from .conftest import kill_in_rounds

REQUESTS = 20_000


pytestmark = pytest.mark.usefixtures("arena_directory")


def _table(**options: Any) -> RouteTable:
    return RouteTable(shared="svc", retain_seconds=86_400, **options)


def test_tables_of_one_name_in_one_arena_share_their_routes() -> None:
    a, b = _table(max_routes=2), _table(max_routes=2)
    assert a.is_shared and not RouteTable(shared=False).is_shared
    a.route("GET /users").record(0.1, False, 10, None, 200)
    b.route("GET /users").record(0.2, True, 10, None, 503)
    b.route("POST /orders").record(0.3, False, 0, None, 201)
    assert a.keys() == ["GET /users", "POST /orders"]
    assert a.route("GET /third").key == "OTHER" == b.route("GET /fourth").key
    totals = a.route("GET /users").totals()
    assert (totals.requests, totals.errors, totals.bytes) == (2, 1, 20)
    assert totals.requests_by_class == {"none": 0, "1xx": 0, "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 1}
    assert b.route("GET /users").summary(60).requests == 2
    assert _table(max_routes=2, name="admin").keys() == []
    with pytest.raises(ValueError, match=r'^shared holds Routes "routes" with another configuration'):
        _table(max_routes=3)


def _serve(start: Any, worker: int, n: int) -> None:
    guard = RouteGuard(max_routes=16, shared="svc")
    start.wait()
    rng = random.Random(worker)
    for i in range(n):
        # Each worker sees the shared hot route and ten routes of its own.
        key = "GET /hot" if i % 2 else f"GET /w{worker}/{rng.randrange(10)}"
        guard.routes.route(key).record(
            0.001 * (i % 50 + 1), i % 7 == 0, 100, None, 500 if i % 7 == 0 else 200
        )


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_four_processes_record_exact_totals_within_one_route_bound(method: str) -> None:
    context = multiprocessing.get_context(method)
    start = context.Event()
    workers = [context.Process(target=_serve, args=(start, w, REQUESTS)) for w in range(4)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    guard = RouteGuard(max_routes=16, shared="svc")  # a fifth process's view: it served nothing
    stats = guard.routes.stats()
    keys = [s.key for s in stats]
    assert len(keys) == 17 and "GET /hot" in keys and "OTHER" in keys, keys
    totals = [s.totals() for s in stats]
    assert sum(t.requests for t in totals) == 4 * REQUESTS
    errors = 4 * len(range(0, REQUESTS, 7))
    assert sum(t.errors for t in totals) == errors
    assert sum(t.requests_by_class["5xx"] for t in totals) == errors
    assert sum(t.bytes for t in totals) == 4 * REQUESTS * 100
    hot = guard.routes.route("GET /hot")
    assert hot.totals().requests == 4 * REQUESTS // 2
    assert hot.summary(3600).requests == 4 * REQUESTS // 2
    assert hot.histogram([10.0]) == [4 * REQUESTS // 2]
    text = PrometheusExporter(routes=guard).render()[0].decode()
    assert f'burnguard_http_request_duration_seconds_count{{route="GET /hot"}} {4 * REQUESTS // 2}.0' in text
    hot_good = 4 * sum(1 for i in range(1, REQUESTS, 2) if i % 7)
    assert hot.totals().requests_by_class["2xx"] == hot_good
    assert f'burnguard_http_requests_total{{code_class="2xx",route="GET /hot"}} {hot_good}.0' in text


def _serve_until_killed(progress: Any, slot: int) -> None:
    table = _table()
    route = table.route("GET /x")
    while True:
        route.record(0.01, False, 1, None, 200)
        progress[slot] += 1  # after the request: the count can lead the progress by one


def test_workers_killed_mid_request_lose_at_most_that_request_and_block_nobody() -> None:
    _table().route("GET /x")
    rounds, per_round = 8, 3
    progress = kill_in_rounds(_serve_until_killed, rounds, per_round, seed=5)
    route = _table().route("GET /x")
    counted, reported = route.totals().requests, sum(progress)
    assert 0 < reported <= counted <= reported + rounds * per_round
    windowed = route.summary(3600).requests
    assert reported <= windowed <= reported + rounds * per_round
    route.record(0.01, False, 1, None, 200)
    assert route.totals().requests == counted + 1


def test_the_guards_counters_are_shared_too() -> None:
    a, b = RouteGuard(shared="svc"), RouteGuard(shared="svc")
    a.fault("test a fault")
    b.fault("test a fault")
    assert a.recording_errors == b.recording_errors == 2
    with pytest.raises(ValueError, match=r"^RouteGuard takes shared= only without routes="):
        RouteGuard(routes=RouteTable(), shared="svc")


def test_the_slo_middlewares_and_exporters_counters_are_shared_with_the_slo() -> None:
    from burnguard import SLODefinition, SLOTracker
    from burnguard.asgi import SLOMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    def broken(status: int, error: BaseException | None) -> bool:
        raise RuntimeError("classifier bug")

    tracker = SLOTracker(SLODefinition("api", 0.99), shared="svc")
    assert tracker.arena is not None and SLOTracker(SLODefinition("api", 0.99), shared=False).arena is None
    a, b = SLOMiddleware(app, tracker=tracker, classify=broken), SLOMiddleware(app, tracker=tracker)
    a._record(200, None, 0.0)
    assert a.recording_errors == b.recording_errors == 1

    def broken_clock() -> float:
        raise RuntimeError("a failing clock")

    failing = CircuitBreaker("broken", clock=broken_clock, shared=False)
    first = PrometheusExporter(breakers=[failing], shared="svc")
    line = next(
        x for x in first.render()[0].splitlines() if x.startswith(b"burnguard_exporter_source_errors_total")
    )
    assert line.startswith(b'burnguard_exporter_source_errors_total{source="breakers"} ')
    assert line in PrometheusExporter(shared="svc").render()[0].splitlines(), "another worker's exporter"
