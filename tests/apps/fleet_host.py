"""One "host" of the fleet tests: forks WORKERS workers that each record EVENTS events into the
fleet's SLO (every tenth a failure) and flush them to Redis. With --preload the tracker is
built before the fork, as under gunicorn --preload. With --hold N a worker then records N
failures it never flushes, says "ready" and waits to be killed."""

from __future__ import annotations

from burnguard import SLODefinition, SLOTracker
from burnguard.redis import RedisBackend
from tests.apps.forking import hold_unflushed, host_main

DEFINITION = SLODefinition(name="api", target=0.99, window_seconds=30 * 86400)


def tracker(url: str) -> SLOTracker:
    return SLOTracker(DEFINITION, shared=RedisBackend.from_url(url, flush_interval=60))


def work(url: str, preloaded: SLOTracker | None, events: int, hold: int) -> None:
    t = preloaded or tracker(url)
    for i in range(events):
        t.record(i % 10 != 0)
    assert t.flush(), "Redis was not reached"
    if hold:
        hold_unflushed(hold, lambda: t.record(False))


if __name__ == "__main__":
    host_main(tracker, work)
