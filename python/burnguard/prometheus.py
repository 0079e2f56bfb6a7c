"""Prometheus exposition of SLO state, with slo-budget-tracker 0.1.1's metric names and labels.

Per SLO (label ``slo``): ``slo_target``, ``slo_window_seconds``, ``slo_success_ratio``,
``slo_failures_total``, ``slo_total``, ``slo_error_budget_remaining``, ``slo_breached`` and
``slo_burn_rate{window_seconds=...}``, as the peer; burnguard adds
``slo_error_budget_consumed``, ``slo_time_to_exhaustion_seconds`` (+Inf while nothing burns),
``slo_alert_firing{severity, long_window_seconds, short_window_seconds}`` and the counters
``slo_dropped_events_total`` and ``burnguard_slo_events_total{slo, outcome="good|bad"}``
(every event since the SLO was made: monotonic, through worker recycling when shared, so
``rate()`` and ``sum()`` across hosts work).

Per circuit breaker (label ``name``), when breakers are given: ``burnguard_circuitbreaker_state``
(``{state}``, 1 for the current state, 0 for the others), ``…_failure_rate`` and
``…_slow_call_rate`` (percent, -1 below the minimum number of calls), ``…_buffered_calls``
(``{kind="successful|failed|slow"}``) and the counters ``…_not_permitted_calls_total`` and
``…_transitions_total``, after resilience4j's Micrometer names.

Per budget of each ledger given (labels ``scope``, ``unit``): ``burnguard_budget_allocated``,
``…_reserved``, ``…_spent``, ``…_remaining``, ``…_debt``, ``…_overdraft_limit`` and
``…_over_limit`` (1 while reservations are blocked until funded).

Per route, when a ``RouteGuard`` (or ``RouteTable``) is given, over the last ``route_window``
seconds (labels ``route``, ``window_seconds``): ``burnguard_route_requests``, ``…_errors``,
``…_response_bytes`` and ``burnguard_route_latency_seconds{quantile="0.5|0.9|0.95|0.99|1"}``
(1 % relative error; ``1`` is the slowest request); and, since each route was created
(monotonic, through worker recycling when the table is shared, so ``rate()``, ``sum()`` across
hosts and ``histogram_quantile()`` work; named ``http`` so they cannot clash with the windowed
gauges), the counters ``burnguard_http_requests_total{route, code_class="none|1xx|2xx|3xx|4xx|5xx"}``
(``none``: no status recorded, as for a client that went away first), ``burnguard_http_request_errors_total``,
``burnguard_http_response_bytes_total``,
``burnguard_route_rejected_requests_total{route, reason="circuit_open|budget_denied"}`` and the
histogram ``burnguard_http_request_duration_seconds`` (``_bucket{le}``, ``_sum``, ``_count``;
``latency_buckets=`` sets the bounds, Prometheus's defaults by default; counts come from a
sketch of 1 % relative error, so a request within 1 % above a bound may count under it). With
a guard, ``burnguard_guard_recording_errors_total`` and ``burnguard_guard_disconnects_total``.

With a ``CostModel`` (``costs=``), its projection of every route (label ``route``):
``burnguard_route_projected_rps``, ``burnguard_route_projected_monthly_cost_usd``,
``burnguard_route_request_cost_usd{quantile="0.5|0.95|0.99"}``, ``burnguard_route_over_budget``
(1 over the route's budget) and ``burnguard_route_variance_warning``, with
``burnguard_cost_projection_info{provider, region, prices_date, target_users}``.

The exporter is a ``prometheus_client`` collector: ``render()`` gives ``(body, content_type)``
for a ``/metrics`` handler, or register it on any registry (``REGISTRY.register(exporter)``).
Needs ``prometheus-client`` (``pip install burnguard[prometheus]``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from burnguard import _exposition, _native
from burnguard._check import checked
from burnguard._exposition import escape, go_float, header
from burnguard.breaker import BreakerSnapshot, CircuitBreaker
from burnguard.cost import CostModel, CostReport
from burnguard.errors import InvalidArgumentError, invalid
from burnguard.ledger import Balance, Ledger
from burnguard.middleware import RouteGuard
from burnguard.routes import STATUS_CLASSES, RouteStats, RouteSummary, RouteTable
from burnguard.shared import Arena, arena_of
from burnguard.slo.registry import SLORegistry
from burnguard.slo.tracker import SLOTracker

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

_SLO_GAUGES = (
    ("slo_target", "SLO target ratio.", "target"),
    ("slo_window_seconds", "SLO rolling window in seconds.", "window_seconds"),
    ("slo_success_ratio", "Actual success ratio over the window.", "success_ratio"),
    ("slo_failures_total", "Failure count over the window.", "failures"),
    ("slo_total", "Observation count over the window.", "total"),
    (
        "slo_error_budget_remaining",
        "Fraction of error budget remaining. 1.0 = untouched, <=0 = exhausted.",
        "error_budget_remaining",
    ),
    (
        "slo_error_budget_consumed",
        "Fraction of error budget consumed: failures / allowed.",
        "error_budget_consumed",
    ),
)


_log = logging.getLogger("burnguard.prometheus")
_SOURCES = ("slos", "breakers", "ledgers", "routes", "fleet")

DEFAULT_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""prometheus_client's default histogram bounds, in seconds."""
_EVERY_REQUEST = 1e12  # a bound past the sketch's range: every request is under it


