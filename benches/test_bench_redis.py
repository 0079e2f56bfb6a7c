"""The Redis backend, against a real redis-server on loopback, in one run: recording into a
fleet SLO (and a fleet route) against a local one; a guarded call through a fleet breaker against a bare call,
a local breaker and pybreaker with CircuitRedisStorage; a flush of 1,000 dirty buckets in one
round trip; and Redis commands per 1,000 requests. Each round of the loops makes 1,000 calls
(report.py subtracts the bare call's loop for the overhead)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pybreaker
import pytest
import redis

import burnguard
from burnguard.redis import RedisBackend
from tests.redis_server import RedisServer, require_redis

CALLS = 1_000
DEFINITION = burnguard.SLODefinition(name="api", target=0.999)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()
    s = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    s.start()
    yield s
    s.stop()


def _loop(call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        for _ in range(CALLS):
            call()

    return run


def _bench(benchmark: Any, run: Callable[[], None], baseline: bool = False) -> None:
    benchmark.extra_info["calls"] = CALLS
    if baseline:
        benchmark.extra_info["baseline"] = True
    benchmark(run)


RECORD = "redis: record, 1,000 events"


@pytest.mark.benchmark(group=RECORD)
def test_record_local(benchmark: Any) -> None:
    t = burnguard.SLOTracker(DEFINITION, shared=False)
    _bench(benchmark, _loop(lambda: t.record(True)))


@pytest.mark.benchmark(group=RECORD)
def test_record_fleet(benchmark: Any, server: RedisServer) -> None:
    """Flushed in the background every 250 ms meanwhile, as in production."""
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-record")
    t = burnguard.SLOTracker(DEFINITION, shared=backend)
    _bench(benchmark, _loop(lambda: t.record(True)))
    backend.close()
    assert backend.flushes > 0 and backend.flush_errors == 0


ROUTE = "redis: route record, 1,000 requests"


@pytest.mark.benchmark(group=ROUTE)
def test_route_record_local(benchmark: Any) -> None:
    route = burnguard.RouteTable(shared=False).route("GET /a")
    _bench(benchmark, _loop(lambda: route.record(0.012, status=200)))


@pytest.mark.benchmark(group=ROUTE)
def test_route_record_fleet(benchmark: Any, server: RedisServer) -> None:
    """Flushed in the background every 250 ms meanwhile, as in production."""
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-routes")
    route = burnguard.RouteTable(shared=backend).route("GET /a")
    _bench(benchmark, _loop(lambda: route.record(0.012, status=200)))
    backend.close()
    assert backend.flushes > 0 and backend.flush_errors == 0


ROUTE_FLUSH = "redis: one flush of 16 busy routes"


@pytest.mark.benchmark(group=ROUTE_FLUSH)
def test_flush_16_busy_routes(benchmark: Any, server: RedisServer) -> None:
    """Each route got 100 requests of 20 latencies since the last flush (every tier's current
    slot changed), as a busy API's table does every interval."""
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-route-flush", flush_interval=60)
    table = burnguard.RouteTable(shared=backend)
    routes = [table.route(f"GET /r{i}") for i in range(16)]

    def busy_then_flush() -> None:
        for route in routes:
            for k in range(100):
                route.record(0.001 * (1 + k % 20), status=200)
        assert backend.flush()

    benchmark(busy_then_flush)


GUARDED = "redis: guarded call, closed: 1,000 calls"


def work() -> int:
    return 1


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_bare_function(benchmark: Any) -> None:
    _bench(benchmark, _loop(work), baseline=True)


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_local_breaker(benchmark: Any) -> None:
    _bench(benchmark, _loop(burnguard.CircuitBreaker("bench", shared=False)(work)))


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_fleet_breaker(benchmark: Any, server: RedisServer) -> None:
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-breaker")
    guarded = burnguard.CircuitBreaker("bench", shared=backend)(work)
    _bench(benchmark, _loop(guarded))
    backend.close()
    assert backend.flushes > 0 and backend.flush_errors == 0


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_pybreaker_redis_storage(benchmark: Any, server: RedisServer) -> None:
    client = redis.Redis(port=server.port)
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace="bench-pybreaker")
    guarded = pybreaker.CircuitBreaker(state_storage=storage)(work)
    _bench(benchmark, _loop(guarded))


