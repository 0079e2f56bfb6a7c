"""What the ASGI, WSGI and Django adapters share: per-route recording, SLOs and enforcement.

A ``RouteGuard`` is configured once and handed to an adapter. For each request the adapter
asks ``admit(method, template)`` before the handler runs (a breaker or budget may answer
instead: 503 with ``Retry-After`` while a route's breaker is open, 429 when its budget denies),
then ``finish(...)`` with the status, the exception if any, the duration and the bytes sent.

Routes are keyed ``"METHOD template"`` (``"GET /users/{id}"``). Requests that matched no route
share ``unmatched_label``, and past ``max_routes`` keys further ones share the table's overflow
label, so cardinality stays bounded. SLOs, breakers and budgets are looked up by the route key,
then by the template alone (any method), then by ``"*"`` (every route): one SLO or breaker under
``"*"`` guards the whole app as one group.

Recording never breaks the host application: a fault in classifying, recording, or settling a
breaker or budget is logged and counted in ``recording_errors``; the response goes through.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from burnguard import _native
from burnguard._check import check_fields, checked
from burnguard.breaker import BreakerPermit, CircuitBreaker, CircuitOpenError
from burnguard.errors import InvalidArgumentError, invalid, wrong_type
from burnguard.ledger import Action, Ledger, LedgerError, LedgerUnavailableError, Subject, Unit
from burnguard.routes import Rejections, RouteStats, RouteTable
from burnguard.shared import Arena
from burnguard.slo.tracker import SLOTracker

if TYPE_CHECKING:
    from burnguard.dashboard import Dashboard

ClassifyFn = Callable[[int, BaseException | None], bool]
"""Return True for success, False for failure. Receives (status_code, exception)."""

_log = logging.getLogger("burnguard.middleware")


def default_classifier(status_code: int, exception: BaseException | None) -> bool:
    """Good when nothing was raised and the status is below 500."""
    return exception is None and status_code < 500


@dataclass(frozen=True, slots=True)
class RouteSLO:
    """The SLOs a route (or group) feeds: availability by the classifier, latency by duration
    (a failed request counts against the latency SLO too)."""

    availability: SLOTracker | None = None
    latency: SLOTracker | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        if self.latency is not None and self.latency.definition.latency_threshold_seconds is None:
            raise invalid("latency", "must track an SLO with latency_threshold_seconds set")


@dataclass(frozen=True, slots=True)
class RouteBudget:
    """Charges ``cost`` per request of a route to a ledger budget: reserved before the handler
    runs (a denial answers 429), committed when the request succeeds by the guard's classifier,
    released when it fails (a 5xx or an exception by default). The action is
    ``Action("http.request", route key)`` unless given."""

    ledger: Ledger
    subject: Subject
    action: Action | None = None
    cost: int = 1
    unit: Unit = Unit.CREDITS
    ttl_ms: int = 60_000

    def __post_init__(self) -> None:
        check_fields(self)
        # A dry run checks every option as a live reservation would (ValueError naming it),
        # so a bad one fails here, not inside a request.
        action = self.action if self.action is not None else Action("http.request", "route")
        self.ledger.reserve(self.subject, action, self.cost, unit=self.unit, ttl_ms=self.ttl_ms, dry_run=True)


def circuit_open(plan: RoutePlan, err: CircuitOpenError) -> Rejection:
    """The answer to a request whose route's breaker is open (counted as such)."""
    plan.rejections.count_circuit_open()
    headers: tuple[tuple[str, str], ...] = ()
    if err.retry_after is not None:
        headers = (("retry-after", str(max(1, math.ceil(err.retry_after)))),)
    return Rejection(503, "circuit open", headers, b"Service Unavailable: circuit open\n")


@dataclass(frozen=True, slots=True)
class Rejection:
    """An answer given instead of the handler's."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class GuardOptions(TypedDict, total=False):
    """``RouteGuard``'s options, as the adapters take them in place of a ``guard=``."""

    routes: RouteTable | None
    max_routes: int | None
    classify: ClassifyFn
    slos: Mapping[str, RouteSLO] | None
    breakers: Mapping[str, CircuitBreaker] | None
    budgets: Mapping[str, RouteBudget] | None
    unmatched_label: str
    exclude: Iterable[str] | Callable[[str], bool]
    shared: str | Arena | bool | None
    dashboard: bool | int | Dashboard | None