class PrometheusExporter:
    """Renders the SLOs of an ``SLORegistry`` and, if given, circuit breakers (a
    ``BreakerRegistry`` or any iterable of breakers), the budgets of ledgers and the routes of
    a ``RouteGuard`` or ``RouteTable``, in the Prometheus text format. ``shared`` (an arena
    name or ``Arena``; by default ``BURNGUARD_SHARED``) shares its count of failed sources with
    every worker's exporter."""

    __slots__ = (
        "_breakers",
        "_costs",
        "_failures",
        "_guard",
        "_latency_buckets",
        "_ledgers",
        "_registry",
        "_route_window",
        "_routes",
        "_slo_registry",
    )

    @checked
    def __init__(
        self,
        slo_registry: SLORegistry | None = None,
        breakers: Iterable[CircuitBreaker] = (),
        ledgers: Iterable[Ledger] = (),
        routes: RouteGuard | RouteTable | None = None,
        route_window: float = 300.0,
        costs: CostModel | None = None,
        latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS,
        shared: str | Arena | bool | None = None,
    ) -> None:
        from prometheus_client import CollectorRegistry

        if costs is not None and routes is None:
            raise InvalidArgumentError("costs needs routes: the RouteGuard or RouteTable to project", "costs")
        if not (isinstance(route_window, (int, float)) and 0 < route_window < math.inf):
            raise invalid("route_window", "must be a positive, finite number of seconds", route_window)
        self._latency_buckets = tuple(float(b) for b in latency_buckets)
        for i, bound in enumerate(self._latency_buckets):
            if not (0 < bound < math.inf) or (i and bound <= self._latency_buckets[i - 1]):
                raise invalid(
                    f"latency_buckets[{i}]", "must be finite seconds > 0, each above the one before", bound
                )

        self._slo_registry = slo_registry
        # A one-shot iterator (a generator) is kept as a tuple; a registry stays live.
        self._breakers = tuple(breakers) if iter(breakers) is breakers else breakers
        self._ledgers = tuple(ledgers) if iter(ledgers) is ledgers else ledgers
        # Per source, shared with the other workers' exporters with shared= (BURNGUARD_SHARED).
        arena = arena_of(shared)
        self._failures = {
            source: _native.Counter(
                shared=None if arena is None else arena._core, name=f"exporter.{source}.errors"
            )
            for source in _SOURCES
        }
        self._guard = routes if isinstance(routes, RouteGuard) else None
        self._routes = routes.routes if isinstance(routes, RouteGuard) else routes
        self._route_window = route_window
        self._costs = costs
        self._registry = CollectorRegistry(auto_describe=True)
        self._registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """Fresh metric families from every source (the collector protocol). A source that
        fails is left out of this scrape, logged and counted in
        ``burnguard_exporter_source_errors_total``; the others are served."""
        for source, families in self._sources():
            try:
                yield from families()
            except Exception:
                self._failed(source)
        yield self._errors_family()

    def describe(self) -> list[Metric]:
        """Nothing: the families depend on what is tracked when scraped, so a registry learns
        no names up front (and registering the exporter does not scrape it)."""
        return []

    def _sources(self) -> tuple[tuple[str, Callable[[], list[Metric]]], ...]:
        return (
            ("slos", lambda: list(self._slo_families())),
            ("breakers", lambda: list(_breaker_families([b.snapshot() for b in self._all_breakers()]))),
            (
                "ledgers",
                lambda: list(_budget_families([b for lg in self._all_ledgers() for b in lg.balances()])),
            ),
            ("routes", self._route_families),
            (
                "fleet",
                lambda: list(
                    _fleet_families(
                        self._all_trackers(), self._all_breakers(), self._all_ledgers(), self._routes
                    )
                ),
            ),
        )

    def _failed(self, source: str) -> None:
        counter = self._failures[source]
        if counter.value == 0:
            _log.exception("burnguard could not export %s; they are left out", source)
        counter.inc()

    def _errors_family(self) -> Metric:
        from prometheus_client.core import CounterMetricFamily

        errors = CounterMetricFamily(
            "burnguard_exporter_source_errors",
            "Scrapes that left a source out because it failed (logged once per source).",
            labels=("source",),
        )
        for source, counter in sorted(self._failures.items()):
            if counter.value:
                errors.add_metric((source,), float(counter.value))
        return errors

    # With routes=guard, the guard's own SLOs, breakers and ledgers are exported too (once each).

    def _all_trackers(self) -> list[SLOTracker]:
        trackers = list(self._slo_registry or ())
        if self._guard is not None:
            for slo in self._guard.slos.values():
                trackers += [t for t in (slo.availability, slo.latency) if t is not None]
        return _distinct(trackers)

    def _all_breakers(self) -> list[CircuitBreaker]:
        guarded = list(self._guard.breakers.values()) if self._guard is not None else []
        return _distinct([*self._breakers, *guarded])

    def _all_ledgers(self) -> list[Ledger]:
        guarded = [b.ledger for b in self._guard.budgets.values()] if self._guard is not None else []
        return _distinct([*self._ledgers, *guarded])

    def _route_families(self) -> list[Metric]:
        families: list[Metric] = []
        if self._routes is not None:
            families += _route_families(self._routes.summaries(self._route_window))
            families += _route_counter_families(self._routes.stats(), self._latency_buckets)
        return families + self._guard_and_cost_families()

    def _guard_and_cost_families(self) -> list[Metric]:
        families: list[Metric] = []
        if self._guard is not None:
            families += _guard_families(self._guard)
        if self._costs is not None and self._routes is not None:
            families += _cost_families(self._costs.project(self._routes))
        return families

    def _route_lines(self) -> list[str]:
        """The text of ``_route_families()``, written straight from the routes' figures."""
        out: list[str] = []
        if self._routes is not None:
            stats = self._routes.stats()
            out += _route_window_lines([s.summary(self._route_window) for s in stats])
            out += _route_counter_lines(stats, self._latency_buckets)
        return out + _exposition.lines(self._guard_and_cost_families())

    def _slo_families(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        slos = [(t, t.snapshot()) for t in self._all_trackers()]
        for name, documentation, attribute in _SLO_GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=("slo",))
            for _, snap in slos:
                family.add_metric((snap.name,), float(getattr(snap, attribute)))
            yield family

        burn = GaugeMetricFamily(
            "slo_burn_rate",
            "Burn rate over a short window. >1 means burning faster than budget allows.",
            labels=("slo", "window_seconds"),
        )
        breached = GaugeMetricFamily(
            "slo_breached", "1 if the SLO target is currently violated, else 0.", labels=("slo",)
        )
        exhaustion = GaugeMetricFamily(
            "slo_time_to_exhaustion_seconds",
            "Seconds until the error budget is spent at the current burn rate (+Inf: never).",
            labels=("slo",),
        )
        firing = GaugeMetricFamily(
            "slo_alert_firing",
            "1 while a multiwindow burn-rate alert policy fires, else 0.",
            labels=("slo", "severity", "long_window_seconds", "short_window_seconds"),
        )
        dropped = CounterMetricFamily(
            "slo_dropped_events",
            "Events that arrived older than the retained history and were not recorded.",
            labels=("slo",),
        )
        events = CounterMetricFamily(
            "burnguard_slo_events",
            "Events recorded since the SLO was made, by outcome (monotonic).",
            labels=("slo", "outcome"),
        )
        for tracker, snap in slos:
            totals = tracker.events_total
            if totals is not None:
                events.add_metric((snap.name, "good"), float(totals[0]))
                events.add_metric((snap.name, "bad"), float(totals[1]))
            for sample in snap.burn_rate_samples:
                burn.add_metric((snap.name, str(sample.window_seconds)), sample.burn_rate)
            breached.add_metric((snap.name,), 1.0 if snap.is_breached else 0.0)
            tte = snap.time_to_exhaustion_seconds
            exhaustion.add_metric((snap.name,), math.inf if tte is None else tte)
            active = {(a.long_window_seconds, a.short_window_seconds, a.severity) for a in snap.alerts}
            for p in tracker.definition.policies:
                key = (p.long_window_seconds, p.short_window_seconds, p.severity)
                labels = (
                    snap.name,
                    p.severity,
                    _seconds(p.long_window_seconds),
                    _seconds(p.short_window_seconds),
                )
                firing.add_metric(labels, 1.0 if key in active else 0.0)
            dropped.add_metric((snap.name,), float(snap.dropped))
        yield from (burn, breached, exhaustion, firing, dropped, events)

    def render(self) -> tuple[bytes, str]:
        """``(body, content_type)``, ready for a ``/metrics`` response: what
        ``prometheus_client.generate_latest`` writes for this collector, written directly."""
        from prometheus_client import CONTENT_TYPE_LATEST

        out: list[str] = []
        for source, families in self._sources():
            try:
                out += self._route_lines() if source == "routes" else _exposition.lines(families())
            except Exception:
                self._failed(source)
        out += _exposition.lines([self._errors_family()])
        return "".join(out).encode(), CONTENT_TYPE_LATEST

    @property
    def collector_registry(self) -> CollectorRegistry:
        """The ``prometheus_client`` registry this exporter renders."""
        return self._registry


