"""Memory held as events grow: tracemalloc around recording n events. Reported in extra_info
(bytes); the timing is the cost of recording the n events."""

from __future__ import annotations

import tracemalloc

import pytest
import slo_budget_tracker as peer

import burnguard

from .conftest import SIZES, events


def _held_bytes(build) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = build()
        held = tracemalloc.get_traced_memory()[0] - before
        del keep
        return held
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("n", SIZES)
def test_memory_burnguard(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "memory (extra_info)"
    ok, at = events(n)
    definition = burnguard.SLODefinition(name="api", target=0.999)

    def build() -> burnguard.SLOTracker:
        t = burnguard.SLOTracker(definition)
        t.record_many(ok, at)
        return t

    tracker = benchmark.pedantic(build, rounds=3, iterations=1)
    benchmark.extra_info["events"] = n
    benchmark.extra_info["python_heap_bytes"] = _held_bytes(build)
    benchmark.extra_info["native_bytes"] = tracker.memory_bytes


@pytest.mark.parametrize("n", SIZES)
def test_memory_slo_budget_tracker(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "memory (extra_info)"
    ok, at = events(n)
    pairs = list(zip(ok.tolist(), at.tolist(), strict=True))
    definition = peer.SLODefinition(name="api", target=0.999)

    def build() -> peer.SLOTracker:
        t = peer.SLOTracker(definition)
        for o, ts in pairs:
            t.record(o, at=ts)
        return t

    benchmark.pedantic(build, rounds=1, iterations=1)
    benchmark.extra_info["events"] = n
    benchmark.extra_info["python_heap_bytes"] = _held_bytes(build)
    benchmark.extra_info["native_bytes"] = 0
