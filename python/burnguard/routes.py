"""Per-route request figures in native bounded windows: counts, bytes and latency quantiles.

A ``RouteTable`` holds at most ``max_routes`` routes (keyed ``"GET /users/{id}"``); further
keys share one overflow route, so memory stays bounded whatever the traffic. Each route keeps
its figures per time bucket (1 minute to 1 day wide), with a latency sketch per bucket of 1 %
relative error, so any window from a minute to ``retain_seconds`` can be asked for. Each
route also keeps totals since it was created (requests by status class, errors, bytes,
duration, and an all-time latency sketch) for Prometheus counters and histograms.

``shared=`` (an arena name or ``Arena``; by default ``BURNGUARD_SHARED``; ``False`` for none)
keeps the routes in a shared-memory arena under the table's ``name``: every worker process of
the host records into the same routes and lists the ones any of them has seen, and
``max_routes`` bounds them for all processes together. A Redis URL or ``RedisBackend`` makes
the table the fleet's (``burnguard.redis.routes``): each process records into its own routes
and reads the fleet's, summed over every host, as of the last flush.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from burnguard import _native
from burnguard._check import checked
from burnguard._results import Result
from burnguard.errors import InvalidArgumentError, invalid
from burnguard.redis import RedisBackend, backend_for
from burnguard.redis.routes import RouteLink
from burnguard.shared import Arena, arena_of

STATUS_CLASSES = ("none", "1xx", "2xx", "3xx", "4xx", "5xx")
"""The status classes route totals are kept by; "none" is a request recorded with no status
(0): a client that went away before the response started, or a ``record()`` given none."""

"""The latency quantiles a summary reports (p50, p90, p95, p99)."""


@dataclass(frozen=True, slots=True)
class RouteSummary(Result):
    """One route's figures over a window. Latencies are in seconds, ``nan`` with no requests."""

    route: str
    window_seconds: float
    covered_seconds: float
    """How far back the figures go: to the window's start extended to its bucket boundary, or
    to the route's first request (or the end of its warm-up) if later."""
    requests: int
    errors: int
    bytes: int
    duration_seconds: float
    """Total duration of the requests."""
    p50: float
    p90: float
    p95: float
    p99: float
    max: float

    @property
    def error_ratio(self) -> float:
        """Errors over requests (0.0 with no requests)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def mean_seconds(self) -> float:
        """Mean duration (``nan`` with no requests)."""
        return self.duration_seconds / self.requests if self.requests else float("nan")

    @property
    def rps(self) -> float:
        """Requests per second over the covered span."""
        return self.requests / self.covered_seconds if self.covered_seconds > 0 else 0.0


_native.bind_results({"RouteSummary": RouteSummary})


@dataclass(frozen=True, slots=True)
class RouteTotals(Result):
    """One route's totals since it was created (monotonic, through worker recycling when the
    table is shared): for Prometheus counters."""

    route: str
    requests_by_class: dict[str, int]
    """Requests by status class (``STATUS_CLASSES``)."""
    errors: int
    bytes: int
    duration_seconds: float

    @property
    def requests(self) -> int:
        """Every request recorded."""
        return sum(self.requests_by_class.values())


class Rejections:
    """Requests of one route the guard answered itself: native counters, shared by every
    thread, that only go up."""

    __slots__ = ("_core", "_counter")

    def __init__(self, core: _native.RouteCore, counter: _native.RouteCore | None = None) -> None:
        self._core = core
        self._counter = core if counter is None else counter

    @property
    def circuit_open(self) -> int:
        """Answered 503 because the route's breaker was open."""
        return self._core.circuit_open

    @property
    def budget_denied(self) -> int:
        """Answered 429 because the route's budget denied them."""
        return self._core.budget_denied

    def count_circuit_open(self) -> None:
        """Counts one more 503."""
        self._counter.reject_circuit_open()

    def count_budget_denied(self) -> None:
        """Counts one more 429."""
        self._counter.reject_budget_denied()


class RouteStats:
    """One route's window: ``record()`` per request, ``summary()`` over any window. For a
    fleet's table, requests are recorded into this host's route and read from the fleet's
    (``view``), as of the last flush."""

    __slots__ = ("_core", "_counter", "key", "record")

    def __init__(self, key: str, core: _native.RouteCore, view: _native.RouteCore | None = None) -> None:
        self.key = key
        self._core = core if view is None else view
        self._counter = core
        self.record = core.record
        """``record(duration, error=False, bytes=0, at=None, status=0)``: one request, ended
        ``at``, answered with ``status`` (0: none)."""

    def totals(self) -> RouteTotals:
        """The route's totals since it was created."""
        by_class, errors, sent, duration = self._core.totals
        return RouteTotals(self.key, dict(zip(STATUS_CLASSES, by_class, strict=True)), errors, sent, duration)

    def histogram(self, bounds: Sequence[float]) -> list[int]:
        """For each of ``bounds`` (seconds, ascending), the requests since the route was created
        that took at most that long (cumulative, as Prometheus ``le`` buckets), from an
        all-time latency sketch of 1 % relative error: a request within 1 % above a bound may
        count under it."""
        return self._core.histogram(list(bounds))

    @property
    def rejections(self) -> Rejections:
        """The route's requests the guard answered itself."""
        return Rejections(self._core, self._counter)

    def summary(
        self,
        window_seconds: float = 300.0,
        *,
        at: float | None = None,
        warmup_seconds: float = 0.0,
        now: float | None = None,
    ) -> RouteSummary:
        """The route's figures over the last ``window_seconds`` (default 5 minutes) before ``at``
        (default: now; ``now=`` is its old spelling). With ``warmup_seconds``, buckets that
        begin within that long of the route's first request are left out (buckets are 1 minute
        wide for windows up to 15 minutes)."""
        if now is not None:
            if at is not None:
                raise InvalidArgumentError("give at= or its old spelling now=, not both", "at")
            try:
                return self.summary(window_seconds, at=now, warmup_seconds=warmup_seconds)
            except InvalidArgumentError as err:
                raise (err.renamed("now") if err.param == "at" else err) from None
        return self._core.summary(self.key, window_seconds, at, warmup_seconds)

    @property
    def first_seen(self) -> float | None:
        """When the route's earliest request ended (seconds since the epoch), if any."""
        first: float | None = self._core.first_seen
        return first

    @property
    def dropped(self) -> int:
        """Requests recorded too late to be kept."""
        dropped: int = self._core.dropped
        return dropped

    @property
    def memory_bytes(self) -> int:
        """Bytes the route's window holds (fixed at creation)."""
        held: int = self._core.memory_bytes
        return held


