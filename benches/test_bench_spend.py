"""Spend safeguards over arrays: burnguard's batch API against cloudcircuit 0.3.8 in a Python
loop and against the best hand-written numpy expression, in one run. The loop is timed on a
slice of the rows and scaled to the full batch (`extra_info["scaled_from_rows"]`)."""

from __future__ import annotations

from typing import Any

import cloudcircuit as peer
import numpy as np
import pytest

from burnguard import spend

ROWS = 1_000_000
SERIES, POINTS = 100_000, 30
LOOP_ROWS = 20_000  # rows the peer's loop runs, scaled up to the whole batch

rng = np.random.default_rng(2026)
SPEND = rng.uniform(0, 200, ROWS)
HISTORY = rng.gamma(2.0, 10.0, (SERIES, POINTS))


def _scaled_loop(benchmark: Any, run: Any, rows: int, total: int) -> None:
    benchmark.extra_info["scaled_from_rows"] = rows
    benchmark.extra_info["scale"] = total / rows
    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="check_budget, 1M rows")
def test_check_budget_burnguard(benchmark: Any) -> None:
    result = benchmark(spend.check_budget, SPEND, 100.0, 0.9)
    assert result.shape == (ROWS,)


@pytest.mark.benchmark(group="check_budget, 1M rows")
def test_check_budget_numpy(benchmark: Any) -> None:
    def expression() -> tuple[Any, ...]:
        usage = SPEND / 100.0
        return usage, 100.0 - SPEND, usage >= 0.9, SPEND >= 100.0

    benchmark(expression)


@pytest.mark.benchmark(group="check_budget, 1M rows")
def test_check_budget_burnguard_out(benchmark: Any) -> None:
    """Into the arrays of an earlier result, as a loop over chunks of a billing export runs."""
    earlier = spend.check_budget(SPEND, 100.0, 0.9)
    result = benchmark(lambda: spend.check_budget(SPEND, 100.0, 0.9, out=earlier))
    assert result.usage_ratio is earlier.usage_ratio


@pytest.mark.benchmark(group="check_budget, 1M rows")
def test_check_budget_numpy_out(benchmark: Any) -> None:
    usage, remaining = np.empty(ROWS), np.empty(ROWS)
    warning, breached = np.empty(ROWS, bool), np.empty(ROWS, bool)

    def expression() -> tuple[Any, ...]:
        np.divide(SPEND, 100.0, out=usage)
        np.subtract(100.0, SPEND, out=remaining)
        np.greater_equal(usage, 0.9, out=warning)
        np.greater_equal(SPEND, 100.0, out=breached)
        return usage, remaining, warning, breached

    benchmark(expression)


@pytest.mark.benchmark(group="check_budget, 1M rows")
def test_check_budget_cloudcircuit_loop(benchmark: Any) -> None:
    rows = SPEND[:LOOP_ROWS].tolist()
    _scaled_loop(benchmark, lambda: [peer.check_budget(s, 100.0, 0.9) for s in rows], LOOP_ROWS, ROWS)


@pytest.mark.benchmark(group="check_anomaly_robust mad, 100k series x 30")
def test_robust_mad_burnguard(benchmark: Any) -> None:
    assert benchmark(spend.check_anomaly_robust, HISTORY).shape == (SERIES,)


@pytest.mark.benchmark(group="check_anomaly_robust mad, 100k series x 30")
def test_robust_mad_cloudcircuit_loop(benchmark: Any) -> None:
    rows = HISTORY[: LOOP_ROWS // 10].tolist()
    _scaled_loop(benchmark, lambda: [peer.check_anomaly_robust(r) for r in rows], LOOP_ROWS // 10, SERIES)


@pytest.mark.benchmark(group="check_anomaly_spike, 100k series x 30")
def test_spike_burnguard(benchmark: Any) -> None:
    benchmark(spend.check_anomaly_spike, HISTORY)


@pytest.mark.benchmark(group="check_anomaly_spike, 100k series x 30")
def test_spike_cloudcircuit_loop(benchmark: Any) -> None:
    rows = HISTORY[: LOOP_ROWS // 10].tolist()
    _scaled_loop(benchmark, lambda: [peer.check_anomaly_spike(r) for r in rows], LOOP_ROWS // 10, SERIES)


@pytest.mark.benchmark(group="forecast_budget_breach, 1M rows")
def test_forecast_burnguard(benchmark: Any) -> None:
    benchmark(spend.forecast_budget_breach, SPEND, 150.0, 10, 30)


@pytest.mark.benchmark(group="forecast_budget_breach, 1M rows")
def test_forecast_cloudcircuit_loop(benchmark: Any) -> None:
    rows = SPEND[:LOOP_ROWS].tolist()
    _scaled_loop(
        benchmark, lambda: [peer.forecast_budget_breach(s, 150.0, 10, 30) for s in rows], LOOP_ROWS, ROWS
    )


ROLL_SERIES, ROLL_POINTS, ROLL_WINDOW = 1_000, 10_000, 30
ROLLING = rng.gamma(2.0, 10.0, (ROLL_SERIES, ROLL_POINTS))


@pytest.mark.benchmark(group="rolling, 1k series x 10k points, window 30")
@pytest.mark.parametrize("check", ["spike", "mad", "percentile", "burn"])
def test_rolling_burnguard(benchmark: Any, check: str) -> None:
    run = {
        "spike": lambda: spend.rolling_anomaly_spike(ROLLING, ROLL_WINDOW),
        "mad": lambda: spend.rolling_anomaly_robust(ROLLING, ROLL_WINDOW),
        "percentile": lambda: spend.rolling_anomaly_robust(ROLLING, ROLL_WINDOW, method="percentile"),
        "burn": lambda: spend.rolling_burn_rate(ROLLING, ROLL_WINDOW),
    }[check]
    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.mark.benchmark(group="rolling, 1k series x 10k points, window 30")
def test_rolling_mad_cloudcircuit_loop(benchmark: Any) -> None:
    series = ROLLING[0, :1000].tolist()
    windows = [series[t - ROLL_WINDOW : t + 1] for t in range(ROLL_WINDOW, len(series))]
    steps = ROLL_SERIES * (ROLL_POINTS - ROLL_WINDOW)
    _scaled_loop(benchmark, lambda: [peer.check_anomaly_robust(w) for w in windows], len(windows), steps)


@pytest.mark.benchmark(group="rolling MAD, 1k series x 10k points, window 1000")
def test_rolling_mad_long_window_burnguard(benchmark: Any) -> None:
    benchmark.pedantic(lambda: spend.rolling_anomaly_robust(ROLLING, 1000), rounds=3, iterations=1)
