from __future__ import annotations

from burnguard import BurnRatePolicy, SLODefinition, SLORegistry, SLOTracker

from .conftest import T0


def _run(tracker: SLOTracker, start: float, seconds: int, rps: int, error_every: int) -> float:
    """Record `rps` events a second for `seconds`, one in `error_every` failing."""
    n = 0
    for s in range(seconds):
        for _ in range(rps):
            tracker.record(n % error_every != 0, at=start + s)
            n += 1
    return start + seconds


def test_page_fires_only_when_both_windows_burn_and_resolves_when_the_short_one_recovers() -> None:
    t = SLOTracker(SLODefinition(name="checkout", target=0.999))
    now = _run(t, T0, 3600, 1, 4000)  # an hour at 0.025 % errors: burn 0.25
    assert t.poll_alerts(at=now) == []

    now = _run(t, now, 120, 100, 20)  # two minutes at 5 % errors: burn 50 over 5 m
    page = t.check_alerts(at=now)[0]
    assert (page.severity, page.long_window_seconds, page.short_window_seconds) == ("page", 3600, 300)
    assert page.short_burn_rate >= 14.4 and page.long_burn_rate >= 14.4
    fired = t.poll_alerts(at=now)
    assert ("firing", "page", 3600) in [
        (x.state, x.alert.severity, x.alert.long_window_seconds) for x in fired
    ]
    assert t.poll_alerts(at=now) == []  # reported once

    now = _run(t, now, 600, 1, 10**9)  # ten clean, quiet minutes
    resolved = [x for x in t.poll_alerts(at=now) if x.alert.long_window_seconds == 3600]
    assert [x.state for x in resolved] == ["resolved"]
    assert not resolved[0].alert.firing
    assert resolved[0].alert.long_burn_rate >= 14.4  # the long window still remembers


def test_short_spike_alone_does_not_page() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.999))
    now = _run(t, T0, 3600, 100, 10**9)  # a clean, busy hour
    now = _run(t, now, 60, 100, 3)  # a minute at 33 %: the 5 m window burns, the 1 h one does not
    page = next(a for a in t.alert_status(at=now) if a.long_window_seconds == 3600)
    assert page.short_burn_rate >= 14.4 > page.long_burn_rate
    assert not page.firing
    assert all(a.long_window_seconds != 3600 for a in t.check_alerts(at=now))


def test_custom_policies_and_registry_aggregation() -> None:
    policy = BurnRatePolicy("warn", long_window_seconds=600, short_window_seconds=60, threshold=2.0)
    reg = SLORegistry()
    a = reg.define(
        SLODefinition(
            name="a", target=0.9, window_seconds=3600, burn_rate_windows=(60,), alert_policies=(policy,)
        )
    )
    reg.define(
        SLODefinition(name="b", target=0.9, window_seconds=3600, burn_rate_windows=(60,), alert_policies=())
    )
    for i in range(100):
        a.record(i % 2 == 0, at=T0 + i)
    alerts = reg.check_alerts(at=T0 + 100)
    assert [(x.slo_name, x.severity, x.long_burn_rate, x.short_burn_rate) for x in alerts] == [
        ("a", "warn", 5.000000000000001, 5.000000000000001)
    ]
    assert [x.state for x in reg.poll_alerts(at=T0 + 100)] == ["firing"]


def test_policies_work_on_the_custom_store_path_too() -> None:
    from burnguard import InMemoryStore

    d = SLODefinition(
        name="a",
        target=0.9,
        window_seconds=3600,
        burn_rate_windows=(60,),
        alert_policies=(BurnRatePolicy("warn", 600, 60, 2.0),),
    )
    t = SLOTracker(d, store=InMemoryStore(3600))
    for i in range(100):
        t.record(i % 2 == 0, at=T0 + i)
    [status] = t.alert_status(at=T0 + 100)
    assert status.firing and status.long_sample_count == 100
    assert [x.state for x in t.poll_alerts(at=T0 + 100)] == ["firing"]
    assert [x.state for x in t.poll_alerts(at=T0 + 2000)] == ["resolved"]
