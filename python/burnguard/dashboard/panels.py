"""The dashboard's panels as JSON-ready dicts: SLOs, breakers, ledger budgets, routes and costs,
and the recording state. Each reads the library's own objects (snapshots, balances, route
summaries, the cost model); nothing here computes a figure the core does not give."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from burnguard.breaker import CircuitBreaker, StateTransition
from burnguard.cost import CostModel
from burnguard.dashboard import svg
from burnguard.ledger import Ledger
from burnguard.routes import RouteTable
from burnguard.slo import SLOTracker

#: Budget use (spent + reserved + debt over allocated) at which a budget warns, and is critical.
WARNING_USE, CRITICAL_USE = 0.8, 1.0
#: Points of an SLO's burndown.
BURNDOWN_POINTS = 48
#: Transitions kept per SLO and per breaker.
HISTORY = 50
#: The window the route panel's rates and latencies are read over.
ROUTE_WINDOW_SECONDS = 60.0


def finite(value: float | None) -> float | None:
    """``value``, or None where JSON has no number (NaN, infinities)."""
    return value if value is not None and math.isfinite(value) else None


@dataclass
class Recording:
    """The route and cost panels' recording session. At first there is none: the panels read
    everything the windows hold. ``start`` begins a session now (only requests from then on
    are read, to the route windows' resolution: a minute), ``stop`` freezes the panels at that
    moment. The app records all along; the
    windows are bounded, so nothing grows while stopped."""

    started_at: float | None = None
    stopped_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, now: float) -> None:
        with self.lock:
            self.started_at, self.stopped_at = now, None

    def stop(self, now: float) -> None:
        with self.lock:
            if self.stopped_at is None:
                self.stopped_at = now

    def span(self, now: float) -> tuple[float, float]:
        """How many seconds back the panels read (infinite without a session), and their end."""
        with self.lock:
            end = now if self.stopped_at is None else self.stopped_at
            return (math.inf if self.started_at is None else end - self.started_at), end


class History:
    """What the dashboard saw change: each SLO's alert policies starting and stopping firing
    (from the dashboard's own reads, so it never takes a transition from the app's
    ``poll_alerts``), and each breaker's state changes (from a listener). Bounded."""

    def __init__(self, breakers: Iterable[CircuitBreaker], clock: Callable[[], float]) -> None:
        self._clock = clock
        now = clock()
        self._lock = threading.Lock()
        self._firing: dict[str, frozenset[int]] = {}
        self.alerts: dict[str, deque[dict[str, Any]]] = {}
        self.breaker_states: dict[str, deque[tuple[float, str]]] = {}
        for breaker in breakers:
            self.breaker_states[breaker.name] = deque([(now, breaker.state)], maxlen=HISTORY)
            breaker.add_listener(on_state_change=self._breaker_changed)

    def _breaker_changed(self, event: StateTransition) -> None:
        with self._lock:
            self.breaker_states.setdefault(event.name, deque(maxlen=HISTORY)).append(
                (self._clock(), event.to_state)
            )

    def alert_transitions(self, name: str, policies: list[dict[str, Any]], at: float) -> list[dict[str, Any]]:
        """Notes which of the SLO's policies started or stopped firing since the last read;
        the SLO's recent transitions, newest first."""
        firing = frozenset(i for i, p in enumerate(policies) if p["firing"])
        with self._lock:
            log = self.alerts.setdefault(name, deque(maxlen=HISTORY))
            before = self._firing.get(name, frozenset())
            for i in sorted(firing ^ before):
                p = policies[i]
                state = "firing" if i in firing else "resolved"
                log.append({"at": at, "state": state, "severity": p["severity"], "threshold": p["threshold"]})
            self._firing[name] = firing
            return list(reversed(log))

    def states(self, name: str) -> list[tuple[float, str]]:
        with self._lock:
            return list(self.breaker_states.get(name, ()))


def policies(tracker: SLOTracker, at: float) -> list[dict[str, Any]]:
    """Each of the SLO's alert policies at ``at``: both windows' burn rates, and whether it fires."""
    return [
        {
            "severity": a.severity,
            "threshold": a.threshold,
            "long_window_seconds": a.long_window_seconds,
            "short_window_seconds": a.short_window_seconds,
            "long_burn_rate": a.long_burn_rate,
            "short_burn_rate": a.short_burn_rate,
            "firing": a.firing,
        }
        for a in tracker.alert_status(at=at)
    ]


def slo_panel(tracker: SLOTracker, history: History, at: float) -> dict[str, Any]:
    """One SLO: its figures, policies, burndown and recent alert transitions."""
    snapshot = tracker.snapshot(at=at)
    rows = policies(tracker, at)
    burndown = tracker.burndown(BURNDOWN_POINTS, at=at)
    bars = [
        (f"{_duration(p[w])}", p[rate], p["threshold"])
        for p in rows
        for w, rate in (
            ("long_window_seconds", "long_burn_rate"),
            ("short_window_seconds", "short_burn_rate"),
        )
    ]
    return {
        "name": snapshot.name,
        "objective": snapshot.target,
        "window_seconds": snapshot.window_seconds,
        "total": snapshot.total,
        "failures": snapshot.failures,
        "success_ratio": snapshot.success_ratio,
        "error_budget_remaining": snapshot.error_budget_remaining,
        "error_budget_consumed": snapshot.error_budget_consumed,
        "burn_rate": snapshot.burn_rate,
        "time_to_exhaustion_seconds": snapshot.time_to_exhaustion_seconds,
        "policies": rows,
        "firing": list(dict.fromkeys(p["severity"] for p in rows if p["firing"])),
        "transitions": history.alert_transitions(snapshot.name, rows, at),
        "burndown": [[t, left] for t, left in burndown],
        "charts": {
            "burndown": svg.line_chart(
                f"{snapshot.name}: error budget left over the window",
                [("budget left", burndown)],
                thresholds=[("spent", 0.0)],
                y_max=1.0,
                y_min=min(0.0, *(left for _, left in burndown)),
            ),
            "burn_rates": svg.bar_chart(f"{snapshot.name}: burn rate per policy window", bars),
        },
    }


def breaker_panel(breaker: CircuitBreaker, history: History, at: float) -> dict[str, Any]:
    """One breaker: its snapshot and state timeline."""
    s = breaker.snapshot()
    states = history.states(s.name)
    spans = [
        (t, states[i + 1][0] if i + 1 < len(states) else at, state) for i, (t, state) in enumerate(states)
    ]
    return {
        "name": s.name,
        "state": s.state,
        "failure_rate": s.failure_rate,
        "slow_call_rate": s.slow_call_rate,
        "calls": s.calls,
        "failed_calls": s.failed_calls,
        "slow_calls": s.slow_calls,
        "rejected_calls": s.not_permitted_calls,
        "retry_after_seconds": s.retry_after,
        "transitions": s.transitions,
        "timeline": [{"at": t, "state": state} for t, state in states],
        "charts": {"timeline": svg.timeline(f"{s.name}: state", spans, spans[0][0] if spans else at, at)},
    }


def budget_panels(ledger: Ledger) -> list[dict[str, Any]]:
    """Every scope's budget in every unit, most used first, with its active reservations."""
    active: dict[str, int] = {}
    for r in ledger.reservations("ACTIVE"):
        for scope in r.affected_scopes:
            active[scope] = active.get(scope, 0) + 1
    panels: list[dict[str, Any]] = []
    for b in ledger.balances():
        used = (
            (b.spent + b.reserved + b.debt) / b.allocated if b.allocated > 0 else float(b.spent + b.debt > 0)
        )
        overdraft = b.debt / b.overdraft_limit if b.overdraft_limit > 0 else None
        level = max(used, overdraft or 0.0)
        panels.append(
            {
                "scope": b.scope_path,
                "unit": b.unit.value,
                "allocated": b.allocated,
                "reserved": b.reserved,
                "spent": b.spent,
                "debt": b.debt,
                "remaining": b.remaining,
                "overdraft_limit": b.overdraft_limit,
                "used": used,
                "overdraft_used": overdraft,
                "level": "critical" if level >= CRITICAL_USE else "warning" if level >= WARNING_USE else "ok",
                "active_reservations": active.get(b.scope_path, 0),
            }
        )
    panels.sort(key=lambda p: -p["used"])
    return panels


def route_panels(routes: RouteTable, cost: CostModel, recording: Recording, now: float) -> dict[str, Any]:
    """Every route's traffic and latency, and the cost model's projection, over the recording
    session (its last ``cost.window_seconds``)."""
    span, end = recording.span(now)
    window = min(ROUTE_WINDOW_SECONDS, max(span, 1.0))
    traffic: list[dict[str, Any]] = []
    for stats in routes.stats():
        s = stats.summary(window, at=end)
        traffic.append(
            {
                "route": s.route,
                "requests": s.requests,
                "rps": s.requests / s.covered_seconds if s.covered_seconds > 0 else 0.0,
                "error_ratio": s.error_ratio,
                "p50_seconds": finite(s.p50),
                "p95_seconds": finite(s.p95),
                "p99_seconds": finite(s.p99),
                "max_seconds": finite(s.max),
            }
        )
    traffic.sort(key=lambda r: -r["requests"])
    session = CostModel(
        cost.pricing,
        target_users=cost.target_users,
        requests_per_user_per_second=cost.requests_per_user_per_second,
        window_seconds=min(cost.window_seconds, max(span, 1.0)),
        warmup_seconds=cost.warmup_seconds,
        monthly_budget_usd=cost.monthly_budget_usd,
    )
    report = session.project(routes, at=end)
    costs: list[dict[str, Any]] = [
        {
            "route": c.route,
            "requests": c.requests,
            "projected_rps": c.projected_rps,
            "instance": c.instance,
            "instance_count": c.instance_count,
            "monthly_usd": c.monthly_usd,
            "cost_per_user_usd": c.cost_per_user_usd,
            "request_cost_p50_usd": c.request_cost_p50_usd,
            "request_cost_p95_usd": c.request_cost_p95_usd,
            "request_cost_p99_usd": c.request_cost_p99_usd,
            "variance_ratio": finite(c.variance_ratio),
            "variance_warning": c.variance_warning,
            "over_budget": c.over_budget,
            "cost_curve": [[p.users, p.monthly_usd] for p in c.cost_curve],
        }
        for c in report.routes
    ]
    curves = [(c["route"], [(math.log10(u), usd) for u, usd in c["cost_curve"]]) for c in costs]
    return {
        "routes": traffic,
        "costs": costs,
        "provider": report.provider,
        "target_users": report.target_users,
        "monthly_usd": report.monthly_usd,
        "warming_up": list(report.warming_up),
        "excluded_requests": report.excluded_requests,
        "charts": {
            "cost_curve": svg.line_chart("Monthly cost from 100 to 1M users (log users)", curves, y_min=0.0)
        },
    }


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
