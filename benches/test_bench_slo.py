"""record, snapshot and check_burn_rate: burnguard against slo-budget-tracker 0.1.1 and
prometheus_client, in one run. Run: pytest benches --benchmark-group-by=group"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import slo_budget_tracker as peer
from prometheus_client import CollectorRegistry, Counter

import burnguard

from .conftest import SIZES, burnguard_tracker, peer_tracker

CALLS = 1_000


def _calls(record: Callable[[], object]) -> Callable[[], None]:
    """1,000 direct calls in a plain loop, as a request handler makes them: pytest-benchmark's
    own per-call harness (``f(*args, **kwargs)``) would add more than our call costs."""

    def run() -> None:
        for _ in range(CALLS):
            record()

    return run


@pytest.mark.benchmark(group="record: 1,000 calls")
def test_record_burnguard(benchmark) -> None:  # type: ignore[no-untyped-def]
    t = burnguard.SLOTracker(burnguard.SLODefinition(name="api", target=0.999))
    benchmark(_calls(t.record_success))
    assert t.snapshot().total > 0


@pytest.mark.benchmark(group="record: 1,000 calls")
def test_record_slo_budget_tracker(benchmark) -> None:  # type: ignore[no-untyped-def]
    t = peer.SLOTracker(peer.SLODefinition(name="api", target=0.999))
    benchmark(_calls(t.record_success))


@pytest.mark.benchmark(group="record: 1,000 calls")
def test_record_prometheus_counter_inc(benchmark) -> None:  # type: ignore[no-untyped-def]
    counter = Counter("requests", "Requests.", registry=CollectorRegistry())
    benchmark(_calls(counter.inc))


@pytest.mark.benchmark(group="record: 1,000 calls")
def test_record_burnguard_shared(benchmark, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Into an SLO kept in a shared-memory arena, as every worker of a host records."""
    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path / "arenas"))
    t = burnguard.SLOTracker(burnguard.SLODefinition(name="api", target=0.999), shared="bench")
    benchmark(_calls(t.record_success))
    assert t.is_shared and t.snapshot().total > 0


@pytest.mark.benchmark(group="record: 1,000 calls")
def test_record_prometheus_multiprocess_counter_inc(benchmark, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """prometheus_client's multiprocess mode: one mmapped file per process and metric type."""
    from prometheus_client import values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
    counter = Counter("requests", "Requests.", registry=CollectorRegistry())
    benchmark(_calls(counter.inc))


@pytest.mark.parametrize("n", SIZES)
def test_snapshot_burnguard(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"snapshot {n:,} events"
    assert benchmark(burnguard_tracker(n).snapshot).total == n


@pytest.mark.parametrize("n", SIZES)
def test_snapshot_slo_budget_tracker(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"snapshot {n:,} events"
    t = peer_tracker(n)
    assert benchmark.pedantic(t.snapshot, rounds=5, iterations=1, warmup_rounds=1).total == n


@pytest.mark.parametrize("n", SIZES)
def test_check_burn_rate_burnguard(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"check_burn_rate {n:,} events"
    benchmark(burnguard_tracker(n).check_burn_rate)


@pytest.mark.parametrize("n", SIZES)
def test_check_burn_rate_slo_budget_tracker(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"check_burn_rate {n:,} events"
    benchmark.pedantic(peer_tracker(n).check_burn_rate, rounds=5, iterations=1, warmup_rounds=1)
