"""Django middleware recording each request per route, with optional per-route SLOs, breakers
(503 while open) and budgets (429 when denied); see ``burnguard.middleware``.

    MIDDLEWARE = ["burnguard.django.GuardMiddleware", ...]     # first, to time everything
    BURNGUARD = {"slos": {"*": RouteSLO(availability=tracker)}, "breakers": {...}}

``settings.BURNGUARD`` holds ``RouteGuard``'s options, or ``{"guard": a RouteGuard}``. Routes
are Django's patterns (``request.resolver_match.route``, ``"users/<int:uid>/"``). Breakers and
budgets act in ``process_view``, after URL resolution and before the view runs. Request and
response bodies are never read; a streamed response, sync or async, is measured as it is
consumed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from burnguard.middleware import Admission, Rejection, RouteGuard, guard_of

if TYPE_CHECKING:
    from burnguard.middleware import GuardOptions

__all__ = ["GuardMiddleware", "guard_from_settings"]

_ADMISSION = "_burnguard_admission"
ViewAnswer: TypeAlias = "HttpResponseBase | None"


_built: list[tuple[object, RouteGuard]] = []  # (the settings it was built from, the guard)
_building = threading.Lock()


def guard_from_settings() -> RouteGuard:
    """The ``RouteGuard`` ``settings.BURNGUARD`` describes, built once for those settings: the
    middleware and a ``/metrics`` view (``PrometheusExporter(routes=guard_from_settings())``)
    share it."""
    described = getattr(settings, "BURNGUARD", {})
    with _building:
        if _built and _built[0][0] is described:
            return _built[0][1]
        options = dict(described)
        guard = guard_of("settings.BURNGUARD", options.pop("guard", None), cast("GuardOptions", options))
        _built[:] = [(described, guard)]
        return guard


class GuardMiddleware:
    """Django middleware (new style), sync and async: under ASGI with async views it runs on
    the event loop, with no thread hop. The guard is ``GuardMiddleware.guard`` of the instance
    Django creates; build it once from settings."""

    sync_capable = True
    async_capable = True
    process_view: Callable[[HttpRequest, Any, Any, Any], ViewAnswer | Awaitable[ViewAnswer]]

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.guard = guard_from_settings()
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        if self.guard.enforces:  # Django calls process_view only if the instance has one
            self.process_view = self._admit_async if self._async else self._admit

    def __call__(self, request: HttpRequest) -> Any:
        if self.guard.excluded(request.path):
            return self.get_response(request)  # a coroutine under ASGI, as Django expects
        if self._async:
            return self._acall(request)
        started = perf_counter()
        response: HttpResponseBase | None = None
        error: BaseException | None = None
        try:
            response = self.get_response(request)
            return response
        except BaseException as err:
            error = err
            raise
        finally:
            self._after(request, response, error, started)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = perf_counter()
        response: HttpResponseBase | None = None
        error: BaseException | None = None
        try:
            response = await self.get_response(request)
            return response
        except BaseException as err:
            error = err
            raise
        finally:
            self._after(request, response, error, started)

    def _after(
        self,
        request: HttpRequest,
        response: HttpResponseBase | None,
        error: BaseException | None,
        started: float,
    ) -> None:
        """Records the request now, or once its streamed body has been sent."""
        if isinstance(response, StreamingHttpResponse):
            status, body = response.status_code, response.streaming_content
            if response.is_async:
                response.streaming_content = self._measured_async(request, status, body, started)
            else:
                response.streaming_content = self._measured(request, status, body, started)
            return
        status = response.status_code if response is not None else 500
        sent = len(response.content) if isinstance(response, HttpResponse) else 0
        self._finish(request, status, error, perf_counter() - started, sent)

    def _admit(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> ViewAnswer:
        """Takes the route's breaker permit and reservation, or answers 503 / 429 instead."""
        guard = self.guard
        if guard.excluded(request.path):
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

    async def _admit_async(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> ViewAnswer:
        return self._admit(request, view, args, kwargs)  # never blocks: atomics and the ledger

    def _measured(
        self, request: HttpRequest, status: int, body: Iterable[bytes], started: float
    ) -> Iterator[bytes]:
        sent, gone = 0, False
        error: BaseException | None = None
        try:
            for chunk in body:
                sent += len(chunk)
                yield chunk
        except GeneratorExit:
            gone = True  # the server stopped reading (the client left): not the app's fault
            raise
        except BaseException as err:
            error = err
            raise
        finally:
            self._finish(request, status, error, perf_counter() - started, sent, gone)

    async def _measured_async(
        self, request: HttpRequest, status: int, body: AsyncIterable[bytes], started: float
    ) -> AsyncIterator[bytes]:
        sent, gone = 0, False
        error: BaseException | None = None
        try:
            async for chunk in body:
                sent += len(chunk)
                yield chunk
        except (GeneratorExit, asyncio.CancelledError):
            gone = True
            raise
        except BaseException as err:
            error = err
            raise
        finally:
            self._finish(request, status, error, perf_counter() - started, sent, gone)

    def _finish(
        self,
        request: HttpRequest,
        status: int,
        error: BaseException | None,
        duration: float,
        sent: int,
        gone: bool = False,
    ) -> None:
        guard = self.guard
        try:
            plan = guard.plan(request.method or "GET", _route(request))
        except Exception:
            guard.fault("resolve a request's route")
            return
        admission: Admission | None = getattr(request, _ADMISSION, None)
        if gone:
            guard.disconnected(plan, admission, duration, sent)
        else:
            guard.finish(plan, admission, status, error, duration, sent)


def _route(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else None
