"""Route tables shared by a fleet through a real redis-server: the fleet's summaries, totals
and histograms equal one table that saw every request, from hosts of several workers; a
resent flush adds nothing twice; a worker killed loses only what it had not flushed; Redis
restarted empty is refilled from the hosts' figures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from burnguard import RouteTable
from burnguard.redis import RedisBackend

from .redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

ROOT = Path(__file__).parent.parent
NOW = time.time()


def fleet_table(server: RedisServer, **options: Any) -> RouteTable:
    return RouteTable(shared=RedisBackend(server.client(), flush_interval=60), name="api", **options)


def host(server: RedisServer, workers: int, events: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.apps.fleet_routes_host", server.url, str(workers), str(events), *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def record(table: RouteTable, key: str, n: int, seconds: float, status: int, offset: float = 0.0) -> None:
    route = table.route(key)
    for i in range(n):
        route.record(seconds * (1 + i % 7), error=status >= 500, bytes=i, status=status, at=NOW - offset - i)


def test_the_fleets_figures_equal_one_table_that_saw_every_request(redis_server: RedisServer) -> None:
    hosts = [fleet_table(redis_server) for _ in range(3)]
    alone = RouteTable()
    for k, (table, status) in enumerate(zip(hosts, (200, 500, 404), strict=True)):
        for t in (table, alone):
            record(t, "GET /a", 40 + k, 0.003 * (k + 1), status, offset=k * 30)
            record(t, f"GET /only-{k}", 5, 0.2, 200)
    for _ in range(3):  # a route another host opened shows at a host's second flush after it
        for table in hosts:
            assert table.flush()
    for table in hosts:
        assert table.keys() == alone.keys()
        for fleet, one in zip(table.stats(), alone.stats(), strict=True):
            for window in (60.0, 900.0, 3_600.0, 86_400.0):
                assert fleet.summary(window, at=NOW) == one.summary(window, at=NOW), (fleet.key, window)
            assert fleet.totals() == one.totals()
            assert fleet.histogram([0.005, 0.05, 1.0]) == one.histogram([0.005, 0.05, 1.0])
            assert fleet.first_seen == one.first_seen


def test_a_flush_resent_adds_nothing_twice(redis_server: RedisServer) -> None:
    table = fleet_table(redis_server)
    record(table, "GET /a", 30, 0.01, 200)
    assert table.flush()
    assert table._link is not None
    table._link.failed()  # as after a lost reply: everything is sent again
    assert table.flush() and table.flush()
    assert table.route("GET /a").totals().requests == 30
    assert table.route("GET /a").summary(900.0, at=NOW).requests == 30


def test_two_hosts_of_several_workers_give_exact_fleet_totals(redis_server: RedisServer) -> None:
    hosts = [host(redis_server, 3, 200), host(redis_server, 2, 300, "--preload")]
    assert [h.wait(timeout=120) for h in hosts] == [0, 0]
    reader = fleet_table(redis_server)
    assert reader.flush() and reader.flush()
    (stats,) = reader.stats()
    totals = stats.totals()
    assert totals.requests == 3 * 200 + 2 * 300
    assert totals.requests_by_class["5xx"] == totals.errors == (3 * 200 + 2 * 300) // 5
    summary = stats.summary(900.0)
    assert summary.requests == 1_200 and summary.bytes == 120_000
    assert abs(summary.p99 - 0.04) < 0.04 * 0.02 and abs(summary.p50 - 0.01) < 0.01 * 0.02


def test_a_worker_killed_loses_only_what_it_had_not_flushed(redis_server: RedisServer) -> None:
    holder = host(redis_server, 1, 100, "--hold", "70")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    reader = fleet_table(redis_server)
    assert reader.flush() and reader.flush()
    assert reader.route("GET /a").totals().requests == 100


def test_redis_restarted_empty_is_refilled_from_the_hosts(redis_server: RedisServer) -> None:
    table = fleet_table(redis_server)
    record(table, "GET /a", 25, 0.01, 200)
    assert table.flush()
    redis_server.stop()
    record(table, "GET /a", 5, 0.01, 200)  # recorded while Redis is down
    assert not table.flush()
    redis_server.start()
    for _ in range(3):  # reached again, told the fleet's data is new, everything resent
        table.flush()
    assert table.route("GET /a").totals().requests == 30
    assert table.route("GET /a").summary(900.0, at=NOW).requests == 30


def test_tables_of_other_options_are_kept_apart(redis_server: RedisServer) -> None:
    short, long = fleet_table(redis_server, retain_seconds=86_400.0), fleet_table(redis_server)
    record(short, "GET /a", 3, 0.01, 200)
    record(long, "GET /a", 4, 0.01, 200)
    for t in (short, long, short, long):
        assert t.flush()
    assert short.route("GET /a").totals().requests == 3
    assert long.route("GET /a").totals().requests == 4


def test_the_exporter_shows_the_fleets_routes(redis_server: RedisServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from burnguard import SLORegistry
    from burnguard.prometheus import PrometheusExporter

    mine, other = fleet_table(redis_server), fleet_table(redis_server)
    record(mine, "GET /a", 10, 0.01, 200)
    record(other, "GET /a", 7, 0.01, 503)
    for t in (mine, other, mine):
        assert t.flush()
    body, _ = PrometheusExporter(SLORegistry(), routes=mine).render()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert samples[("burnguard_http_requests_total", (("code_class", "2xx"), ("route", "GET /a")))] == 10
    assert samples[("burnguard_http_requests_total", (("code_class", "5xx"), ("route", "GET /a")))] == 7
    assert samples[("burnguard_fleet_reachable", (("namespace", "burnguard"),))] == 1


def test_a_process_that_exits_flushes_its_routes_first(redis_server: RedisServer) -> None:
    script = (
        "import sys\n"
        "from burnguard import RouteTable\n"
        "from burnguard.redis import RedisBackend\n"
        "t = RouteTable(shared=RedisBackend.from_url(sys.argv[1], flush_interval=60), name='api')\n"
        "for _ in range(9):\n"
        "    t.route('GET /a').record(0.01, status=200)\n"
    )
    subprocess.run([sys.executable, "-c", script, redis_server.url], check=True, cwd=ROOT, timeout=60)
    reader = fleet_table(redis_server)
    assert reader.flush() and reader.flush()
    assert reader.route("GET /a").totals().requests == 9