_T = TypeVar("_T")


def _distinct(items: list[_T]) -> list[_T]:
    """``items`` without repeats (by identity), in order."""
    seen: set[int] = set()
    kept = []
    for x in items:
        if id(x) not in seen:
            seen.add(id(x))
            kept.append(x)
    return kept


_BREAKER_STATES = ("CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN", "METRICS_ONLY")


def _breaker_families(snaps: list[BreakerSnapshot]) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    prefix = "burnguard_circuitbreaker"
    state = GaugeMetricFamily(
        f"{prefix}_state", "1 for the breaker's current state, 0 for the others.", labels=("name", "state")
    )
    failure_rate = GaugeMetricFamily(
        f"{prefix}_failure_rate", "Failure rate in percent (-1: below the minimum calls).", labels=("name",)
    )
    slow_rate = GaugeMetricFamily(
        f"{prefix}_slow_call_rate",
        "Slow-call rate in percent (-1: below the minimum calls).",
        labels=("name",),
    )
    buffered = GaugeMetricFamily(
        f"{prefix}_buffered_calls", "Calls in the sliding window, by kind.", labels=("name", "kind")
    )
    rejected = CounterMetricFamily(
        f"{prefix}_not_permitted_calls", "Calls the breaker rejected.", labels=("name",)
    )
    transitions = CounterMetricFamily(f"{prefix}_transitions", "State transitions.", labels=("name",))
    for snap in snaps:
        for name in _BREAKER_STATES:
            state.add_metric((snap.name, name), 1.0 if snap.state == name else 0.0)
        failure_rate.add_metric((snap.name,), snap.failure_rate)
        slow_rate.add_metric((snap.name,), snap.slow_call_rate)
        buffered.add_metric((snap.name, "successful"), float(snap.calls - snap.failed_calls))
        buffered.add_metric((snap.name, "failed"), float(snap.failed_calls))
        buffered.add_metric((snap.name, "slow"), float(snap.slow_calls))
        rejected.add_metric((snap.name,), float(snap.not_permitted_calls))
        transitions.add_metric((snap.name,), float(snap.transitions))
    yield from (state, failure_rate, slow_rate, buffered, rejected, transitions)


