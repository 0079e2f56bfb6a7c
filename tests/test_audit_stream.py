from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from burnguard import SLODefinition, SLOTracker, audit_stream

from .conftest import T0


def _hot() -> SLOTracker:
    t = SLOTracker(SLODefinition(name="api", target=0.999, window_seconds=3600, burn_rate_windows=(60, 300)))
    for _ in range(20):
        t.record_failure(at=T0)
    return t


async def test_one_event_per_transition_with_the_alert_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_STREAM_URL", "http://audit.test/")
    monkeypatch.setenv("AUDIT_STREAM_SOURCE", "burnguard")
    events: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "http://audit.test/events"
        events.append(json.loads(request.content))
        return httpx.Response(201)

    t = _hot()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await t.check_burn_rate_with_audit(client, at=T0)
        await t.check_burn_rate_with_audit(client, at=T0)
        await t.check_burn_rate_with_audit(client, at=T0 + 120)  # the 60 s window recovers
    assert [(e["kind"], e["payload"]["window_seconds"]) for e in events] == [
        ("slo_burn_started", 60),
        ("slo_burn_started", 300),
        ("slo_recovered", 60),
    ]
    assert events[0]["source"] == "burnguard"
    assert events[0]["payload"]["sample_count"] == 20


async def test_a_failing_sink_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AUDIT_STREAM_URL", "http://audit.test")
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503))) as client:
        alerts = await _hot().check_burn_rate_with_audit(client, at=T0)
    assert len(alerts) == 2
    assert "audit-stream emit failed (kind=slo_burn_started)" in caplog.text


def test_timeout_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, expected in (("", 2.5), ("0.01", 0.1), ("junk", 2.5), ("4", 4.0)):
        monkeypatch.setenv("AUDIT_STREAM_TIMEOUT_S", raw)
        assert audit_stream.timeout_s() == expected
