"""A Flask app whose routes, breaker and availability SLO live in the arena named by
``BURNGUARD_TEST_ARENA``, for ``gunicorn -w 4`` (sync workers): ``/metrics`` and ``/slo``
answer with the host's figures from whichever worker, and the breaker guarding ``/downstream``
opens for all workers after 5 failures in a row (each call that reaches the dead downstream
appends a line to the file ``BURNGUARD_TEST_CALLS``).Its ``/paid`` route is
charged to a shared ledger budget of 100 credits, set by every worker as it starts."""

from __future__ import annotations

import os

from flask import Flask, Response, abort

from burnguard import (
    CircuitBreaker,
    CircuitOpenError,
    Ledger,
    RouteBudget,
    RouteGuard,
    RouteSLO,
    SLODefinition,
    SLOTracker,
    Subject,
    Unit,
)
from burnguard.prometheus import PrometheusExporter
from burnguard.wsgi import FlaskGuard

arena = os.environ["BURNGUARD_TEST_ARENA"]
availability = SLOTracker(SLODefinition(name="availability", target=0.999), shared=arena)
breaker = CircuitBreaker(
    "downstream", consecutive_failure_threshold=5, wait_duration_in_open_state=600, shared=arena
)
# Every worker sets the budget when it starts (recycled ones again): it is never refilled.
PAID_REQUESTS = 100
ledger = Ledger(shared=arena)
ledger.set_budget("tenant:acme", Unit.CREDITS, PAID_REQUESTS)
guard = RouteGuard(
    shared=arena,
    slos={"*": RouteSLO(availability=availability)},
    exclude=["/metrics", "/slo"],
    budgets={"/paid": RouteBudget(ledger, Subject(tenant="acme"))},
)
exporter = PrometheusExporter(routes=guard, ledgers=[ledger])

app = Flask(__name__)
FlaskGuard(app, guard=guard)


@app.get("/paid")
def paid() -> str:
    return "paid"


@app.get("/ok")
def ok() -> str:
    return "ok"


@app.get("/fail")
def fail() -> str:
    abort(503)


@app.get("/slo")
def slo() -> dict[str, int]:
    snapshot = availability.snapshot()
    return {"pid": os.getpid(), "total": snapshot.total, "failures": snapshot.failures}


def dead_downstream() -> None:
    with open(os.environ["BURNGUARD_TEST_CALLS"], "a") as calls:
        calls.write(f"{os.getpid()}\n")
    raise ConnectionError("the downstream is down")


@app.get("/downstream")
def downstream() -> str:
    try:
        breaker.call(dead_downstream)
    except ConnectionError:
        abort(502)
    except CircuitOpenError:
        abort(503)
    return "ok"


@app.get("/metrics")
def metrics() -> Response:
    body, content_type = exporter.render()
    return Response(body, content_type=content_type, headers={"x-pid": str(os.getpid())})
