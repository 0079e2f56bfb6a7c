"""One "host" of the fleet route tests: forks WORKERS workers that each record EVENTS requests
into the fleet's route table (route "GET /a", every fifth a 500 taking 40 ms, the others 10 ms)
and flush them. With --preload the table is built before the fork. With --hold N a worker then
records N more it never flushes, says "ready" and waits to be killed."""

from __future__ import annotations

from burnguard import RouteTable
from burnguard.redis import RedisBackend
from tests.apps.forking import hold_unflushed, host_main


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
        hold_unflushed(hold, lambda: route.record(0.01, status=200))


if __name__ == "__main__":
    host_main(table, work)