_BUDGET_GAUGES = (
    ("allocated", "Budget granted."),
    ("reserved", "Held by active reservations."),
    ("spent", "Charged and covered by the budget."),
    ("remaining", "allocated - spent - reserved - debt; negative when debt exceeds the rest."),
    ("debt", "Charged with no budget to cover it (overdraft), until funded."),
    ("overdraft_limit", "Most debt one commit or event may run up to."),
)


def _budget_families(balances: list[Balance]) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    for field, documentation in _BUDGET_GAUGES:
        family = GaugeMetricFamily(f"burnguard_budget_{field}", documentation, labels=("scope", "unit"))
        for b in balances:
            family.add_metric((b.scope_path, b.unit.value), float(getattr(b, field)))
        yield family
    over = GaugeMetricFamily(
        "burnguard_budget_over_limit",
        "1 while the scope blocks reservations until funded, else 0.",
        labels=("scope", "unit"),
    )
    for b in balances:
        over.add_metric((b.scope_path, b.unit.value), 1.0 if b.is_over_limit else 0.0)
    yield over


_ROUTE_GAUGES = (
    ("requests", "Requests that ended in the window.", "requests"),
    ("errors", "Requests in the window that failed (5xx or an exception by default).", "errors"),
    ("response_bytes", "Response bytes sent in the window.", "bytes"),
)
_ROUTE_QUANTILES = (("0.5", "p50"), ("0.9", "p90"), ("0.95", "p95"), ("0.99", "p99"), ("1", "max"))


