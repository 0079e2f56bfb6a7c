"""A sample app using burnguard as the README does; ``mypy --strict`` must accept it
(tests/test_typing.py runs it and runs mypy over it)."""

from __future__ import annotations

import numpy as np
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette

import burnguard
from burnguard import spend
from burnguard.asgi import GuardMiddleware, SLOMiddleware
from burnguard.wsgi import FlaskGuard

tracker = burnguard.SLOTracker(burnguard.SLODefinition(name="api", target=0.999))
breaker = burnguard.CircuitBreaker("payments", failure_rate_threshold=50.0)
guard = burnguard.RouteGuard(
    slos={"*": burnguard.RouteSLO(availability=tracker)},
    breakers={"POST /pay": breaker},
    exclude=["/metrics"],
)

app = FastAPI()
app.add_middleware(GuardMiddleware, guard=guard)
app.add_middleware(GuardMiddleware, max_routes=32, exclude=["/health"])
app.add_middleware(SLOMiddleware, tracker=tracker)
starlette_app = Starlette()
starlette_app.add_middleware(GuardMiddleware, guard=guard)

flask_app = Flask(__name__)
FlaskGuard(flask_app, guard=burnguard.RouteGuard())

budget: spend.BudgetCheckResult = spend.check_budget(120.0, 100.0)
breached: bool = budget.is_breached
batch: spend.BudgetCheckBatch = spend.check_budget(np.array([50.0, 120.0]), 100.0)
flags: np.ndarray = batch.is_breached
listed: spend.BudgetCheckBatch = spend.check_budget([50.0, 120.0], [100.0, 100.0])
spike: spend.AnomalyCheckResult = spend.check_anomaly_spike([1.0, 1.0, 9.0])
spikes = spend.check_anomaly_spike(np.ones((3, 8)))  # 1-D or 2-D: narrow by isinstance
assert isinstance(spikes, spend.AnomalyCheckBatch)
spiking: np.ndarray = spikes.is_spike
forecast: spend.ForecastResult = spend.forecast_budget_breach(50.0, 100.0, 10, 30)
forecasts: spend.ForecastBatch = spend.forecast_budget_breach(np.array([50.0]), 100.0, 10, 30)
decision: spend.CircuitBreakerDecision = spend.evaluate_circuit_breaker(3)
decisions: spend.CircuitBreakerBatch = spend.evaluate_circuit_breaker(np.array([3, 0]))

ledger = burnguard.Ledger()
ledger.set_budget("tenant:acme", burnguard.Unit.CREDITS, 1_000)


@burnguard.guard(ledger, estimate=10, unit=burnguard.Unit.CREDITS, tenant="acme")
def answer(question: str) -> str:
    return question.upper()


shouted: str = answer("hi")


@breaker
def pay(amount: int) -> int:
    return amount


paid: int = pay(5)
snapshot = tracker.snapshot()
remaining: float = snapshot.error_budget_remaining