class RouteTable:
    """A bounded set of ``RouteStats`` by key. Thread-safe. With ``shared=``, the routes live
    in a shared-memory arena under ``name`` (see the module docs)."""

    __slots__ = (
        "_core",
        "_link",
        "_mirror",
        "_routes",
        "arena",
        "backend",
        "max_routes",
        "name",
        "overflow_label",
        "retain_seconds",
    )

    @checked
    def __init__(
        self,
        *,
        max_routes: int = 64,
        retain_seconds: float = 2_592_000.0,
        overflow_label: str = "OTHER",
        clock: Callable[[], float] | None = None,
        shared: str | Arena | RedisBackend | bool | None = None,
        name: str = "routes",
    ) -> None:
        if max_routes < 1:  # its type is checked (numpy integers are ints)
            raise invalid("max_routes", "must be an int >= 1", repr(max_routes))
        if not name:
            raise invalid("name", "must be a non-empty string", repr(name))
        self.max_routes = int(max_routes)
        self.name = name
        if shared is None:
            shared = os.environ.get("BURNGUARD_SHARED") or None
        self.backend = backend_for(shared)
        """The Redis backend of a fleet's table, or None."""
        if self.backend is not None:  # a fleet's table: the host's, with a host arena
            arena = None if self.backend.host is None else self.backend.host.arena
        else:
            arena = arena_of(shared)
        self.arena = arena
        """The arena the routes live in, or None."""
        native_clock: Any = clock
        if self.backend is not None and clock is None:
            native_clock = self.backend.clock  # record and read on the fleet's time
        self._core = _native.RouteTableCore(
            self.max_routes,
            retain_seconds,
            overflow_label,
            clock=native_clock,
            shared=None if arena is None else arena._core,
            name=name,
        )
        self.retain_seconds = retain_seconds
        self.overflow_label = overflow_label
        self._routes: dict[str, RouteStats] = {}
        self._mirror: _native.RouteTableCore | None = None
        self._link: RouteLink | None = None
        if self.backend is not None:
            self._mirror = _native.RouteTableCore(
                self.max_routes, retain_seconds, overflow_label, clock=native_clock, name=name
            )
            options = repr((self.max_routes, float(retain_seconds), overflow_label))
            geometry = hashlib.sha256(options.encode()).hexdigest()[:12]
            self._link = self.backend.attach_routes(name, self._core, self._mirror, geometry, retain_seconds)

    @property
    def is_shared(self) -> bool:
        """Whether the routes are shared: by the host's processes (an arena) or by a fleet
        (Redis)."""
        return self._core.shared or self._mirror is not None

    def flush(self) -> bool:
        """Sends this host's changes to the fleet and reads the fleet's figures now (done about
        every second by the backend's flusher anyway); False if Redis was not reached. True
        with no fleet."""
        if self.backend is None or self._link is None:
            return True
        self._link.due = True
        return self.backend.flush()

    def route(self, key: str) -> RouteStats:
        """The route of ``key``, created on first sight; the overflow route once full."""
        stats = self._routes.get(key)
        if stats is None:
            held, core = self._core.route(key)
            view = None if self._mirror is None else self._mirror.route(held)[1]
            stats = RouteStats(held, core, view)
            if len(self._routes) < 4 * self.max_routes:  # the lookup cache stays bounded too
                self._routes[key] = stats
        return stats

    def summaries(
        self, window_seconds: float = 300.0, *, at: float | None = None, now: float | None = None
    ) -> list[RouteSummary]:
        """Every route's figures over the window before ``at`` (default: now), sorted by key."""
        return [stats.summary(window_seconds, at=at, now=now) for stats in self.stats()]

    def now(self) -> float:
        """The time now by the table's clock."""
        return self._core.now()

    def stats(self) -> list[RouteStats]:
        """Every route held, sorted by key (for a fleet's table, every host's)."""
        if self._mirror is None:
            return [RouteStats(key, core) for key, core in self._core.routes()]
        return [RouteStats(key, self._core.route(key)[1], view) for key, view in self._mirror.routes()]

    def keys(self) -> list[str]:
        """The routes held, sorted (the overflow route included once used)."""
        return [key for key, _ in (self._core if self._mirror is None else self._mirror).routes()]
