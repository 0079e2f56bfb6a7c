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
