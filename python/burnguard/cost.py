"""Per-route cost attribution: what each route would cost a month on AWS, GCP or Azure.

A ``CostModel`` reads every route's window (``RouteTable`` or ``RouteGuard``) and projects it to
an audience of ``target_users`` users sending ``requests_per_user_per_second`` each:

- a route gets its share of the observed traffic, so ``projected_rps`` is its observed rate
  over the sum of all routes' rates times ``target_users * requests_per_user_per_second``;
- it keeps ``projected_rps * mean duration`` cores busy (wall-clock time stands in for CPU
  time, so I/O waits count as busy) and runs on the cheapest instance that sustains them
  (burstable types at their baseline), or past the largest on the cheapest fleet of one type;
- it sends ``projected_rps * mean response bytes`` a second, priced per GiB;
- a request costs its duration times the route's price per busy core-second plus the route's
  mean egress, so ``request_cost_p50_usd`` .. ``p99`` follow the latency quantiles, and a
  ``variance_warning`` flags routes whose p95 costs over 1.5 times their p50.

Buckets that begin within ``warmup_seconds`` of a route's first request are left out, so cold
starts do not inflate the projection. The math runs in the native core.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from burnguard import _native
from burnguard._check import check_fields, checked
from burnguard._results import Result
from burnguard.errors import invalid
from burnguard.middleware import RouteGuard
from burnguard.routes import RouteSummary, RouteTable

PROVIDERS: tuple[str, ...] = tuple(_native.PROVIDERS)
"""Providers with a bundled price table."""

VARIANCE_WARNING_RATIO: float = _native.VARIANCE_WARNING_RATIO
"""Request cost p95 / p50 above which a route is flagged as variable."""


@dataclass(frozen=True, slots=True)
class Instance(Result):
    """An instance type and its on-demand price. ``baseline_cores`` is what it sustains:
    its vCPUs (the default), or a burstable type's baseline (t3.nano: 2 * 5 % = 0.1)."""

    name: str
    vcpu: float
    hourly_usd: float
    baseline_cores: float | None = None

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, slots=True)
class Pricing(Result):
    """A provider's instance types (kept cheapest first) and internet egress rate.

    ``Pricing.bundled("aws" | "gcp" | "azure")`` gives the bundled on-demand table (see
    ``date``); build your own for other regions, discounts or newer prices."""

    provider: str
    instances: tuple[Instance, ...]
    egress_usd_per_gib: float
    region: str = ""
    date: str = ""
    """When the prices were read."""
    _core: _native.PricingCore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_fields(self)
        rows = [
            (i.name, i.vcpu, i.vcpu if i.baseline_cores is None else i.baseline_cores, i.hourly_usd)
            for i in self.instances
        ]
        core = _native.PricingCore(self.provider, self.region, self.date, rows, self.egress_usd_per_gib)
        object.__setattr__(self, "_core", core)
        object.__setattr__(self, "instances", _instances(core))

    @classmethod
    def bundled(cls, provider: str = "aws") -> Pricing:
        """The bundled table of ``provider`` (any case)."""
        core = _native.PricingCore.bundled(provider)
        name, region, date, egress = core.describe()
        return cls(name, _instances(core), egress, region, date)


def _instances(core: _native.PricingCore) -> tuple[Instance, ...]:
    return tuple(Instance(name, vcpu, hourly, baseline) for name, vcpu, baseline, hourly in core.instances())


@dataclass(frozen=True, slots=True)
class CostPoint(Result):
    """A route's projected monthly cost at ``users`` users."""

    users: int
    monthly_usd: float


@dataclass(frozen=True, slots=True)
class RouteCost(Result):
    """One route's observed load and its projected monthly cost. Money is in USD."""

    route: str
    requests: int
    """Requests the projection is based on (after the warm-up)."""
    observed_rps: float
    projected_rps: float
    median_seconds: float
    p95_seconds: float
    mean_seconds: float
    mean_response_bytes: float
    required_cores: float
    """Cores kept busy at the projected rate."""
    instance: str
    """The recommended instance type."""
    instance_count: int
    """How many of them (1 unless the load exceeds the largest type)."""
    compute_monthly_usd: float
    egress_gib_per_month: float
    egress_monthly_usd: float
    monthly_usd: float
    cost_per_user_usd: float
    request_cost_p50_usd: float
    request_cost_p95_usd: float
    request_cost_p99_usd: float
    variance_ratio: float
    """Request cost p95 / p50."""
    variance_warning: bool
    monthly_budget_usd: float | None
    over_budget: bool
    cost_curve: tuple[CostPoint, ...]
    """Monthly cost from 100 to 1M users."""


@dataclass(frozen=True, slots=True)
class CostReport(Result):
    """Every route's projection, most expensive first."""

    provider: str
    region: str
    prices_date: str
    target_users: int
    requests_per_user_per_second: float
    window_seconds: float
    warmup_seconds: float
    routes: tuple[RouteCost, ...]
    warming_up: tuple[str, ...]
    """Routes with requests in the window but none past their warm-up yet."""
    excluded_requests: int
    """Requests in the window left out as warm-up."""

    @property
    def monthly_usd(self) -> float:
        """The routes' monthly costs summed (each sized on its own)."""
        return math.fsum(r.monthly_usd for r in self.routes)

    @property
    def over_budget(self) -> tuple[RouteCost, ...]:
        """The routes whose monthly cost exceeds their budget."""
        return tuple(r for r in self.routes if r.over_budget)

    def route(self, key: str) -> RouteCost:
        """The projection of route ``key``; KeyError if it has none."""
        for r in self.routes:
            if r.route == key:
                return r
        raise KeyError(key)


