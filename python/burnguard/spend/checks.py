"""The checks: budget, spikes, burn, forecast and breaker, for one value or whole batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._check import diagnosed
from burnguard.errors import invalid
from burnguard.spend._args import (
    _as_list,
    _broadcast,
    _column,
    _flat,
    _floats,
    _ints,
    _is_one_series,
    _is_scalar,
    _native_call,
    _outputs,
    _series,
)
from burnguard.spend.results import (
    AnomalyCheckBatch,
    AnomalyCheckResult,
    ArrayLike,
    BudgetCheckBatch,
    BudgetCheckResult,
    BurnRateBatch,
    BurnRateResult,
    CircuitBreakerBatch,
    CircuitBreakerDecision,
    ForecastBatch,
    ForecastResult,
)

Batch = npt.NDArray[Any] | Sequence[float]
"""An array or a list: the element-wise checks then answer with a batch (a 0-d array too)."""
Out = Any
"""``out=``: a batch from an earlier call, or a sequence of arrays in field order."""


@overload
def check_budget(
    current_spend: float, budget_limit: float, warning_ratio: float = 0.9, *, out: None = None
) -> BudgetCheckResult: ...
@overload
def check_budget(
    current_spend: Batch, budget_limit: ArrayLike, warning_ratio: float = 0.9, *, out: Out | None = None
) -> BudgetCheckBatch: ...
@overload
def check_budget(
    current_spend: ArrayLike, budget_limit: Batch, warning_ratio: float = 0.9, *, out: Out | None = None
) -> BudgetCheckBatch: ...
@overload
def check_budget(
    current_spend: ArrayLike, budget_limit: ArrayLike, warning_ratio: float = 0.9, *, out: Out
) -> BudgetCheckBatch: ...
@overload
def check_budget(
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    warning_ratio: float = 0.9,
    *,
    out: Out | None = None,
) -> BudgetCheckBatch | BudgetCheckResult: ...
@diagnosed
def check_budget(
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    warning_ratio: float = 0.9,
    *,
    out: BudgetCheckBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> BudgetCheckBatch | BudgetCheckResult:
    """Budget usage against warning and breach thresholds; arrays broadcast.

    ``out=`` takes arrays to write the computed fields into (a batch from an earlier call, or
    a tuple in field order), so that a loop over chunks allocates nothing; the result holds
    them. If the call raises, they may hold part of the results."""
    if out is None and _is_scalar(current_spend, budget_limit):
        return _native.check_budget(current_spend, budget_limit, warning_ratio)  # type: ignore[arg-type]
    spend, limit = _floats("current_spend", current_spend), _floats("budget_limit", budget_limit)
    shape = _broadcast(current_spend=spend, budget_limit=limit)
    outputs = _outputs(out, BudgetCheckBatch, shape)
    rows, limits = _column(spend, shape), _column(limit, shape)
    _native_call(shape, lambda: _native.check_budget_batch(rows, limits, warning_ratio, *_flat(outputs)))
    return BudgetCheckBatch(np.broadcast_to(spend, shape), np.broadcast_to(limit, shape), *outputs)


@overload
def check_anomaly_spike(
    spend_series: Sequence[float], spike_multiplier: float = 1.5, min_baseline: float = 0.0
) -> AnomalyCheckResult: ...
@overload
def check_anomaly_spike(
    spend_series: ArrayLike,
    spike_multiplier: float = 1.5,
    min_baseline: float = 0.0,
    *,
    lengths: ArrayLike | None = None,
) -> AnomalyCheckBatch | AnomalyCheckResult: ...
@diagnosed
def check_anomaly_spike(
    spend_series: ArrayLike,
    spike_multiplier: float = 1.5,
    min_baseline: float = 0.0,
    *,
    lengths: ArrayLike | None = None,
) -> AnomalyCheckBatch | AnomalyCheckResult:
    """Is the newest point above ``max(mean(history), min_baseline) * spike_multiplier``?"""
    options = {"spike_multiplier": spike_multiplier, "min_baseline": min_baseline}
    return _anomaly(spend_series, lengths, "mean", options)


@overload
def check_anomaly_robust(
    spend_series: Sequence[float],
    *,
    method: Literal["mad", "percentile"] = "mad",
    z_threshold: float = 3.5,
    min_mad: float = 0.0,
    percentile: float = 0.95,
    min_baseline: float = 0.0,
) -> AnomalyCheckResult: ...
@overload
def check_anomaly_robust(
    spend_series: ArrayLike,
    *,
    method: Literal["mad", "percentile"] = "mad",
    z_threshold: float = 3.5,
    min_mad: float = 0.0,
    percentile: float = 0.95,
    min_baseline: float = 0.0,
    lengths: ArrayLike | None = None,
) -> AnomalyCheckBatch | AnomalyCheckResult: ...
@diagnosed
def check_anomaly_robust(
    spend_series: ArrayLike,
    *,
    method: Literal["mad", "percentile"] = "mad",
    z_threshold: float = 3.5,
    min_mad: float = 0.0,
    percentile: float = 0.95,
    min_baseline: float = 0.0,
    lengths: ArrayLike | None = None,
) -> AnomalyCheckBatch | AnomalyCheckResult:
    """Robust spike detection: ``max(median, min_baseline) + z * max(MAD, min_mad) / 0.6745``
    (``method="mad"``) or ``max(quantile(history, percentile), min_baseline)``."""
    if method not in ("mad", "percentile"):
        raise invalid("method", "must be 'mad' or 'percentile'", repr(method))
    options = {
        "z_threshold": z_threshold,
        "min_mad": min_mad,
        "percentile": percentile,
        "min_baseline": min_baseline,
    }
    return _anomaly(spend_series, lengths, method, options)


def _anomaly(
    spend_series: ArrayLike, lengths: ArrayLike | None, method: str, options: dict[str, float]
) -> AnomalyCheckBatch | AnomalyCheckResult:
    if _is_one_series(spend_series, lengths):
        return _native.check_series(_as_list(spend_series), method, **options)
    values, counts, leading = _series(spend_series, lengths)
    columns = _native_call(leading, lambda: _native.check_series_batch(values, counts, method, **options))
    return AnomalyCheckBatch(*(column.reshape(leading) for column in columns))


@overload
def check_burn_rate(spend_series: Sequence[float], hot_multiplier: float = 1.4) -> BurnRateResult: ...
@overload
def check_burn_rate(
    spend_series: ArrayLike, hot_multiplier: float = 1.4, *, lengths: ArrayLike | None = None
) -> BurnRateBatch | BurnRateResult: ...
@diagnosed
def check_burn_rate(
    spend_series: ArrayLike, hot_multiplier: float = 1.4, *, lengths: ArrayLike | None = None
) -> BurnRateBatch | BurnRateResult:
    """The newest point over the mean of the history."""
    if _is_one_series(spend_series, lengths):
        return _native.check_burn_rate(_as_list(spend_series), hot_multiplier)
    values, counts, leading = _series(spend_series, lengths)
    columns = _native_call(leading, lambda: _native.check_burn_rate_batch(values, counts, hot_multiplier))
    return BurnRateBatch(*(column.reshape(leading) for column in columns))


@overload
def forecast_budget_breach(
    current_spend: float, budget_limit: float, periods_elapsed: int, total_periods: int, *, out: None = None
) -> ForecastResult: ...
@overload
def forecast_budget_breach(
    current_spend: Batch,
    budget_limit: ArrayLike,
    periods_elapsed: ArrayLike,
    total_periods: ArrayLike,
    *,
    out: Out | None = None,
) -> ForecastBatch: ...
@overload
def forecast_budget_breach(
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    periods_elapsed: ArrayLike,
    total_periods: ArrayLike,
    *,
    out: Out | None = None,
) -> ForecastBatch | ForecastResult: ...
@diagnosed
def forecast_budget_breach(
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    periods_elapsed: ArrayLike,
    total_periods: ArrayLike,
    *,
    out: ForecastBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> ForecastBatch | ForecastResult:
    """Total spend at period end by linear projection; arrays broadcast. ``out=`` as for
    ``check_budget``."""
    if out is None and _is_scalar(current_spend, budget_limit, periods_elapsed, total_periods):
        _ints("periods_elapsed", periods_elapsed)  # whole numbers, checked as the batch checks them
        _ints("total_periods", total_periods)
        return _native.forecast_budget_breach(current_spend, budget_limit, periods_elapsed, total_periods)  # type: ignore[arg-type]
    arrays = {
        "current_spend": _floats("current_spend", current_spend),
        "budget_limit": _floats("budget_limit", budget_limit),
        "periods_elapsed": _ints("periods_elapsed", periods_elapsed),
        "total_periods": _ints("total_periods", total_periods),
    }
    shape = _broadcast(**arrays)
    outputs = _outputs(out, ForecastBatch, shape)
    columns = [_column(a, shape) for a in arrays.values()]
    _native_call(shape, lambda: _native.forecast_budget_breach_batch(*columns, *_flat(outputs)))
    return ForecastBatch(*(np.broadcast_to(a, shape) for a in arrays.values()), *outputs)


@overload
def evaluate_circuit_breaker(
    consecutive_failures: int,
    failure_threshold: int = 3,
    cooldown_steps_remaining: int = 0,
    *,
    out: None = None,
) -> CircuitBreakerDecision: ...
@overload
def evaluate_circuit_breaker(
    consecutive_failures: Batch,
    failure_threshold: ArrayLike = 3,
    cooldown_steps_remaining: ArrayLike = 0,
    *,
    out: Out | None = None,
) -> CircuitBreakerBatch: ...
@overload
def evaluate_circuit_breaker(
    consecutive_failures: ArrayLike,
    failure_threshold: ArrayLike = 3,
    cooldown_steps_remaining: ArrayLike = 0,
    *,
    out: Out | None = None,
) -> CircuitBreakerBatch | CircuitBreakerDecision: ...
@diagnosed
def evaluate_circuit_breaker(
    consecutive_failures: ArrayLike,
    failure_threshold: ArrayLike = 3,
    cooldown_steps_remaining: ArrayLike = 0,
    *,
    out: CircuitBreakerBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> CircuitBreakerBatch | CircuitBreakerDecision:
    """Breaker state from failure and cooldown counters; arrays broadcast. ``out=`` as for
    ``check_budget``."""
    if out is None and _is_scalar(consecutive_failures, failure_threshold, cooldown_steps_remaining):
        counters = (consecutive_failures, failure_threshold, cooldown_steps_remaining)
        return _native.evaluate_circuit_breaker(*counters)  # type: ignore[arg-type]
    arrays = {
        "consecutive_failures": _ints("consecutive_failures", consecutive_failures),
        "failure_threshold": _ints("failure_threshold", failure_threshold),
        "cooldown_steps_remaining": _ints("cooldown_steps_remaining", cooldown_steps_remaining),
    }
    shape = _broadcast(**arrays)
    outputs = _outputs(out, CircuitBreakerBatch, shape)
    columns = [_column(a, shape) for a in arrays.values()]
    _native_call(shape, lambda: _native.evaluate_circuit_breaker_batch(*columns, *_flat(outputs)))
    return CircuitBreakerBatch(*outputs)


def uses_avx2() -> bool:
    """Whether batch kernels run their AVX2 copies (the CPU has AVX2, and the environment
    variable ``BURNGUARD_DISABLE_AVX2`` was unset at the first batch call). Both copies give the
    same bits."""
    return _native.uses_avx2()
