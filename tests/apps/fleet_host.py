"""One "host" of the fleet tests: forks WORKERS workers that each record EVENTS events into the
fleet's SLO (every tenth a failure) and flush them to Redis. With --preload the tracker is
built before the fork, as under gunicorn --preload. With --hold N a worker then records N
failures it never flushes, says "ready" and waits to be killed."""

from __future__ import annotations

import argparse
import sys
import time

from burnguard import SLODefinition, SLOTracker
from burnguard.redis import RedisBackend
from tests.apps.forking import run_workers

DEFINITION = SLODefinition(name="api", target=0.99, window_seconds=30 * 86400)


def tracker(url: str) -> SLOTracker:
    return SLOTracker(DEFINITION, shared=RedisBackend.from_url(url, flush_interval=60))


def work(url: str, preloaded: SLOTracker | None, events: int, hold: int) -> None:
    t = preloaded or tracker(url)
    for i in range(events):
        t.record(i % 10 != 0)
    assert t.flush(), "Redis was not reached"
    if hold:
        for _ in range(hold):
            t.record(False)
        print("ready", flush=True)
        time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("workers", type=int)
    parser.add_argument("events", type=int)
    parser.add_argument("--preload", action="store_true")
    parser.add_argument("--hold", type=int, default=0)
    args = parser.parse_args()
    preloaded = tracker(args.url) if args.preload else None
    sys.exit(run_workers(args.workers, lambda: work(args.url, preloaded, args.events, args.hold)))


if __name__ == "__main__":
    main()
