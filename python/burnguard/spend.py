"""Spend safeguards: budget, spike (mean, MAD, percentile), burn, forecast, breaker and policy
checks, for one value or for whole numpy arrays.

With scalars and 1-D series every function is cloudcircuit 0.3.8's: the same names, defaults,
result dataclasses and ``ValueError`` conditions (plus NaN and infinities, which it let through).
With arrays the same functions run over whole batches in Rust, without the GIL:

* elementwise checks (``check_budget``, ``forecast_budget_breach``, ``evaluate_circuit_breaker``)
  broadcast their array arguments like numpy, and write into ``out=`` arrays when given them;
* series checks take an array of series, newest point last: leading dimensions are batch
  dimensions (a 2-D array is N series of T points). Ragged series are NaN-padded (padding may
  lead or trail the values) or cut by ``lengths=`` (the first ``lengths[i]`` points count);
* results are ``...Batch`` dataclasses with the scalar result's field names, one numpy array
  per field, and every row equals the scalar result for that row;
* a bad element raises ``ValueError`` naming the parameter and its first bad position.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._results import Result
from burnguard.errors import InvalidArgumentError, invalid

Severity = Literal["info", "warning", "critical"]
Action = Literal["allow", "throttle", "block"]
ArrayLike = npt.ArrayLike
# Batch columns: float64, bool, int64 and str arrays over the batch's shape.
FloatArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]
IntArray = npt.NDArray[Any]
StrArray = npt.NDArray[Any]

__all__ = [
    "AnomalyCheckBatch",
    "AnomalyCheckResult",
    "BudgetCheckBatch",
    "BudgetCheckResult",
    "BurnRateBatch",
    "BurnRateResult",
    "CircuitBreakerBatch",
    "CircuitBreakerDecision",
    "ForecastBatch",
    "ForecastResult",
    "PolicyBatch",
    "PolicyDecision",
    "RollingAnomaly",
    "RollingBurn",
    "Severity",
    "check_anomaly_robust",
    "check_anomaly_spike",
    "check_budget",
    "check_burn_rate",
    "evaluate_circuit_breaker",
    "evaluate_spend_policy",
    "forecast_budget_breach",
    "make_alert_payload",
    "rolling_anomaly_robust",
    "rolling_anomaly_spike",
    "rolling_burn_rate",
    "uses_avx2",
]


# ---- results: cloudcircuit's, and their columnar batches ----------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetCheckResult(Result):
    current_spend: float
    budget_limit: float
    usage_ratio: float
    remaining_budget: float
    is_warning: bool
    is_breached: bool


@dataclass(frozen=True, slots=True)
class AnomalyCheckResult(Result):
    latest_spend: float
    baseline_mean: float
    threshold: float
    is_spike: bool


@dataclass(frozen=True, slots=True)
class CircuitBreakerDecision(Result):
    is_open: bool
    allow_operation: bool
    retry_after_steps: int


@dataclass(frozen=True, slots=True)
class BurnRateResult(Result):
    latest_spend: float
    average_spend: float
    burn_rate_ratio: float
    is_hot: bool


@dataclass(frozen=True, slots=True)
class ForecastResult(Result):
    current_spend: float
    budget_limit: float
    periods_elapsed: int
    total_periods: int
    projected_total_spend: float
    projected_overrun: float
    will_breach: bool


@dataclass(frozen=True, slots=True)
class PolicyDecision(Result):
    action: Action
    reason: str
    severity: Severity
    budget: BudgetCheckResult
    anomaly: AnomalyCheckResult
    breaker: CircuitBreakerDecision


_Scalar = TypeVar("_Scalar")


class _Batch(Result):
    """Columnar results: each field an array over the batch's shape."""

    __slots__ = ()
    row_type: ClassVar[type[Any]]
    # The fields a call computes, with their dtypes (the rest echo its inputs).
    computed: ClassVar[dict[str, Any]] = {}

    @property
    def shape(self) -> tuple[int, ...]:
        """The batch's shape (the broadcast shape, or the series' leading dimensions)."""
        return np.shape(getattr(self, fields(self)[0].name))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 1

    def row(self, *index: int) -> Any:
        """The scalar result at ``index`` (as the scalar call for that row would give it)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return self.row_type(**{name: _item(value, index) for name, value in values.items()})


def _item(value: Any, index: tuple[int, ...]) -> Any:
    if isinstance(value, _Batch):
        return value.row(*index)
    return np.asarray(value)[index].item()


@dataclass(frozen=True, slots=True)
class BudgetCheckBatch(_Batch):
    current_spend: FloatArray
    budget_limit: FloatArray
    usage_ratio: FloatArray
    remaining_budget: FloatArray
    is_warning: BoolArray
    is_breached: BoolArray
    row_type: ClassVar[type[Any]] = BudgetCheckResult
    computed: ClassVar[dict[str, Any]] = {
        "usage_ratio": np.float64,
        "remaining_budget": np.float64,
        "is_warning": np.bool_,
        "is_breached": np.bool_,
    }


@dataclass(frozen=True, slots=True)
class AnomalyCheckBatch(_Batch):
    latest_spend: FloatArray
    baseline_mean: FloatArray
    threshold: FloatArray
    is_spike: BoolArray
    row_type: ClassVar[type[Any]] = AnomalyCheckResult


@dataclass(frozen=True, slots=True)
class CircuitBreakerBatch(_Batch):
    is_open: BoolArray
    allow_operation: BoolArray
    retry_after_steps: IntArray
    row_type: ClassVar[type[Any]] = CircuitBreakerDecision
    computed: ClassVar[dict[str, Any]] = {
        "is_open": np.bool_,
        "allow_operation": np.bool_,
        "retry_after_steps": np.int64,
    }


@dataclass(frozen=True, slots=True)
class BurnRateBatch(_Batch):
    latest_spend: FloatArray
    average_spend: FloatArray
    burn_rate_ratio: FloatArray
    is_hot: BoolArray
    row_type: ClassVar[type[Any]] = BurnRateResult


@dataclass(frozen=True, slots=True)
class ForecastBatch(_Batch):
    current_spend: FloatArray
    budget_limit: FloatArray
    periods_elapsed: IntArray
    total_periods: IntArray
    projected_total_spend: FloatArray
    projected_overrun: FloatArray
    will_breach: BoolArray
    row_type: ClassVar[type[Any]] = ForecastResult
    computed: ClassVar[dict[str, Any]] = {
        "projected_total_spend": np.float64,
        "projected_overrun": np.float64,
        "will_breach": np.bool_,
    }


@dataclass(frozen=True, slots=True)
class PolicyBatch(_Batch):
    action: StrArray
    reason: StrArray
    severity: StrArray
    budget: BudgetCheckBatch | BudgetCheckResult
    anomaly: AnomalyCheckBatch | AnomalyCheckResult
    breaker: CircuitBreakerBatch | CircuitBreakerDecision
    row_type: ClassVar[type[Any]] = PolicyDecision


@dataclass(frozen=True, slots=True)
class RollingAnomaly(Result):
    """A rolling spike check: at every point, its check against the previous ``window`` points.
    Each field has the series' shape; points with fewer earlier points, and padding, hold NaN
    and False."""

    baseline_mean: FloatArray
    threshold: FloatArray
    is_spike: BoolArray


@dataclass(frozen=True, slots=True)
class RollingBurn(Result):
    """A rolling burn check: at every point, the point over the mean of the previous
    ``window`` points. Shaped and padded like ``RollingAnomaly``."""

    average_spend: FloatArray
    burn_rate_ratio: FloatArray
    is_hot: BoolArray


# The native core builds the scalar results by field name (see ``_native.bind_results``).
_native.bind_results(
    {
        cls.__name__: cls
        for cls in (
            BudgetCheckResult,
            AnomalyCheckResult,
            BurnRateResult,
            ForecastResult,
            CircuitBreakerDecision,
        )
    }
)


# ---- argument handling -------------------------------------------------------------------------


def _native_call(shape: tuple[int, ...], call: Callable[[], _Scalar]) -> _Scalar:
    """Runs a batch call, turning the flat row index in its error into a position in ``shape``."""
    try:
        return call()
    except InvalidArgumentError as err:
        if not err.index or len(shape) < 2:
            raise
        row, *rest = err.index
        position = tuple(int(i) for i in np.unravel_index(row, shape))
        raise err.at((*position, *rest)) from None


def _floats(name: str, value: ArrayLike) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"{name} must be numbers: {err}", name) from None


def _ints(name: str, value: ArrayLike) -> IntArray:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            index = np.unravel_index(int(np.argmin(whole)), array.shape) if array.ndim else ()
            raise invalid(name, "must be a whole number", array[index], index=tuple(int(i) for i in index))
    elif array.dtype.kind not in "iub":
        raise invalid(name, "must hold integers", f"dtype {array.dtype}")
    return array.astype(np.int64)


def _broadcast(**arrays: npt.NDArray[Any]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise InvalidArgumentError(f"shapes do not broadcast: {shapes}", next(iter(arrays))) from None


def _column(array: npt.NDArray[Any], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """One value for every row, or one per row of ``shape`` (flattened, contiguous)."""
    if array.size == 1:
        return np.ascontiguousarray(array.reshape(1))
    return np.ascontiguousarray(np.broadcast_to(array, shape)).reshape(-1)


def _outputs(
    out: _Batch | Sequence[npt.NDArray[Any]] | None, kind: type[_Batch], shape: tuple[int, ...]
) -> list[npt.NDArray[Any]]:
    """The arrays a batch call writes its results into: fresh ones, or ``out``'s (a batch of
    the same kind, or arrays in the order of the computed fields) once they fit ``shape``."""
    computed = kind.computed
    if out is None:
        return [np.empty(shape, dtype) for dtype in computed.values()]
    if isinstance(out, kind):
        arrays = [getattr(out, name) for name in computed]
    elif isinstance(out, (tuple, list)) and len(out) == len(computed):
        arrays = list(out)
    else:
        got = f"{type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list)) else type(out).__name__
        raise invalid(
            "out",
            f"must be a {kind.__name__} or a tuple of {len(computed)} arrays ({', '.join(computed)})",
            got,
        )
    for i, (array, (name, dtype)) in enumerate(zip(arrays, computed.items(), strict=True)):
        fits = isinstance(array, np.ndarray) and array.dtype == dtype and array.shape == shape
        if not (fits and array.flags.c_contiguous and array.flags.writeable):
            got = (
                f"{'read-only ' * (not array.flags.writeable)}{array.dtype} array of shape {array.shape}"
                f"{'' if array.flags.c_contiguous else ', not C-contiguous'}"
                if isinstance(array, np.ndarray)
                else type(array).__name__
            )
            requirement = f"must be a writeable C-contiguous {np.dtype(dtype)} array of shape {shape}"
            raise InvalidArgumentError(
                f"out[{i}] ({name}) {requirement}; got {got}", "out", (i,), got, requirement
            )
    return arrays


def _flat(arrays: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    """Flat views of C-contiguous arrays."""
    return [a.reshape(-1) for a in arrays]


def _is_scalar(*values: object) -> bool:
    return all(np.ndim(v) == 0 for v in values)  # type: ignore[arg-type]


def _series(
    spend_series: ArrayLike, lengths: ArrayLike | None
) -> tuple[FloatArray, IntArray | None, tuple[int, ...]]:
    """A batch of series as a contiguous (rows, points) array, its lengths, its leading shape."""
    array = _floats("spend_series", spend_series)
    if array.ndim < 2:
        raise invalid("spend_series", "must have a batch dimension", f"shape {array.shape}")
    leading, width = array.shape[:-1], array.shape[-1]
    values = np.ascontiguousarray(array.reshape(-1, width))
    if lengths is None:
        return values, None, leading
    counts = _ints("lengths", lengths)
    if counts.shape != leading:
        raise invalid("lengths", f"must have the series' leading shape {leading}", counts.shape)
    return values, np.ascontiguousarray(counts.reshape(-1)), leading


def _is_one_series(spend_series: object, lengths: object) -> bool:
    return lengths is None and np.ndim(spend_series) <= 1  # type: ignore[arg-type]


def _as_list(spend_series: Any) -> Any:
    return spend_series.tolist() if isinstance(spend_series, np.ndarray) else spend_series


# ---- checks ------------------------------------------------------------------------------------


@overload
def check_budget(
    current_spend: float, budget_limit: float, warning_ratio: float = 0.9, *, out: None = None
) -> BudgetCheckResult: ...
@overload
def check_budget(
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    warning_ratio: float = 0.9,
    *,
    out: BudgetCheckBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> BudgetCheckBatch | BudgetCheckResult: ...
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
    rows, limits = _column_all(spend, shape), _column(limit, shape)
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
    current_spend: ArrayLike,
    budget_limit: ArrayLike,
    periods_elapsed: ArrayLike,
    total_periods: ArrayLike,
    *,
    out: ForecastBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> ForecastBatch | ForecastResult: ...
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
    consecutive_failures: ArrayLike,
    failure_threshold: ArrayLike = 3,
    cooldown_steps_remaining: ArrayLike = 0,
    *,
    out: CircuitBreakerBatch | Sequence[npt.NDArray[Any]] | None = None,
) -> CircuitBreakerBatch | CircuitBreakerDecision: ...
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


# ---- rolling checks, for backtesting ------------------------------------------------------------


def rolling_anomaly_spike(
    spend_series: ArrayLike,
    window: int,
    spike_multiplier: float = 1.5,
    min_baseline: float = 0.0,
    *,
    lengths: ArrayLike | None = None,
) -> RollingAnomaly:
    """``check_anomaly_spike`` at every point of one or many series, against the previous
    ``window`` points (a running mean: O(1) a step)."""
    options = {"spike_multiplier": spike_multiplier, "min_baseline": min_baseline}
    return RollingAnomaly(*_rolling(spend_series, lengths, window, "mean", options))


def rolling_anomaly_robust(
    spend_series: ArrayLike,
    window: int,
    *,
    method: Literal["mad", "percentile"] = "mad",
    z_threshold: float = 3.5,
    min_mad: float = 0.0,
    percentile: float = 0.95,
    min_baseline: float = 0.0,
    lengths: ArrayLike | None = None,
) -> RollingAnomaly:
    """``check_anomaly_robust`` at every point against the previous ``window`` points (the
    window is kept sorted: O(log k) to place a point, O(k) to move the others)."""
    if method not in ("mad", "percentile"):
        raise invalid("method", "must be 'mad' or 'percentile'", repr(method))
    options = {
        "z_threshold": z_threshold,
        "min_mad": min_mad,
        "percentile": percentile,
        "min_baseline": min_baseline,
    }
    return RollingAnomaly(*_rolling(spend_series, lengths, window, method, options))


def rolling_burn_rate(
    spend_series: ArrayLike, window: int, hot_multiplier: float = 1.4, *, lengths: ArrayLike | None = None
) -> RollingBurn:
    """``check_burn_rate`` at every point against the previous ``window`` points."""
    return RollingBurn(*_rolling(spend_series, lengths, window, "burn", {"hot_multiplier": hot_multiplier}))


def _rolling(
    spend_series: ArrayLike, lengths: ArrayLike | None, window: int, method: str, options: dict[str, float]
) -> tuple[npt.NDArray[Any], ...]:
    array = _floats("spend_series", spend_series)
    one = array.ndim == 1
    if one and lengths is not None:
        lengths = np.reshape(lengths, (1,))
    values, counts, leading = _series(array[np.newaxis] if one else array, lengths)
    try:
        columns = _native_call(
            leading, lambda: _native.rolling_batch(values, counts, window, method, **options)
        )
    except InvalidArgumentError as err:
        if not (one and err.index):
            raise
        raise err.at(err.index[1:]) from None
    return tuple(column.reshape(array.shape) for column in columns)


# Action, severity and reason by decision code: the core's table.
_ACTIONS = np.array(_native.POLICY_ACTIONS)
_SEVERITIES = np.array(_native.POLICY_SEVERITIES)
_REASONS = np.array(_native.POLICY_REASONS)


@overload
def evaluate_spend_policy(
    budget: BudgetCheckResult, anomaly: AnomalyCheckResult, breaker: CircuitBreakerDecision
) -> PolicyDecision: ...
@overload
def evaluate_spend_policy(
    budget: BudgetCheckResult | BudgetCheckBatch,
    anomaly: AnomalyCheckResult | AnomalyCheckBatch,
    breaker: CircuitBreakerDecision | CircuitBreakerBatch,
) -> PolicyDecision | PolicyBatch: ...
def evaluate_spend_policy(
    budget: BudgetCheckResult | BudgetCheckBatch,
    anomaly: AnomalyCheckResult | AnomalyCheckBatch,
    breaker: CircuitBreakerDecision | CircuitBreakerBatch,
) -> PolicyDecision | PolicyBatch:
    """Block on a breach or an open breaker, throttle on a warning or a spike, else allow.
    With batches the decision is columnar: arrays of actions, reasons and severities."""
    flags = [budget.is_breached, breaker.is_open, budget.is_warning, anomaly.is_spike]
    if _is_scalar(*flags):
        _, action, severity, reason = _native.decide(*(bool(f) for f in flags))
        return PolicyDecision(action, reason, severity, budget, anomaly, breaker)  # type: ignore[arg-type]
    arrays = {
        name: np.asarray(f, dtype=np.bool_)
        for name, f in zip(("is_breached", "is_open", "is_warning", "is_spike"), flags, strict=True)
    }
    shape = _broadcast(**arrays)
    codes = _native.decide_batch(*(_column_all(a, shape) for a in arrays.values())).reshape(shape)
    return PolicyBatch(_ACTIONS[codes], _REASONS[codes], _SEVERITIES[codes], budget, anomaly, breaker)


def _column_all(array: npt.NDArray[Any], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(np.broadcast_to(array, shape)).reshape(-1)


def make_alert_payload(policy: PolicyDecision, service: str, environment: str) -> dict[str, object]:
    """A provider-agnostic alert payload for logs, Slack or webhooks (one decision)."""
    if not service:
        raise invalid("service", "must be non-empty")
    if not environment:
        raise invalid("environment", "must be non-empty")
    b, a, k = policy.budget, policy.anomaly, policy.breaker
    return {
        "service": service,
        "environment": environment,
        "action": policy.action,
        "severity": policy.severity,
        "reason": policy.reason,
        "budget": {
            "current_spend": b.current_spend,
            "budget_limit": b.budget_limit,
            "usage_ratio": b.usage_ratio,
            "remaining_budget": b.remaining_budget,
        },
        "anomaly": {
            "latest_spend": a.latest_spend,
            "baseline_mean": a.baseline_mean,
            "threshold": a.threshold,
            "is_spike": a.is_spike,
        },
        "breaker": {
            "is_open": k.is_open,
            "allow_operation": k.allow_operation,
            "retry_after_steps": k.retry_after_steps,
        },
    }
