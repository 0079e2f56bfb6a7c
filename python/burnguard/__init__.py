"""burnguard: native guardrails for Python services.

SLO error budgets on lock-free bounded windows, with burn rates and the SRE Workbook's
multiwindow alerts, an ASGI middleware and a Prometheus exporter; spend safeguards over numpy
arrays (``burnguard.spend``); atomic circuit breakers; budget reservations (``Ledger``). The engine is Rust
(``burnguard._native``); this package is its typed facade.
"""

from burnguard._native import __version__
from burnguard.asgi import SLOMiddleware
from burnguard.breaker import (
    BreakerPermit,
    BreakerRegistry,
    BreakerSnapshot,
    CallNotPermitted,
    CircuitBreaker,
    CircuitOpenError,
    StateTransition,
)
from burnguard.cost import CostModel, CostPoint, CostReport, Instance, Pricing, RouteCost
from burnguard.errors import BurnguardError, InvalidArgumentError, InvalidTypeError
from burnguard.ledger import (
    Action,
    Amount,
    Balance,
    BudgetExceededError,
    BudgetNotFoundError,
    Caps,
    CommitOveragePolicy,
    DebtOutstandingError,
    Decision,
    DryRunResult,
    IdempotencyMismatchError,
    Ledger,
    LedgerError,
    OverdraftLimitExceededError,
    ReservationExpiredError,
    ReservationFinalizedError,
    ReservationNotFoundError,
    ReservationStatus,
    Subject,
    Unit,
    UnitMismatchError,
    current_reservation,
    guard,
)
from burnguard.middleware import RouteBudget, RouteGuard, RouteSLO
from burnguard.prometheus import PrometheusExporter
from burnguard.routes import RouteStats, RouteSummary, RouteTable, RouteTotals
from burnguard.shared import Arena
from burnguard.slo import (
    AlertTransition,
    BurnRateAlert,
    BurnRatePolicy,
    BurnRateSample,
    InMemoryStore,
    MultiWindowAlert,
    Observation,
    ObservationStore,
    SLODefinition,
    SLORegistry,
    SLOSnapshot,
    SLOTracker,
)

__all__ = [
    "Action",
    "AlertTransition",
    "Amount",
    "Arena",
    "Balance",
    "BreakerPermit",
    "BreakerRegistry",
    "BreakerSnapshot",
    "BudgetExceededError",
    "BudgetNotFoundError",
    "BurnRateAlert",
    "BurnRatePolicy",
    "BurnRateSample",
    "BurnguardError",
    "CallNotPermitted",
    "Caps",
    "CircuitBreaker",
    "CircuitOpenError",
    "CommitOveragePolicy",
    "CostModel",
    "CostPoint",
    "CostReport",
    "DebtOutstandingError",
    "Decision",
    "DryRunResult",
    "IdempotencyMismatchError",
    "InMemoryStore",
    "Instance",
    "InvalidArgumentError",
    "InvalidTypeError",
    "Ledger",
    "LedgerError",
    "MultiWindowAlert",
    "Observation",
    "ObservationStore",
    "OverdraftLimitExceededError",
    "Pricing",
    "PrometheusExporter",
    "ReservationExpiredError",
    "ReservationFinalizedError",
    "ReservationNotFoundError",
    "ReservationStatus",
    "RouteBudget",
    "RouteCost",
    "RouteGuard",
    "RouteSLO",
    "RouteStats",
    "RouteSummary",
    "RouteTable",
    "RouteTotals",
    "SLODefinition",
    "SLOMiddleware",
    "SLORegistry",
    "SLOSnapshot",
    "SLOTracker",
    "StateTransition",
    "Subject",
    "Unit",
    "UnitMismatchError",
    "__version__",
    "current_reservation",
    "guard",
]
