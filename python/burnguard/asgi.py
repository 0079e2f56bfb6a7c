"""ASGI middleware: ``GuardMiddleware`` records every request per route and can enforce
breakers and budgets (see ``burnguard.middleware``); ``SLOMiddleware`` records one SLO for the app.

    app.add_middleware(GuardMiddleware, slos={"*": RouteSLO(availability=tracker)})
    app.add_middleware(SLOMiddleware, registry=registry, slo_name="availability")

Routes are Starlette's templates (``scope["route"].path``, so FastAPI too). With breakers or
budgets configured, the route is matched before the handler runs, against the app's router,
so a rejected request never reaches it. Request and response bodies are never read.

By default a request is good when no exception escaped and the status is below 500;
``classify=(status, exception) -> bool`` overrides that. Recording never breaks the request: a
fault while classifying or recording is logged and counted in ``recording_errors``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from burnguard import _native
from burnguard.errors import CircuitOpenError, InvalidArgumentError, invalid, wrong_type
from burnguard.middleware import (
    Admission,
    ClassifyFn,
    Rejection,
    RouteGuard,
    RoutePlan,
    circuit_open,
    default_classifier,
    guard_of,
)
from burnguard.slo.registry import SLORegistry
from burnguard.slo.tracker import SLOTracker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from burnguard._route_index import RouteIndex
    from burnguard.middleware import GuardOptions

_log = logging.getLogger("burnguard.asgi")
_CACHED_PATHS = 4096  # request paths whose plan is kept; then the cache starts over

__all__ = ["ClassifyFn", "GuardMiddleware", "SLOMiddleware", "default_classifier"]


class SLOMiddleware:
    """ASGI middleware recording HTTP outcomes into an ``SLOTracker``."""

    __slots__ = ("_app", "_classify", "_faults", "_latency", "_tracker")

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
            raise InvalidArgumentError("SLOMiddleware needs either tracker= or registry=", "tracker")
        if tracker is None:
            if slo_name is None:
                raise InvalidArgumentError(
                    "registry= also requires slo_name= so the middleware knows which SLO to record",
                    "slo_name",
                )
            assert registry is not None
            tracker = registry.get(slo_name)
        if not isinstance(tracker, SLOTracker):
            raise wrong_type("tracker", "must be an SLOTracker", type(tracker).__name__)
        if latency_tracker is not None and latency_tracker.definition.latency_threshold_seconds is None:
            raise invalid("latency_tracker", "must track an SLO with latency_threshold_seconds set")
        self._app = app
        self._tracker = tracker
        self._classify = classify
        self._latency = latency_tracker
        # Shared with the other workers when the SLO is: every worker reports the host's faults.
        arena = None if tracker.arena is None else tracker.arena._core
        self._faults = _native.Counter(
            shared=arena, name=f"slo-middleware.{tracker.definition.name}.recording_errors"
        )

    @property
    def recording_errors(self) -> int:
        """Faults while classifying or recording; each was logged, and its request went through."""
        return self._faults.value

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
            self._faults.inc()
            _log.exception("burnguard could not record a request; the request is unaffected")


class GuardMiddleware:
    """ASGI middleware recording each request per route, with optional per-route SLOs,
    breakers (503 while open) and budgets (429 when denied). ``guard=`` takes a configured
    ``RouteGuard``; otherwise the keyword options build one (``RouteGuard``'s)."""

    __slots__ = ("_app", "_index", "_plans", "guard")

    def __init__(
        self, app: ASGIApp, *, guard: RouteGuard | None = None, **options: Unpack[GuardOptions]
    ) -> None:
        self._app = app
        self._index: RouteIndex | None = None
        # Plans by (method, path, root_path) while the app's routes stay as indexed.
        self._plans: dict[tuple[str, str, str], RoutePlan] = {}
        self.guard = guard_of("GuardMiddleware", guard, options)

    def _plan_before(self, scope: Scope, method: str) -> RoutePlan | None:
        """The plan of the route the app's router will pick for ``scope``, found before the
        handler runs (None, counted as a fault, if that fails)."""
        guard = self.guard
        try:
            try:
                routes = scope["app"].router.routes
            except (KeyError, AttributeError):
                routes = None  # not a Starlette app: no router to ask
            index = self._index
            if routes is not None and (
                index is None
                or routes is not index.routes
                or len(routes) != index.size
                or not (index.flat or index.current(routes))
            ):
                from burnguard._route_index import RouteIndex  # needs Starlette, which has a router

                index = self._index = RouteIndex(routes)
                self._plans.clear()
            key = (method, scope["path"], scope.get("root_path", ""))
            plan = self._plans.get(key)
            if plan is None:
                template = index.match(scope) if routes is not None and index is not None else None
                plan = guard.plan(method, template)
                if index is None or index.cacheable:
                    if len(self._plans) >= _CACHED_PATHS:
                        self._plans.clear()
                    self._plans[key] = plan
            return plan
        except Exception:
            guard.fault("resolve a request's route")
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        if scope["type"] != "http" or (guard.excludes and guard.excluded(scope["path"])):
            await self._app(scope, receive, send)
            return
        method: str = scope["method"]
        # The app's ``send``: notes the status and body bytes, and a failed send (the client
        # went away: not the app's failure), natively, with no coroutine per message.
        meter = _native.SendMeter(send)
        plan: RoutePlan | None = None
        admission: Admission | None = None
        if guard.enforces:
            plan = self._plan_before(scope, method)
        if plan is not None:
            answer: Admission | Rejection
            if not plan.quick:
                answer = guard.admit(plan)
            else:
                # A breaker alone (or nothing to take): ``guard.admit``'s outcome, with no
                # Python call between the request and the native permit.
                try:
                    answer = (None if plan.breaker is None else plan.breaker.acquire(), None)
                except CircuitOpenError as err:
                    answer = circuit_open(plan, err)
                except Exception:
                    guard.fault("admit a request")
                    answer = (None, None)
            if isinstance(answer, Rejection):
                await _reject(send, answer)
                guard.rejected(plan, answer, meter.elapsed())
                return
            admission = answer
        error: BaseException | None = None
        try:
            await self._app(scope, receive, meter)
        except asyncio.CancelledError:
            meter.disconnect()  # the server cancels a request whose client went away
            raise
        except BaseException as err:
            error = err
            raise
        finally:
            status, sent, disconnected, duration = meter.figures()
            if plan is None:
                plan = _plan_after(guard, method, scope)
            if plan is not None and disconnected:
                guard.disconnected(plan, admission, duration, sent)
            elif plan is not None and plan.quick and guard.classify is default_classifier:
                # ``guard.finish``'s outcome in its one native call.
                try:
                    plan.settle(  # type: ignore[misc]
                        error is None and status < 500,
                        duration,
                        sent,
                        status,
                        None if admission is None else admission[0],
                    )
                except Exception:
                    guard.fault("record a request")
            elif plan is not None:
                guard.finish(plan, admission, status, error, duration, sent)


def _plan_after(guard: RouteGuard, method: str, scope: Scope) -> RoutePlan | None:
    """The plan of a request the router has handled (``scope["route"]`` set by Starlette)."""
    try:
        route = scope.get("route")
        return guard.plan(method, getattr(route, "path", None) if route is not None else None)
    except Exception:
        guard.fault("resolve a request's route")
        return None


async def _reject(send: Send, rejection: Rejection) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    headers += [(name.encode(), value.encode()) for name, value in rejection.headers]
    headers.append((b"content-length", str(len(rejection.body)).encode()))
    await send({"type": "http.response.start", "status": rejection.status, "headers": headers})
    await send({"type": "http.response.body", "body": rejection.body})
