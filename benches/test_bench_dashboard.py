"""What the dashboard costs the app's requests: 1,000 requests through Flask with a guard
(SLO + breaker on every route, 20 routes recorded), with no dashboard, with one idle, and with
one whose page is fetched every 50 ms by another thread (100 times the page's own refresh
rate), in the same run."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

import burnguard
from burnguard.wsgi import FlaskGuard

REQUESTS = 1_000
ENVIRON = EnvironBuilder(path="/users/7").get_environ()


def _app(dashboard: bool) -> tuple[Any, burnguard.RouteGuard]:
    from flask import Flask

    app = Flask(__name__)

    @app.get("/users/<int:uid>")
    def user(uid: int) -> str:
        return "ok"

    tracker = burnguard.SLOTracker(burnguard.SLODefinition("api", 0.999))
    guard = burnguard.RouteGuard(
        slos={"*": burnguard.RouteSLO(availability=tracker)},
        breakers={"*": burnguard.CircuitBreaker("api")},
        dashboard=0 if dashboard else None,
    )
    for i in range(20):  # a realistic table for the page to render
        guard.routes.route(f"GET /r{i}").record(0.01 * (i + 1))
    FlaskGuard(app, guard=guard)
    return app, guard


def _drive(wsgi: Any) -> Any:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    def many() -> None:
        for _ in range(REQUESTS):
            for _chunk in wsgi(dict(ENVIRON), start_response):
                pass

    return many


@pytest.fixture()
def refreshing() -> Iterator[list[str]]:
    urls: list[str] = []
    stop = threading.Event()

    def fetch() -> None:
        while not stop.is_set():
            if urls:
                with urllib.request.urlopen(urls[0] + "panels", timeout=10) as answer:
                    answer.read()
            time.sleep(0.05)

    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    yield urls
    stop.set()
    thread.join()


@pytest.mark.benchmark(group="dashboard: 1,000 guarded Flask requests")
@pytest.mark.parametrize("variant", ["no dashboard", "dashboard idle", "dashboard refreshing"])
def test_dashboard_overhead(benchmark, refreshing: list[str], variant: str) -> None:  # type: ignore[no-untyped-def]
    app, guard = _app(dashboard=variant != "no dashboard")
    if variant == "dashboard refreshing":
        assert guard.dashboard is not None
        refreshing.append(guard.dashboard.url)
    benchmark.extra_info.update(baseline=variant == "no dashboard", calls=REQUESTS)
    try:
        benchmark(_drive(app.wsgi_app))
    finally:
        if guard.dashboard is not None:
            guard.dashboard.stop()
