"""Stubs for burnguard._native, the Rust engine, checked against the module by
``python -m mypy.stubtest burnguard._native`` in CI. Every function raises
``burnguard.InvalidArgumentError`` (a ValueError) naming the parameter on bad input. Read
methods return the facade's result dataclasses, built natively."""

import os
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, Protocol, TypeAlias, TypeVar, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

from burnguard.breaker import BreakerSnapshot
from burnguard.ledger import (
    Action,
    Amount,
    Balance,
    Caps,
    CommitOveragePolicy,
    CommitResult,
    DecisionResult,
    EventResult,
    ExtendResult,
    ReleaseResult,
    ReservationDetail,
    ReservationResult,
    ReservationStatus,
    Subject,
    Unit,
)
from burnguard.routes import RouteSummary
from burnguard.slo.models import (
    AlertTransition,
    BurnRateAlert,
    MultiWindowAlert,
    SLODefinition,
    SLOSnapshot,
)
from burnguard.spend import (
    AnomalyCheckResult,
    BudgetCheckResult,
    BurnRateResult,
    CircuitBreakerDecision,
    ForecastResult,
)

__all__ = [
    "LEDGER_ERROR_KINDS",
    "POLICY_ACTIONS",
    "POLICY_REASONS",
    "POLICY_SEVERITIES",
    "PROVIDERS",
    "RESULT_CLASSES",
    "SPEND_DEFAULTS",
    "VARIANCE_WARNING_RATIO",
    "ArenaCore",
    "BreakerCore",
    "BreakerPermit",
    "Counter",
    "CyclesServer",
    "DailySpendCore",
    "FleetClock",
    "Guarded",
    "LedgerCore",
    "LogCountsCore",
    "MeteredSend",
    "PricingCore",
    "RouteCore",
    "RouteOutboxCore",
    "RouteTableCore",
    "SendMeter",
    "Settlement",
    "SloCore",
    "SloFleet",
    "__version__",
    "bind_breaker_error",
    "bind_error_classes",
    "bind_ledger_members",
    "bind_results",
    "check_amount_arg",
    "check_budget",
    "check_budget_batch",
    "check_burn_rate",
    "check_burn_rate_batch",
    "check_reservation_times",
    "check_series",
    "check_series_batch",
    "decide",
    "decide_batch",
    "default_arena_directory",
    "evaluate_circuit_breaker",
    "evaluate_circuit_breaker_batch",
    "forecast_budget_breach",
    "forecast_budget_breach_batch",
    "replay_policies",
    "rolling_batch",
    "uses_avx2",
    "validate_slo",
    "window_burn_rates",
    "workbook_policies",
]

__version__: str

@final
class ArenaCore:
    """A named shared-memory arena (``burnguard.Arena`` wraps it)."""

    @staticmethod
    def file_of(name: str, *, directory: str | os.PathLike[str] | None = None) -> Path: ...
    def __new__(
        cls,
        name: str,
        *,
        directory: str | os.PathLike[str] | None = None,
        size: int | None = None,
        entries: int | None = None,
    ) -> Self: ...
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def used(self) -> int: ...

default_arena_directory: str

