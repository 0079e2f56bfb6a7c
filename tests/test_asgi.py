from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from burnguard import SLODefinition, SLOMiddleware, SLORegistry, SLOTracker


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def fail(_: Request) -> PlainTextResponse:
    return PlainTextResponse("no", status_code=503)


async def boom(_: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def _app(**kwargs: object) -> Starlette:
    app = Starlette(routes=[Route("/ok", ok), Route("/fail", fail), Route("/boom", boom)])
    app.add_middleware(SLOMiddleware, **kwargs)  # type: ignore[arg-type]
    return app


async def _get(app: Starlette, *paths: str) -> list[int]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [(await client.get(p)).status_code for p in paths]


async def test_records_outcomes_and_latency() -> None:
    reg = SLORegistry()
    reg.define(SLODefinition(name="availability", target=0.99))
    latency = SLOTracker(SLODefinition(name="latency", target=0.9, latency_threshold_seconds=10.0))
    app = _app(registry=reg, slo_name="availability", latency_tracker=latency)
    assert await _get(app, "/ok", "/ok", "/fail", "/boom") == [200, 200, 503, 500]
    snap = reg.get("availability").snapshot()
    assert (snap.total, snap.failures) == (4, 2)
    lat = latency.snapshot()
    assert (lat.total, lat.failures) == (4, 2)  # failed requests are bad for latency too


async def test_custom_classifier() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99))
    app = _app(tracker=t, classify=lambda status, exc: exc is None and status < 400)
    await _get(app, "/ok", "/fail")
    assert t.snapshot().failures == 1


async def test_a_recording_fault_never_breaks_the_request(caplog: pytest.LogCaptureFixture) -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99))

    def broken(status: int, exc: BaseException | None) -> bool:
        raise KeyError("classifier bug")

    app = Starlette(routes=[Route("/ok", ok)])
    middleware = SLOMiddleware(app, tracker=t, classify=broken)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/ok")).text == "ok"
    assert middleware.recording_errors == 1
    assert "could not record" in caplog.text


async def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    t = SLOTracker(SLODefinition(name="a", target=0.99))
    await SLOMiddleware(app, tracker=t)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"] and t.snapshot().total == 0


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="tracker= or registry="):
        SLOMiddleware(ok)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="slo_name"):
        SLOMiddleware(ok, registry=SLORegistry())  # type: ignore[arg-type]
    plain = SLOTracker(SLODefinition(name="a", target=0.99))
    with pytest.raises(ValueError, match="latency_threshold_seconds"):
        SLOMiddleware(ok, tracker=plain, latency_tracker=plain)  # type: ignore[arg-type]
