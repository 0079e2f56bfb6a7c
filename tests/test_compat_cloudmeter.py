"""burnguard.compat.cloudmeter beyond cloudmeter's own suite: bounded recording, a cost curve
that never falls, a real dashboard with cloudmeter's endpoints and the status it lacked."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from burnguard.compat.cloudmeter import _cost_projector, _dashboard_server, _reporter


@pytest.fixture()
def fresh() -> Iterator[None]:
    _reporter.clear()
    yield
    _reporter.clear()
    _dashboard_server._stop()


def metrics(route: str, n: int, duration_ms: int) -> list[dict[str, object]]:
    return [{"route": route, "method": "GET", "status": 200, "duration_ms": duration_ms} for _ in range(n)]


def test_recording_is_bounded(fresh: None) -> None:
    _reporter.start_recording()
    for i in range(_reporter.MAX_METRICS + 500):
        _reporter.report(route="GET /a", method="GET", status=200, duration_ms=i % 7)
    assert len(_reporter.get_metrics()) == _reporter.MAX_METRICS
    assert _reporter.routes.route("GET /a").totals().requests >= _reporter.MAX_METRICS + 500


def test_the_cost_curve_never_falls_and_a_million_users_need_a_fleet() -> None:
    projection = _cost_projector.project(metrics("GET /heavy", 300, 800), {"target_users": 1_000_000})
    route = projection["projections"][0]
    curve = [p["monthly_cost_usd"] for p in route["cost_curve"]]
    assert [p["users"] for p in route["cost_curve"]] == _cost_projector.SCALE_USERS
    assert curve == sorted(curve) and curve[-1] >= 1.9 * curve[-2] > 0  # 1M users: twice 500k
    fleet = _cost_projector.route_costs(metrics("GET /heavy", 300, 800), {"target_users": 1_000_000})[0]
    assert fleet.instance_count > 1


def test_the_dashboard_serves_cloudmeters_endpoints_and_a_status(fresh: None) -> None:
    _dashboard_server.start({"port": 0, "provider": "GCP", "target_users": 500})
    board = _dashboard_server._server
    assert board is not None and board.host == "127.0.0.1"

    def get(path: str, method: str = "GET") -> tuple[dict[str, str], object]:
        request = urllib.request.Request(
            board.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return dict(answer.headers), json.loads(answer.read())

    headers, started = get("api/recording/start", "POST")
    assert started == {"status": "recording"} and headers["Access-Control-Allow-Origin"] == "*"
    for _ in range(20):
        _reporter.report(route="GET /items/{id}", method="GET", status=200, duration_ms=40, egress_bytes=512)
    _, status = get("api/status")
    assert status["status"] == "recording" and status["warmup"] is True  # type: ignore[index]
    assert status["routes"] >= 1 and status["bufferedMetrics"] == 20  # type: ignore[index]
    _, projections = get("api/projections")
    assert projections["meta"]["provider"] == "GCP" and projections["meta"]["targetUsers"] == 500  # type: ignore[index]
    assert projections["projections"] == []  # type: ignore[index]  # still warming up
    assert projections["summary"]["warmupMetricsExcluded"] == 20  # type: ignore[index]
    _, stopped = get("api/recording/stop", "POST")
    assert stopped == {"status": "stopped"} and _reporter._recording is False
    # burnguard's own dashboard and API are on the same port.
    _, routes = get("api/routes")
    assert "GET /items/{id}" in [r["route"] for r in routes["routes"]]  # type: ignore[index]