def guard_of(owner: str, guard: object, options: GuardOptions) -> RouteGuard:
    """``guard`` if given (a ``RouteGuard``), else one built from ``options``: how every adapter
    takes its configuration. ``owner`` names the adapter in errors."""
    if guard is None:
        return RouteGuard(**options)
    if options:
        raise InvalidArgumentError(f"{owner} takes a guard or RouteGuard's options, not both", "guard")
    if not isinstance(guard, RouteGuard):
        raise InvalidArgumentError(
            f"{owner}'s guard must be a RouteGuard; got {type(guard).__name__}",
            "guard",
            (),
            type(guard).__name__,
            "must be a RouteGuard",
        )
    return guard


class RoutePlan:
    """Everything a guard does for one route key, resolved once."""

    __slots__ = ("breaker", "budget", "enforces", "key", "quick", "rejections", "settle", "slo", "stats")

    def __init__(
        self,
        key: str,
        stats: RouteStats,
        slo: RouteSLO | None,
        breaker: CircuitBreaker | None,
        budget: RouteBudget | None,
        rejections: Rejections,
    ) -> None:
        self.key = key
        self.stats = stats
        self.slo = slo
        self.breaker = breaker
        self.budget = budget
        self.enforces = breaker is not None or budget is not None
        """Whether requests must be admitted before the handler runs."""
        self.rejections = rejections
        trackers = (None, None) if slo is None else (slo.availability, slo.latency)
        cores = [None if t is None else t._recording_core() for t in trackers]
        native = all(
            core is not None or tracker is None for core, tracker in zip(cores, trackers, strict=True)
        )
        self.settle = _native.Settlement(stats._core, *cores).settle if native else None
        """``settle(ok, duration, sent, status, permit)``: records a finished request into the
        route, its SLOs and its breaker permit in one native call; None when an SLO records
        into a Python store, and the guard records step by step."""
        self.quick = budget is None and self.settle is not None
        """Whether admitting and settling a request are one native call each (no budget, and
        SLOs recorded natively): the ASGI adapter then makes them itself."""


Admission = tuple["BreakerPermit | None", "str | None"]
"""What ``admit`` took for a request: its breaker permit and its reservation's id (a plain
tuple: made on every guarded request, where a class would cost a Python call)."""


