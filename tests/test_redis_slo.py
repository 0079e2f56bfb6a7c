"""SLOs shared by a fleet through a real redis-server: exact fleet totals from several hosts of
several workers, retried flushes applied once, a killed worker losing only what it had not
flushed, and Redis down, back, and restarted empty without an exception into recording."""

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

from burnguard import SLODefinition, SLOTracker
from burnguard.errors import InvalidArgumentError
from burnguard.redis import RedisBackend, scripts

from .redis_server import RedisServer, redis_server, require_redis

__all__ = ["redis_server"]

DEFINITION = SLODefinition(name="api", target=0.99, window_seconds=30 * 86400)
ROOT = Path(__file__).parent.parent


def backend(server: RedisServer, **options: Any) -> RedisBackend:
    options.setdefault("flush_interval", 60)  # flushes in these tests are explicit
    return RedisBackend(server.client(), **options)


def reader(server: RedisServer) -> SLOTracker:
    """A tracker of the fleet's SLO that records nothing: it reads what the hosts flushed."""
    t = SLOTracker(DEFINITION, shared=backend(server))
    assert t.flush()
    return t


def host(server: RedisServer, workers: int, events: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.apps.fleet_host", server.url, str(workers), str(events), *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a host's workers are
    )


def test_two_hosts_of_several_workers_give_exact_fleet_totals(redis_server: RedisServer) -> None:
    hosts = [host(redis_server, 3, 2_000), host(redis_server, 4, 1_500, "--preload")]
    assert [h.wait(timeout=120) for h in hosts] == [0, 0]
    snapshot = reader(redis_server).snapshot()
    assert snapshot.total == 3 * 2_000 + 4 * 1_500
    assert snapshot.failures == 3 * 200 + 4 * 150
    assert snapshot.burn_rate_samples[0].sample_count == snapshot.total


def test_local_recording_reads_the_fleet_after_a_flush(redis_server: RedisServer) -> None:
    a = SLOTracker(DEFINITION, shared=backend(redis_server))
    b = SLOTracker(DEFINITION, shared=backend(redis_server))
    assert a.is_shared and a.backend is not None
    for _ in range(10):
        a.record(True)
    b.record(False)
    assert a.snapshot().total == 0, "nothing flushed yet: the fleet's view is empty"
    assert a.flush() and b.flush() and a.flush()
    assert (a.snapshot().total, a.snapshot().failures) == (11, 1)
    assert (b.snapshot().total, b.snapshot().failures) == (11, 1), "b's view is from its own last flush"
    assert a.unshared == 0 and a.backend.flushes == 2 and a.backend.flush_errors == 0
    assert abs(a.backend.clock_offset) < 5, "the same host: Redis's clock is this one"


