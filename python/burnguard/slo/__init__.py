"""SLO error budgets: definitions, the native tracker, the registry and stores."""

from burnguard.slo.models import (
    AlertTransition,
    BurnRateAlert,
    BurnRatePolicy,
    BurnRateSample,
    MultiWindowAlert,
    Observation,
    SLODefinition,
    SLOSnapshot,
)
from burnguard.slo.registry import SLORegistry
from burnguard.slo.storage import InMemoryStore, ObservationStore
from burnguard.slo.tracker import SLOTracker

__all__ = [
    "AlertTransition",
    "BurnRateAlert",
    "BurnRatePolicy",
    "BurnRateSample",
    "InMemoryStore",
    "MultiWindowAlert",
    "Observation",
    "ObservationStore",
    "SLODefinition",
    "SLORegistry",
    "SLOSnapshot",
    "SLOTracker",
]
