"""The combined spend policy (allow, throttle, block) and alert payloads."""

from __future__ import annotations

from typing import overload

import numpy as np

from burnguard import _native
from burnguard._check import diagnosed
from burnguard.errors import invalid
from burnguard.spend._args import (
    _broadcast,
    _column_all,
    _is_scalar,
)
from burnguard.spend.results import (
    AnomalyCheckBatch,
    AnomalyCheckResult,
    BudgetCheckBatch,
    BudgetCheckResult,
    CircuitBreakerBatch,
    CircuitBreakerDecision,
    PolicyBatch,
    PolicyDecision,
)

_ACTIONS = np.array(_native.POLICY_ACTIONS)
_SEVERITIES = np.array(_native.POLICY_SEVERITIES)
_REASONS = np.array(_native.POLICY_REASONS)


@overload
def evaluate_spend_policy(
    budget: BudgetCheckResult, anomaly: AnomalyCheckResult, breaker: CircuitBreakerDecision
) -> PolicyDecision: ...
@overload
def evaluate_spend_policy(
    budget: BudgetCheckResult | BudgetCheckBatch,
    anomaly: AnomalyCheckResult | AnomalyCheckBatch,
    breaker: CircuitBreakerDecision | CircuitBreakerBatch,
) -> PolicyDecision | PolicyBatch: ...
@diagnosed
def evaluate_spend_policy(
    budget: BudgetCheckResult | BudgetCheckBatch,
    anomaly: AnomalyCheckResult | AnomalyCheckBatch,
    breaker: CircuitBreakerDecision | CircuitBreakerBatch,
) -> PolicyDecision | PolicyBatch:
    """Block on a breach or an open breaker, throttle on a warning or a spike, else allow.
    With batches the decision is columnar: arrays of actions, reasons and severities."""
    flags = [budget.is_breached, breaker.is_open, budget.is_warning, anomaly.is_spike]
    if _is_scalar(*flags):
        _, action, severity, reason = _native.decide(*(bool(f) for f in flags))
        return PolicyDecision(action, reason, severity, budget, anomaly, breaker)  # type: ignore[arg-type]
    arrays = {
        name: np.asarray(f, dtype=np.bool_)
        for name, f in zip(("is_breached", "is_open", "is_warning", "is_spike"), flags, strict=True)
    }
    shape = _broadcast(**arrays)
    codes = _native.decide_batch(*(_column_all(a, shape) for a in arrays.values())).reshape(shape)
    return PolicyBatch(_ACTIONS[codes], _REASONS[codes], _SEVERITIES[codes], budget, anomaly, breaker)


@diagnosed
def make_alert_payload(policy: PolicyDecision, service: str, environment: str) -> dict[str, object]:
    """A provider-agnostic alert payload for logs, Slack or webhooks (one decision)."""
    if not service:
        raise invalid("service", "must be non-empty")
    if not environment:
        raise invalid("environment", "must be non-empty")
    b, a, k = policy.budget, policy.anomaly, policy.breaker
    return {
        "service": service,
        "environment": environment,
        "action": policy.action,
        "severity": policy.severity,
        "reason": policy.reason,
        "budget": {
            "current_spend": b.current_spend,
            "budget_limit": b.budget_limit,
            "usage_ratio": b.usage_ratio,
            "remaining_budget": b.remaining_budget,
        },
        "anomaly": {
            "latest_spend": a.latest_spend,
            "baseline_mean": a.baseline_mean,
            "threshold": a.threshold,
            "is_spike": a.is_spike,
        },
        "breaker": {
            "is_open": k.is_open,
            "allow_operation": k.allow_operation,
            "retry_after_steps": k.retry_after_steps,
        },
    }
