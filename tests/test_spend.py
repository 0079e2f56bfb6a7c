from __future__ import annotations

import math
import pickle
from dataclasses import fields

import cloudcircuit as peer
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burnguard import spend

# Spend values with ties and zeros, as billing data has them.
values = st.one_of(st.sampled_from([0.0, 1.0, 2.5, 10.0]), st.floats(0, 1e6, allow_nan=False))
series = st.lists(values, min_size=2, max_size=40)
batches = st.lists(series, min_size=1, max_size=12)


def close(a: float, b: float) -> bool:
    """Bitwise, or within 1e-12 relative: Python < 3.12's sum() is not compensated."""
    return a == b or math.isclose(a, b, rel_tol=1e-12)


def same(ours: object, theirs: object) -> None:
    for name in theirs.__dataclass_fields__:  # type: ignore[attr-defined]
        a, b = getattr(ours, name), getattr(theirs, name)
        assert close(a, b) if isinstance(b, float) else a == b, (name, a, b)


def padded(rows: list[list[float]], *, lead: bool) -> np.ndarray:
    width = max(map(len, rows))
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):
        if lead:
            out[i, width - len(r) :] = r
        else:
            out[i, : len(r)] = r
    return out


@settings(max_examples=150, deadline=None)
@given(rows=batches, method=st.sampled_from(["mean", "mad", "percentile", "burn"]), lead=st.booleans())
def test_every_batch_row_equals_the_scalar_check_and_cloudcircuit(
    rows: list[list[float]], method: str, lead: bool
) -> None:
    def scalar(s: list[float]) -> object:
        if method == "mean":
            return spend.check_anomaly_spike(s), peer.check_anomaly_spike(s)
        if method == "burn":
            return spend.check_burn_rate(s), peer.check_burn_rate(s)
        return spend.check_anomaly_robust(s, method=method), peer.check_anomaly_robust(s, method=method)  # type: ignore[arg-type]

    def batch(array: np.ndarray, lengths: np.ndarray | None = None) -> spend._Batch:
        if method == "mean":
            return spend.check_anomaly_spike(array, lengths=lengths)
        if method == "burn":
            return spend.check_burn_rate(array, lengths=lengths)
        return spend.check_anomaly_robust(array, method=method, lengths=lengths)  # type: ignore[arg-type]

    nan_padded = batch(padded(rows, lead=lead))
    right_padded = padded(rows, lead=False)
    with_lengths = batch(np.nan_to_num(right_padded, nan=7.0), np.array([len(r) for r in rows]))
    for i, r in enumerate(rows):
        ours, theirs = scalar(r)
        same(ours, theirs)
        assert nan_padded.row(i) == ours  # bitwise: the same code path
        assert with_lengths.row(i) == ours


@settings(max_examples=150, deadline=None)
@given(
    spend_values=st.lists(values, min_size=1, max_size=30),
    limit=st.floats(0.01, 1e6),
    ratio=st.floats(0.01, 1.0),
    elapsed=st.integers(1, 30),
    extra=st.integers(0, 30),
)
def test_elementwise_checks_equal_the_scalar_and_cloudcircuit(
    spend_values: list[float], limit: float, ratio: float, elapsed: int, extra: int
) -> None:
    budget = spend.check_budget(np.array(spend_values), limit, ratio)
    forecast = spend.forecast_budget_breach(np.array(spend_values), limit, elapsed, elapsed + extra)
    n = len(spend_values)
    # Per-row limits, and per-row periods, take the other loops.
    per_row = [
        spend.forecast_budget_breach(np.array(spend_values), np.full(n, limit), elapsed, elapsed + extra),
        spend.forecast_budget_breach(np.array(spend_values), limit, np.full(n, elapsed), elapsed + extra),
    ]
    for other in per_row:
        assert np.array_equal(other.projected_total_spend, forecast.projected_total_spend)
        assert np.array_equal(other.will_breach, forecast.will_breach)
    for i, s in enumerate(spend_values):
        same(budget.row(i), peer.check_budget(s, limit, ratio))
        assert budget.row(i) == spend.check_budget(s, limit, ratio)
        same(forecast.row(i), peer.forecast_budget_breach(s, limit, elapsed, elapsed + extra))


