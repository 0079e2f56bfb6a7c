from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from burnguard import PrometheusExporter, SLODefinition, SLORegistry, SLOTracker

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
