from __future__ import annotations

import math
import pickle
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burnguard import InMemoryStore, SLODefinition, SLOTracker

from .conftest import T0


def test_records_and_reports_the_peers_figures(tracker: SLOTracker) -> None:
    for i in range(95):
        tracker.record_success(at=T0 + i)
    for i in range(95, 100):
        tracker.record(False, at=T0 + i)
    snap = tracker.snapshot(at=T0 + 100)
    assert (snap.total, snap.failures) == (100, 5)
    assert snap.success_ratio == 0.95
    assert snap.error_budget_remaining == pytest.approx(-4.0)
    assert snap.error_budget_consumed == pytest.approx(5.0)
    assert snap.burn_rate == pytest.approx(5.0)
    assert snap.is_breached and snap.is_budget_exhausted
    assert snap.time_to_exhaustion_seconds == 0.0
    assert [(s.window_seconds, s.sample_count) for s in snap.burn_rate_samples] == [(60, 60), (300, 100)]


def test_empty_tracker(tracker: SLOTracker) -> None:
    snap = tracker.snapshot(at=T0)
    assert (snap.total, snap.success_ratio, snap.error_budget_remaining, snap.burn_rate) == (0, 1.0, 1.0, 0.0)
    assert snap.time_to_exhaustion_seconds is None
    assert tracker.check_burn_rate(at=T0) == []


def test_time_to_exhaustion_at_the_shortest_windows_burn_rate(tracker: SLOTracker) -> None:
    # 1000 events over the last hour with 2 failures in the last minute: budget 10 errors.
    for i in range(1000):
        tracker.record(i not in (990, 995), at=T0 + i * 3.6)
    snap = tracker.snapshot(at=T0 + 3599.9)
    one_minute = snap.burn_rate_samples[0]
    assert one_minute.window_seconds == 60
    assert snap.error_budget_remaining == pytest.approx(0.8)
    expected = snap.error_budget_remaining * 3600 / one_minute.burn_rate
    assert snap.time_to_exhaustion_seconds == pytest.approx(expected)


def test_clock_injection_and_explicit_timestamps() -> None:
    now = [T0]
    t = SLOTracker(
        SLODefinition(name="a", target=0.9, window_seconds=600, burn_rate_windows=(60,)), clock=lambda: now[0]
    )
    t.record_failure()
    now[0] += 120
    t.record_success()
    t.record_success(at=T0 + 10)
    assert t.snapshot().total == 3
    assert t.check_burn_rate() == []  # the failure is 120 s old: outside the 60 s window
    assert t.snapshot(at=T0 + 5).total == 1  # a window ending at T0+5 sees only the failure


def test_events_older_than_the_retained_history_are_dropped_and_counted(tracker: SLOTracker) -> None:
    # Failures over twice the retained span fill every tier with newer data...
    retained = tracker.resolution[-1][1]
    tracker.record_many(np.zeros(4000, dtype=bool), T0 - np.linspace(2 * retained, 0, 4000))
    before = tracker.snapshot(at=T0)
    assert before.dropped == 0
    # ... so a failure older than all of it cannot be held: it is dropped and counted.
    tracker.record_failure(at=T0 - 4 * retained)
    assert tracker.dropped == 1
    assert tracker.snapshot(at=T0).dropped == 1
    assert tracker.snapshot(at=T0).failures == before.failures


def test_memory_is_fixed_and_small() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.999))
    before = t.memory_bytes
    assert before <= 64 * 1024
    t.record_many(np.ones(100_000, dtype=bool), T0 + 1e-3 * np.arange(100_000))
    assert t.memory_bytes == before
    assert t.resolution[0] == (5.0, 1275.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0, 2.0**34])
def test_bad_timestamps_raise_value_error_naming_at(tracker: SLOTracker, bad: float) -> None:
    with pytest.raises(ValueError, match=r"^at must be a finite timestamp"):
        tracker.record_success(at=bad)
    with pytest.raises(ValueError, match=r"^at must be"):
        tracker.snapshot(at=bad)


@pytest.mark.parametrize("bad", [math.nan, -1.0])
def test_the_custom_store_path_rejects_bad_timestamps_too(bad: float) -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.9, burn_rate_windows=(60,)), store=InMemoryStore(3600))
    with pytest.raises(ValueError, match=r"^at must be a finite timestamp"):
        t.record_success(at=bad)
    with pytest.raises(ValueError, match=r"^at must be"):
        t.snapshot(at=bad)
    assert len(t._store) == 0  # type: ignore[arg-type]


def test_a_bad_clock_is_named() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.9, burn_rate_windows=(60,)), clock=lambda: math.nan)
    with pytest.raises(ValueError, match=r"^clock\(\) must be"):
        t.record_success()


