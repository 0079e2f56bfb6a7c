from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from burnguard import Ledger, PrometheusExporter, SLODefinition, SLORegistry, SLOTracker

from .conftest import T0


def _registry() -> SLORegistry:
    reg = SLORegistry()
    t = SLOTracker(SLODefinition(name="api", target=0.99, burn_rate_windows=(60,)), clock=lambda: T0 + 100)
    reg.add(t)
    for i in range(90):
        t.record(i >= 10, at=T0 + i)
    reg.add(SLOTracker(SLODefinition(name="idle", target=0.999), clock=lambda: T0))
    return reg


def test_renders_the_peers_metrics_and_burnguards_own() -> None:
    body, content_type = PrometheusExporter(_registry()).render()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for line in (
        'slo_target{slo="api"} 0.99',
        'slo_window_seconds{slo="api"} 2.592e+06',
        'slo_total{slo="api"} 90.0',
        'slo_failures_total{slo="api"} 10.0',
        'slo_breached{slo="api"} 1.0',
        'slo_burn_rate{slo="api",window_seconds="60"} 0.0',
        'slo_time_to_exhaustion_seconds{slo="api"} 0.0',
        'slo_time_to_exhaustion_seconds{slo="idle"} +Inf',
        # burn 11.1 over both windows: below the 1 h page's 14.4, above the 6 h page's 6
        'slo_alert_firing{long_window_seconds="3600",severity="page",short_window_seconds="300",slo="api"} 0.0',
        'slo_alert_firing{long_window_seconds="21600",severity="page",short_window_seconds="1800",slo="api"} 1.0',
        'slo_alert_firing{long_window_seconds="3600",severity="page",short_window_seconds="300",slo="idle"} 0.0',
        'slo_dropped_events_total{slo="api"} 0.0',
        "slo_dropped_events_total counter",
    ):
        assert line in text, line


def test_is_a_collector_for_any_prometheus_registry() -> None:
    exporter = PrometheusExporter(_registry())
    other = CollectorRegistry()
    other.register(exporter)
    assert b'slo_success_ratio{slo="api"}' in generate_latest(other)
    assert other.get_sample_value("slo_total", {"slo": "api"}) == 90.0
    assert exporter.collector_registry.get_sample_value("slo_breached", {"slo": "idle"}) == 0.0


def test_sources_given_as_generators_are_exported_on_every_scrape() -> None:
    from burnguard import CircuitBreaker, PrometheusExporter

    exporter = PrometheusExporter(breakers=(b for b in [CircuitBreaker("payments")]))
    for _ in range(2):
        assert b'burnguard_circuitbreaker_state{name="payments",state="CLOSED"} 1.0' in exporter.render()[0]


def test_a_failing_source_is_left_out_logged_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    from burnguard import CircuitBreaker, PrometheusExporter, SLODefinition, SLORegistry

    class Broken(Ledger):
        def balances(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
            raise RuntimeError("ledger offline")

    registry = SLORegistry()
    registry.define(SLODefinition(name="api", target=0.99))
    exporter = PrometheusExporter(registry, breakers=[CircuitBreaker("b")], ledgers=[Broken()])

    def failures(body: bytes) -> float:
        line = next(x for x in body.splitlines() if x.startswith(b"burnguard_exporter_source_errors_total"))
        return float(line.split()[-1])

    first = exporter.render()[0]
    for _ in range(3):
        body = exporter.render()[0]
        assert b'slo_total{slo="api"}' in body and b'name="b"' in body
    assert failures(body) == failures(first) + 3
    assert caplog.text.count("could not export ledgers") == 1


def test_bad_exporter_and_slo_options_are_refused_up_front() -> None:
    from burnguard import PrometheusExporter, RouteTable, SLODefinition

    with pytest.raises(ValueError, match=r"^route_window "):
        PrometheusExporter(routes=RouteTable(), route_window=0)
    with pytest.raises(TypeError, match=r"^name must be a str; got int"):
        SLODefinition(name=5, target=0.9)  # type: ignore[arg-type]


def test_a_guard_exports_its_own_slos_breakers_and_budgets() -> None:
    from burnguard import CircuitBreaker, Ledger, RouteBudget, RouteGuard, RouteSLO, Subject, Unit

    availability = SLOTracker(SLODefinition(name="checkout", target=0.99))
    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 10)
    guard = RouteGuard(
        slos={"*": RouteSLO(availability=availability)},
        breakers={"*": CircuitBreaker("payments")},
        budgets={"*": RouteBudget(ledger, Subject(tenant="acme"))},
    )
    body = PrometheusExporter(routes=guard).render()[0].decode()
    assert 'slo_target{slo="checkout"} 0.99' in body
    assert 'burnguard_circuitbreaker_state{name="payments",state="CLOSED"} 1.0' in body
    assert 'scope="tenant:acme"' in body


