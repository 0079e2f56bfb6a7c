"""Drop-in for ``slo_budget_tracker`` 0.1.1: ``import burnguard.compat.slo_budget_tracker as
slo_budget_tracker``, or rewrite ``from slo_budget_tracker...`` imports to this package."""

from burnguard.asgi import SLOMiddleware
from burnguard.prometheus import PrometheusExporter
from burnguard.slo import BurnRateAlert, Observation, SLODefinition, SLORegistry, SLOSnapshot, SLOTracker

__version__ = "0.1.1"

__all__ = [
    "BurnRateAlert",
    "Observation",
    "PrometheusExporter",
    "SLODefinition",
    "SLOMiddleware",
    "SLORegistry",
    "SLOSnapshot",
    "SLOTracker",
    "__version__",
]