class RouteGuard:
    """Per-route recording, SLOs and enforcement, shared by the web adapters. Thread-safe.

    ``routes`` (a ``RouteTable``) or ``max_routes`` (default 64) bounds the routes kept;
    ``slos``, ``breakers`` and ``budgets`` map route keys, templates or ``"*"`` to what guards
    them; ``classify(status, exception)`` tells success from failure (5xx and exceptions fail);
    ``exclude`` (paths, or a predicate on the path) leaves requests out entirely (``/metrics``,
    health checks). ``shared`` (an arena name or ``Arena``; by default ``BURNGUARD_SHARED``)
    keeps the route table, and the guard's fault and disconnect counters, in a shared-memory
    arena, so every worker of the host reports the same routes; a ``routes=`` table brings
    its own. ``dashboard`` (True, a port, or a ``Dashboard``) serves a live dashboard of the
    guard's routes, costs, SLOs, breakers and budgets on 127.0.0.1 (port 7777 for True); a
    port another worker holds already is logged, not raised (``guard.dashboard`` is then None).
    """

    @checked
    def __init__(
        self,
        *,
        routes: RouteTable | None = None,
        max_routes: int | None = None,
        classify: ClassifyFn = default_classifier,
        slos: Mapping[str, RouteSLO] | None = None,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        budgets: Mapping[str, RouteBudget] | None = None,
        unmatched_label: str = "UNMATCHED",
        exclude: Iterable[str] | Callable[[str], bool] = (),
        shared: str | Arena | bool | None = None,
        dashboard: bool | int | Dashboard | None = None,
    ) -> None:
        if routes is not None and max_routes is not None:
            raise InvalidArgumentError("RouteGuard takes routes= or max_routes=, not both", "routes")
        if routes is not None and shared is not None:
            raise InvalidArgumentError(
                "RouteGuard takes shared= only without routes= (a table brings its own)", "shared"
            )
        self.routes = (
            routes
            if routes is not None
            else RouteTable(max_routes=64 if max_routes is None else max_routes, shared=shared)
        )
        self.classify = classify
        self.slos = dict(slos or {})
        self.breakers = dict(breakers or {})
        self.budgets = dict(budgets or {})
        self.enforces = bool(self.breakers or self.budgets)
        """Whether any route has a breaker or a budget (adapters then resolve routes early)."""
        self.unmatched_label = unmatched_label
        if callable(exclude):
            self._exclude_if: Callable[[str], bool] | None = exclude
            self._excluded: frozenset[str] = frozenset()
        elif isinstance(exclude, str):
            raise wrong_type("exclude", "must be paths or a predicate, not one str", repr(exclude))
        else:
            self._exclude_if, self._excluded = None, frozenset(exclude)
        self.excludes = bool(self._excluded) or self._exclude_if is not None
        """Whether any request may be left out (``excluded`` is then worth asking)."""
        arena = None if self.routes.arena is None else self.routes.arena._core
        table = self.routes.name
        self._faults = _native.Counter(shared=arena, name=f"{table}.recording_errors")
        self._disconnects = _native.Counter(shared=arena, name=f"{table}.disconnects")
        self._logged: set[str] = set()  # the kinds of faults already logged
        self._plans: dict[tuple[str, str | None], RoutePlan] = {}
        self._rejections: dict[str, Rejections] = {}  # one per route key: bounded by the table
        self.dashboard = None if dashboard is None or dashboard is False else self._serve(dashboard)
        """The guard's running dashboard, if ``dashboard=`` started one."""

    def _serve(self, dashboard: bool | int | Dashboard) -> Dashboard | None:
        from burnguard.dashboard import Dashboard

        if not isinstance(dashboard, Dashboard):
            trackers = {id(t): t for s in self.slos.values() for t in (s.availability, s.latency) if t}
            ledgers = {id(b.ledger): b.ledger for b in self.budgets.values()}
            dashboard = Dashboard(
                slos=trackers.values(),
                breakers={id(b): b for b in self.breakers.values()}.values(),
                ledgers=ledgers.values(),
                routes=self.routes,
                port=7777 if dashboard is True else dashboard,
            )
        try:
            return dashboard.start()
        except OSError as error:
            _log.warning("burnguard dashboard not started on %s: %s", dashboard.url, error.strerror)
            return None

    def excluded(self, path: str) -> bool:
        """Whether requests to ``path`` are left out (a predicate that raises is a fault, and
        the request is not left out)."""
        if path in self._excluded:
            return True
        if self._exclude_if is None:
            return False
        try:
            return bool(self._exclude_if(path))
        except Exception:
            self.fault("apply exclude")
            return False

    @property
    def recording_errors(self) -> int:
        """Faults while recording or settling; each was logged, and its request went through."""
        return self._faults.value

    def plan(self, method: str, template: str | None) -> RoutePlan:
        """The plan of a request to ``template`` (None: it matched no route)."""
        plan = self._plans.get((method, template))
        if plan is None:
            plan = self._resolve(method, template)
            if len(self._plans) < 4 * self.routes.max_routes:
                self._plans[(method, template)] = plan
        return plan

    def _resolve(self, method: str, template: str | None) -> RoutePlan:
        key = self.unmatched_label if template is None else f"{method} {template}"
        stats = self.routes.route(key)
        # By the request's own key: a route kept under the overflow label keeps its guards. A
        # HEAD runs the GET handler (Starlette, Flask), so the GET entry guards it too.
        head_as_get = (f"GET {template}",) if method == "HEAD" and template is not None else ()
        names = (key, *head_as_get, template, "*") if template is not None else (key, "*")

        def find(table: Mapping[str, object]) -> object:
            return next((table[n] for n in names if n in table), None)

        rejections = self._rejections.setdefault(stats.key, stats.rejections)
        return RoutePlan(
            stats.key,
            stats,
            find(self.slos),  # type: ignore[arg-type]
            find(self.breakers),  # type: ignore[arg-type]
            find(self.budgets),  # type: ignore[arg-type]
            rejections,
        )

    def rejections(self) -> dict[str, Rejections]:
        """The requests each route's breaker or budget turned away, by route key."""
        return dict(self._rejections)

    def admit(self, plan: RoutePlan) -> Admission | Rejection:
        """Takes the route's breaker permit and budget reservation, or answers instead. Never
        raises: a fault (a breaker's or ledger's clock that raises, say) is counted and logged,
        and the request goes through unguarded."""
        permit = None
        try:
            breaker = plan.breaker
            if breaker is not None:
                try:
                    permit = breaker.acquire()
                except CircuitOpenError as err:
                    return circuit_open(plan, err)
            budget = plan.budget
            if budget is None:
                return (permit, None)
            try:
                action = budget.action if budget.action is not None else Action("http.request", plan.key)
                reservation = budget.ledger.reserve(
                    budget.subject, action, budget.cost, unit=budget.unit, ttl_ms=budget.ttl_ms
                )
            except LedgerUnavailableError:
                # A fleet's ledger whose Redis is unreachable: open or closed, as it says.
                if budget.ledger.runs_unguarded():
                    return (permit, None)
                if permit is not None:
                    permit.ignore()
                plan.rejections.count_budget_denied()
                body = b"Service Unavailable: the budget's ledger is unreachable\n"
                return Rejection(503, "budget unavailable", (("retry-after", "1"),), body)
            except LedgerError as err:
                if permit is not None:
                    permit.ignore()
                plan.rejections.count_budget_denied()
                body = f"Too Many Requests: budget denied ({err.error_code})\n".encode()
                return Rejection(429, "budget denied", (), body)
            return (permit, reservation.reservation_id)
        except Exception:
            if permit is not None:
                permit.ignore()
            self.fault("admit a request")
            return (None, None)

    def finish(
        self,
        plan: RoutePlan,
        admission: Admission | None,
        status: int,
        error: BaseException | None,
        duration: float,
        sent: int,
    ) -> None:
        """Records a finished request and settles its permit and reservation. Never raises."""
        try:
            classify = self.classify
            ok = error is None and status < 500 if classify is default_classifier else classify(status, error)
            settle = plan.settle
            if settle is not None:
                settle(ok, duration, sent, status, None if admission is None else admission[0])
            else:
                self._settle_step_by_step(plan, admission, ok, status, duration, sent)
            if admission is not None:
                reservation_id = admission[1]
                if reservation_id is not None:
                    budget = plan.budget
                    assert budget is not None
                    if ok:
                        budget.ledger.commit(reservation_id, budget.cost)
                    else:
                        budget.ledger.release(reservation_id)
        except Exception:
            self.fault("record a request")

    @staticmethod
    def _settle_step_by_step(
        plan: RoutePlan, admission: Admission | None, ok: bool, status: int, duration: float, sent: int
    ) -> None:
        """What ``RoutePlan.settle`` does natively, for SLOs that record into Python stores."""
        plan.stats.record(duration, not ok, sent, None, status)
        slo = plan.slo
        if slo is not None:
            if slo.availability is not None:
                slo.availability.record(ok)
            if slo.latency is not None:
                if ok:
                    slo.latency.record_latency(duration)
                else:
                    slo.latency.record_failure()
        permit = None if admission is None else admission[0]
        if permit is not None:
            if ok:
                permit.success(duration)
            else:
                permit.failure(duration)

    def fault(self, doing: str) -> None:
        """Counts a fault met while ``doing`` something (call it in an ``except``), and logs it
        the first time that kind of fault is met."""
        self._faults.inc()
        if doing not in self._logged:
            self._logged.add(doing)
            _log.exception("burnguard could not %s; the request is unaffected (logged once)", doing)

    @property
    def disconnects(self) -> int:
        """Requests whose client went away before the response was sent; they count neither
        for nor against the route's SLOs and breaker."""
        return self._disconnects.value

    def disconnected(self, plan: RoutePlan, admission: Admission | None, duration: float, sent: int) -> None:
        """Records a request whose client disconnected: the route counts it (not as an error),
        its breaker permit is given back, its reservation committed (the work was done), and
        its SLOs are left alone. Never raises."""
        self._disconnects.inc()
        try:
            plan.stats.record(duration, False, sent)
            if admission is not None:
                permit, reservation_id = admission
                if permit is not None:
                    permit.ignore()
                if reservation_id is not None:
                    assert plan.budget is not None
                    plan.budget.ledger.commit(reservation_id, plan.budget.cost)
        except Exception:
            self.fault("record a disconnected request")

    def rejected(self, plan: RoutePlan, rejection: Rejection, duration: float) -> None:
        """Records a request the guard answered itself (counted by the route like any other)."""
        self.finish(plan, None, rejection.status, None, duration, len(rejection.body))
