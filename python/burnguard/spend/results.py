"""cloudcircuit's result dataclasses, and their columnar batches (one array per field)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._results import Result

Severity = Literal["info", "warning", "critical"]
Action = Literal["allow", "throttle", "block"]
ArrayLike = npt.ArrayLike
# Batch columns: float64, bool, int64 and str arrays over the batch's shape.
FloatArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]
IntArray = npt.NDArray[Any]
StrArray = npt.NDArray[Any]


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
