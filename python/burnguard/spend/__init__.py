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

from burnguard.spend.checks import (
    check_anomaly_robust,
    check_anomaly_spike,
    check_budget,
    check_burn_rate,
    evaluate_circuit_breaker,
    forecast_budget_breach,
    uses_avx2,
)
from burnguard.spend.policy import evaluate_spend_policy, make_alert_payload
from burnguard.spend.results import (
    AnomalyCheckBatch,
    AnomalyCheckResult,
    BudgetCheckBatch,
    BudgetCheckResult,
    BurnRateBatch,
    BurnRateResult,
    CircuitBreakerBatch,
    CircuitBreakerDecision,
    ForecastBatch,
    ForecastResult,
    PolicyBatch,
    PolicyDecision,
    RollingAnomaly,
    RollingBurn,
    Severity,
)
from burnguard.spend.results import (
    _Batch as _Batch,
)
from burnguard.spend.rolling import rolling_anomaly_robust, rolling_anomaly_spike, rolling_burn_rate

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
