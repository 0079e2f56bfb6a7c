"""One "host" of the host-arena fleet tests: forks WORKERS workers that share one arena (the
SLO's window and the route table live there) and each record EVENTS events and requests; one
process of the host at a time flushes them to Redis (the backend's flusher, every 50 ms). A
worker says "recorded", its pid and its SLO link's writer id once done, then waits to be killed. With --preload the tracker and
table are made before the fork."""

from __future__ import annotations

import argparse
import os
import time

from burnguard import RouteTable, SLODefinition, SLOTracker
from burnguard.redis import RedisBackend
from tests.apps.forking import run_workers

DEFINITION = SLODefinition(name="api", target=0.99, window_seconds=30 * 86400)


def objects(url: str, arena: str) -> tuple[SLOTracker, RouteTable]:
    backend = RedisBackend.from_url(url, flush_interval=0.05, host_arena=arena)
    return SLOTracker(DEFINITION, shared=backend), RouteTable(shared=backend, name="api")


def work(url: str, arena: str, preloaded: tuple[SLOTracker, RouteTable] | None, events: int) -> None:
    tracker, table = preloaded or objects(url, arena)
    route = table.route("GET /a")
    for i in range(events):
        tracker.record(i % 10 != 0)
        route.record(0.01, status=200 if i % 10 else 500, error=i % 10 == 0)
    link = tracker._fleet
    assert link is not None
    os.write(1, f"recorded {os.getpid()} {link.writer}\n".encode())  # one write: lines never interleave
    time.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("arena")
    parser.add_argument("workers", type=int)
    parser.add_argument("events", type=int)
    parser.add_argument("--preload", action="store_true")
    args = parser.parse_args()
    preloaded = objects(args.url, args.arena) if args.preload else None
    run_workers(args.workers, lambda: work(args.url, args.arena, preloaded, args.events))


if __name__ == "__main__":
    main()