def _route_families(summaries: list[RouteSummary]) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    labels = ("route", "window_seconds")
    for field, documentation, attribute in _ROUTE_GAUGES:
        family = GaugeMetricFamily(f"burnguard_route_{field}", documentation, labels=labels)
        for s in summaries:
            family.add_metric((s.route, _seconds(s.window_seconds)), float(getattr(s, attribute)))
        yield family
    latency = GaugeMetricFamily(
        "burnguard_route_latency_seconds",
        "Request duration quantiles over the window (1 % relative error; quantile 1 is the slowest).",
        labels=(*labels, "quantile"),
    )
    for s in summaries:
        if s.requests:
            for quantile, attribute in _ROUTE_QUANTILES:
                latency.add_metric((s.route, _seconds(s.window_seconds), quantile), getattr(s, attribute))
    yield latency


_HTTP_DOCS = {
    "requests": "Requests since the route was created, by status class.",
    "errors": "Failed requests since the route was created.",
    "bytes": "Response bytes since the route was created.",
    "rejected": "Requests the guard answered itself: 503 while a breaker was open, 429 when a budget denied.",
    "durations": "Request durations since the route was created (from a sketch of 1 % relative error).",
}


def _route_counter_families(routes: list[RouteStats], bounds: tuple[float, ...]) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    requests = CounterMetricFamily(
        "burnguard_http_requests", _HTTP_DOCS["requests"], labels=("route", "code_class")
    )
    errors = CounterMetricFamily("burnguard_http_request_errors", _HTTP_DOCS["errors"], labels=("route",))
    sent = CounterMetricFamily("burnguard_http_response_bytes", _HTTP_DOCS["bytes"], labels=("route",))
    rejected = CounterMetricFamily(
        "burnguard_route_rejected_requests", _HTTP_DOCS["rejected"], labels=("route", "reason")
    )
    durations = HistogramMetricFamily(
        "burnguard_http_request_duration_seconds", _HTTP_DOCS["durations"], labels=("route",)
    )
    for stats in routes:
        totals = stats.totals()
        for code_class, n in totals.requests_by_class.items():
            requests.add_metric((stats.key, code_class), float(n))
        errors.add_metric((stats.key,), float(totals.errors))
        sent.add_metric((stats.key,), float(totals.bytes))
        counts = stats.histogram([*bounds, _EVERY_REQUEST])
        buckets = [(go_float(b), float(n)) for b, n in zip(bounds, counts, strict=False)]
        durations.add_metric((stats.key,), [*buckets, ("+Inf", float(counts[-1]))], totals.duration_seconds)
        rejections = stats.rejections
        rejected.add_metric((stats.key, "circuit_open"), float(rejections.circuit_open))
        rejected.add_metric((stats.key, "budget_denied"), float(rejections.budget_denied))
    yield from (requests, errors, sent, rejected, durations)


