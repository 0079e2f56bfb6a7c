"""cloudmeter's dashboard server: burnguard's dashboard over the reporter's routes, with
cloudmeter's endpoints (``/api/projections``, ``/api/stats``, ``POST /api/recording/start``
and ``/stop``, with the same JSON and CORS header) and a ``/api/status`` it lacked. The page
ships in the wheel and loads nothing from the network. Binds 127.0.0.1; a taken port is a
silent no-op, as in cloudmeter."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from burnguard.compat.cloudmeter import _cost_projector, _reporter
from burnguard.dashboard import Dashboard

PRICING_SOURCE = "static"

_server: Dashboard | None = None
_lock = threading.Lock()


def _camel(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "route": p["route"],
        "observedRps": p["observed_rps"],
        "projectedRps": p["projected_rps"],
        "projectedMonthlyCostUsd": p["projected_monthly_cost_usd"],
        "projectedCostPerUserUsd": p["projected_cost_per_user_usd"],
        "recommendedInstance": p["recommended_instance"],
        "medianDurationMs": p["median_duration_ms"],
        "medianCpuMs": p["median_cpu_ms"],
        "exceedsBudget": p["exceeds_budget"],
        "costCurve": [
            {"users": c["users"], "monthlyCostUsd": c["monthly_cost_usd"]} for c in p["cost_curve"]
        ],
    }


def _camel_stats(s: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "route": s["route"],
        "requests": s["requests"],
        "p50CostUsd": s["p50_cost_usd"],
        "p95CostUsd": s["p95_cost_usd"],
        "p99CostUsd": s["p99_cost_usd"],
        "varianceRatio": s["variance_ratio"],
        "varianceWarning": s["variance_warning"],
    }


def _endpoints(board: Dashboard, opts: Mapping[str, Any]) -> None:
    cost = _cost_projector.model(opts, warmup_seconds=_reporter.WARMUP_SECONDS)
    board.cost = cost
    meta = {
        "provider": opts.get("provider", "AWS"),
        "region": opts.get("region", "us-east-1"),
        "targetUsers": opts.get("target_users", 1000),
        "requestsPerUserPerSecond": opts.get("requests_per_user_per_second", 1.0),
        "budgetUsd": opts.get("budget_usd", 0.0),
        "pricingDate": cost.pricing.date,
        "pricingSource": PRICING_SOURCE,
    }

    def route_costs() -> tuple[list[Any], int]:
        span, end = _reporter.session.span(time.time())
        window = min(_cost_projector.RECORDING_WINDOW_S, max(span, 1.0))
        session = _cost_projector.model(opts, warmup_seconds=_reporter.WARMUP_SECONDS)
        session.window_seconds = window
        report = session.project(_reporter.routes, at=end)
        return list(report.routes), report.excluded_requests

    def projections(_query: Mapping[str, list[str]]) -> tuple[int, Any]:
        costs, excluded = route_costs()
        projs = [_cost_projector.as_projection(c) for c in costs]
        summary = {
            "totalProjectedMonthlyCostUsd": round(sum(p["projected_monthly_cost_usd"] for p in projs), 2),
            "anyExceedsBudget": any(p["exceeds_budget"] for p in projs),
            "warmupMetricsExcluded": excluded,
        }
        return 200, {"meta": meta, "projections": [_camel(p) for p in projs], "summary": summary}

    def stats(_query: Mapping[str, list[str]]) -> tuple[int, Any]:
        costs, _ = route_costs()
        rows = sorted((_cost_projector.as_stats(c) for c in costs), key=lambda s: -s["p95_cost_usd"])
        return 200, {"stats": [_camel_stats(s) for s in rows]}

    def status(_query: Mapping[str, list[str]]) -> tuple[int, Any]:
        now = time.time()
        return 200, {
            "status": "recording" if _reporter._recording else "stopped",
            "recordingStartedAt": _reporter._recording_start or None,
            "warmup": _reporter._recording and now < _reporter._recording_start + _reporter.WARMUP_SECONDS,
            "warmupSeconds": _reporter.WARMUP_SECONDS,
            "routes": len(_reporter.routes.keys()),
            "bufferedMetrics": len(_reporter._buffer),
        }

    def start(_query: Mapping[str, list[str]]) -> tuple[int, Any]:
        _reporter.start_recording()
        return 200, {"status": "recording"}

    def stop(_query: Mapping[str, list[str]]) -> tuple[int, Any]:
        _reporter.stop_recording()
        return 200, {"status": "stopped"}

    board.endpoints.update(
        {
            ("GET", "/api/projections"): projections,
            ("GET", "/api/stats"): stats,
            ("GET", "/api/status"): status,
            ("POST", "/api/recording/start"): start,
            ("POST", "/api/recording/stop"): stop,
        }
    )
    board.endpoint_headers.update({"Access-Control-Allow-Origin": "*"})


def start(opts: Mapping[str, Any] | None = None) -> None:
    """Starts the dashboard (default port 7777); again, or on a taken port: a no-op."""
    global _server
    opts = dict(opts or {})
    with _lock:
        if _server is not None:
            return
        board = Dashboard(routes=_reporter.routes, port=int(opts.get("port", 7777)), title="cloudmeter")
        board.recording = _reporter.session
        _endpoints(board, opts)
        _reporter.on_new_routes[:] = [lambda table: setattr(board, "routes", table)]
        try:
            board.start()
        except OSError:
            return
        _server = board
    print(f"[cloudmeter] dashboard → {board.url}", flush=True)


def _stop() -> None:
    """Stops the dashboard (for tests)."""
    global _server
    with _lock:
        board, _server = _server, None
        _reporter.on_new_routes.clear()
    if board is not None:
        board.stop()
