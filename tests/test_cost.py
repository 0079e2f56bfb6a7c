"""Per-route cost projections: hand-computed figures, warm-up, budgets, the exporter and
parity with cloudmeter 0.5.0 where the two models agree."""

from __future__ import annotations

import time

import pytest
from cloudmeter import _cost_projector, _pricing_catalog
from prometheus_client import REGISTRY, generate_latest

from burnguard import CostModel, Instance, Pricing, PrometheusExporter, RouteGuard, RouteTable

T0 = 1_767_225_600.0  # a day boundary: minute buckets start at T0 + 60 k
MONTH = 730 * 3600
GIB = 2**30

# Half a core for $0.01 an hour, 2 for $0.10, 4 for $0.20; egress $0.10 a GiB.
PRICING = Pricing(
    "test",
    (Instance("big", 4, 0.2), Instance("small", 2, 0.01, baseline_cores=0.5), Instance("mid", 2, 0.1)),
    0.1,
    region="here",
    date="2026-11-01",
)


def two_routes(table: RouteTable) -> None:
    """From T0 + 60 s to T0 + 360 s: "GET /a" twice a second, 50 ms and 1 MiB each, one
    request in ten 150 ms (mean 60 ms); "POST /b" once a second, 500 ms, nothing sent."""
    a, b = table.route("GET /a"), table.route("POST /b")
    for i in range(600):
        at = T0 + 60 + i * 0.5
        a.record(0.15 if i % 10 == 9 else 0.05, bytes=2**20, at=at)
        if i % 2 == 0:
            b.record(0.5, at=at)


def test_projection_matches_hand_computed_figures() -> None:
    table = RouteTable(retain_seconds=86_400)
    two_routes(table)
    model = CostModel(PRICING, target_users=300, requests_per_user_per_second=0.1, warmup_seconds=0)
    report = model.project(table, now=T0 + 360)
    assert (report.provider, report.region, report.prices_date) == ("test", "here", "2026-11-01")
    assert [r.route for r in report.routes] == ["GET /a", "POST /b"], "most expensive first"
    assert report.excluded_requests == 0 and report.warming_up == ()

    # "GET /a": 2 of 3 observed rps, so 20 of the 30 projected; 20 * 0.06 s = 1.2 cores on
    # "mid" ($73 a month); 20 MiB a second is 51,328.125 GiB a month at $0.10.
    a = report.route("GET /a")
    assert (a.requests, a.observed_rps, a.projected_rps) == (600, 2.0, 20.0)
    assert a.mean_seconds == pytest.approx(0.06, rel=1e-12)
    assert a.required_cores == pytest.approx(1.2, rel=1e-12)
    assert (a.instance, a.instance_count) == ("mid", 1)
    assert a.compute_monthly_usd == pytest.approx(73.0, rel=1e-12)
    assert a.egress_gib_per_month == pytest.approx(20 * MONTH / 1024, rel=1e-12)
    assert a.egress_monthly_usd == pytest.approx(5132.8125, rel=1e-12)
    assert a.monthly_usd == pytest.approx(5205.8125, rel=1e-12)
    assert a.cost_per_user_usd == pytest.approx(5205.8125 / 300, rel=1e-12)
    # $73 over 20 * 0.06 * MONTH busy core-seconds; 1 MiB of egress is $0.1 / 1024.
    per_core_second = 73.0 / (20 * 0.06 * MONTH)
    assert a.median_seconds == pytest.approx(0.05, rel=0.01)
    assert a.request_cost_p50_usd == pytest.approx(0.05 * per_core_second + 0.1 / 1024, rel=1e-3)
    assert a.request_cost_p99_usd == pytest.approx(0.15 * per_core_second + 0.1 / 1024, rel=1e-3)
    assert not a.variance_warning  # egress dominates: p95 / p50 is about 1.0
    assert [p.users for p in a.cost_curve][:3] == [100, 200, 500]
    assert a.cost_curve[-1].users == 1_000_000
    # At 100 users: 6.67 rps * 0.06 s = 0.4 cores fit "small" ($7.30).
    assert a.cost_curve[0].monthly_usd == pytest.approx(7.3 + 20 / 3 * MONTH / 1024 * 0.1, rel=1e-12)

    # "POST /b": 10 rps * 0.5 s = 5 cores, past the largest type: ten "small" ($73) beat
    # three "mid" ($219) and two "big" ($292).
    b = report.route("POST /b")
    assert (b.instance, b.instance_count, b.monthly_usd) == ("small", 10, pytest.approx(73.0))
    assert b.request_cost_p50_usd * b.projected_rps * MONTH == pytest.approx(b.monthly_usd, rel=0.01)
    assert report.monthly_usd == pytest.approx(a.monthly_usd + b.monthly_usd)
    with pytest.raises(KeyError):
        report.route("GET /nope")


