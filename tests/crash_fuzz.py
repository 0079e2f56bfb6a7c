"""A seeded crash fuzzer: calls every public entry point with random and edge arguments.

Run as ``python tests/crash_fuzz.py SEED CALLS``. Errors a caller can catch (any ``Exception``)
are expected; a Rust panic (``PanicException``, a ``BaseException``), an abort or a signal is a
crash, and ends the process with a non-zero status. ``tests/test_crash_fuzz.py`` runs it.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import burnguard as bg
from burnguard import spend

T0 = 1_700_000_000.0


def edge_values(rng: random.Random) -> list[Any]:
    """A pool of awkward arguments: empty, 0-d, huge, NaN, wrong types and dtypes, views."""
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    return [
        [],
        (),
        np.array([]),
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        np.array(5.0),
        np.array([[]]),
        0,
        1,
        -1,
        2,
        3,
        0.5,
        1.5,
        -0.0,
        1e308,
        -1e308,
        5e-324,
        math.nan,
        math.inf,
        -math.inf,
        2**63,
        -(2**63),
        2**64 + 1,
        True,
        None,
        "x",
        "",
        b"bytes",
        object(),
        [1.0, 2.0, 3.0],
        [1.0, math.nan, 3.0],
        [1, "a"],
        [[1.0, 2.0], [3.0]],
        np.array([1.0, 2.0, 30.0]),
        np.array([1.0, 2.0, 30.0])[::-1],
        base[:, ::2],
        base.T,
        base,
        base.reshape(3, 2, 2),
        np.array([1, 2, 3], dtype=np.int64),
        np.array([1, 2, 3], dtype=np.uint64),
        np.array([2**62, -(2**62)], dtype=np.int64),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1 + 2j, 3j]),
        np.array(["a", "b"]),
        np.array([None, 1.0], dtype=object),
        np.array([True, False]),
        np.full(5, math.nan),
        np.full(5, math.inf),
        np.full((2, 3), -1.0),
        np.array([rng.uniform(0, 100) for _ in range(7)]),
        T0,
        -T0,
        T0 + 1e10,
    ]


def targets() -> list[tuple[str, Callable[..., Any], int]]:
    """``(name, function, most positional arguments)`` for every entry point fuzzed."""
    tracker = bg.SLOTracker(bg.SLODefinition("fuzz", 0.99, burn_rate_windows=(60,)))
    latency = bg.SLOTracker(bg.SLODefinition("lat", 0.99, latency_threshold_seconds=0.2))
    breaker = bg.CircuitBreaker("fuzz")
    ledger = bg.Ledger()
    ledger.set_budget("tenant:t", bg.Unit.TOKENS, 1000)
    table = bg.RouteTable(retain_seconds=86_400)
    route = table.route("GET /")
    return [
        ("check_budget", spend.check_budget, 3),
        ("check_anomaly_spike", spend.check_anomaly_spike, 3),
        ("check_anomaly_robust", spend.check_anomaly_robust, 2),
        ("check_burn_rate", spend.check_burn_rate, 2),
        ("forecast_budget_breach", spend.forecast_budget_breach, 4),
        ("evaluate_circuit_breaker", spend.evaluate_circuit_breaker, 3),
        ("rolling_anomaly_spike", spend.rolling_anomaly_spike, 3),
        ("rolling_anomaly_robust", spend.rolling_anomaly_robust, 2),
        ("rolling_burn_rate", spend.rolling_burn_rate, 3),
        ("evaluate_spend_policy", spend.evaluate_spend_policy, 3),
        ("SLODefinition", lambda *a: bg.SLODefinition("n", *a), 5),
        ("BurnRatePolicy.workbook", bg.BurnRatePolicy.workbook, 1),
        ("record", tracker.record, 1),
        ("record_many", tracker.record_many, 2),
        ("record_latency", latency.record_latency, 1),
        ("record_latency_many", latency.record_latency_many, 2),
        ("snapshot", lambda at=None: tracker.snapshot(at=at), 1),
        ("poll_alerts", lambda at=None: tracker.poll_alerts(at=at), 1),
        ("CircuitBreaker", lambda *a: bg.CircuitBreaker("b", *a), 4),
        ("breaker.call", breaker.call, 2),
        ("Ledger", lambda *a: bg.Ledger(clock=None, retention_seconds=a[0] if a else 300), 1),
        ("set_budget", ledger.set_budget, 3),
        ("reserve", lambda *a: ledger.reserve(bg.Subject(tenant="t"), bg.Action("k", "n"), *a), 1),
        ("commit", ledger.commit, 2),
        ("release", ledger.release, 1),
        ("RouteTable", lambda *a: bg.RouteTable(max_routes=a[0] if a else 64), 1),
        ("route.record", route.record, 4),
        ("route.summary", route.summary, 1),
        ("CostModel.project", lambda *a: bg.CostModel(bg.Pricing.bundled("aws"), *a).project(table), 2),
    ]


def main(seed: int, calls: int) -> None:
    rng = random.Random(seed)
    pool = edge_values(rng)
    entries = targets()
    for _ in range(calls):
        _, func, most = rng.choice(entries)
        args = [rng.choice(pool) for _ in range(rng.randint(0, most))]
        try:
            func(*args)
        except Exception:  # every error a caller can catch is an expected outcome
            pass


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
