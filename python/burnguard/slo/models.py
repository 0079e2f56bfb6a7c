"""SLO definitions and the immutable results the tracker returns.

Every name and field of slo-budget-tracker 0.1.1's models is here, with the same defaults and
the same ``ValueError`` conditions; burnguard adds alert policies, latency SLOs and budget
figures. Results are frozen, picklable and have ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from burnguard import _native
from burnguard._check import check_fields
from burnguard._results import Result as _Result
from burnguard.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class BurnRatePolicy(_Result):
    """A multiwindow burn-rate alert: fires when both windows burn at or above ``threshold``.

    The long window says the budget really is being spent; the short one that it still is,
    so the alert resolves soon after the incident ends.
    """

    severity: str
    long_window_seconds: float
    short_window_seconds: float
    threshold: float

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def workbook(cls, window_seconds: float) -> tuple[BurnRatePolicy, ...]:
        """The SRE Workbook's policies scaled from 30 days to ``window_seconds``: page at 14.4x
        over 1h and 5m, page at 6x over 6h and 30m, ticket at 3x over 1d and 2h, ticket at 1x
        over 3d and 6h (windows rounded to whole seconds, at least one)."""
        return tuple(cls(*p) for p in _native.workbook_policies(float(window_seconds)))


@dataclass(frozen=True, slots=True)
class SLODefinition(_Result):
    """Declarative description of one SLO.

    Attributes:
        name: identifier, also the Prometheus label.
        target: target success ratio in (0, 1), e.g. 0.999.
        window_seconds: the rolling window the SLO is evaluated over (default 30 days).
        burn_rate_windows: windows sampled in every snapshot and by ``check_burn_rate``.
        burn_rate_threshold: threshold for ``check_burn_rate`` (> 1).
        description: free-form note.
        alert_policies: multiwindow alert policies; ``None`` (the default) means the SRE
            Workbook's four scaled to ``window_seconds``, ``()`` means none.
        latency_threshold_seconds: makes this a latency SLO: ``record_latency(d)`` is good when
            ``d <= latency_threshold_seconds``.
    """

    name: str
    target: float
    window_seconds: float = 30 * 24 * 3600
    burn_rate_windows: tuple[float, ...] = (3600, 21600)
    burn_rate_threshold: float = 14.4
    description: str = ""
    alert_policies: tuple[BurnRatePolicy, ...] | None = None
    latency_threshold_seconds: float | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if not self.name:
            raise InvalidArgumentError("SLODefinition.name must be non-empty", "name")
        if self.alert_policies is None:
            object.__setattr__(self, "alert_policies", BurnRatePolicy.workbook(self.window_seconds))
        _native.validate_slo(self)

    @property
    def error_budget_ratio(self) -> float:
        """1 - target: the share of events allowed to fail."""
        return 1.0 - self.target

    @property
    def policies(self) -> tuple[BurnRatePolicy, ...]:
        """The alert policies in force (the defaults resolved)."""
        assert self.alert_policies is not None  # resolved in __post_init__
        return self.alert_policies


@dataclass(frozen=True, slots=True)
class Observation(_Result):
    """A single observed event: was it a success, and when did it happen."""

    timestamp: float
    success: bool


@dataclass(frozen=True, slots=True)
class BurnRateSample(_Result):
    """Burn rate measured over one window."""

    window_seconds: int
    burn_rate: float
    success_ratio: float
    sample_count: int


@dataclass(frozen=True, slots=True)
class BurnRateAlert(_Result):
    """Returned by ``SLOTracker.check_burn_rate`` for each window at or above the threshold."""

    slo_name: str
    window_seconds: int
    burn_rate: float
    threshold: float
    success_ratio: float
    sample_count: int


@dataclass(frozen=True, slots=True)
class MultiWindowAlert(_Result):
    """One alert policy evaluated at one instant, with the figures of both windows."""

    slo_name: str
    severity: str
    threshold: float
    long_window_seconds: float
    short_window_seconds: float
    long_burn_rate: float
    short_burn_rate: float
    long_sample_count: int
    short_sample_count: int
    firing: bool


@dataclass(frozen=True, slots=True)
class AlertTransition(_Result):
    """An alert policy that started firing or resolved since the previous poll."""

    state: Literal["firing", "resolved"]
    alert: MultiWindowAlert


@dataclass(frozen=True, slots=True)
class SLOSnapshot(_Result):
    """Point-in-time view of an SLO's health.

    Ratios are in [0, 1]. ``error_budget_remaining`` is a share of the *budget*: 1.0 untouched,
    0.0 spent, negative in breach; ``error_budget_consumed`` is ``failures / allowed``.
    ``time_to_exhaustion_seconds`` is how long the remaining budget lasts at the burn rate of
    the shortest burn-rate window (0.0 once spent, ``None`` while nothing burns). ``alerts``
    holds the alert policies firing now; ``dropped`` counts events that arrived too old to hold.
    """

    name: str
    target: float
    window_seconds: int
    total: int
    failures: int
    success_ratio: float
    error_budget_remaining: float
    burn_rate: float
    burn_rate_samples: tuple[BurnRateSample, ...] = field(default_factory=tuple)
    error_budget_consumed: float = 0.0
    time_to_exhaustion_seconds: float | None = None
    alerts: tuple[MultiWindowAlert, ...] = field(default_factory=tuple)
    dropped: int = 0

    @property
    def is_breached(self) -> bool:
        """True when the success ratio is below the target."""
        return self.success_ratio < self.target

    @property
    def is_budget_exhausted(self) -> bool:
        """True when the error budget is spent (within 1e-9, so float dust does not count)."""
        return self.error_budget_remaining <= 1e-9


# The native core builds these results by field name (see ``_native.bind_results``).
_native.bind_results(
    {
        cls.__name__: cls
        for cls in (SLOSnapshot, BurnRateSample, BurnRateAlert, MultiWindowAlert, AlertTransition)
    }
)
