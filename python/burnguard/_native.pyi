"""Stubs for burnguard._native, the Rust engine. Every function raises ValueError naming the
parameter on bad input."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__version__: str

# (window_seconds, total, failures, success_ratio, burn_rate)
FiguresTuple = tuple[float, int, int, float, float]
# (overall, error_budget_remaining, error_budget_consumed, burn samples,
#  policies as (long, short, firing), time_to_exhaustion, dropped)
SnapshotTuple = tuple[
    FiguresTuple,
    float,
    float,
    list[FiguresTuple],
    list[tuple[FiguresTuple, FiguresTuple, bool]],
    float | None,
    int,
]
# (severity, long_window_seconds, short_window_seconds, threshold)
PolicyTuple = tuple[str, float, float, float]

class SloCore:
    """One SLO's bounded, lock-free window and the figures on it."""

    def __init__(
        self,
        *,
        target: float,
        window_seconds: float,
        burn_rate_windows: list[float] | list[int],
        burn_rate_threshold: float,
        alert_policies: list[PolicyTuple],
        latency_threshold_seconds: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None: ...
    def record(self, success: bool, *, at: float | None = None) -> None: ...
    def record_success(self, *, at: float | None = None) -> None: ...
    def record_failure(self, *, at: float | None = None) -> None: ...
    def record_latency(self, seconds: float, *, at: float | None = None) -> None: ...
    def record_many(self, ok: npt.NDArray[np.bool_], at: npt.NDArray[np.float64]) -> None: ...
    def record_latency_many(self, seconds: npt.NDArray[np.float64], at: npt.NDArray[np.float64]) -> None: ...
    def latency_is_good(self, seconds: float) -> bool: ...
    def snapshot(self, *, at: float | None = None) -> SnapshotTuple: ...
    def burn_samples(self, *, at: float | None = None) -> list[FiguresTuple]: ...
    def poll_alerts(self, *, at: float | None = None) -> tuple[SnapshotTuple, int, int]: ...
    def evaluate(self, counts: list[tuple[int, int]]) -> SnapshotTuple: ...
    def poll_counts(self, counts: list[tuple[int, int]]) -> tuple[SnapshotTuple, int, int]: ...
    def figures(self, window_seconds: float, good: int, bad: int) -> FiguresTuple: ...
    @property
    def query_windows(self) -> list[float]: ...
    @property
    def dropped(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def resolution(self) -> list[tuple[float, float]]: ...

def validate_slo(
    *,
    target: float,
    window_seconds: float,
    burn_rate_windows: list[float] | list[int],
    burn_rate_threshold: float,
    alert_policies: list[PolicyTuple],
    latency_threshold_seconds: float | None = None,
) -> None: ...
def workbook_policies(window_seconds: float) -> list[PolicyTuple]: ...
