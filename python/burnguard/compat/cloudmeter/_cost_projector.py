"""cloudmeter's ``project`` and ``compute_stats``, priced by burnguard's cost model.

The shapes, keys, rounding and the 5-minute window are cloudmeter's. The model is
burnguard's (see ``burnguard.cost``), where cloudmeter's was wrong: a route needing more
cores than the largest instance runs on a fleet of them (cloudmeter priced one instance, so
its cost curve fell between 500k and 1M users), burstable types count at their baseline, and
a request's cost follows its latency quantiles. Quantiles come from the native windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from burnguard.cost import CostModel, RouteCost
from burnguard.routes import RouteTable

SCALE_USERS = [100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000, 1_000_000]
RECORDING_WINDOW_S = 300.0
"""The span cloudmeter assumes a list of metrics covers."""
_AT = 1e9  # the one moment a list of metrics is recorded at


def model(opts: Mapping[str, Any] | None = None, *, warmup_seconds: float = 0.0) -> CostModel:
    """burnguard's cost model for cloudmeter's options."""
    opts = opts or {}
    budget = float(opts.get("budget_usd", 0.0) or 0.0)
    return CostModel(
        str(opts.get("provider", "AWS")).lower(),
        target_users=int(opts.get("target_users", 1000)),
        requests_per_user_per_second=float(opts.get("requests_per_user_per_second", 1.0)),
        window_seconds=RECORDING_WINDOW_S,
        warmup_seconds=warmup_seconds,
        monthly_budget_usd=budget if budget > 0 else None,
    )


def route_costs(
    metrics: Sequence[Mapping[str, Any]], opts: Mapping[str, Any] | None = None
) -> list[RouteCost]:
    """Each route's projection from a list of metrics taken to span ``RECORDING_WINDOW_S``."""
    cost = model(opts)
    table = RouteTable(max_routes=max(1, len({m["route"] for m in metrics})), clock=lambda: _AT)
    for m in metrics:
        failed = int(m.get("status", 200)) >= 500
        table.route(m["route"]).record(m["duration_ms"] / 1000.0, failed, int(m.get("egress_bytes", 0)), _AT)
    summaries = [stats.summary(RECORDING_WINDOW_S, at=_AT) for stats in table.stats()]
    return cost.costs(summaries, covered_seconds=RECORDING_WINDOW_S)


def as_projection(c: RouteCost) -> dict[str, Any]:
    """A route's projection in cloudmeter's keys and rounding."""
    return {
        "route": c.route,
        "observed_rps": round(c.observed_rps, 4),
        "projected_rps": round(c.projected_rps, 1),
        "projected_monthly_cost_usd": round(c.monthly_usd, 2),
        "projected_cost_per_user_usd": round(c.cost_per_user_usd, 6),
        "recommended_instance": c.instance,
        "median_duration_ms": round(c.median_seconds * 1000.0, 2),
        "median_cpu_ms": round(c.median_seconds * 1000.0, 2),
        "exceeds_budget": c.over_budget,
        "cost_curve": [{"users": p.users, "monthly_cost_usd": round(p.monthly_usd, 2)} for p in c.cost_curve],
    }


def as_stats(c: RouteCost) -> dict[str, Any]:
    """A route's per-request cost distribution in cloudmeter's keys."""
    return {
        "route": c.route,
        "requests": c.requests,
        "p50_cost_usd": c.request_cost_p50_usd,
        "p95_cost_usd": c.request_cost_p95_usd,
        "p99_cost_usd": c.request_cost_p99_usd,
        "variance_ratio": round(c.variance_ratio, 2),
        "variance_warning": c.variance_warning,
    }


def _live(metrics: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [m for m in metrics if not m.get("warmup", False)]


def project(metrics: Sequence[Mapping[str, Any]], opts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"projections": [...], "warmup_count": n}``, most expensive route first."""
    live = _live(metrics)
    projections = [as_projection(c) for c in route_costs(live, opts)] if live else []
    return {"projections": projections, "warmup_count": len(metrics) - len(live)}


def compute_stats(
    metrics: Sequence[Mapping[str, Any]],
    projections: Sequence[Mapping[str, Any]],
    opts: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per route: request count and request cost p50/p95/p99, highest p95 first."""
    live = _live(metrics)
    stats = [as_stats(c) for c in route_costs(live, opts)] if live else []
    stats.sort(key=lambda s: -s["p95_cost_usd"])
    return stats