def _guard_families(guard: RouteGuard) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily

    faults = CounterMetricFamily(
        "burnguard_guard_recording_errors", "Faults while admitting or recording; each request went through."
    )
    faults.add_metric((), float(guard.recording_errors))
    disconnects = CounterMetricFamily(
        "burnguard_guard_disconnects", "Requests whose client went away before the response was sent."
    )
    disconnects.add_metric((), float(guard.disconnects))
    yield from (faults, disconnects)


def _cost_families(report: CostReport) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

    yield InfoMetricFamily(
        "burnguard_cost_projection",
        "What the route cost projections assume.",
        value={
            "provider": report.provider,
            "region": report.region,
            "prices_date": report.prices_date,
            "target_users": str(report.target_users),
        },
    )
    gauges = (
        ("projected_rps", "Requests a second the route gets at the target audience.", "projected_rps"),
        (
            "projected_monthly_cost_usd",
            "The route's projected monthly cost (compute + egress).",
            "monthly_usd",
        ),
        ("over_budget", "1 while the projected monthly cost exceeds the route's budget.", "over_budget"),
        ("variance_warning", "1 while request cost p95 / p50 exceeds 1.5.", "variance_warning"),
    )
    for name, documentation, attribute in gauges:
        family = GaugeMetricFamily(f"burnguard_route_{name}", documentation, labels=("route",))
        for r in report.routes:
            family.add_metric((r.route,), float(getattr(r, attribute)))
        yield family
    request_cost = GaugeMetricFamily(
        "burnguard_route_request_cost_usd",
        "Projected cost of one request at the duration quantile.",
        labels=("route", "quantile"),
    )
    for r in report.routes:
        request_cost.add_metric((r.route, "0.5"), r.request_cost_p50_usd)
        request_cost.add_metric((r.route, "0.95"), r.request_cost_p95_usd)
        request_cost.add_metric((r.route, "0.99"), r.request_cost_p99_usd)
    yield request_cost


_FLEET_COUNTERS = (
    ("burnguard_fleet_flushes", "Flush rounds that reached Redis.", "flushes"),
    ("burnguard_fleet_flush_errors", "Flush rounds or entities that did not reach Redis.", "flush_errors"),
    ("burnguard_fleet_outages", "Times Redis became unreachable (each logged once).", "outages"),
    ("burnguard_fleet_resets", "Times a fleet's data was found lost in Redis.", "resets"),
)


