"""A Redis backend with a host arena, on a real redis-server: every process of a host shares
the SLO's window and the route table in the arena, one of them at a time flushes them as the
host's one writer, and the fleet's figures are exact (never counted once per worker), also
after the flushing worker is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from burnguard import RouteTable, SLODefinition, SLOTracker
from burnguard.redis import RedisBackend

from .redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

ROOT = Path(__file__).parent.parent
DEFINITION = SLODefinition(name="api", target=0.99, window_seconds=30 * 86400)


def host(
    server: RedisServer, directory: Path, workers: int, events: int, *flags: str
) -> subprocess.Popen[str]:
    directory.mkdir(mode=0o700)
    errors = (directory / "stderr").open("w")  # the host's tracebacks, for a failure's message
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.apps.host_arena_host",
            server.url,
            "web",
            str(workers),
            str(events),
            *flags,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env={**os.environ, "BURNGUARD_SHARED_DIR": str(directory)},  # each host its own arena
        start_new_session=True,
    )


def fleet_figures(server: RedisServer) -> tuple[int, int, int]:
    """(SLO events, SLO failures, route requests) as the fleet has them."""
    backend = RedisBackend(server.client(), flush_interval=60)
    tracker, table = SLOTracker(DEFINITION, shared=backend), RouteTable(shared=backend, name="api")
    for _ in range(2):
        assert table.flush()
    snapshot = tracker.snapshot()
    return snapshot.total, snapshot.failures, table.route("GET /a").totals().requests


def settle(server: RedisServer, expected: tuple[int, int, int]) -> tuple[int, int, int]:
    deadline = time.monotonic() + 30
    while (seen := fleet_figures(server)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return seen


def test_each_hosts_workers_flush_as_one_writer_and_the_figures_are_exact(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    hosts = [
        host(redis_server, tmp_path / "a", 3, 400),
        host(redis_server, tmp_path / "b", 2, 300, "--preload"),
    ]
    try:
        pids: list[list[int]] = []
        writers_of: dict[str, int] = {}
        for h, workers in zip(hosts, (3, 2), strict=True):
            assert h.stdout is not None
            lines: list[list[str]] = []
            while len(lines) < workers:  # lines of several workers may interleave
                line = h.stdout.readline()
                assert line, (tmp_path / "ab"[len(pids)] / "stderr").read_text()
                lines += [line.split()] if line.startswith("recorded") else []
            pids.append([int(line[1]) for line in lines])
            writers_of.update({line[2]: int(line[1]) for line in lines})
        expected = (3 * 400 + 2 * 300, 3 * 40 + 2 * 30, 3 * 400 + 2 * 300)
        assert settle(redis_server, expected) == expected
        time.sleep(0.5)  # more flushes by every worker: still counted once
        assert fleet_figures(redis_server) == expected
        client: Any = redis_server.client()
        writers = {k.decode() for k in client.scan_iter("{burnguard:slo:api}:w:*")}
        assert len([w for w in writers if ":w:host-" in w]) == 2, "one writer per host"

        # Kill the first host's flusher: the lease (1 s) passes to another worker, which sends
        # the host's window whole, and nothing is counted twice.
        def holder(lease: Any) -> int | None:
            token = client.get(lease)
            return None if token is None else writers_of.get(token.decode())

        (lease,) = [k for k in client.scan_iter("{burnguard:slo:api}:lease:*") if holder(k) in pids[0]]
        flusher = holder(lease)
        assert flusher is not None
        os.kill(flusher, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while holder(lease) in (flusher, None):
            assert time.monotonic() < deadline, "no worker took the host's lease over"
            time.sleep(0.05)
        time.sleep(0.3)  # a few of the new flusher's flushes
        assert fleet_figures(redis_server) == expected
    finally:
        for h in hosts:
            os.killpg(h.pid, signal.SIGKILL)
            h.wait(timeout=30)


def test_a_bad_host_arena_names_the_parameter(tmp_path: Path, monkeypatch: Any) -> None:
    import pytest
    import redis

    from burnguard import InvalidArgumentError, InvalidTypeError

    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path))
    client = redis.Redis(port=1)  # never connected: the arguments are checked first
    for bad, error in [
        (5, InvalidTypeError),
        ("", InvalidArgumentError),
        ("redis://h:6379/0", InvalidArgumentError),
        ("a/b", InvalidArgumentError),
    ]:
        with pytest.raises(error) as raised:
            RedisBackend(client, host_arena=bad)  # type: ignore[arg-type]
        assert raised.value.param == "host_arena", (bad, raised.value)
    assert RedisBackend(client, host_arena="web").host is not None
