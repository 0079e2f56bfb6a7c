"""ASGI middleware that records each HTTP request against an SLO.

By default a request is good when no exception escaped and the status is below 500;
``classify=(status, exception) -> bool`` overrides that. With ``latency_tracker=`` the request's
duration is recorded too, against a latency SLO (failed requests count as bad there as well).

Recording never breaks the request: a fault while classifying or recording is logged and
counted in ``recording_errors``, and the response goes through untouched.

    app.add_middleware(SLOMiddleware, registry=registry, slo_name="availability")
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

from burnguard.slo.registry import SLORegistry
from burnguard.slo.tracker import SLOTracker

ClassifyFn = Callable[[int, BaseException | None], bool]
"""Return True for success, False for failure. Receives (status_code, exception)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("burnguard.asgi")


def default_classifier(status_code: int, exception: BaseException | None) -> bool:
    """Good when nothing was raised and the status is below 500."""
    return exception is None and status_code < 500


class SLOMiddleware:
    """ASGI middleware recording HTTP outcomes into an ``SLOTracker``."""

    __slots__ = ("_app", "_classify", "_latency", "_tracker", "recording_errors")

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracker: SLOTracker | None = None,
        registry: SLORegistry | None = None,
        slo_name: str | None = None,
        classify: ClassifyFn = default_classifier,
        latency_tracker: SLOTracker | None = None,
    ) -> None:
        if tracker is None and registry is None:
            raise ValueError("SLOMiddleware needs either tracker= or registry=")
        if tracker is None:
            if slo_name is None:
                raise ValueError(
                    "registry= also requires slo_name= so the middleware knows which SLO to record"
                )
            assert registry is not None
            tracker = registry.get(slo_name)
        if latency_tracker is not None and latency_tracker.definition.latency_threshold_seconds is None:
            raise ValueError("latency_tracker must track an SLO with latency_threshold_seconds set")
        self._app = app
        self._tracker = tracker
        self._classify = classify
        self._latency = latency_tracker
        self.recording_errors = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message.get("status", 500)
            await send(message)

        started = perf_counter()
        try:
            await self._app(scope, receive, send_with_status)
        except BaseException as err:
            self._record(status, err, started)
            raise
        self._record(status, None, started)

    def _record(self, status: int, error: BaseException | None, started: float) -> None:
        try:
            ok = self._classify(status, error)
            self._tracker.record(ok)
            if self._latency is not None:
                if ok:
                    self._latency.record_latency(perf_counter() - started)
                else:
                    self._latency.record_failure()
        except Exception:
            self.recording_errors += 1
            _log.exception("burnguard could not record a request; the request is unaffected")