def test_variable_routes_are_flagged() -> None:
    table = RouteTable(retain_seconds=86_400)
    spread = table.route("GET /search")
    for i in range(100):
        spread.record(0.01 if i < 80 else 0.2, at=T0 + 60 + i)
    report = CostModel(PRICING, warmup_seconds=0).project(table, now=T0 + 200)
    search = report.route("GET /search")
    assert search.variance_ratio == pytest.approx(20.0, rel=0.02)
    assert search.variance_warning


def test_warm_up_is_left_out() -> None:
    table = RouteTable(retain_seconds=86_400)
    two_routes(table)
    late = table.route("GET /late")
    late.record(2.0, at=T0 + 350)  # first seen 10 s ago: still warming up
    report = CostModel(PRICING, warmup_seconds=30).project(table, now=T0 + 360)
    # Warm-up ends at T0 + 90 s, so the bucket from T0 + 60 s is left out: a minute of both.
    assert report.excluded_requests == 120 + 60 + 1
    assert report.warming_up == ("GET /late",)
    assert report.route("GET /a").requests == 480
    assert report.route("GET /a").observed_rps == 2.0, "measured over the kept buckets only"


def test_budgets_flag_routes_over_them() -> None:
    table = RouteTable(retain_seconds=86_400)
    two_routes(table)
    model = CostModel(
        PRICING,
        target_users=300,
        requests_per_user_per_second=0.1,
        warmup_seconds=0,
        monthly_budget_usd={"POST /b": 100.0, "*": 1000.0},
    )
    report = model.project(table, now=T0 + 360)
    assert [r.route for r in report.over_budget] == ["GET /a"]
    assert report.route("GET /a").monthly_budget_usd == 1000.0
    assert report.route("POST /b").monthly_budget_usd == 100.0
    single = CostModel(
        PRICING, target_users=300, requests_per_user_per_second=0.1, warmup_seconds=0, monthly_budget_usd=50.0
    ).project(table, now=T0 + 360)
    assert [r.route for r in single.over_budget] == ["GET /a", "POST /b"]


def test_bundled_tables() -> None:
    for provider, region in (("aws", "us-east-1"), ("GCP", "us-central1"), ("Azure", "eastus")):
        pricing = Pricing.bundled(provider)
        assert (pricing.provider, pricing.region, pricing.date) == (provider.lower(), region, "2025-01-01")
        prices = [i.hourly_usd for i in pricing.instances]
        assert prices == sorted(prices) and len(prices) >= 16
    nano = Pricing.bundled("aws").instances[0]
    assert (nano.name, nano.vcpu, nano.baseline_cores) == ("t3.nano", 2.0, 0.1)
    with pytest.raises(ValueError, match=r'^provider must be one of aws, gcp, azure; got "oracle"'):
        Pricing.bundled("oracle")