def _fleet_families(
    trackers: list[SLOTracker],
    breakers: list[CircuitBreaker],
    ledgers: list[Ledger],
    routes: RouteTable | None,
) -> Iterator[Metric]:
    """The Redis backends' health (of every object on one), each fleet SLO's events the fleet
    never got, and each fleet ledger's progress and losses."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    holders: list[Any] = [*trackers, *breakers, *ledgers, *([] if routes is None else [routes])]
    backends = _distinct([b for b in (getattr(h, "backend", None) for h in holders) if b is not None])
    if not backends:
        return
    for name, documentation, attribute in _FLEET_COUNTERS:
        counter = CounterMetricFamily(name, documentation, labels=("namespace",))
        for backend in backends:
            counter.add_metric((backend.namespace,), float(getattr(backend, attribute)))
        yield counter
    reachable = GaugeMetricFamily(
        "burnguard_fleet_reachable", "1 if the last flush reached Redis.", labels=("namespace",)
    )
    offset = GaugeMetricFamily(
        "burnguard_fleet_clock_offset_seconds",
        "Seconds this host's clock is behind Redis's (negative: ahead), as last measured.",
        labels=("namespace",),
    )
    for backend in backends:
        reachable.add_metric((backend.namespace,), float(backend.reachable))
        offset.add_metric((backend.namespace,), backend.clock_offset)
    unshared = GaugeMetricFamily(
        "burnguard_fleet_unshared_events",
        "Events recorded here that the fleet did not get (too old, or lost in a long outage).",
        labels=("slo",),
    )
    for tracker in trackers:
        if tracker.backend is not None:
            unshared.add_metric((tracker.name,), float(tracker.unshared))
    yield from (reachable, offset, unshared)
    fleet_ledgers = [lg for lg in ledgers if getattr(lg, "backend", None) is not None]
    if not fleet_ledgers:
        return
    for name, documentation, value in _FLEET_LEDGER_FAMILIES:
        family = (CounterMetricFamily if name.endswith("_total") else GaugeMetricFamily)(
            name.removesuffix("_total"), documentation, labels=("ledger",)
        )
        for ledger in fleet_ledgers:
            family.add_metric((ledger.fleet_name or "",), float(value(ledger)))
        yield family


_FLEET_LEDGER_FAMILIES: tuple[tuple[str, str, Callable[[Ledger], int]], ...] = (
    (
        "burnguard_fleet_ledger_entries",
        "Operations of the fleet's journal this host applied.",
        lambda lg: lg.entries,
    ),
    (
        "burnguard_fleet_ledger_losses_total",
        "Times Redis was found to have lost operations this host had applied.",
        lambda lg: lg.losses,
    ),
    (
        "burnguard_fleet_ledger_unguarded_calls_total",
        "Guarded calls run unguarded while Redis was unreachable (on_unavailable=allow).",
        lambda lg: lg.unguarded_calls,
    ),
)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _route_window_lines(summaries: list[RouteSummary]) -> list[str]:
    """The text of ``_route_families(summaries)``."""
    out: list[str] = []
    windows = [(escape(s.route), _seconds(s.window_seconds)) for s in summaries]
    for field, documentation, attribute in _ROUTE_GAUGES:
        name = f"burnguard_route_{field}"
        out.append(header(name, "gauge", documentation))
        for s, (route, window) in zip(summaries, windows, strict=True):
            out.append(
                f'{name}{{route="{route}",window_seconds="{window}"}} {go_float(getattr(s, attribute))}\n'
            )
    out.append(
        header(
            "burnguard_route_latency_seconds",
            "gauge",
            "Request duration quantiles over the window (1 % relative error; quantile 1 is the slowest).",
        )
    )
    for s, (route, window) in zip(summaries, windows, strict=True):
        if s.requests:
            for quantile, attribute in _ROUTE_QUANTILES:
                labels = f'quantile="{quantile}",route="{route}",window_seconds="{window}"'
                out.append(f"burnguard_route_latency_seconds{{{labels}}} {go_float(getattr(s, attribute))}\n")
    return out


def _route_counter_lines(routes: list[RouteStats], bounds: tuple[float, ...]) -> list[str]:
    """The text of ``_route_counter_families(routes, bounds)``."""
    requests = [header("burnguard_http_requests_total", "counter", _HTTP_DOCS["requests"])]
    errors = [header("burnguard_http_request_errors_total", "counter", _HTTP_DOCS["errors"])]
    sent = [header("burnguard_http_response_bytes_total", "counter", _HTTP_DOCS["bytes"])]
    rejected = [header("burnguard_route_rejected_requests_total", "counter", _HTTP_DOCS["rejected"])]
    durations = [header("burnguard_http_request_duration_seconds", "histogram", _HTTP_DOCS["durations"])]
    les = [go_float(b) for b in bounds]
    histogram = "burnguard_http_request_duration_seconds"
    every = [*bounds, _EVERY_REQUEST]
    for stats in routes:
        route = escape(stats.key)
        core = stats._core  # the native figures, without building the facade's result objects
        by_class, failed, sent_bytes, duration = core.totals
        for code_class, n in zip(STATUS_CLASSES, by_class, strict=True):
            requests.append(
                f'burnguard_http_requests_total{{code_class="{code_class}",route="{route}"}} {go_float(n)}\n'
            )
        errors.append(f'burnguard_http_request_errors_total{{route="{route}"}} {go_float(failed)}\n')
        sent.append(f'burnguard_http_response_bytes_total{{route="{route}"}} {go_float(sent_bytes)}\n')
        for reason, n in (("circuit_open", core.circuit_open), ("budget_denied", core.budget_denied)):
            labels = f'reason="{reason}",route="{route}"'
            rejected.append(f"burnguard_route_rejected_requests_total{{{labels}}} {go_float(n)}\n")
        counts = core.histogram(every)
        durations += [
            f'{histogram}_bucket{{le="{le}",route="{route}"}} {go_float(n)}\n'
            for le, n in zip([*les, "+Inf"], counts, strict=True)
        ]
        durations.append(f'{histogram}_count{{route="{route}"}} {go_float(counts[-1])}\n')
        durations.append(f'{histogram}_sum{{route="{route}"}} {go_float(duration)}\n')
    return [*requests, *errors, *sent, *rejected, *durations]