@given(
    failures=st.lists(st.integers(0, 10), min_size=1, max_size=20),
    threshold=st.integers(1, 5),
    cooldown=st.integers(0, 3),
)
def test_breaker_and_policy_batches_equal_the_scalar_decisions(
    failures: list[int], threshold: int, cooldown: int
) -> None:
    breaker = spend.evaluate_circuit_breaker(np.array(failures), threshold, cooldown)
    n = len(failures)
    budget = spend.check_budget(np.linspace(0, 120, n), 100.0)
    anomaly = spend.check_anomaly_spike(
        np.tile([1.0, 1.0, 2.0], (n, 1)) * np.arange(1, n + 1)[:, None] ** 0.5
    )
    policy = spend.evaluate_spend_policy(budget, anomaly, breaker)
    for i, f in enumerate(failures):
        same(breaker.row(i), peer.evaluate_circuit_breaker(f, threshold, cooldown))
        decision = spend.evaluate_spend_policy(budget.row(i), anomaly.row(i), breaker.row(i))
        assert policy.row(i) == decision
        theirs = peer.evaluate_spend_policy(
            peer.check_budget(budget.row(i).current_spend, 100.0), anomaly.row(i), breaker.row(i)
        )  # type: ignore[arg-type]
        assert (decision.action, decision.severity, decision.reason) == (
            theirs.action,
            theirs.severity,
            theirs.reason,
        )