def test_slo_event_counters_are_monotonic_totals_by_outcome() -> None:
    registry = SLORegistry()
    tracker = registry.define(
        SLODefinition(name="api", target=0.99, window_seconds=3600, burn_rate_windows=(300,))
    )
    now = time.time()
    for i in range(10):
        tracker.record(i != 0, at=now)
    tracker.record(True, at=now - 10 * 86_400)  # older than the SLO window: counted all the same
    assert tracker.events_total == (10, 1) and tracker.snapshot(at=now).total == 10
    body = PrometheusExporter(registry).render()[0].decode()
    assert 'burnguard_slo_events_total{outcome="good",slo="api"} 10.0' in body
    assert 'burnguard_slo_events_total{outcome="bad",slo="api"} 1.0' in body


def test_render_writes_what_prometheus_client_writes_byte_for_byte() -> None:
    """``render()`` writes the text itself; it must equal ``generate_latest`` over the same
    collector, with every kind of family and awkward label values and numbers in it."""
    from burnguard import CircuitBreaker, CostModel, Pricing, RouteGuard, RouteSLO, Subject, Unit
    from burnguard.middleware import RouteBudget

    ledger = Ledger()
    ledger.set_budget("tenant:acme", Unit.CREDITS, 1_000)
    tracker = SLOTracker(SLODefinition(name="api", target=0.99))
    guard = RouteGuard(
        slos={"*": RouteSLO(availability=tracker)},
        breakers={"GET /b": CircuitBreaker("b")},
        budgets={"GET /c": RouteBudget(ledger, Subject(tenant="acme"))},
    )
    now = time.time()
    for i, key in enumerate(['GET /a/"quoted"\\back', "GET /b", "GET /line\nbreak", "GET /c"]):
        stats = guard.routes.route(key)
        for k in range(30):
            stats.record(
                0.0007 * (k + 1) ** 2 * (i + 1), k % 9 == 0, 12_345_678 * k, now - k, 200 + 100 * (k % 4)
            )
        stats.rejections.count_circuit_open()
    guard.fault("test the exporter")
    exporter = PrometheusExporter(
        _registry(),
        routes=guard,
        route_window=60,
        costs=CostModel(Pricing.bundled("aws"), target_users=10_000, warmup_seconds=0),
        latency_buckets=(0.001, 0.05, 2.5, 1e7),
    )
    body = exporter.render()[0]
    assert body == generate_latest(exporter.collector_registry)
    assert b'burnguard_http_requests_total{code_class="3xx",route="GET /a/\\"quoted\\"\\\\back"} 8.0' in body
    assert b'burnguard_http_request_duration_seconds_bucket{le="1e+07",route="GET /b"} 30.0' in body
    assert b"burnguard_route_projected_monthly_cost_usd{" in body
    assert b"burnguard_guard_recording_errors_total 1.0" in body


def test_numbers_are_written_as_prometheus_client_writes_them() -> None:
    from hypothesis import given
    from hypothesis import strategies as st
    from prometheus_client.utils import floatToGoString

    from burnguard._exposition import go_float

    @given(st.one_of(st.integers(min_value=-(2**60), max_value=2**60), st.floats()))
    def same(value: float) -> None:
        assert go_float(value) == floatToGoString(value)

    same()
