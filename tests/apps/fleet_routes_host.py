"""One "host" of the fleet route tests: forks WORKERS workers that each record EVENTS requests
into the fleet's route table (route "GET /a", every fifth a 500 taking 40 ms, the others 10 ms)
and flush them. With --preload the table is built before the fork. With --hold N a worker then
records N more it never flushes, says "ready" and waits to be killed."""

from __future__ import annotations

import argparse
import sys
import time

from burnguard import RouteTable
from burnguard.redis import RedisBackend
from tests.apps.forking import run_workers


def table(url: str) -> RouteTable:
    return RouteTable(shared=RedisBackend.from_url(url, flush_interval=60), name="api")


def work(url: str, preloaded: RouteTable | None, events: int, hold: int) -> None:
    t = preloaded or table(url)
    route = t.route("GET /a")
    for i in range(events):
        failed = i % 5 == 0
        route.record(0.04 if failed else 0.01, error=failed, bytes=100, status=500 if failed else 200)
    assert t.flush(), "Redis was not reached"
    if hold:
        for _ in range(hold):
            route.record(0.01, status=200)
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
    preloaded = table(args.url) if args.preload else None
    sys.exit(run_workers(args.workers, lambda: work(args.url, preloaded, args.events, args.hold)))


if __name__ == "__main__":
    main()