def test_results_are_frozen_picklable_and_have_to_dict(tracker: SLOTracker) -> None:
    tracker.record_failure(at=T0)
    snap = tracker.snapshot(at=T0)
    assert pickle.loads(pickle.dumps(snap)) == snap
    d = snap.to_dict()
    assert d["burn_rate_samples"][0] == {
        "window_seconds": 60,
        "burn_rate": 1.0 / (1.0 - 0.99),
        "success_ratio": 0.0,
        "sample_count": 1,
    }
    alert = tracker.check_burn_rate(at=T0)[0]
    assert pickle.loads(pickle.dumps(alert)) == alert
    with pytest.raises(AttributeError):
        snap.total = 3  # type: ignore[misc]


def test_custom_store_takes_the_pure_python_path_with_the_same_figures(tracker: SLOTracker) -> None:
    store = InMemoryStore(max_age_seconds=3600)
    stored = SLOTracker(tracker.definition, store=store)
    for i in range(200):
        for t in (tracker, stored):
            t.record(i % 7 != 0, at=T0 + i)
    stored.record_many([False, True], [T0 + 200, T0 + 200])
    tracker.record_many([False, True], [T0 + 200, T0 + 200])
    assert len(store) == 202
    assert stored.snapshot(at=T0 + 200) == tracker.snapshot(at=T0 + 200)
    assert stored.check_burn_rate(at=T0 + 200) == tracker.check_burn_rate(at=T0 + 200)


@settings(max_examples=100, deadline=None)
@given(
    ages=st.lists(st.floats(0, 3599, allow_nan=False), min_size=1, max_size=300),
    window=st.sampled_from([1, 30, 60, 299, 300, 1000, 2500, 3600]),
)
def test_window_edges_are_exact_to_the_bucket_width_at_that_age(ages: list[float], window: int) -> None:
    definition = SLODefinition(
        name="p", target=0.99, window_seconds=3600, burn_rate_windows=(window,), alert_policies=()
    )
    t = SLOTracker(definition)
    for age in ages:
        t.record_failure(at=T0 - age)
    got = t.snapshot(at=T0).burn_rate_samples[0].sample_count
    width = next(w for w, span in t.resolution if span >= window)
    exact = sum(1 for a in ages if a <= window)
    slack = sum(1 for a in ages if window < a <= window + width)
    assert exact <= got <= exact + slack


def test_a_read_never_misses_an_event_recorded_just_before_it() -> None:
    # Finest buckets of 1/60 s: a clock read that lagged a record would often miss it here.
    t = SLOTracker(
        SLODefinition(name="a", target=0.99, window_seconds=600, burn_rate_windows=(1,), alert_policies=())
    )
    for i in range(1, 1001):
        if i % 2:
            t.record_success()
        else:
            t.record_success(at=time.time())
        assert t.snapshot().total == i


def test_one_event_far_ahead_does_not_blind_the_slo() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.999, window_seconds=3600, burn_rate_windows=(300,)))
    t.record_success(at=T0 + 365 * 86_400)  # a year ahead
    for i in range(1000):
        t.record_failure(at=T0 + i * 0.1)
    snap = t.snapshot(at=T0 + 100)
    assert (snap.failures, snap.dropped) == (1000, 0)
    assert t.check_burn_rate(at=T0 + 100), "the failures burn the budget"


def test_a_clock_stepped_forward_and_back_does_not_blind_the_slo() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99, window_seconds=3600, burn_rate_windows=(300,)))
    for i in range(600):
        t.record_success(at=T0 + 7200 + i)  # ten minutes two hours ahead
    for i in range(600):
        t.record(i % 10 != 0, at=T0 + i)  # then back at the real time
    snap = t.snapshot(at=T0 + 599)
    assert (snap.total, snap.failures, snap.dropped) == (600, 60, 0)


def test_a_snapshot_counts_events_up_to_the_end_of_its_bucket_and_no_later() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99, window_seconds=3600, burn_rate_windows=(60,)))
    finest = t.resolution[0][0]
    start = (T0 // finest) * finest  # the start of a finest bucket
    t.record_failure(at=start + finest * 0.5)  # after at=, within its bucket: counted
    t.record_failure(at=start + finest * 1.5)  # in the next bucket: not counted
    assert t.snapshot(at=start + finest * 0.25).failures == 1
    assert t.snapshot(at=start + finest * 1.75).failures == 2


def test_burndown_spends_the_budget_when_failures_happened_in_both_backings() -> None:
    definition = SLODefinition(name="burn", target=0.99, window_seconds=1000, burn_rate_windows=[100])
    for store in (None, InMemoryStore(5000)):
        tracker = SLOTracker(definition, store=store, clock=lambda: 2000.0)
        for i in range(1000):
            tracker.record(not 500 <= i < 508, at=1000 + i + 0.5)
        points = tracker.burndown(4)
        assert [t for t, _ in points] == [1000.0, 1250.0, 1500.0, 1750.0, 2000.0]
        assert [round(left, 9) for _, left in points] == [1.0, 1.0, 1.0, 0.2, 0.2]
        assert points[-1][1] == tracker.snapshot().error_budget_remaining
        with pytest.raises(ValueError, match=r"points must be in 1\.\.=10000; got 0"):
            tracker.burndown(0)