def test_arrays_broadcast_like_numpy() -> None:
    result = spend.check_budget(np.array([[10.0, 50.0, 95.0]]), np.array([[100.0], [50.0]]), 0.9)
    assert result.shape == (2, 3)
    assert result.is_breached.tolist() == [[False, False, False], [False, True, True]]
    forecast = spend.forecast_budget_breach(np.array([10.0, 20.0]), 100.0, np.array([[5], [10]]), 30)
    assert forecast.projected_total_spend.tolist() == [[60.0, 120.0], [30.0, 60.0]]
    # One spend against many limits or periods, across several pieces of 16,384 rows.
    limits = np.linspace(1.0, 100.0, 40_000)
    one_spend = spend.forecast_budget_breach(50.0, limits, 10, 30)
    assert np.array_equal(one_spend.projected_total_spend, np.full(40_000, 150.0))
    assert np.array_equal(one_spend.will_breach, limits <= 150.0)
    periods = spend.forecast_budget_breach(50.0, 100.0, np.arange(1, 40_001), 40_000)
    assert periods.projected_total_spend[[0, -1]].tolist() == [50.0 * 40_000, 50.0]
    budget = spend.check_budget(50.0, limits)
    assert np.array_equal(budget.usage_ratio, 50.0 / limits)
    many = spend.check_anomaly_spike(np.ones((4, 3, 10)))
    assert many.shape == (4, 3) and not many.is_spike.any()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: spend.check_budget(np.array([1.0, -2.0]), 10.0),
            r"^current_spend\[1\] must be >= 0; got -2",
        ),
        (
            lambda: spend.check_budget(np.array([[1.0, 2.0], [3.0, np.nan]]), 10.0),
            r"^current_spend\[1, 1\] must be >= 0; got NaN",
        ),
        (
            lambda: spend.check_budget(np.ones(3), np.array([1.0, 0.0, 1.0])),
            r"^budget_limit\[1\] must be > 0",
        ),
        (
            lambda: spend.check_budget(np.ones(3), np.ones(2)),
            r"^shapes do not broadcast: current_spend \(3,\), budget_limit \(2,\)",
        ),
        (lambda: spend.check_budget(1.0, 10.0, 0.0), r"^warning_ratio must be in \(0, 1\]"),
        (
            lambda: spend.check_anomaly_spike(np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]])),
            r"^spend_series\[1, 1\] is NaN between values",
        ),
        (
            lambda: spend.check_anomaly_spike(np.array([[1.0, 2.0, 3.0], [1.0, -2.0, 3.0]])),
            r"^spend_series\[1, 1\] must be a finite value >= 0; got -2",
        ),
        (
            lambda: spend.check_anomaly_spike([1.0, math.inf]),
            r"^spend_series\[1\] must be a finite value >= 0; got inf",
        ),
        (lambda: spend.check_anomaly_spike([1.0]), r"^spend_series must contain at least 2 points"),
        (
            lambda: spend.check_anomaly_spike(np.array([[np.nan, np.nan, 1.0]])),
            r"^spend_series must contain at least 2 points; series 0 has 1",
        ),
        (
            lambda: spend.check_anomaly_spike(np.ones((2, 3)), lengths=[2, 4]),
            r"^lengths\[1\] must be in \[2, 3\]; got 4",
        ),
        (
            lambda: spend.check_anomaly_spike(np.ones((2, 3)), lengths=[2]),
            r"^lengths must have the series' leading shape \(2,\)",
        ),
        (
            lambda: spend.check_anomaly_spike([1.0, 2.0], spike_multiplier=1.0),
            r"^spike_multiplier must be > 1.0",
        ),
        (
            lambda: spend.check_anomaly_robust([1.0, 2.0], method="zscore"),
            r"^method must be 'mad' or 'percentile'",
        ),  # type: ignore[arg-type]
        (
            lambda: spend.check_anomaly_robust(np.ones((2, 3)), percentile=1.0, method="percentile"),
            r"^percentile must be in \(0, 1\)",
        ),
        (
            lambda: spend.forecast_budget_breach(np.ones(2), 10.0, [1, 5], [3, 3]),
            r"^periods_elapsed\[1\] must be <= total_periods \(3\); got 5",
        ),
        (lambda: spend.forecast_budget_breach(1.0, 10.0, 1.5, 3), r"^periods_elapsed must be a whole number"),
        (
            lambda: spend.evaluate_circuit_breaker(np.array([1, -1]), 3, 0),
            r"^consecutive_failures\[1\] must be >= 0; got -1",
        ),
        (lambda: spend.make_alert_payload(None, "", "prod"), r"^service must be non-empty"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_parameter_and_position(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_results_are_frozen_picklable_and_scalar_results_keep_the_callers_values() -> None:
    result = spend.check_budget(40, 100)
    assert (result.current_spend, result.budget_limit) == (40, 100)  # echoed unchanged, as cloudcircuit does
    assert pickle.loads(pickle.dumps(result)) == result
    batch = spend.check_burn_rate(np.array([[1.0, 2.0], [2.0, 2.0]]))
    restored = pickle.loads(pickle.dumps(batch))
    assert restored.burn_rate_ratio.tolist() == [2.0, 1.0]
    assert batch.to_dict()["is_hot"].tolist() == [True, False]
    with pytest.raises(AttributeError):
        result.usage_ratio = 0.0  # type: ignore[misc]


def test_alert_payload_is_the_peers() -> None:
    budget = spend.check_budget(95.0, 100.0)
    anomaly = spend.check_anomaly_spike([1.0, 1.0, 5.0])
    breaker = spend.evaluate_circuit_breaker(0)
    ours = spend.make_alert_payload(spend.evaluate_spend_policy(budget, anomaly, breaker), "api", "prod")
    theirs = peer.make_alert_payload(
        peer.evaluate_spend_policy(
            peer.check_budget(95.0, 100.0),
            peer.check_anomaly_spike([1.0, 1.0, 5.0]),
            peer.evaluate_circuit_breaker(0),
        ),
        "api",
        "prod",
    )
    assert ours == theirs


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(values, min_size=2, max_size=25), min_size=1, max_size=4), window=st.integers(1, 6)
)
def test_rolling_checks_equal_the_scalar_check_of_each_window(rows: list[list[float]], window: int) -> None:
    array = padded(rows, lead=True)
    spike = spend.rolling_anomaly_spike(array, window)
    mad = spend.rolling_anomaly_robust(array, window)
    burn = spend.rolling_burn_rate(array, window)
    width = array.shape[1]
    for i, r in enumerate(rows):
        offset = width - len(r)
        for t in range(len(r)):
            j = offset + t
            if t < window:
                assert np.isnan(spike.baseline_mean[i, j]) and not spike.is_spike[i, j]
                continue
            window_values = r[t - window : t + 1]
            expected = spend.check_anomaly_spike(window_values)
            assert close(spike.threshold[i, j], expected.threshold)
            assert mad.threshold[i, j] == spend.check_anomaly_robust(window_values).threshold  # exact
            assert close(burn.burn_rate_ratio[i, j], spend.check_burn_rate(window_values).burn_rate_ratio)


