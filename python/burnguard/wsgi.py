"""WSGI middleware and a Flask extension recording each request per route, with optional
per-route SLOs, breakers (503 while open) and budgets (429 when denied); see ``burnguard.middleware``.

    app.wsgi_app = GuardMiddleware(app.wsgi_app, app=app, breakers={...})   # any WSGI app
    FlaskGuard(app, slos={"*": RouteSLO(availability=tracker)})              # or the extension
    guard_ext = FlaskGuard(); guard_ext.init_app(app)                        # app factories

Routes are Flask's rule templates (``request.url_rule.rule``, ``"/users/<int:uid>"``). Given
the Flask ``app``, the middleware adds a first ``before_request`` hook, which reads the rule
Flask matched and, for routes with breakers or budgets, admits the request. Given
``route_of(environ)``, it asks that before calling the app; without either, every request is
unmatched. The response is measured as it is iterated, so a streamed body's time and size
count. Request and response bodies are never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING, Any, cast

from burnguard.errors import InvalidArgumentError
from burnguard.middleware import Admission, Rejection, RouteGuard, RoutePlan, guard_of

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from burnguard.middleware import GuardOptions

__all__ = ["FlaskGuard", "GuardMiddleware"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
RouteOf = Callable[[Environ], "str | None"]

_PLAN = "burnguard.plan"
_ADMISSION = "burnguard.admission"


class GuardMiddleware:
    """Wraps a WSGI app. ``app=`` (a Flask app) or ``route_of=`` names each request's route;
    ``guard=`` takes a configured ``RouteGuard``, else the keyword options build one."""

    __slots__ = ("_in_flask", "_route_of", "_wsgi", "guard")

    def __init__(
        self,
        wsgi_app: WSGIApp,
        *,
        app: Any = None,
        route_of: RouteOf | None = None,
        guard: RouteGuard | None = None,
        **options: Unpack[GuardOptions],
    ) -> None:
        if app is not None and route_of is not None:
            raise InvalidArgumentError("GuardMiddleware takes app= or route_of=, not both", "route_of")
        self._wsgi = wsgi_app
        self._route_of = route_of
        self.guard = guard_of("GuardMiddleware", guard, options)
        self._in_flask = app is not None
        if app is not None:
            _hook_into_flask(app, self.guard)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()
        guard = self.guard
        if guard.excluded(environ.get("PATH_INFO", "")):
            return self._wsgi(environ, start_response)
        if self._in_flask:  # planned (and admitted) by the hook, once Flask has matched
            return _MeasuredBody(self._wsgi, environ, start_response, guard, None, None, started)
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            template = self._route_of(environ) if self._route_of is not None else None
            plan = guard.plan(method, template)
        except Exception:
            guard.fault("resolve a request's route")
            return self._wsgi(environ, start_response)
        admission = None
        if plan.enforces:
            answer = guard.admit(plan)
            if isinstance(answer, Rejection):
                guard.rejected(plan, answer, perf_counter() - started)
                return _reject(start_response, answer)
            admission = answer
        return _MeasuredBody(self._wsgi, environ, start_response, guard, plan, admission, started)


class _MeasuredBody:
    """Runs the app and passes its body through, counting bytes; records the request once,
    when the body is exhausted or closed, or when the app raises. Without a plan, the one the
    Flask hook left in the environ is used (unmatched if the hook never ran)."""

    __slots__ = (
        "_admission",
        "_body",
        "_chunks",
        "_environ",
        "_exhausted",
        "_guard",
        "_plan",
        "_recorded",
        "_sent",
        "_started",
        "_status",
    )

    def __init__(
        self,
        wsgi: WSGIApp,
        environ: Environ,
        start_response: StartResponse,
        guard: RouteGuard,
        plan: RoutePlan | None,
        admission: Admission | None,
        started: float,
    ) -> None:
        self._guard, self._plan, self._admission, self._started = guard, plan, admission, started
        self._environ = environ
        self._status, self._sent, self._recorded, self._exhausted = 500, 0, False, False

        def start_and_note(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                self._status = int(status_line.split(" ", 1)[0])
            except Exception:  # the server judges a bad status line; recording must not
                guard.fault("read a response's status line")
            return start_response(status_line, headers, exc_info)

        try:
            self._body = wsgi(environ, start_and_note)
            self._chunks = iter(self._body)
        except BaseException as err:
            self._record(err)
            raise

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self._exhausted = True
            self._record(None)
            raise
        except BaseException as err:
            self._record(err)
            raise
        self._sent += len(chunk)
        return chunk

    def close(self) -> None:
        """Closes the app's body (the server calls this), then records the request. A server
        closes a body before its end when writing to the client failed: the client went away,
        which is not the app's failure (``RouteGuard.disconnected``)."""
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._record(None, disconnected=not self._exhausted)

    def _record(self, error: BaseException | None, disconnected: bool = False) -> None:
        if not self._recorded:
            self._recorded = True
            duration = perf_counter() - self._started
            plan, admission = self._plan, self._admission
            if plan is None:
                environ = self._environ
                admission = environ.get(_ADMISSION)
                plan = environ.get(_PLAN)
                if plan is None:
                    try:
                        plan = self._guard.plan(environ.get("REQUEST_METHOD", "GET"), None)
                    except Exception:
                        self._guard.fault("resolve a request's route")
                        return
            if disconnected:
                self._guard.disconnected(plan, admission, duration, self._sent)
            else:
                self._guard.finish(plan, admission, self._status, error, duration, self._sent)


def _reject(start_response: StartResponse, rejection: Rejection) -> list[bytes]:
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(rejection.body)))]
    headers += list(rejection.headers)
    start_response(f"{rejection.status} {rejection.reason}", headers)
    return [rejection.body]


def _hook_into_flask(app: Any, guard: RouteGuard) -> None:
    """Adds a first ``before_request`` hook to the Flask ``app``. Flask has matched the rule by
    then: the hook plans the request by it and, where a breaker or budget guards the route,
    admits it or answers the rejection itself."""
    from flask import Response, request

    def plan_and_admit() -> Response | None:
        current = cast(Any, request)._get_current_object()  # one context lookup, not three
        if guard.excluded(current.path):
            return None
        rule = current.url_rule
        try:
            plan = guard.plan(current.method, None if rule is None else rule.rule)
        except Exception:
            guard.fault("resolve a request's route")
            return None
        environ = current.environ
        environ[_PLAN] = plan
        if plan.enforces:
            answer = guard.admit(plan)
            if isinstance(answer, Rejection):
                headers = [("Content-Type", "text/plain; charset=utf-8"), *answer.headers]
                return Response(answer.body, answer.status, headers)
            environ[_ADMISSION] = answer
        return None

    app.before_request_funcs.setdefault(None, []).insert(0, plan_and_admit)


class FlaskGuard:
    """The Flask extension: wraps ``app.wsgi_app`` in a ``GuardMiddleware`` bound to the app's
    URL map. ``FlaskGuard(app, **options)`` or ``FlaskGuard(**options).init_app(app)``; the
    guard is ``ext.guard``, also at ``app.extensions["burnguard"]``."""

    def __init__(
        self, app: Any = None, *, guard: RouteGuard | None = None, **options: Unpack[GuardOptions]
    ) -> None:
        self.guard = guard_of("FlaskGuard", guard, options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Installs the middleware on ``app``."""
        app.wsgi_app = GuardMiddleware(app.wsgi_app, app=app, guard=self.guard)
        app.extensions["burnguard"] = self.guard
