"""One "host" of the fleet route tests: forks WORKERS workers that each record EVENTS requests
into the fleet's route table (route "GET /a", every fifth a 500 taking 40 ms, the others 10 ms)
and flush them. With --preload the table is built before the fork. With --hold N a worker then
records N more it never flushes, says "ready" and waits to be killed."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

from burnguard import RouteTable
from burnguard.redis import RedisBackend


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
    pids = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work(args.url, preloaded, args.events, args.hold)
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    failed = [pid for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
