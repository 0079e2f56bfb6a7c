"""A FastAPI app whose availability SLO lives in the arena named by ``BURNGUARD_TEST_ARENA``:
served by several workers, every worker reports the host's figures at ``/slo``."""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException

from burnguard import SLODefinition, SLORegistry
from burnguard.asgi import SLOMiddleware

registry = SLORegistry(shared=os.environ["BURNGUARD_TEST_ARENA"])
availability = registry.define(SLODefinition(name="availability", target=0.999))

app = FastAPI()
app.add_middleware(SLOMiddleware, tracker=availability)


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