@final
class SloCore:
    """One SLO's bounded, lock-free window and the figures on it."""

    def __new__(
        cls,
        definition: SLODefinition,
        *,
        clock: Callable[[], float] | FleetClock | None = None,
        shared: ArenaCore | None = None,
    ) -> Self: ...
    @property
    def shared(self) -> bool: ...
    @property
    def totals(self) -> tuple[int, int]: ...
    def record(self, success: bool, *, at: float | None = None) -> None: ...
    def record_success(self, *, at: float | None = None) -> None: ...
    def record_failure(self, *, at: float | None = None) -> None: ...
    def record_latency(self, seconds: float, *, at: float | None = None) -> None: ...
    def record_many(self, ok: npt.NDArray[np.bool_], at: npt.NDArray[np.float64]) -> None: ...
    def record_latency_many(self, seconds: npt.NDArray[np.float64], at: npt.NDArray[np.float64]) -> None: ...
    def latency_is_good(self, seconds: float) -> bool: ...
    def now(self, at: float | None = None) -> float: ...
    def snapshot(self, *, at: float | None = None) -> SLOSnapshot: ...
    def check_burn_rate(self, *, at: float | None = None) -> list[BurnRateAlert]: ...
    def alert_status(self, *, at: float | None = None) -> list[MultiWindowAlert]: ...
    def poll_burn_rate(
        self, *, at: float | None = None
    ) -> tuple[list[BurnRateAlert], list[int], list[int]]: ...
    def poll_alerts(self, *, at: float | None = None) -> list[AlertTransition]: ...
    # The same reads from (good, bad) counts, for trackers with a custom store.
    def evaluate(self, counts: list[tuple[int, int]]) -> SLOSnapshot: ...
    def check_burn_rate_counts(self, counts: list[tuple[int, int]]) -> list[BurnRateAlert]: ...
    def alert_status_counts(self, counts: list[tuple[int, int]]) -> list[MultiWindowAlert]: ...
    def poll_counts(self, counts: list[tuple[int, int]]) -> list[AlertTransition]: ...
    def firing_mask(self, counts: list[tuple[int, int]]) -> int: ...
    def transitions_since(self, counts: list[tuple[int, int]], before: int) -> list[AlertTransition]: ...
    def poll_burn_rate_counts(
        self, counts: list[tuple[int, int]]
    ) -> tuple[list[BurnRateAlert], list[int], list[int]]: ...
    def burndown(self, points: int, *, at: float | None = None) -> list[float]: ...
    def burndown_windows(self, points: int) -> list[float]: ...
    def burndown_counts(self, counts: list[tuple[int, int]]) -> list[float]: ...
    @property
    def query_windows(self) -> list[float]: ...
    @property
    def dropped(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def resolution(self) -> list[tuple[float, float]]: ...

def validate_slo(definition: SLODefinition) -> None: ...
def bind_results(classes: Mapping[str, type[Any]]) -> None: ...

RESULT_CLASSES: list[str]

def bind_error_classes(
    invalid_argument: type[Exception], invalid_type: type[Exception], ledger: Mapping[str, type[Exception]]
) -> None: ...

LEDGER_ERROR_KINDS: list[str]

def workbook_policies(window_seconds: float) -> list[tuple[str, float, float, float]]: ...
def window_burn_rates(
    bad: Sequence[int] | npt.NDArray[np.uint64],
    total: Sequence[int] | npt.NDArray[np.uint64],
    window_steps: int,
    budget: float,
) -> npt.NDArray[np.float64]: ...

@final
class LogCountsCore:
    def __new__(
        cls,
        layout: str,
        step_seconds: float,
        *,
        latency_threshold: float | None = None,
        error_status: int = 500,
        strict: bool = False,
        timestamp_column: str | None = None,
        status_column: str | None = None,
        ok_column: str | None = None,
        latency_column: str | None = None,
        preset: str | None = None,
        latency_unit: float | None = None,
    ) -> Self: ...
    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> None: ...
    @property
    def lines(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def examples(self) -> list[tuple[int, str]]: ...
    def steps(self) -> tuple[float, npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...

@final
class DailySpendCore:
    def __new__(
        cls,
        *,
        by: Sequence[str] | None = None,
        preset_name: str | None = None,
        date_column: str | None = None,
        cost_column: str | None = None,
        strict: bool = False,
    ) -> Self: ...
    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> None: ...
    @property
    def rows(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def examples(self) -> list[tuple[int, str]]: ...
    def columns(self) -> dict[str, Any] | None: ...
    def series(self) -> tuple[int, list[list[str]], npt.NDArray[np.float64]]: ...

def replay_policies(
    bad: Sequence[int] | npt.NDArray[np.uint64],
    total: Sequence[int] | npt.NDArray[np.uint64],
    step_seconds: float,
    target: float,
    policies: Sequence[tuple[str, float, float, float]],
    hold_steps: int = 0,
) -> list[npt.NDArray[np.bool_]]: ...

# ---- spend safeguards: scalar checks return tuples, batch checks one array per field ----
# Options default to SPEND_DEFAULTS (the core's table, shown as ... here).
_F64s: TypeAlias = npt.NDArray[np.float64]
_Bools: TypeAlias = npt.NDArray[np.bool_]
_I64s: TypeAlias = npt.NDArray[np.int64]

def check_budget(current_spend: float, budget_limit: float, warning_ratio: float) -> BudgetCheckResult: ...
def check_budget_batch(
    current_spend: _F64s,
    budget_limit: _F64s,
    warning_ratio: float,
    usage_ratio: _F64s,
    remaining_budget: _F64s,
    is_warning: _Bools,
    is_breached: _Bools,
) -> None: ...
def check_series(
    spend_series: list[float],
    method: str,
    *,
    spike_multiplier: float = ...,
    z_threshold: float = ...,
    min_mad: float = ...,
    percentile: float = ...,
    min_baseline: float = ...,
) -> AnomalyCheckResult: ...
def check_series_batch(
    spend_series: _F64s,
    lengths: _I64s | None,
    method: str,
    *,
    spike_multiplier: float = ...,
    z_threshold: float = ...,
    min_mad: float = ...,
    percentile: float = ...,
    min_baseline: float = ...,
) -> tuple[_F64s, _F64s, _F64s, _Bools]: ...
def check_burn_rate(spend_series: list[float], hot_multiplier: float) -> BurnRateResult: ...
def check_burn_rate_batch(
    spend_series: _F64s, lengths: _I64s | None, hot_multiplier: float
) -> tuple[_F64s, _F64s, _F64s, _Bools]: ...
def forecast_budget_breach(
    current_spend: float, budget_limit: float, periods_elapsed: int | float, total_periods: int | float
) -> ForecastResult: ...
def forecast_budget_breach_batch(
    current_spend: _F64s,
    budget_limit: _F64s,
    periods_elapsed: _I64s,
    total_periods: _I64s,
    projected_total_spend: _F64s,
    projected_overrun: _F64s,
    will_breach: _Bools,
) -> None: ...
def evaluate_circuit_breaker(
    consecutive_failures: int, failure_threshold: int, cooldown_steps_remaining: int
) -> CircuitBreakerDecision: ...
def evaluate_circuit_breaker_batch(
    consecutive_failures: _I64s,
    failure_threshold: _I64s,
    cooldown_steps_remaining: _I64s,
    is_open: _Bools,
    allow_operation: _Bools,
    retry_after_steps: _I64s,
) -> None: ...
def uses_avx2() -> bool: ...
def decide(
    is_breached: bool, is_open: bool, is_warning: bool, is_spike: bool
) -> tuple[int, str, str, str]: ...
def decide_batch(
    is_breached: _Bools, is_open: _Bools, is_warning: _Bools, is_spike: _Bools
) -> npt.NDArray[np.uint8]: ...

SPEND_DEFAULTS: dict[str, float]
POLICY_ACTIONS: list[str]
POLICY_SEVERITIES: list[str]
POLICY_REASONS: list[str]

def rolling_batch(
    spend_series: _F64s,
    lengths: _I64s | None,
    window: int,
    method: str,
    *,
    spike_multiplier: float = ...,
    z_threshold: float = ...,
    min_mad: float = ...,
    percentile: float = ...,
    min_baseline: float = ...,
    hot_multiplier: float = ...,
) -> tuple[_F64s, _F64s, _Bools]: ...

# Circuit breaker -------------------------------------------------------------------------------

_P = ParamSpec("_P")
_R = TypeVar("_R")
_B = TypeVar("_B", bound="BreakerCore")

def bind_breaker_error(error: type[Exception]) -> None: ...

@final
class BreakerPermit:
    """Permission for one call; complete it exactly once (RuntimeError on a second time)."""

    @property
    def state(self) -> str: ...
    @property
    def completed(self) -> bool: ...
    def success(self, duration: float | None = None) -> None: ...
    def failure(self, duration: float | None = None) -> None: ...
    def slow(self, duration: float | None = None) -> None: ...
    def ignore(self) -> None: ...
    def complete_with(self, error: BaseException | None = None, result: object = None) -> None: ...

@final
class Guarded:
    @property
    def breaker(self) -> BreakerCore: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

@disjoint_base
class BreakerCore:
    def __new__(
        cls: type[_B],
        name: str,
        failure_rate_threshold: float,
        slow_call_rate_threshold: float,
        slow_call_duration_threshold: float | None,
        sliding_window_type: str,
        sliding_window_size: int,
        minimum_number_of_calls: int,
        consecutive_failure_threshold: int,
        wait_duration_in_open_state: float,
        backoff_multiplier: float,
        max_wait_duration_in_open_state: float | None,
        jitter: float,
        permitted_number_of_calls_in_half_open_state: int,
        max_wait_duration_in_half_open_state: float,
        automatic_transition_from_open_to_half_open: bool,
        record_exceptions: tuple[type[BaseException], ...],
        ignore_exceptions: tuple[type[BaseException], ...],
        exception_classifier: Callable[[BaseException], bool] | None,
        result_classifier: Callable[[Any], bool] | None,
        fallback: Callable[..., Any] | None,
        clock: Callable[[], float] | None,
        seed: int,
        shared: ArenaCore | None = None,
    ) -> _B: ...
    @property
    def shared(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    def call(self, func: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R: ...
    def acquire(self) -> BreakerPermit: ...
    def __enter__(self) -> BreakerPermit: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> Literal[False]: ...
    def reset(self) -> None: ...
    def _guard(self, func: Callable[..., Any]) -> Guarded: ...
    def _transition_to(self, state: str) -> bool: ...
    def _snapshot(self) -> BreakerSnapshot: ...
    def _fleet_report(self) -> tuple[str, int, int, int, int, int, bool]: ...
    def _fleet_adopt(self, state: str, level: int, remaining: float | None, probes: bool) -> bool: ...
    def _fleet_gate(self, gated: bool) -> None: ...
    def _report_rejections(self, on: bool) -> None: ...

# Ledger ----------------------------------------------------------------------------------------

def bind_ledger_members(by_value: dict[str, Any]) -> None: ...
def check_amount_arg(param: str, value: Amount | int) -> None: ...
def check_reservation_times(ttl_ms: int, grace_period_ms: int) -> None: ...

class _ProvisionedStore(Protocol):
    def load(self) -> tuple[int, str | None]: ...
    def save(self, version: int, doc: str) -> bool: ...

class _Sequencer(Protocol):
    """What orders a fleet ledger's journal (``burnguard.redis.ledger.LedgerSequencer``)."""

    def sequence(
        self, instance: str, after: int, token: str, entries: list[str]
    ) -> tuple[Any, bool, tuple[int, int, Any, Any] | None, int, list[Any], int] | None: ...
    def seed(self, seq: int, time_ms: int, token: str, text: str) -> None: ...

@disjoint_base
class LedgerCore:
    """The reservation ledger (``burnguard.Ledger`` subclasses it). Units and policies are their
    enum members or names; amounts are ints or ``Amount``s; results are the facade's
    dataclasses; failures raise its typed errors (``ValueError`` naming the parameter for bad
    input)."""

    def __new__(
        cls,
        *,
        clock: Callable[[], float] | None = None,
        retention_seconds: float = 300.0,
        max_retained: int | None = None,
        shared: ArenaCore | None = None,
        name: str = "ledger",
        capacity: int = 4194304,
        sequencer: _Sequencer | None = None,
        _path: str | None = None,
    ) -> Self: ...
    @property
    def shared(self) -> bool: ...
    @property
    def fleet(self) -> bool: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def set_budget(
        self,
        scope: str | Subject,
        unit: Unit | str,
        allocated: int,
        *,
        overdraft_limit: int | None = None,
        caps: Caps | None = None,
    ) -> None: ...
    def fund(self, scope: str | Subject, unit: Unit | str, amount: int) -> None: ...
    def reserve(
        self,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        *,
        unit: Unit | str | None = None,
        idempotency_key: str | None = None,
        ttl_ms: int = 60_000,
        grace_period_ms: int = 0,
        overage_policy: CommitOveragePolicy | str | None = None,
        dry_run: bool = False,
    ) -> ReservationResult: ...
    def decide(
        self,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        *,
        unit: Unit | str | None = None,
        idempotency_key: str | None = None,
    ) -> DecisionResult: ...
    def commit(
        self, reservation_id: str, actual: Amount | int, *, idempotency_key: str | None = None
    ) -> CommitResult: ...
    def release(self, reservation_id: str, *, idempotency_key: str | None = None) -> ReleaseResult: ...
    def extend(
        self, reservation_id: str, extend_by_ms: int, *, idempotency_key: str | None = None
    ) -> ExtendResult: ...
    def event(
        self,
        subject: Subject,
        action: Action,
        actual: Amount | int,
        *,
        unit: Unit | str | None = None,
        idempotency_key: str | None = None,
        overage_policy: CommitOveragePolicy | str | None = None,
    ) -> EventResult: ...
    def balances(self, scope: str | Subject | None = None) -> list[Balance]: ...
    def _reservations(
        self, status: ReservationStatus | str | None = None, scope: str | Subject | None = None
    ) -> list[ReservationDetail]: ...
    def sweep(self) -> int: ...
    def audit(self) -> str | None: ...
    def _fleet_snapshot(self) -> tuple[str, int, int, str, str] | None: ...
    def _fleet_sync(self) -> None: ...
    def _fleet_status(self) -> tuple[str, int, int, int | None, int] | None: ...

# Per-route windows (burnguard.routes).

@final
class RouteCore:
    def record(
        self, duration: float, error: bool = False, bytes: int = 0, at: float | None = None, status: int = 0
    ) -> None: ...
    @property
    def totals(self) -> tuple[tuple[int, int, int, int, int, int], int, int, float]: ...
    def histogram(self, bounds: list[float]) -> list[int]: ...
    def summary(
        self, key: str, window_seconds: float, at: float | None = None, warmup_seconds: float = 0.0
    ) -> RouteSummary: ...
    def reject_circuit_open(self) -> None: ...
    def reject_budget_denied(self) -> None: ...
    @property
    def circuit_open(self) -> int: ...
    @property
    def budget_denied(self) -> int: ...
    @property
    def first_seen(self) -> float | None: ...
    @property
    def dropped(self) -> int: ...
    @property
    def retained_seconds(self) -> float: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def fleet_slots(self) -> int: ...
    def _fleet_batch(self, outbox: RouteOutboxCore) -> tuple[list[str], str | None]: ...
    def _fleet_set_slot(self, line: str) -> None: ...
    def _fleet_set_totals(self, line: str) -> None: ...

@final
class RouteOutboxCore:
    """What a process last sent of one route to the fleet's store."""

    def __new__(cls) -> Self: ...
    def resend_all(self) -> None: ...

@final
class RouteTableCore:
    def __new__(
        cls,
        max_routes: int,
        retain_seconds: float,
        overflow_key: str,
        *,
        clock: Callable[[], float] | FleetClock | None = None,
        shared: ArenaCore | None = None,
        name: str = "routes",
    ) -> Self: ...
    @property
    def shared(self) -> bool: ...
    def now(self) -> float: ...
    def route(self, key: str) -> tuple[str, RouteCore]: ...
    def routes(self) -> list[tuple[str, RouteCore]]: ...

@final
class Settlement:
    """What a finished request of one route is recorded into, in one call."""

    def __new__(
        cls, route: RouteCore, availability: SloCore | None = None, latency: SloCore | None = None
    ) -> Self: ...
    def settle(
        self, ok: bool, duration: float, sent: int, status: int, permit: BreakerPermit | None = None
    ) -> None: ...

@final
class Counter:
    """A monotonic event counter: one atomic word shared by every thread (and, with
    ``shared=``, by every process that asks for the counter ``name`` in that arena)."""

    def __new__(cls, *, shared: ArenaCore | None = None, name: str = "") -> Self: ...
    @property
    def shared(self) -> bool: ...
    def inc(self) -> None: ...
    @property
    def value(self) -> int: ...

# Cost projections (burnguard.cost).

PROVIDERS: list[str]
_Projection: TypeAlias = tuple[
    tuple[float, float, float],  # observed rps, projected rps, required cores
    tuple[str, int],  # instance, count
    tuple[float, float, float, float, float],  # compute $, egress GiB, egress $, monthly $, $ per user
    tuple[float, float, float],  # request cost p50, p95, p99
    tuple[float, bool, bool],  # variance ratio, variance warning, over budget
    list[tuple[float, float]],  # (users, monthly $) curve
]
VARIANCE_WARNING_RATIO: float

@final
class PricingCore:
    def __new__(
        cls,
        provider: str,
        region: str,
        date: str,
        instances: list[tuple[str, float, float, float]],
        egress_usd_per_gib: float,
    ) -> Self: ...
    @staticmethod
    def bundled(provider: str) -> PricingCore: ...
    def describe(self) -> tuple[str, str, str, float]: ...
    def instances(self) -> list[tuple[str, float, float, float]]: ...
    def project(
        self,
        usages: list[tuple[int, float, float, float, tuple[float, float, float], float | None]],
        target_users: float,
        requests_per_user_per_second: float,
    ) -> list[_Projection | None]: ...

# The Cycles-protocol server (burnguard serve).

@final
class CyclesServer:
    def __new__(
        cls,
        host: str,
        port: int,
        *,
        threads: int = 64,
        retention_seconds: float = 300.0,
        max_retained: int = 100_000,
        data_dir: str | os.PathLike[str] | None = None,
        sequencer: _Sequencer | None = None,
        rate_limit: int | None = None,
        provisioned: _ProvisionedStore | None = None,
    ) -> Self: ...
    def refresh_provisioned(self) -> None: ...
    @property
    def port(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def add_key(self, secret: str, tenant: str) -> None: ...
    def add_key_hash(self, sha256_hex: str, tenant: str) -> None: ...
    def set_admin_key(self, secret: str) -> None: ...
    def set_budget(self, scope: str, unit: str, allocated: int, overdraft_limit: int = 0) -> None: ...
    def sweep(self) -> int: ...
    def _fleet_snapshot(self) -> tuple[str, int, int, str, str] | None: ...
    def _fleet_sync(self) -> None: ...
    def _fleet_status(self) -> tuple[str, int, int, int | None, int] | None: ...
    def stop(self) -> None: ...

@final
class FleetClock:
    """Seconds to add to this host's wall clock to read the fleet's."""

    def __new__(cls) -> Self: ...
    @property
    def offset(self) -> float: ...
    def set_offset(self, seconds: float) -> bool: ...

@final
class SloFleet:
    """One SLO's link to a fleet store: its outbox of changed buckets and its mirror."""

    def __new__(cls, core: SloCore, *, host: bool = False) -> Self: ...
    @property
    def layout(self) -> tuple[float, int, int]: ...
    def batch(self, now: float) -> tuple[list[tuple[int, int, int]], list[int], bool]: ...
    def resend_all(self) -> None: ...
    def acknowledge(self) -> None: ...
    def rebase(self) -> None: ...
    @property
    def unshared(self) -> int: ...
    def apply(self, entries: list[tuple[int, int, int, int, int]], *, clear: bool = False) -> None: ...
    def counts(self, now: float, windows: list[float]) -> list[tuple[int, int]]: ...

@final
class SendMeter:
    """An ASGI ``send`` that notes the status, the body bytes and a failed send."""

    def __new__(cls, send: Callable[[Any], Awaitable[None]]) -> Self: ...
    def __call__(self, message: Any) -> Awaitable[None]: ...
    def figures(self) -> tuple[int, int, bool, float]: ...
    def elapsed(self) -> float: ...
    def disconnect(self) -> None: ...

@final
class MeteredSend:
    """One ``send`` in progress (an awaitable)."""

    def __await__(self) -> Generator[Any, Any]: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...
    def throw(self, *args: Any) -> Any: ...
    def close(self) -> None: ...
