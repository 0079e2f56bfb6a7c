"""Django middleware recording each request per route, with optional per-route SLOs, breakers
(503 while open) and budgets (429 when denied); see ``burnguard.middleware``.

    MIDDLEWARE = ["burnguard.django.GuardMiddleware", ...]     # first, to time everything
    BURNGUARD = {"slos": {"*": RouteSLO(availability=tracker)}, "breakers": {...}}

``settings.BURNGUARD`` holds ``RouteGuard``'s options, or ``{"guard": a RouteGuard}``. Routes
are Django's patterns (``request.resolver_match.route``, ``"users/<int:uid>/"``). Breakers and
budgets act in ``process_view``, after URL resolution and before the view runs. Request and
response bodies are never read; a streamed response is measured as it is consumed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from burnguard.middleware import Admission, Rejection, RouteGuard, guard_of

__all__ = ["GuardMiddleware", "guard_from_settings"]

_STARTED = "_burnguard_started"
_ADMISSION = "_burnguard_admission"


def guard_from_settings() -> RouteGuard:
    """The ``RouteGuard`` ``settings.BURNGUARD`` describes."""
    options = dict(getattr(settings, "BURNGUARD", {}))
    return guard_of("settings.BURNGUARD", options.pop("guard", None), options)


class GuardMiddleware:
    """Django middleware (new style). The guard is ``GuardMiddleware.guard`` of the instance
    Django creates; build it once from settings."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.guard = guard_from_settings()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = perf_counter()
        setattr(request, _STARTED, started)
        error: BaseException | None = None
        response: HttpResponseBase | None = None
        try:
            response = self.get_response(request)
            return response
        except BaseException as err:
            error = err
            raise
        finally:
            if isinstance(response, StreamingHttpResponse) and not response.is_async:
                body = response.streaming_content
                response.streaming_content = self._measured(request, response.status_code, body, started)
            else:
                status = response.status_code if response is not None else 500
                # An async stream is not measured: its bytes are unknown (0).
                sent = len(response.content) if isinstance(response, HttpResponse) else 0
                self._finish(request, status, error, perf_counter() - started, sent)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponseBase | None:
        """Takes the route's breaker permit and reservation, or answers 503 / 429 instead."""
        guard = self.guard
        if not guard.enforces:
            return None
        plan = guard.plan(request.method or "GET", _route(request))
        answer = guard.admit(plan)
        if isinstance(answer, Rejection):
            response = HttpResponse(
                answer.body, status=answer.status, content_type="text/plain; charset=utf-8"
            )
            for name, value in answer.headers:
                response[name] = value
            return response
        setattr(request, _ADMISSION, answer)
        return None

    def _measured(
        self, request: HttpRequest, status: int, body: Iterable[bytes], started: float
    ) -> Iterator[bytes]:
        sent = 0
        error: BaseException | None = None
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        except GeneratorExit:
            raise  # the server stopped reading (the client left): not the app's fault
        except BaseException as err:
            error = err
            raise
        finally:
            self._finish(request, status, error, perf_counter() - started, sent)

    def _finish(
        self, request: HttpRequest, status: int, error: BaseException | None, duration: float, sent: int
    ) -> None:
        guard = self.guard
        try:
            plan = guard.plan(request.method or "GET", _route(request))
        except Exception:
            guard.fault("resolve a request's route")
            return
        admission: Admission | None = getattr(request, _ADMISSION, None)
        guard.finish(plan, admission, status, error, duration, sent)


def _route(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else None