class CostModel:
    """Projects every route of a ``RouteTable`` or ``RouteGuard`` to an audience and prices it.

    ``monthly_budget_usd`` is one budget for every route, or a mapping of route keys (and
    ``"*"`` for the rest) to budgets; routes over theirs are flagged ``over_budget``.
    """

    __slots__ = (
        "monthly_budget_usd",
        "pricing",
        "requests_per_user_per_second",
        "target_users",
        "warmup_seconds",
        "window_seconds",
    )

    @checked
    def __init__(
        self,
        pricing: Pricing | str = "aws",
        *,
        target_users: int = 1000,
        requests_per_user_per_second: float = 1.0,
        window_seconds: float = 300.0,
        warmup_seconds: float = 30.0,
        monthly_budget_usd: float | Mapping[str, float] | None = None,
    ) -> None:
        self.pricing = Pricing.bundled(pricing) if isinstance(pricing, str) else pricing
        if isinstance(target_users, bool) or not isinstance(target_users, int):
            raise invalid("target_users", "must be an int >= 1", repr(target_users))
        for name, value in (("window_seconds", window_seconds), ("warmup_seconds", warmup_seconds)):
            if not math.isfinite(value) or value < 0 or (name == "window_seconds" and value == 0):
                raise invalid(name, "must be a finite number of seconds (> 0 for a window)", repr(value))
        self.target_users = target_users
        self.requests_per_user_per_second = requests_per_user_per_second
        self.window_seconds = window_seconds
        self.warmup_seconds = warmup_seconds
        self.monthly_budget_usd = monthly_budget_usd
        # A dry run: the core checks the audience and every budget now, not at the first report.
        budgets = (
            monthly_budget_usd.values() if isinstance(monthly_budget_usd, Mapping) else [monthly_budget_usd]
        )
        empty = [(0, 0.0, 0.0, 0.0, (0.0, 0.0, 0.0), budget) for budget in budgets]
        self.pricing._core.project(empty, target_users, requests_per_user_per_second)

    def budget_of(self, route: str) -> float | None:
        """The monthly budget of ``route``: its own, else ``"*"``'s, else the single budget."""
        budget = self.monthly_budget_usd
        if isinstance(budget, Mapping):
            return budget.get(route, budget.get("*"))
        return budget

    def costs(
        self, summaries: Sequence[RouteSummary], *, covered_seconds: float | None = None
    ) -> list[RouteCost]:
        """The projection of each route summary with requests, most expensive first.
        ``covered_seconds`` stands for every summary's own span (a fixed window, say)."""
        usages = [
            (
                s.requests,
                s.covered_seconds if covered_seconds is None else covered_seconds,
                s.duration_seconds / s.requests,
                s.bytes / s.requests,
                (s.p50, s.p95, s.p99),
                self.budget_of(s.route),
            )
            for s in summaries
        ]
        projected = self.pricing._core.project(usages, self.target_users, self.requests_per_user_per_second)
        pairs = zip(summaries, projected, strict=True)
        costs = [route_cost(s, p, self.budget_of(s.route)) for s, p in pairs if p]
        costs.sort(key=lambda c: (-c.monthly_usd, c.route))
        return costs

    def project(
        self, routes: RouteTable | RouteGuard, *, at: float | None = None, now: float | None = None
    ) -> CostReport:
        """Every route's projection over the last ``window_seconds`` before ``at`` (default: now
        by the table's clock; ``now=`` is its old spelling)."""
        table = routes.routes if isinstance(routes, RouteGuard) else routes
        if at is None and now is None:
            at = table.now()  # one moment for every route
        settled: list[RouteSummary] = []
        warming_up: list[str] = []
        excluded = 0
        for stats in table.stats():
            seen = stats.summary(self.window_seconds, at=at, now=now).requests
            summary = stats.summary(self.window_seconds, at=at, now=now, warmup_seconds=self.warmup_seconds)
            excluded += seen - summary.requests
            if summary.requests:
                settled.append(summary)
            elif seen:
                warming_up.append(stats.key)
        costs = self.costs(settled)
        p = self.pricing
        return CostReport(
            p.provider,
            p.region,
            p.date,
            self.target_users,
            self.requests_per_user_per_second,
            self.window_seconds,
            self.warmup_seconds,
            tuple(costs),
            tuple(warming_up),
            excluded,
        )


def route_cost(s: RouteSummary, projection: _native._Projection, budget: float | None) -> RouteCost:
    """The ``RouteCost`` of a route's summary and the core's projection of it."""
    (observed, projected, cores), (instance, count), money, request_cost, flags, curve = projection
    compute, egress_gib, egress_usd, monthly, per_user = money
    variance_ratio, variance_warning, over_budget = flags
    p50_usd, p95_usd, p99_usd = request_cost
    return RouteCost(
        route=s.route,
        requests=s.requests,
        observed_rps=observed,
        projected_rps=projected,
        median_seconds=s.p50,
        p95_seconds=s.p95,
        mean_seconds=s.mean_seconds,
        mean_response_bytes=s.bytes / s.requests,
        required_cores=cores,
        instance=instance,
        instance_count=count,
        compute_monthly_usd=compute,
        egress_gib_per_month=egress_gib,
        egress_monthly_usd=egress_usd,
        monthly_usd=monthly,
        cost_per_user_usd=per_user,
        request_cost_p50_usd=p50_usd,
        request_cost_p95_usd=p95_usd,
        request_cost_p99_usd=p99_usd,
        variance_ratio=variance_ratio,
        variance_warning=variance_warning,
        monthly_budget_usd=budget,
        over_budget=over_budget,
        cost_curve=tuple(CostPoint(users=int(users), monthly_usd=usd) for users, usd in curve),
    )
