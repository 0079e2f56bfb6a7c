"""burnguard: native guardrails for Python services.

SLO error budgets on lock-free bounded windows, with burn rates and the SRE Workbook's
multiwindow alerts, an ASGI middleware and a Prometheus exporter; spend safeguards over numpy
arrays (``burnguard.spend``); atomic circuit breakers. The engine is Rust
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
from burnguard.prometheus import PrometheusExporter
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
    "AlertTransition",
    "BreakerPermit",
    "BreakerRegistry",
    "BreakerSnapshot",
    "BurnRateAlert",
    "BurnRatePolicy",
    "BurnRateSample",
    "CallNotPermitted",
    "CircuitBreaker",
    "CircuitOpenError",
    "InMemoryStore",
    "MultiWindowAlert",
    "Observation",
    "ObservationStore",
    "PrometheusExporter",
    "SLODefinition",
    "SLOMiddleware",
    "SLORegistry",
    "SLOSnapshot",
    "SLOTracker",
    "StateTransition",
    "__version__",
]
