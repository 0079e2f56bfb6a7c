"""Shared fixtures: burnguard and slo-budget-tracker trackers holding the same events."""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import slo_budget_tracker as peer

import burnguard

SIZES = (10_000, 100_000, 1_000_000)
SPAN = 6 * 3600.0  # events spread over the last six hours


def events(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    now = time.time()
    at = np.sort(now - rng.uniform(0, SPAN, n))
    ok = rng.random(n) > 0.002
    return ok, at


@cache
def burnguard_tracker(n: int) -> burnguard.SLOTracker:
    t = burnguard.SLOTracker(burnguard.SLODefinition(name="api", target=0.999))
    t.record_many(*events(n))
    return t


@cache
def peer_tracker(n: int) -> peer.SLOTracker:
    t = peer.SLOTracker(peer.SLODefinition(name="api", target=0.999))
    ok, at = events(n)
    for o, ts in zip(ok.tolist(), at.tolist(), strict=True):
        t.record(o, at=ts)
    return t
