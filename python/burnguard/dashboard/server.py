"""The dashboard's HTTP server: the page, its script and style, and a JSON API behind every
panel, served from a daemon thread of the app's own process (standard library only)."""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from burnguard.breaker import BreakerRegistry, CircuitBreaker
from burnguard.cost import CostModel
from burnguard.dashboard import page
from burnguard.dashboard.panels import (
    History,
    Recording,
    breaker_panel,
    budget_panels,
    finite,
    policies,
    route_panels,
    slo_panel,
)
from burnguard.errors import invalid, wrong_type
from burnguard.ledger import Ledger
from burnguard.routes import RouteTable
from burnguard.slo import SLORegistry, SLOTracker

logger = logging.getLogger("burnguard.dashboard")

#: A handler of an extra endpoint: the request's query, its answer's status and JSON body.
Endpoint = Callable[[Mapping[str, list[str]]], tuple[int, Any]]

_ASSETS = {"/dashboard.js": "text/javascript", "/dashboard.css": "text/css"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _clean(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class Dashboard:
    """A live dashboard of SLOs, breakers, ledger budgets, routes and costs.

    ``Dashboard(slos=..., breakers=..., ledgers=..., routes=..., cost=CostModel(...))`` shows
    what it is given; ``start()`` serves it on ``host:port`` (``127.0.0.1:7777`` by default;
    port 0 picks a free one, see ``url``) until ``stop()``. With ``token``, every request must
    carry it (``Authorization: Bearer <token>``, or ``?token=`` in the page's address, which
    the page passes on). ``clock`` (seconds since the epoch) is the moment every panel is read
    at. No request or response body of the app is ever shown.
    """

    def __init__(
        self,
        *,
        slos: SLORegistry | Iterable[SLOTracker] = (),
        breakers: BreakerRegistry | Iterable[CircuitBreaker] = (),
        ledgers: Iterable[Ledger] = (),
        routes: RouteTable | None = None,
        cost: CostModel | None = None,
        host: str = "127.0.0.1",
        port: int = 7777,
        token: str | None = None,
        refresh_seconds: float = 5.0,
        title: str = "burnguard",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slos = list(slos)
        self.breakers = list(breakers)
        self.ledgers = list(ledgers)
        for name, items, kind in (
            ("slos", self.slos, SLOTracker),
            ("breakers", self.breakers, CircuitBreaker),
            ("ledgers", self.ledgers, Ledger),
        ):
            for i, item in enumerate(items):
                if not isinstance(item, kind):
                    raise wrong_type(f"{name}[{i}]", f"must be a {kind.__name__}", type(item).__name__)
        if routes is not None and not isinstance(routes, RouteTable):
            raise wrong_type("routes", "must be a RouteTable", type(routes).__name__)
        if cost is not None and not isinstance(cost, CostModel):
            raise wrong_type("cost", "must be a CostModel", type(cost).__name__)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise invalid("port", "must be an int in 0..65535", repr(port))
        if token is not None and (not isinstance(token, str) or len(token) < 8):
            raise invalid("token", "must be a str of at least 8 characters", "<hidden>")
        if not (isinstance(refresh_seconds, int | float) and 0.5 <= refresh_seconds <= 3600):
            raise invalid(
                "refresh_seconds", "must be a number of seconds in [0.5, 3600]", repr(refresh_seconds)
            )
        self.routes = routes
        self.cost = cost if cost is not None else CostModel()
        self.host, self.port, self.title = host, port, title
        self.refresh_seconds = float(refresh_seconds)
        self._token = token
        self.clock = clock
        self.recording = Recording()
        self.history = History(self.breakers, clock)
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        """Extra endpoints by ``(method, path)``, answered before the dashboard's own."""
        self.endpoint_headers: dict[str, str] = {}
        """Headers added to the extra endpoints' answers."""
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    # ---- the data ---------------------------------------------------------------------------

    def data(self, *, at: float | None = None) -> dict[str, Any]:
        """Every panel at one moment (default: now), as the JSON API gives it."""
        now = self.clock() if at is None else at
        slos = [slo_panel(t, self.history, now) for t in self.slos]
        slos.sort(key=lambda s: s["error_budget_remaining"])
        budgets = [b for ledger in self.ledgers for b in budget_panels(ledger)]
        routes = None if self.routes is None else route_panels(self.routes, self.cost, self.recording, now)
        data: dict[str, Any] = _clean(
            {
                "title": self.title,
                "generated_at": now,
                "refresh_seconds": self.refresh_seconds,
                "slos": slos,
                "breakers": [breaker_panel(b, self.history, now) for b in self.breakers],
                "budgets": budgets,
                "routes": routes,
                "recording": self.recording_status(now),
            }
        )
        return data

    def recording_status(self, now: float | None = None) -> dict[str, Any]:
        """The recording session (``started_at`` None: none, the panels read all the windows
        hold) and the cost model's warm-up."""
        now = self.clock() if now is None else now
        span, _ = self.recording.span(now)
        started = self.recording.started_at is not None
        return {
            "status": "recording" if self.recording.stopped_at is None else "stopped",
            "started_at": self.recording.started_at,
            "stopped_at": self.recording.stopped_at,
            "seconds": span if started else None,
            "warmup_seconds": self.cost.warmup_seconds,
            "warming_up": started and span < self.cost.warmup_seconds,
        }

    def start_recording(self) -> dict[str, Any]:
        """Begins a new recording session now (see ``Recording``); its status."""
        self.recording.start(self.clock())
        return self.recording_status()

    def stop_recording(self) -> dict[str, Any]:
        """Freezes the route and cost panels now; the status."""
        self.recording.stop(self.clock())
        return self.recording_status()

    # ---- the server -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The dashboard's address (its real port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Dashboard:
        """Serves the dashboard from a daemon thread (again: no-op). OSError if the port is taken."""
        with self._lock:
            if self._server is None:
                server = ThreadingHTTPServer((self.host, self.port), _handler(self))
                server.daemon_threads = True
                self.port = server.server_address[1]
                threading.Thread(target=server.serve_forever, name="burnguard-dashboard", daemon=True).start()
                self._stopped = stopped = threading.Event()  # this run's own: an old watcher ends
                watcher = threading.Thread(
                    target=self._watch, args=(stopped,), name="burnguard-dashboard-alerts"
                )
                watcher.daemon = True
                watcher.start()
                self._server = server
                logger.info("burnguard dashboard on %s", self.url)
        return self

    def _watch(self, stopped: threading.Event) -> None:
        """Reads every SLO's alert policies each ``refresh_seconds`` until ``stopped``, so the
        panels' transitions are complete even when nobody looks."""
        while not stopped.wait(self.refresh_seconds):
            now = self.clock()
            for tracker in self.slos:
                try:
                    self.history.alert_transitions(tracker.name, policies(tracker, now), now)
                except Exception:
                    logger.exception("dashboard: reading the alerts of SLO %r failed", tracker.name)

    def stop(self) -> None:
        """Stops serving (no-op if not started)."""
        self._stopped.set()
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def authorized(self, authorization: str, query: Mapping[str, list[str]]) -> bool:
        """Whether a request with this ``Authorization`` header and query may be answered."""
        if self._token is None:
            return True
        given = authorization.removeprefix("Bearer ").strip()
        given = given or (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self._token.encode())


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    api: dict[tuple[str, str], Callable[[], Any]] = {
        ("GET", "/api"): lambda: {
            "endpoints": sorted(f"{m} {p}" for m, p in [*api, *dashboard.endpoints]),
        },
        ("GET", "/api/dashboard"): dashboard.data,
        ("GET", "/api/slos"): lambda: dashboard.data()["slos"],
        ("GET", "/api/breakers"): lambda: dashboard.data()["breakers"],
        ("GET", "/api/budgets"): lambda: dashboard.data()["budgets"],
        ("GET", "/api/routes"): lambda: dashboard.data()["routes"],
        ("GET", "/api/recording"): dashboard.recording_status,
        ("POST", "/api/recording/start"): dashboard.start_recording,
        ("POST", "/api/recording/stop"): dashboard.stop_recording,
    }

    class Handler(BaseHTTPRequestHandler):
        server_version = "burnguard-dashboard"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # no access log: paths hold tokens
            pass

        def _send(self, status: int, body: bytes, content_type: str, extra: Mapping[str, str] = {}) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in {**_HEADERS, **extra}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, body: Any, extra: Mapping[str, str] = {}) -> None:
            data = json.dumps(_clean(body), separators=(",", ":"), allow_nan=False).encode()
            self._send(status, data, "application/json", extra)

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if not dashboard.authorized(self.headers.get("Authorization", ""), query):
                self._json(401, {"error": "unauthorized", "message": "a valid token is required"})
                return
            try:
                extra = dashboard.endpoints.get((method, url.path))
                if extra is not None:
                    status, body = extra(query)
                    self._json(status, body, dashboard.endpoint_headers)
                elif (method, url.path) in api:
                    self._json(200, api[(method, url.path)]())
                elif method == "GET" and url.path == "/":
                    self._send(200, page.render(dashboard.data()).encode(), "text/html; charset=utf-8")
                elif method == "GET" and url.path == "/panels":
                    self._send(200, page.panels(dashboard.data()).encode(), "text/html; charset=utf-8")
                elif method == "GET" and url.path in _ASSETS:
                    asset = resources.files("burnguard.dashboard").joinpath(url.path.lstrip("/"))
                    self._send(200, asset.read_bytes(), f"{_ASSETS[url.path]}; charset=utf-8")
                else:
                    self._json(404, {"error": "not_found", "message": f"no {method} {url.path}"})
            except Exception:
                logger.exception("dashboard request %s %s failed", method, url.path)
                self._json(500, {"error": "internal", "message": "the dashboard failed; see the app's log"})

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

    return Handler