class _Recorder:
    """Stands in for a pipeline and keeps the call a flush queues, so that the same call can
    be sent to Redis twice, as a client's retry after a lost reply does."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def evalsha(self, _sha: str, *numkeys_keys_args: Any) -> None:
        self.calls.append(numkeys_keys_args)


def test_a_retried_flush_is_applied_once(redis_server: RedisServer) -> None:
    b = backend(redis_server)
    t = SLOTracker(DEFINITION, shared=b)
    for i in range(100):
        t.record(i % 4 != 0)
    link = t._fleet
    assert link is not None
    recorder = _Recorder()
    link.queue(recorder, b.clock.offset + time.time())
    client: Any = redis_server.client()
    (call,) = recorder.calls
    first = client.eval(scripts.SLO_FLUSH, *call)
    again = client.eval(scripts.SLO_FLUSH, *call)
    assert (first[2], first[3], again[2], again[3]) == (1, b"ok", 0, b"stale")
    snapshot = reader(redis_server).snapshot()
    assert (snapshot.total, snapshot.failures) == (100, 25)


def test_scripts_flushed_from_redis_are_loaded_again(redis_server: RedisServer) -> None:
    t = SLOTracker(DEFINITION, shared=backend(redis_server))
    t.record(True)
    assert t.flush()
    client: Any = redis_server.client()
    client.script_flush()
    t.record(False)
    assert t.flush()
    assert (t.snapshot().total, t.snapshot().failures) == (2, 1)
    assert t.backend is not None and t.backend.flush_errors == 0


def test_a_worker_killed_loses_only_what_it_had_not_flushed(redis_server: RedisServer) -> None:
    victim = host(redis_server, 1, 3_000, "--hold", "700")
    assert victim.stdout is not None and victim.stdout.readline().strip() == "ready"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    snapshot = reader(redis_server).snapshot()
    assert (snapshot.total, snapshot.failures) == (3_000, 300), "the 700 unflushed are lost, no more"


def test_redis_down_at_start_then_back_loses_nothing(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.stop()
    b = backend(redis_server)
    t = SLOTracker(DEFINITION, shared=b)
    with caplog.at_level(logging.WARNING, logger="burnguard.redis"):
        for i in range(50):
            t.record(i % 5 != 0)
        assert not t.flush() and not t.flush()
        assert (b.outages, b.flush_errors, b.reachable) == (1, 2, False)
        redis_server.start()
        assert t.flush()
    assert b.reachable and b.flushes == 1
    assert [r.message.split(" (")[0].split(";")[0] for r in caplog.records] == [
        "Redis is unreachable",
        "Redis is reachable again",
    ], "each outage is logged once"
    assert (t.snapshot().total, t.snapshot().failures) == (50, 10)


def test_redis_restarted_empty_is_refilled_and_reported(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    b = backend(redis_server)
    t = SLOTracker(DEFINITION, shared=b)
    for _ in range(40):
        t.record(False)
    assert t.flush()
    redis_server.stop()
    for _ in range(60):
        t.record(True)  # while Redis is down: recorded locally, no exception
    assert not t.flush()
    redis_server.start()  # empty: the fleet's counts are gone
    with caplog.at_level(logging.WARNING, logger="burnguard.redis"):
        assert t.flush() and t.flush()
    assert b.resets == 1
    assert any("was lost in Redis" in r.message for r in caplog.records)
    assert (t.snapshot().total, t.snapshot().failures) == (100, 40), "refilled from the recent buckets"


def test_a_writer_whose_keys_expired_is_not_counted_twice(redis_server: RedisServer) -> None:
    b = backend(redis_server)
    t = SLOTracker(DEFINITION, shared=b)
    for _ in range(30):
        t.record(True)
    assert t.flush()
    link = t._fleet
    assert link is not None
    client: Any = redis_server.client()
    client.delete(link._keys[2])  # as a long partition lets the writer's keys expire
    for _ in range(5):
        t.record(True)
    assert t.flush() and t.flush()
    total = reader(redis_server).snapshot().total
    assert total == 30, "the writer starts over; what it had not flushed is lost, not doubled"
    assert t.unshared == 5


def test_another_definition_under_the_same_name_is_refused(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    t = SLOTracker(DEFINITION, shared=backend(redis_server))
    t.record(True)
    assert t.flush()
    other = SLODefinition(name="api", target=0.95, window_seconds=30 * 86400)
    o = SLOTracker(other, shared=backend(redis_server))
    o.record(True)
    with caplog.at_level(logging.ERROR, logger="burnguard.redis"):
        assert o.flush()
    assert o.backend is not None and o.backend.flush_errors == 1
    assert "another definition" in caplog.text


def test_alerts_fire_and_resolve_once_for_the_fleet(redis_server: RedisServer) -> None:
    a = SLOTracker(DEFINITION, shared=backend(redis_server))
    b = SLOTracker(DEFINITION, shared=backend(redis_server))
    for _ in range(100):
        a.record(False)
    assert a.flush() and b.flush()
    fired = a.poll_alerts() + b.poll_alerts()
    assert len(fired) == 4 and {x.state for x in fired} == {"firing"}
    assert a.poll_alerts() == [] and b.poll_alerts() == []
    redis_server.stop()
    assert a.poll_alerts() == [], "unreachable: claimed in this process, which saw it fire"
    assert a.backend is not None and not a.backend.reachable


def test_shared_takes_a_url_and_the_environment(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = SLOTracker(DEFINITION, shared=redis_server.url)
    assert t.backend is not None and t.arena is None
    monkeypatch.setenv("BURNGUARD_SHARED", redis_server.url)
    env = SLOTracker(DEFINITION)
    assert env.backend is t.backend, "one backend per process and URL"
    t.record(True)
    assert env.flush() and env.snapshot().total == 1


def test_bad_backend_arguments_name_the_parameter() -> None:
    import redis

    client = redis.Redis(port=1)
    with pytest.raises(InvalidArgumentError, match="namespace"):
        RedisBackend(client, namespace="a{b}")
    with pytest.raises(InvalidArgumentError, match="flush_interval"):
        RedisBackend(client, flush_interval=0)
    with pytest.raises(InvalidArgumentError, match="flush_interval"):
        RedisBackend(client, flush_interval=float("nan"))
    with pytest.raises(TypeError, match="client"):
        RedisBackend(object())
    with pytest.raises(InvalidArgumentError, match="url"):
        RedisBackend.from_url("http://localhost")
    short = SLODefinition(
        name="short", target=0.99, window_seconds=10, burn_rate_windows=(10,), alert_policies=()
    )
    with pytest.raises(InvalidArgumentError, match="flush_interval"):
        SLOTracker(short, shared=RedisBackend(client, flush_interval=30))


def test_the_exporter_shows_the_backends_health(redis_server: RedisServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from burnguard import CircuitBreaker, SLORegistry
    from burnguard.prometheus import PrometheusExporter

    registry = SLORegistry(shared=backend(redis_server))
    tracker = registry.define(DEFINITION)
    tracker.record(True)
    tracker.record(False, at=time.time() - 7 * 86400)  # older than the finest span: stays here
    assert tracker.flush()
    breaker = CircuitBreaker("db", shared=tracker.backend)
    body, _ = PrometheusExporter(registry, breakers=[breaker]).render()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    ns = (("namespace", "burnguard"),)
    assert samples[("burnguard_fleet_flushes_total", ns)] == 1
    assert samples[("burnguard_fleet_outages_total", ns)] == 0
    assert samples[("burnguard_fleet_reachable", ns)] == 1
    assert abs(samples[("burnguard_fleet_clock_offset_seconds", ns)]) < 5
    assert samples[("burnguard_fleet_unshared_events", (("slo", "api"),))] == 1


def test_a_redis_url_in_the_environment_leaves_other_objects_per_process(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burnguard import RouteTable, SLORegistry
    from burnguard.prometheus import PrometheusExporter

    monkeypatch.setenv("BURNGUARD_SHARED", redis_server.url)
    assert RouteTable().is_shared, "route tables take the fleet's Redis"
    PrometheusExporter(SLORegistry())  # its fault counters stay per process
    with pytest.raises(InvalidArgumentError, match=r"^shared is a Redis URL"):
        PrometheusExporter(SLORegistry(), shared=redis_server.url)


def test_an_evicting_redis_is_warned_of_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    require_redis()
    server = RedisServer(tmp_path, "--maxmemory-policy", "allkeys-lru")
    server.start()
    try:
        t = SLOTracker(DEFINITION, shared=backend(server))
        with caplog.at_level(logging.WARNING, logger="burnguard.redis"):
            assert t.flush() and t.flush()
        warnings = [r.message for r in caplog.records if "maxmemory-policy is allkeys-lru" in r.message]
        assert len(warnings) == 1
    finally:
        server.stop()


def test_a_process_that_exits_flushes_first(redis_server: RedisServer) -> None:
    script = (
        "import sys\n"
        "from burnguard import SLODefinition, SLOTracker\n"
        "from burnguard.redis import RedisBackend\n"
        "d = SLODefinition(name='api', target=0.99, window_seconds=30 * 86400)\n"
        "t = SLOTracker(d, shared=RedisBackend.from_url(sys.argv[1], flush_interval=60))\n"
        "for _ in range(42):\n"
        "    t.record(False)\n"
    )
    subprocess.run([sys.executable, "-c", script, redis_server.url], cwd=ROOT, check=True, timeout=60)
    assert reader(redis_server).snapshot().failures == 42


def test_a_dropped_tracker_is_no_longer_flushed(redis_server: RedisServer) -> None:
    import gc

    b = backend(redis_server)
    kept = SLOTracker(DEFINITION, shared=b)
    for i in range(5):
        SLOTracker(SLODefinition(name=f"short-lived-{i}", target=0.99), shared=b).record(True)
    gc.collect()
    assert [link.name for link in b._live_links()] == ["api"], "links live as long as their trackers"
    kept.record(True)
    assert b.flush() and kept.snapshot().total == 1
