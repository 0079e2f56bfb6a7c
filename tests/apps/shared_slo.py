"""A FastAPI app whose availability SLO and downstream breaker live in the arena named by
``BURNGUARD_TEST_ARENA``: served by several workers, every worker reports the host's figures
at ``/slo``, and the breaker opens for all of them after 5 failures in a row. Each call that
reaches the (dead) downstream appends a line to the file ``BURNGUARD_TEST_CALLS``. Its routes
are recorded by a ``GuardMiddleware`` whose table is shared too, and ``/metrics`` exports them
from whichever worker answers.Its ``/paid`` route is
charged to a shared ledger budget of 100 credits, set by every worker as it starts."""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException, Response

from burnguard import (
    CircuitBreaker,
    CircuitOpenError,
    Ledger,
    RouteBudget,
    RouteGuard,
    SLODefinition,
    SLORegistry,
    Subject,
    Unit,
)
from burnguard.asgi import GuardMiddleware, SLOMiddleware
from burnguard.prometheus import PrometheusExporter

registry = SLORegistry(shared=os.environ["BURNGUARD_TEST_ARENA"])
availability = registry.define(SLODefinition(name="availability", target=0.999))
breaker = CircuitBreaker(
    "downstream",
    consecutive_failure_threshold=5,
    wait_duration_in_open_state=600,
    shared=os.environ["BURNGUARD_TEST_ARENA"],
)

# Every worker sets the budget when it starts (recycled ones again): it is never refilled.
PAID_REQUESTS = 100
ledger = Ledger(shared=os.environ["BURNGUARD_TEST_ARENA"])
ledger.set_budget("tenant:acme", Unit.CREDITS, PAID_REQUESTS)
guard = RouteGuard(
    shared=os.environ["BURNGUARD_TEST_ARENA"],
    exclude=["/metrics"],
    budgets={"/paid": RouteBudget(ledger, Subject(tenant="acme"))},
)
exporter = PrometheusExporter(routes=guard, ledgers=[ledger])

app = FastAPI()
app.add_middleware(SLOMiddleware, tracker=availability)
app.add_middleware(GuardMiddleware, guard=guard)


@app.get("/paid")
async def paid() -> str:
    return "paid"


@app.get("/ok")
async def ok() -> str:
    return "ok"


@app.get("/fail")
async def fail() -> str:
    raise HTTPException(status_code=503, detail="down")


@app.get("/slo")
async def slo() -> dict[str, int]:
    snapshot = availability.snapshot()
    return {"pid": os.getpid(), "total": snapshot.total, "failures": snapshot.failures}


def dead_downstream() -> None:
    with open(os.environ["BURNGUARD_TEST_CALLS"], "a") as calls:
        calls.write(f"{os.getpid()}\n")
    raise ConnectionError("the downstream is down")


@app.get("/downstream")
async def downstream() -> str:
    try:
        breaker.call(dead_downstream)
    except ConnectionError:
        raise HTTPException(status_code=502, detail="downstream failed") from None
    except CircuitOpenError:
        raise HTTPException(status_code=503, detail="breaker open") from None
    return "ok"


@app.get("/metrics")
async def metrics() -> Response:
    body, content_type = exporter.render()
    return Response(body, media_type=content_type, headers={"x-pid": str(os.getpid())})