def test_rolling_one_series_keeps_its_shape_and_rejects_bad_input() -> None:
    result = spend.rolling_burn_rate([1.0, 1.0, 1.0, 4.0], 2)
    assert result.is_hot.tolist() == [False, False, False, True]
    assert result.burn_rate_ratio.shape == (4,)
    with pytest.raises(ValueError, match=r"^window must be >= 1; got 0"):
        spend.rolling_anomaly_spike([1.0, 2.0], 0)
    with pytest.raises(ValueError, match=r"^spend_series\[0, 1\] is NaN between values"):
        spend.rolling_anomaly_robust(np.array([[1.0, np.nan, 2.0]]), 1)
    with pytest.raises(ValueError, match=r"^spend_series\[1\] must be a finite value >= 0; got -1"):
        spend.rolling_anomaly_spike([1.0, -1.0, 2.0], 1)


def _outputs(
    kind: type[spend.BudgetCheckBatch | spend.ForecastBatch | spend.CircuitBreakerBatch],
    shape: tuple[int, ...],
) -> tuple[np.ndarray, ...]:
    return tuple(np.full(shape, 7, dtype) for dtype in kind.computed.values())


def _equal(a: object, b: object) -> bool:
    return all(np.array_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))  # type: ignore[arg-type]


def test_out_writes_the_results_into_the_given_arrays() -> None:
    costs, limits = np.array([[10.0, 95.0], [120.0, 0.0]]), np.array([100.0, 50.0])
    out = _outputs(spend.BudgetCheckBatch, (2, 2))
    result = spend.check_budget(costs, limits, 0.9, out=out)
    assert all(getattr(result, name) is array for name, array in zip(result.computed, out, strict=True))
    assert _equal(result, spend.check_budget(costs, limits, 0.9))
    # A batch from an earlier call can be reused: its arrays are overwritten.
    again = spend.check_budget(costs * 2, limits, 0.9, out=result)
    assert again.usage_ratio is out[0] and result.usage_ratio.tolist() == [[0.2, 3.8], [2.4, 0.0]]
    assert _equal(again, spend.check_budget(costs * 2, limits, 0.9))

    forecast_out = _outputs(spend.ForecastBatch, (2,))
    forecast = spend.forecast_budget_breach([10.0, 20.0], 30.0, 1, 2, out=forecast_out)
    assert forecast.projected_total_spend is forecast_out[0]
    assert _equal(forecast, spend.forecast_budget_breach([10.0, 20.0], 30.0, 1, 2))
    breaker_out = _outputs(spend.CircuitBreakerBatch, (3,))
    breaker = spend.evaluate_circuit_breaker([0, 3, 1], 3, [0, 0, 2], out=breaker_out)
    assert breaker.retry_after_steps is breaker_out[2] and breaker.retry_after_steps.tolist() == [0, 0, 2]
    # Scalar inputs with out= give a batch of 0-d arrays.
    single = spend.check_budget(95.0, 100.0, out=_outputs(spend.BudgetCheckBatch, ()))
    assert single.row() == spend.check_budget(95.0, 100.0)


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (
            (np.empty(3),),
            r"^out must be a BudgetCheckBatch or a tuple of 4 arrays \(usage_ratio, .*; got tuple of 1$",
        ),
        (
            spend.forecast_budget_breach(np.ones(3), 10.0, 1, 2),
            r"^out must be a BudgetCheckBatch or a tuple of 4 arrays .*; got ForecastBatch",
        ),
        (
            (np.empty(3), np.empty(3), np.empty(3), np.empty(3, bool)),
            r"^out\[2\] \(is_warning\) must be a writeable C-contiguous bool array of shape \(3,\); "
            r"got float64 array of shape \(3,\)",
        ),
        (
            (np.empty(3), np.empty(4), np.empty(3, bool), np.empty(3, bool)),
            r"^out\[1\] \(remaining_budget\) must be .* of shape \(3,\); got float64 array of shape \(4,\)",
        ),
        (
            (np.empty(6)[::2], np.empty(3), np.empty(3, bool), np.empty(3, bool)),
            r"^out\[0\] \(usage_ratio\) must be .*; got float64 array of shape \(3,\), not C-contiguous",
        ),
        (
            (np.empty(3), np.empty(3), np.empty(3, bool), np.broadcast_to(np.empty(1, bool), (3,))),
            r"^out\[3\] \(is_breached\) must be .*; got read-only bool array",
        ),
        (
            (np.empty(3), [0.0, 0.0, 0.0], np.empty(3, bool), np.empty(3, bool)),
            r"^out\[1\] \(remaining_budget\) must be .*; got list",
        ),
    ],
)
def test_bad_out_names_the_array(out: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spend.check_budget(np.ones(3), 10.0, out=out)  # type: ignore[arg-type]


def test_bad_out_is_named_for_forecasts_and_breakers_too() -> None:
    with pytest.raises(ValueError, match=r"^out\[2\] \(will_breach\) must be .* bool array of shape \(2,\)"):
        spend.forecast_budget_breach([1.0, 2.0], 10.0, 1, 2, out=(np.empty(2), np.empty(2), np.empty(2)))
    with pytest.raises(ValueError, match=r"^out must be a CircuitBreakerBatch or a tuple of 3 arrays"):
        spend.evaluate_circuit_breaker([1, 2], out=spend.check_budget(np.ones(2), 10.0))  # type: ignore[arg-type]


def test_out_must_not_share_memory_with_the_inputs_or_itself() -> None:
    costs = np.ones(3)
    usage, flags = np.empty(3), (np.empty(3, bool), np.empty(3, bool))
    with pytest.raises(ValueError, match=r"^usage_ratio must not share memory with the inputs"):
        spend.check_budget(costs, 10.0, out=(costs, np.empty(3), *flags))
    with pytest.raises(ValueError, match=r"^remaining_budget must not share memory with .* another output"):
        spend.check_budget(costs, 10.0, out=(usage, usage, *flags))


AVX2_PROBE = """
import hashlib, dataclasses, numpy as np
from burnguard import spend
rng = np.random.default_rng(7)
costs = rng.uniform(0, 200, 50_000)
limits = rng.uniform(1, 200, 50_000)
history = rng.gamma(2.0, 10.0, (5_000, 30))
history[::7, 5] = history[::7, 9]  # ties
results = [
    spend.check_budget(costs, 100.0, 0.8),
    spend.check_budget(costs, limits, 0.8),
    spend.forecast_budget_breach(costs, limits, 7, 30),
    spend.check_anomaly_robust(history),
    spend.check_anomaly_robust(history, method="percentile", percentile=0.9),
]
digest = hashlib.sha256()
for result in results:
    for field in dataclasses.fields(result):
        digest.update(np.ascontiguousarray(getattr(result, field.name)).tobytes())
print(spend.uses_avx2(), digest.hexdigest())
"""


def test_avx2_and_baseline_kernels_give_the_same_bits() -> None:
    import os
    import subprocess
    import sys

    def run(**env: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", AVX2_PROBE],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.split()

    default, baseline = run(), run(BURNGUARD_DISABLE_AVX2="1")
    assert baseline[0] == "False"
    assert default[0] == str(spend.uses_avx2())
    assert default[1] == baseline[1]
