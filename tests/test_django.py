"""The Django middleware on a real Django app, through Django's test client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from burnguard import CircuitBreaker, Ledger, SLODefinition, SLOTracker, Subject, Unit
from burnguard.middleware import RouteBudget, RouteGuard, RouteSLO


def user(request: HttpRequest, uid: int) -> HttpResponse:
    return HttpResponse(f"user {uid}")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(b"z" * 100 for _ in range(5))


async def async_user(request: HttpRequest, uid: int) -> HttpResponse:
    return HttpResponse(f"async {uid}")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"a" * 50

    return StreamingHttpResponse(chunks())


urlpatterns = [
    path("users/<int:uid>/", user),
    path("boom/", boom),
    path("stream/", stream),
    path("async/<int:uid>/", async_user),
    path("astream/", async_stream),
]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["burnguard.django.GuardMiddleware"],
        BURNGUARD={},
        INSTALLED_APPS=[],
        DATABASES={},
        LOGGING_CONFIG=None,
    )
    django.setup()

from django.test import AsyncClient, Client, override_settings  # noqa: E402  (needs settings)


def client() -> Client:
    return Client(raise_request_exception=False)


def test_django_records_url_patterns() -> None:
    availability = SLOTracker(SLODefinition("site", 0.99))
    guard = RouteGuard(slos={"*": RouteSLO(availability=availability)})
    with override_settings(BURNGUARD={"guard": guard}):
        c = client()
        codes = [c.get(p).status_code for p in ("/users/1/", "/users/2/", "/nope/", "/boom/")]
        streamed = c.get("/stream/")
        assert b"".join(streamed.streaming_content) == b"z" * 500  # type: ignore[arg-type]
    assert codes == [200, 200, 404, 500]
    figures = {s.route: s for s in guard.routes.summaries()}
    assert set(figures) == {"GET users/<int:uid>/", "GET boom/", "GET stream/", "UNMATCHED"}
    assert (figures["GET users/<int:uid>/"].requests, figures["GET users/<int:uid>/"].bytes) == (2, 12)
    assert figures["GET boom/"].errors == 1
    assert figures["GET stream/"].bytes == 500
    assert (availability.snapshot().total, availability.snapshot().failures) == (5, 1)


def test_django_enforces_breakers_and_budgets_before_the_view() -> None:
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 1)
    breaker = CircuitBreaker("boom", sliding_window_size=1, minimum_number_of_calls=1)
    guard = RouteGuard(
        breakers={"boom/": breaker}, budgets={"users/<int:uid>/": RouteBudget(ledger, Subject(tenant="acme"))}
    )
    with override_settings(BURNGUARD={"guard": guard}):
        c = client()
        assert [c.get("/boom/").status_code for _ in range(2)] == [500, 503]
        assert [c.get(f"/users/{i}/").status_code for i in (1, 2)] == [200, 429]
    assert guard.plan("GET", "boom/").rejections.circuit_open == 1
    assert guard.plan("GET", "users/<int:uid>/").rejections.budget_denied == 1
    assert ledger.balances("tenant:acme")[0].spent == 1


def test_django_settings_are_checked(caplog: pytest.LogCaptureFixture) -> None:
    from burnguard.django import guard_from_settings

    with override_settings(BURNGUARD={"guard": "nope"}), pytest.raises(ValueError, match="RouteGuard"):
        guard_from_settings()
    with override_settings(BURNGUARD={"max_routes": 5}):
        assert guard_from_settings().routes.max_routes == 5

    def broken(status: int, error: Any) -> bool:
        raise RuntimeError("classifier bug")

    guard = RouteGuard(classify=broken)
    with override_settings(BURNGUARD={"guard": guard}):
        assert client().get("/users/1/").status_code == 200
    assert guard.recording_errors == 1 and "could not record" in caplog.text


def test_django_async_stack_records_and_enforces_on_the_event_loop() -> None:
    breaker = CircuitBreaker("async", sliding_window_size=1, minimum_number_of_calls=1)
    guard = RouteGuard(breakers={"async/<int:uid>/": breaker})

    async def run() -> tuple[int, bytes]:
        c = AsyncClient(raise_request_exception=False)
        answer = await c.get("/async/7/")
        streamed = await c.get("/astream/")
        body = b"".join([chunk async for chunk in streamed.streaming_content])  # type: ignore[union-attr]
        return answer.status_code, body

    with override_settings(BURNGUARD={"guard": guard}):
        status, body = asyncio.run(run())
    assert (status, body) == (200, b"a" * 200)
    figures = {s.route: s for s in guard.routes.summaries()}
    assert (figures["GET async/<int:uid>/"].requests, figures["GET async/<int:uid>/"].bytes) == (1, 7)
    assert figures["GET astream/"].bytes == 200, "an async stream is measured as it is sent"
    assert (breaker.snapshot().calls, breaker.snapshot().failed_calls) == (1, 0), "process_view admitted it"


def test_a_guard_from_settings_is_built_once_for_those_settings() -> None:
    from burnguard import PrometheusExporter
    from burnguard.django import guard_from_settings

    with override_settings(BURNGUARD={"max_routes": 7}):
        guard = guard_from_settings()
        assert guard_from_settings() is guard, "the middleware and a /metrics view share it"
        client().get("/users/3/")
        body = PrometheusExporter(routes=guard_from_settings(), route_window=60).render()[0]
        assert b'burnguard_route_requests{route="GET users/<int:uid>/",window_seconds="60"} 1.0' in body
    with override_settings(BURNGUARD={"max_routes": 9}):
        assert guard_from_settings().routes.max_routes == 9


def test_a_streamed_response_the_server_stops_reading_is_a_disconnect() -> None:
    from django.core.handlers.wsgi import WSGIHandler

    availability = SLOTracker(SLODefinition("site", 0.99))
    guard = RouteGuard(slos={"*": RouteSLO(availability=availability)})
    with override_settings(BURNGUARD={"guard": guard}):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/stream/",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.input": __import__("io").BytesIO(b""),
            "wsgi.url_scheme": "http",
        }
        body = WSGIHandler()(environ, lambda status, headers, exc_info=None: None)
        chunks = iter(body)
        assert next(chunks) == b"z" * 100
        body.close()  # what a WSGI server does when writing to the client fails
    assert guard.disconnects == 1
    assert availability.snapshot().total == 0
    assert [(s.requests, s.errors, s.bytes) for s in guard.routes.summaries()] == [(1, 0, 100)]


def test_settings_can_share_the_guard_with_every_worker(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burnguard import RouteTable
    from burnguard.django import guard_from_settings

    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path))
    with override_settings(BURNGUARD={"shared": "site"}):
        guard = guard_from_settings()
        assert guard.routes.is_shared
        client().get("/users/3/")
    # Another worker's table, in the same arena, sees the request this one served.
    other = RouteTable(shared="site")
    assert other.route("GET users/<int:uid>/").totals().requests_by_class["2xx"] == 1
