"""burnguard against slo-budget-tracker 0.1.1 itself, on random inputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burnguard import BurnRateAlert, SLODefinition, SLOTracker

from .conftest import T0

peer = pytest.importorskip("slo_budget_tracker", reason="slo-budget-tracker needs Python >= 3.11")


def _peer_figures(snap: object) -> tuple[object, ...]:
    fields = ("total", "failures", "success_ratio", "error_budget_remaining", "burn_rate")
    samples = tuple(
        (s.window_seconds, s.burn_rate, s.success_ratio, s.sample_count) for s in snap.burn_rate_samples
    )  # type: ignore[attr-defined]
    return (*(getattr(snap, f) for f in fields), samples)


@settings(max_examples=200, deadline=None)
@given(
    target=st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9999]),
    events=st.lists(st.tuples(st.integers(0, 199), st.booleans()), max_size=300),
)
def test_figures_equal_slo_budget_tracker_bit_for_bit(target: float, events: list[tuple[int, bool]]) -> None:
    # Events in the last 200 s and windows of 60 s, 300 s and 1 h: every window edge falls where
    # the buckets are exact, so the counts, and therefore every figure, must match the peer's.
    kwargs = {"name": "a", "target": target, "window_seconds": 3600, "burn_rate_windows": (60, 300)}
    ours = SLOTracker(SLODefinition(**kwargs, alert_policies=()))  # type: ignore[arg-type]
    theirs = peer.SLOTracker(peer.SLODefinition(**kwargs))  # type: ignore[arg-type]
    for age, ok in events:
        ours.record(ok, at=T0 - age)
        theirs.record(ok, at=T0 - age)
    assert _peer_figures(ours.snapshot(at=T0)) == _peer_figures(theirs.snapshot(at=T0))
    fields = ("slo_name", "window_seconds", "burn_rate", "threshold", "success_ratio", "sample_count")
    theirs_alerts = [
        BurnRateAlert(**{f: getattr(a, f) for f in fields}) for a in theirs.check_burn_rate(at=T0)
    ]
    assert ours.check_burn_rate(at=T0) == theirs_alerts
