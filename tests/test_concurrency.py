from __future__ import annotations

import threading

import numpy as np

from burnguard import SLODefinition, SLOTracker

from .conftest import T0


def test_threads_recording_concurrently_lose_nothing() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99, window_seconds=3600, burn_rate_windows=(60,)))
    per_thread = 20_000

    def worker(k: int) -> None:
        for i in range(per_thread):
            t.record(i % 10 != k, at=T0 + (i % 600) * 0.5)

    def batch_worker() -> None:
        at = T0 + np.arange(per_thread) % 600 * 0.5
        t.record_many(np.arange(per_thread) % 10 != 9, at)  # runs without the GIL

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=batch_worker))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    snap = t.snapshot(at=T0 + 300)
    assert (snap.total, snap.failures) == (5 * per_thread, 5 * per_thread // 10)


def test_guard_counters_are_native_and_exact_across_threads() -> None:
    from burnguard import RouteGuard

    guard = RouteGuard()
    plan = guard.plan("GET", "/x")
    per_thread = 5_000

    def worker() -> None:
        for _ in range(per_thread):
            plan.rejections.count_circuit_open()
            plan.rejections.count_budget_denied()
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                guard.fault("test")

    import logging

    logging.getLogger("burnguard").disabled = True
    try:
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        logging.getLogger("burnguard").disabled = False
    rejected = guard.rejections()["GET /x"]
    assert (rejected.circuit_open, rejected.budget_denied) == (4 * per_thread, 4 * per_thread)
    assert guard.recording_errors == 4 * per_thread
    # Another plan of the same route shares the route's counters.
    assert guard.plan("GET", "/x").rejections.circuit_open == 4 * per_thread


def test_burn_transitions_are_reported_once_to_concurrent_pollers() -> None:
    t = SLOTracker(SLODefinition(name="a", target=0.99, window_seconds=3600, burn_rate_windows=(60, 600)))
    t.record_many(np.zeros(100, dtype=bool), T0 - np.arange(100) * 0.1)
    started: list[int] = []

    def poller() -> None:
        for _ in range(50):
            _, began, _ = t._core.poll_burn_rate(at=T0)
            started.extend(began)

    threads = [threading.Thread(target=poller) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(started) == [0, 1]