FLUSH = "redis: one flush of 1,000 dirty buckets (4 SLOs x 250)"


@pytest.mark.benchmark(group=FLUSH)
def test_flush_1000_dirty_buckets(benchmark: Any, server: RedisServer) -> None:
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-flush", flush_interval=60)
    trackers = [
        burnguard.SLOTracker(burnguard.SLODefinition(name=f"slo-{i}", target=0.999), shared=backend)
        for i in range(4)
    ]
    now = backend.clock.offset + time.time()
    width = trackers[0].resolution[0][0]
    rounds = iter(range(10**9))

    def dirty_then_flush() -> None:
        k = next(rounds)
        for t in trackers:
            for b in range(250):  # one event into each of 250 finest buckets: all dirty
                t.record(k % 2 == 0, at=now - b * width)
        assert backend.flush()

    benchmark.extra_info["buckets"] = 1_000
    benchmark(dirty_then_flush)


COMMANDS = "redis: commands per 1,000 requests"


@pytest.mark.benchmark(group=COMMANDS)
def test_redis_commands_per_1000_requests(benchmark: Any, server: RedisServer) -> None:
    """1,000 requests through an SLO and a breaker, then one flush: the commands Redis ran."""
    client = redis.Redis(port=server.port)
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-commands", flush_interval=60)
    tracker = burnguard.SLOTracker(DEFINITION, shared=backend)
    guarded = burnguard.CircuitBreaker("commands", shared=backend)(work)
    backend.flush()

    def requests() -> None:
        for _ in range(CALLS):
            guarded()
            tracker.record(True)
        backend.flush()

    client.config_resetstat()
    benchmark.pedantic(requests, rounds=5, iterations=1)
    stats = client.info("commandstats")
    sent = stats["cmdstat_evalsha"]["calls"]  # what clients sent (the rest ran inside scripts)
    inside = sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_config", "cmdstat_info")) - sent
    benchmark.extra_info["redis_commands_per_1000_requests"] = sent / 5
    benchmark.extra_info["commands_run_by_scripts_per_1000_requests"] = inside / 5
    assert sent / 5 == 2, stats  # one EVALSHA for the SLO and one for the breaker, per flush


LEDGER = "redis: ledger reserve+commit, 100 pairs"
PAIRS = 100
SUBJECT = burnguard.Subject(tenant="acme")
ACTION = burnguard.Action("llm.completion", "model")


def _pairs(ledger: burnguard.Ledger) -> Callable[[], None]:
    ledger.set_budget("tenant:acme", "CREDITS", 10**15)

    def run() -> None:
        for _ in range(PAIRS):
            held = ledger.reserve(SUBJECT, ACTION, 5, unit="CREDITS")
            ledger.commit(held.reservation_id, 3)

    return run


@pytest.mark.benchmark(group=LEDGER)
def test_ledger_pairs_in_process(benchmark: Any) -> None:
    benchmark.extra_info["calls"] = PAIRS
    benchmark(_pairs(burnguard.Ledger(shared=False)))


@pytest.mark.benchmark(group=LEDGER)
def test_ledger_pairs_fleet(benchmark: Any, server: RedisServer) -> None:
    """Two round trips a pair (one EVALSHA each), checked in Redis's command stats."""
    client = redis.Redis(port=server.port)
    backend = RedisBackend(redis.Redis(port=server.port), namespace="bench-ledger", flush_interval=60)
    run = _pairs(burnguard.Ledger(shared=backend, name="bench"))
    client.config_resetstat()
    benchmark.extra_info["calls"] = PAIRS
    benchmark.pedantic(run, rounds=30, iterations=1)
    evalsha = client.info("commandstats")["cmdstat_evalsha"]["calls"]
    benchmark.extra_info["evalsha_per_pair"] = evalsha / (30 * PAIRS)
    assert evalsha == 2 * 30 * PAIRS


@pytest.mark.benchmark(group=LEDGER)
def test_ledger_pairs_floor_two_pings(benchmark: Any, server: RedisServer) -> None:
    """The network's floor: two redis-py PINGs a pair."""
    client = redis.Redis(port=server.port)
    benchmark.extra_info["calls"] = PAIRS
    benchmark(_loop_n(client.ping, 2 * PAIRS))


def _loop_n(call: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(n):
            call()

    return run