def test_bad_input_names_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"^target_users "):
        CostModel(target_users=0)
    with pytest.raises(ValueError, match=r"^target_users "):
        CostModel(target_users=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^requests_per_user_per_second "):
        CostModel(requests_per_user_per_second=-1.0)
    with pytest.raises(ValueError, match=r"^monthly_budget_usd\[1\] must be >= 0"):
        CostModel(monthly_budget_usd={"GET /a": 1.0, "GET /b": -1.0})
    with pytest.raises(ValueError, match=r"^window_seconds "):
        CostModel(window_seconds=0)
    with pytest.raises(ValueError, match=r"^warmup_seconds "):
        CostModel(warmup_seconds=float("nan"))
    with pytest.raises(ValueError, match=r"^instances must not be empty"):
        Pricing("x", (), 0.1)
    with pytest.raises(ValueError, match=r"^instances\[1\] \(a\) the name is listed twice"):
        Pricing("x", (Instance("a", 2, 0.1), Instance("a", 4, 0.2)), 0.1)
    with pytest.raises(ValueError, match=r"^instances\[0\] \(a\) baseline_cores must be in \(0, vcpu\]"):
        Pricing("x", (Instance("a", 2, 0.1, baseline_cores=3),), 0.1)
    with pytest.raises(ValueError, match=r"^instances\[0\] \(a\) vcpu must be > 0; got NaN"):
        Pricing("x", (Instance("a", float("nan"), 0.1),), 0.1)
    with pytest.raises(ValueError, match=r"^instances\[0\] \(a\) hourly_usd must be >= 0; got -0.1"):
        Pricing("x", (Instance("a", 2, -0.1),), 0.1)
    with pytest.raises(ValueError, match=r"^monthly_budget_usd\[0\] must be >= 0; got inf"):
        CostModel(monthly_budget_usd=float("inf"))
    with pytest.raises(ValueError, match=r"^egress_usd_per_gib "):
        Pricing("x", (Instance("a", 2, 0.1),), float("inf"))
    with pytest.raises(ValueError, match=r"^instances\[1\] \(\) the name must not be empty"):
        Pricing("x", (Instance("a", 2, 0.1), Instance("", 4, 0.2)), 0.1)
    table = RouteTable(retain_seconds=86_400)
    table.route("GET /").record(0.1)
    with pytest.raises(ValueError, match=r"^target_users projects .* more than 9007199254740992 instances"):
        CostModel(PRICING, target_users=10**18, requests_per_user_per_second=1e6, warmup_seconds=0).project(
            table
        )
    with pytest.raises(ValueError, match=r"^window_seconds "):
        CostModel(window_seconds=7 * 86_400).project(table)
    with pytest.raises(ValueError, match="costs needs routes"):
        PrometheusExporter(costs=CostModel())


def test_exporter_renders_projections_and_registers_on_the_default_registry() -> None:
    guard = RouteGuard()
    now = time.time()
    for i in range(100):
        guard.routes.route("GET /a").record(0.02, bytes=1000, at=now - 100 + i)
    model = CostModel("gcp", warmup_seconds=0, monthly_budget_usd=1.0)
    exporter = PrometheusExporter(routes=guard, costs=model)
    REGISTRY.register(exporter)
    try:
        body = generate_latest(REGISTRY).decode()
    finally:
        REGISTRY.unregister(exporter)
    a = model.project(guard).route("GET /a")
    assert 'burnguard_cost_projection_info{prices_date="2025-01-01",provider="gcp",' in body
    assert f'burnguard_route_projected_monthly_cost_usd{{route="GET /a"}} {a.monthly_usd!r}' in body
    assert 'burnguard_route_over_budget{route="GET /a"} 1.0' in body
    assert 'burnguard_route_request_cost_usd{quantile="0.95",route="GET /a"}' in body
    assert 'burnguard_route_projected_rps{route="GET /a"} 1000.0' in body


def test_uniform_routes_cost_what_cloudmeter_says() -> None:
    """Where every request of a route is alike (median = mean) and its load fits one instance,
    burnguard's projection equals cloudmeter's, on cloudmeter's own AWS table."""
    table = RouteTable(retain_seconds=86_400)
    metrics = []
    for route, duration_ms, sent, per_second in (("GET /a", 40, 5000, 3), ("GET /b", 250, 200, 1)):
        stats = table.route(route)
        for i in range(290 * per_second):
            stats.record(duration_ms / 1000, bytes=sent, at=T0 + 60 + i / per_second)
            metrics.append({"route": route, "duration_ms": duration_ms, "egress_bytes": sent})
    peer_table = _pricing_catalog.get_instances("AWS")
    pricing = Pricing("aws", tuple(Instance(i.name, i.vcpu, i.hourly_usd) for i in peer_table), 0.09)
    for users in (100, 500):  # up to 31 cores: within the largest type
        ours = CostModel(pricing, target_users=users, warmup_seconds=0).project(table, now=T0 + 350)
        peer = _cost_projector.project(metrics, {"provider": "AWS", "target_users": users})
        for theirs in peer["projections"]:
            mine = ours.route(theirs["route"])
            assert mine.instance == theirs["recommended_instance"]
            assert round(mine.monthly_usd, 2) == theirs["projected_monthly_cost_usd"]
            assert round(mine.projected_rps, 1) == theirs["projected_rps"]
            curve = [round(p.monthly_usd, 2) for p in mine.cost_curve[:3]]
            assert curve == [p["monthly_cost_usd"] for p in theirs["cost_curve"][:3]]
