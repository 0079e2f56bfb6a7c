"""Drop-in for ``cloudcircuit`` 0.3.8: rewrite ``cloudcircuit`` imports to this package. The
same functions also take numpy arrays (see ``burnguard.spend``)."""

from burnguard.compat.cloudcircuit.safeguards import (
    AnomalyCheckResult,
    BudgetCheckResult,
    BurnRateResult,
    CircuitBreakerDecision,
    ForecastResult,
    PolicyDecision,
    check_anomaly_robust,
    check_anomaly_spike,
    check_budget,
    check_burn_rate,
    evaluate_circuit_breaker,
    evaluate_spend_policy,
    forecast_budget_breach,
    make_alert_payload,
)

__version__ = "0.3.8"

__all__ = [
    "AnomalyCheckResult",
    "BudgetCheckResult",
    "BurnRateResult",
    "CircuitBreakerDecision",
    "ForecastResult",
    "PolicyDecision",
    "__version__",
    "check_anomaly_robust",
    "check_anomaly_spike",
    "check_budget",
    "check_burn_rate",
    "evaluate_circuit_breaker",
    "evaluate_spend_policy",
    "forecast_budget_breach",
    "make_alert_payload",
]
