"""Middleware never breaks the app: admission faults, HEAD requests and client disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from burnguard import (
    CircuitBreaker,
    Ledger,
    RouteBudget,
    RouteGuard,
    RouteSLO,
    SLODefinition,
    SLOTracker,
    Subject,
    Unit,
)
from burnguard.asgi import GuardMiddleware

from .test_routes import fastapi_app, get_all


def test_an_admission_fault_lets_the_request_through_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_clock() -> float:
        raise RuntimeError("clock offline")

    breaker = CircuitBreaker("users", clock=broken_clock)
    app, guard = fastapi_app(breakers={"GET /users/{uid}": breaker})
    answers = get_all(app, "/users/1", "/users/2", "/users/3")
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert guard.recording_errors >= 3
    assert caplog.text.count("could not admit a request") == 1


def test_a_settling_fault_lets_the_request_through_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_clock() -> float:
        raise RuntimeError("clock offline")

    availability = SLOTracker(SLODefinition("api", 0.99), clock=broken_clock)
    breaker = CircuitBreaker("users")
    app, guard = fastapi_app(slos={"*": RouteSLO(availability=availability)}, breakers={"*": breaker})
    assert guard.plan("GET", "/users/{uid}").quick, "the adapter settles it in one native call"
    answers = get_all(app, "/users/1", "/users/2", "/users/3")
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert guard.recording_errors == 3
    assert caplog.text.count("could not record a request") == 1


def test_head_is_guarded_by_the_get_entry() -> None:
    breaker = CircuitBreaker("users")
    breaker.force_open()
    app, guard = fastapi_app(breakers={"GET /users/{uid}": breaker})

    async def head() -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.head("/users/1")).status_code

    assert asyncio.run(head()) == 503
    assert guard.plan("HEAD", "/users/{uid}").breaker is breaker


def test_a_client_disconnect_is_not_the_apps_failure() -> None:
    availability = SLOTracker(SLODefinition("api", 0.99))
    breaker = CircuitBreaker("stream", sliding_window_size=2, minimum_number_of_calls=2)
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 100)
    guard = RouteGuard(
        slos={"*": RouteSLO(availability=availability)},
        breakers={"*": breaker},
        budgets={"*": RouteBudget(ledger, Subject(tenant="acme"))},
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.body", "body": b"y"})

    async def gone(message: Any) -> None:
        if message["type"] == "http.response.body":
            raise OSError("client went away")

    async def receive() -> Any:
        return {"type": "http.request"}

    middleware = GuardMiddleware(app, guard=guard)
    scope = {"type": "http", "method": "GET", "path": "/stream", "headers": []}
    for _ in range(5):
        with pytest.raises(OSError):
            asyncio.run(middleware(scope, receive, gone))
    assert guard.disconnects == 5
    assert breaker.state == "CLOSED" and breaker.snapshot().failed_calls == 0
    assert availability.snapshot().failures == 0
    assert ledger.balances("tenant:acme")[0].reserved == 0
    assert guard.routes.summaries()[0].errors == 0


def test_an_unparseable_wsgi_status_line_does_not_raise_into_the_app() -> None:
    from burnguard.wsgi import GuardMiddleware as WSGIGuardMiddleware

    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("OK", [("Content-Type", "text/plain")])  # no status code
        return [b"hello"]

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        seen.append(status)

    wrapped = WSGIGuardMiddleware(app, route_of=lambda environ: "/x")
    body = b"".join(wrapped({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, start_response))
    assert (body, seen) == (b"hello", ["OK"]), "the server sees the app's own status line"
    assert wrapped.guard.recording_errors == 1


def test_excluded_paths_are_left_out_entirely() -> None:
    breaker = CircuitBreaker("all")
    breaker.force_open()
    app, guard = fastapi_app(breakers={"*": breaker}, exclude=["/users/1"])
    answers = get_all(app, "/users/1", "/users/2")
    assert [r.status_code for r in answers] == [200, 503]
    assert [s.route for s in guard.routes.summaries()] == ["GET /users/{uid}"]
    assert guard.routes.summaries()[0].requests == 1, "only the guarded request is counted"
    by_predicate = RouteGuard(exclude=lambda path: path.startswith("/health"))
    assert by_predicate.excluded("/healthz") and not by_predicate.excluded("/users/1")
    with pytest.raises(TypeError, match=r"^exclude must be an iterable or callable; got str"):
        RouteGuard(exclude="/metrics")  # type: ignore[arg-type]


def test_a_raising_exclude_predicate_is_a_counted_fault() -> None:
    def broken(path: str) -> bool:
        raise RuntimeError("bad predicate")

    guard = RouteGuard(exclude=broken)
    assert guard.excluded("/x") is False
    assert guard.recording_errors == 1


def test_a_wsgi_client_that_hangs_up_mid_body_is_a_disconnect_on_a_real_server() -> None:
    import socket
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from burnguard.wsgi import GuardMiddleware as WSGIGuard

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    availability = SLOTracker(SLODefinition("api", 0.99))
    breaker = CircuitBreaker("stream", sliding_window_size=2, minimum_number_of_calls=2)
    guard = RouteGuard(slos={"*": RouteSLO(availability=availability)}, breakers={"*": breaker})

    def streaming(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(2000))  # far more than the socket buffers hold

    server = make_server(
        "127.0.0.1", 0, WSGIGuard(streaming, route_of=lambda e: "/stream", guard=guard), handler_class=Quiet
    )
    server.timeout = 10
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    with socket.create_connection(server.server_address) as client:
        client.sendall(b"GET /stream HTTP/1.0\r\nHost: test\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.0 200")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    thread.join(timeout=30)
    server.server_close()
    assert not thread.is_alive()
    assert guard.disconnects == 1
    assert availability.snapshot().total == 0
    assert breaker.state == "CLOSED" and breaker.snapshot().failed_calls == 0
    assert [(s.requests, s.errors) for s in guard.routes.summaries()] == [(1, 0)]
