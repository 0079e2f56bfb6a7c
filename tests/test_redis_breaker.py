"""Circuit breakers shared by a fleet through a real redis-server: opened by one host, they
reject on every host after one sync; the hosts' windows sum to trip the fleet; HALF_OPEN
probes are leased to one host at a time, also when the holder is killed; Redis down leaves
each host deciding alone."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from burnguard import CircuitBreaker
from burnguard.errors import CircuitOpenError
from burnguard.redis import RedisBackend

from .redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

ROOT = Path(__file__).parent.parent
OPTIONS: dict[str, Any] = {
    "minimum_number_of_calls": 10,
    "sliding_window_size": 20,
    "wait_duration_in_open_state": 0.3,
    "permitted_number_of_calls_in_half_open_state": 2,
}


def hosts(server: RedisServer, n: int, **options: Any) -> list[CircuitBreaker]:
    """``n`` hosts' breakers of one name, each with its own client; syncs are explicit."""
    merged = {**OPTIONS, **options}
    return [
        CircuitBreaker("db", shared=RedisBackend(server.client(), flush_interval=60), **merged)
        for _ in range(n)
    ]


def sync(*breakers: CircuitBreaker) -> None:
    for b in breakers:
        assert b.backend is not None and b.backend.flush()


def fail() -> None:
    raise RuntimeError("down")


def outcomes(breaker: CircuitBreaker, failures: int, successes: int = 0) -> None:
    for _ in range(failures):
        with pytest.raises(RuntimeError):
            breaker.call(fail)
    for _ in range(successes):
        breaker.call(lambda: None)


def admitted(breaker: CircuitBreaker, tries: int) -> int:
    n = 0
    for _ in range(tries):
        try:
            breaker.call(lambda: None)
            n += 1
        except CircuitOpenError:
            pass
    return n


def test_a_breaker_opened_by_one_host_rejects_on_every_host(redis_server: RedisServer) -> None:
    a, b, c = hosts(redis_server, 3)
    assert a.is_shared and a.backend is not None
    sync(a, b, c)
    outcomes(a, 10)
    assert (a.state, b.state) == ("OPEN", "CLOSED")
    sync(a, b, c)
    assert (b.state, c.state) == ("OPEN", "OPEN")
    assert admitted(b, 5) == 0 and admitted(c, 5) == 0


def test_the_hosts_windows_sum_to_trip_the_fleet(redis_server: RedisServer) -> None:
    breakers = hosts(redis_server, 3)
    sync(*breakers)
    for b in breakers:
        outcomes(b, 3, 1)  # 4 calls each: under the minimum of 10 on every host
    assert {b.state for b in breakers} == {"CLOSED"}
    sync(*breakers)  # the third host's sync sees 12 calls, 9 failed: 75 % >= 50 %
    sync(*breakers)
    assert {b.state for b in breakers} == {"OPEN"}


def test_half_open_probes_are_leased_to_one_host_at_a_time(redis_server: RedisServer) -> None:
    breakers = hosts(redis_server, 3)
    sync(*breakers)
    outcomes(breakers[0], 10)
    sync(*breakers)
    time.sleep(0.35)  # the OPEN wait is over (by Redis's clock and this host's)
    assert sum(admitted(b, 5) for b in breakers) == 0, "no probe before a lease"
    sync(*breakers)
    sync(*breakers)
    assert {b.state for b in breakers} == {"HALF_OPEN"}
    probes = [admitted(b, 2) for b in breakers]
    assert sum(probes) == 2 and probes.count(2) == 1, f"the fleet admits 2 probes, {probes}"
    others = [b for b, n in zip(breakers, probes, strict=True) if n == 0]
    assert sum(admitted(b, 3) for b in others) == 0
    sync(*breakers)  # the holder's probes succeeded: it closed, and the fleet with it
    sync(*breakers)
    assert {b.state for b in breakers} == {"CLOSED"}
    assert all(admitted(b, 3) == 3 for b in breakers)


def test_a_killed_probe_holder_does_not_hold_the_fleet_half_open(redis_server: RedisServer) -> None:
    options = {**OPTIONS, "max_wait_duration_in_half_open_state": 0.5}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, redis_server.url, repr(options)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    (other,) = hosts(redis_server, 1, max_wait_duration_in_half_open_state=0.5)
    sync(other)
    assert other.state == "HALF_OPEN" and admitted(other, 3) == 0, "the dead host's lease holds"
    time.sleep(0.55)
    sync(other)
    assert other.state == "OPEN", "the lease ran out: the fleet reopened, one backoff level up"
    time.sleep(0.35)
    assert admitted(other, 1) == 0
    sync(other)
    assert other.state == "HALF_OPEN" and admitted(other, 2) == 2, "this host holds the lease now"
    assert other.state == "CLOSED"


_HOLDER = """
import sys, time
from burnguard import CircuitBreaker
from burnguard.redis import RedisBackend
options = eval(sys.argv[2])
b = CircuitBreaker("db", shared=RedisBackend.from_url(sys.argv[1], flush_interval=60), **options)
b.backend.flush()
for _ in range(10):
    try:
        b.call(lambda: 1 / 0)
    except ZeroDivisionError:
        pass
b.backend.flush()
time.sleep(0.35)
try:
    b.call(lambda: None)
except Exception:
    pass
b.backend.flush()
b.backend.flush()
permit = b.acquire()  # a probe under way when the host dies
print("holding", flush=True)
time.sleep(3600)
"""


def test_a_manual_move_is_the_fleets(redis_server: RedisServer) -> None:
    a, b = hosts(redis_server, 2)
    sync(a, b)
    assert a.force_open()
    sync(a, b)
    assert b.state == "FORCED_OPEN" and admitted(b, 2) == 0
    b.reset()
    sync(b, a)
    assert (a.state, b.state) == ("CLOSED", "CLOSED")


def test_with_redis_down_each_host_decides_alone(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = hosts(redis_server, 2)
    sync(a, b)
    outcomes(a, 10)
    sync(a, b)
    redis_server.stop()
    time.sleep(0.35)
    with caplog.at_level(logging.WARNING, logger="burnguard.redis"):
        assert b.backend is not None and not b.backend.flush()
    assert admitted(b, 5) == 5, "unreachable: b takes its own probes, which close it"
    assert (a.state, b.state) == ("OPEN", "CLOSED")
    redis_server.start()  # empty: the fleet's state is CLOSED again
    sync(a, b)
    sync(a, b)
    assert (a.state, b.state) == ("CLOSED", "CLOSED")


def test_another_configuration_under_the_same_name_is_refused(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    (a,) = hosts(redis_server, 1)
    sync(a)
    (other,) = hosts(redis_server, 1, failure_rate_threshold=20.0)
    with caplog.at_level(logging.ERROR, logger="burnguard.redis"):
        assert other.backend is not None and other.backend.flush()
    assert other.backend.flush_errors == 1 and "another configuration" in caplog.text
