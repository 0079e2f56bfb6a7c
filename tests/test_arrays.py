from __future__ import annotations

import numpy as np
import pytest

from burnguard import SLODefinition, SLOTracker

from .conftest import T0


def _definition(**kw: object) -> SLODefinition:
    return SLODefinition(name="a", target=0.99, window_seconds=3600, burn_rate_windows=(60, 300), **kw)  # type: ignore[arg-type]


def test_record_many_equals_recording_one_by_one() -> None:
    rng = np.random.default_rng(7)
    at = T0 + np.sort(rng.uniform(0, 3600, 50_000))
    ok = rng.random(50_000) > 0.01
    batch, single = SLOTracker(_definition()), SLOTracker(_definition())
    batch.record_many(ok, at)
    for o, t in zip(ok.tolist(), at.tolist(), strict=True):
        single.record(o, at=t)
    for now in (T0 + 600, T0 + 1800, T0 + 3600):
        assert batch.snapshot(at=now) == single.snapshot(at=now)


def test_record_many_accepts_lists_and_zero_one_integers() -> None:
    t = SLOTracker(_definition())
    t.record_many([1, 0, 1], [T0, T0, T0])
    assert (t.snapshot(at=T0).total, t.snapshot(at=T0).failures) == (3, 1)


def test_record_latency_many() -> None:
    t = SLOTracker(_definition(latency_threshold_seconds=0.2))
    t.record_latency_many(np.array([0.1, 0.2, 0.3, 5.0]), np.full(4, T0))
    snap = t.snapshot(at=T0)
    assert (snap.total, snap.failures) == (4, 2)


@pytest.mark.parametrize(
    ("ok", "at", "message"),
    [
        ([True, True], [T0, np.nan], r"^at\[1\] must be a finite timestamp"),
        ([True, True, True], [T0, T0, -5.0], r"^at\[2\] must be"),
        ([True], [T0, T0], r"^at must have the same length as ok \(1\); got 2"),
        ([[True]], [[T0]], r"^ok must be 1-D; got shape \(1, 1\)"),
        ([True, 2], [T0, T0], r"^ok\[1\] must be a boolean \(or 0/1\); got 2"),
        ([0.5], [T0], r"^ok must hold booleans; got dtype float64"),
        ([True], ["soon"], r"^at must be an array of numbers"),
    ],
)
def test_bad_arrays_name_the_parameter_and_index(ok: object, at: object, message: str) -> None:
    t = SLOTracker(_definition())
    with pytest.raises(ValueError, match=message):
        t.record_many(ok, at)
    assert t.snapshot(at=T0).total == 0  # nothing recorded


def test_bad_latencies_name_the_index() -> None:
    t = SLOTracker(_definition(latency_threshold_seconds=0.2))
    with pytest.raises(ValueError, match=r"^seconds\[1\] must be a finite duration >= 0; got -1"):
        t.record_latency_many([0.1, -1.0], [T0, T0])
    with pytest.raises(ValueError, match=r"^seconds must be"):
        t.record_latency(float("nan"), at=T0)
    with pytest.raises(ValueError, match="latency_threshold_seconds"):
        SLOTracker(_definition()).record_latency(0.1, at=T0)
