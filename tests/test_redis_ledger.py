"""A ledger shared by a fleet through a real redis-server: a budget of 100 serves exactly 100
across hosts of several workers, replays and holds cross hosts, a lost reply retried appends
once, expired holds of a killed host are swept by the lease holder, the journal compacts, and
Redis down, restarted empty or restarted behind neither overspends nor wedges."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from burnguard import (
    Action,
    BudgetExceededError,
    InvalidArgumentError,
    Ledger,
    LedgerUnavailableError,
    SharedLedgerError,
    Subject,
    guard,
)
from burnguard.redis import RedisBackend
from burnguard.redis import ledger as fleet_ledger

from .redis_server import RedisServer, redis_server

__all__ = ["redis_server"]

ROOT = Path(__file__).parent.parent
SUBJECT = Subject(tenant="acme")
ACTION = Action("llm.completion", "model")
META = "{burnguard:ledger:budget}:meta"
JOURNAL = "{burnguard:ledger:budget}:journal"


def host_ledger(server: RedisServer, client: Any = None, **options: Any) -> Ledger:
    """One host's handle on the fleet's ledger "budget" (its own backend, as a host has)."""
    backend = RedisBackend(client or server.client(), flush_interval=60)  # upkeep is explicit
    return Ledger(shared=backend, name="budget", **options)


def reserved_and_spent(ledger: Ledger) -> tuple[int, int]:
    (balance,) = ledger.balances("tenant:acme")
    return balance.reserved, balance.spent


def host(server: RedisServer, workers: int, attempts: int, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.apps.fleet_ledger_host",
            server.url,
            str(workers),
            str(attempts),
            *flags,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a host's workers are
    )


def test_a_budget_of_100_serves_exactly_100_across_hosts_of_several_workers(
    redis_server: RedisServer,
) -> None:
    host_ledger(redis_server).set_budget("tenant:acme", "CREDITS", 100)
    hosts = [host(redis_server, 3, 40), host(redis_server, 4, 40, "--preload")]
    outputs = [h.communicate(timeout=180)[0] for h in hosts]
    assert [h.returncode for h in hosts] == [0, 0], outputs
    served = [int(line.split()[1]) for out in outputs for line in out.splitlines()]
    assert len(served) == 7 and sum(served) == 100
    ledger = host_ledger(redis_server)
    assert reserved_and_spent(ledger) == (0, 100)
    assert ledger.audit() is None


def test_redis_killed_and_restarted_empty_mid_load_never_overspends(redis_server: RedisServer) -> None:
    host_ledger(redis_server).set_budget("tenant:acme", "CREDITS", 150)
    hosts = [
        host(redis_server, 3, 100, "--pace", "0.03"),
        host(redis_server, 3, 100, "--pace", "0.03", "--preload"),
    ]
    for h in hosts:  # every worker holds the fleet's history (what reseeds a Redis come back empty)
        assert h.stdout is not None
        assert [h.stdout.readline().strip() for _ in range(3)] == ["up"] * 3
    time.sleep(0.3)
    redis_server.stop()  # SIGKILL: no persistence, it comes back empty
    time.sleep(0.5)
    redis_server.start()
    outputs = [h.communicate(timeout=180)[0] for h in hosts]
    assert [h.returncode for h in hosts] == [0, 0], outputs  # no exception reached a call
    counts = [c for out in outputs for c in re.findall(r"served (\d+) (\d+)", out)]  # lines may interleave
    assert len(counts) == 6, outputs
    served, uncommitted = (sum(int(c[i]) for c in counts) for i in (0, 1))
    time.sleep(0.3)
    ledger = host_ledger(redis_server)
    reserved, spent = reserved_and_spent(ledger)
    # Never overspent, and every call served is charged or held (none lost with Redis's data);
    # at most one call in flight per worker when Redis died was lost to the budget.
    assert served <= 150 and reserved + spent <= 150
    assert reserved + spent >= served >= 150 - 6
    assert reserved <= uncommitted + 6
    assert ledger.audit() is None


def test_holds_replays_and_commits_cross_hosts(redis_server: RedisServer) -> None:
    a, b = host_ledger(redis_server), host_ledger(redis_server)
    assert a.is_shared and a.fleet and not a.shared
    a.set_budget("tenant:acme", "CREDITS", 100)
    held = b.reserve(SUBJECT, ACTION, 60, unit="CREDITS", idempotency_key="k")
    with pytest.raises(BudgetExceededError):
        a.reserve(SUBJECT, ACTION, 50, unit="CREDITS")
    assert a.reserve(SUBJECT, ACTION, 60, unit="CREDITS", idempotency_key="k") == held
    a.commit(held.reservation_id, 30)
    assert reserved_and_spent(b) == (0, 30)
    b.set_budget("tenant:acme", "CREDITS", 100)  # a host starting never refills the budget
    assert reserved_and_spent(a) == (0, 30)
    assert [r.reservation_id for r in b.reservations()] == [held.reservation_id]
    assert a.decide(SUBJECT, ACTION, 80, unit="CREDITS").decision.value == "DENY"


class LosingFirstReply:
    """A redis-py client whose first script reply is lost after Redis ran the script, as a
    timeout after the write would lose it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def evalsha(self, *args: Any) -> Any:
        reply = self._client.evalsha(*args)
        if self.lost == 0:
            self.lost += 1
            raise redis.ConnectionError("reply lost")
        return reply


def test_a_lost_reply_retried_appends_the_operation_once(redis_server: RedisServer) -> None:
    client = LosingFirstReply(redis_server.client())
    ledger = host_ledger(redis_server, client)
    ledger.set_budget("tenant:acme", "CREDITS", 100)  # its reply is the one lost
    ledger.reserve(SUBJECT, ACTION, 10, unit="CREDITS")
    assert client.lost == 1
    raw: Any = redis_server.client()
    assert raw.llen(JOURNAL) == 2
    assert reserved_and_spent(host_ledger(redis_server)) == (10, 0)


def test_redis_down_fails_closed_or_lets_guard_run_unguarded(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_ledger, "SETTLE_MS", 200)

    # redis-py's default retries back off for seconds before an outage is found; fewer here.
    def client() -> Any:
        return redis.Redis(port=redis_server.port, socket_timeout=2, retry=Retry(NoBackoff(), 1))

    closed = host_ledger(redis_server, client())
    opened = host_ledger(redis_server, client(), on_unavailable="allow")
    closed.set_budget("tenant:acme", "CREDITS", 100)

    def paid(ledger: Ledger) -> Any:
        return guard(ledger, 5, unit="CREDITS", tenant="acme")(lambda: "ran")

    assert paid(closed)() == "ran"
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="burnguard.redis"):
        with pytest.raises(LedgerUnavailableError, match="not reached"):
            closed.reserve(SUBJECT, ACTION, 1, unit="CREDITS")
        with pytest.raises(LedgerUnavailableError):
            paid(closed)()
        assert paid(opened)() == "ran" and paid(opened)() == "ran"
    assert opened.unguarded_calls == 2 and closed.unguarded_calls == 0
    outage_logs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outage_logs) == 2, "each host's backend logs the outage once"
    # Redis comes back empty: once each host's next flush reaches it, their copies seed it;
    # nothing was spent while it was down.
    redis_server.start()
    with pytest.raises(LedgerUnavailableError):
        closed.balances()  # until then, operations fail at once
    for ledger in (closed, opened):
        assert ledger._link is not None
        ledger._link.sequencer._backend.flush()
    assert reserved_and_spent(closed) == (0, 5)
    assert reserved_and_spent(opened) == (0, 5)
    assert paid(opened)() == "ran"  # its writes wait for the seed to settle, then go on
    assert reserved_and_spent(closed) == (0, 10)


def test_redis_restarted_empty_is_seeded_from_the_longest_history(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_ledger, "SETTLE_MS", 200)
    ahead, behind = host_ledger(redis_server), host_ledger(redis_server)
    ahead.set_budget("tenant:acme", "CREDITS", 100)
    ahead.reserve(SUBJECT, ACTION, 10, unit="CREDITS")
    assert reserved_and_spent(behind) == (10, 0)
    ahead.reserve(SUBJECT, ACTION, 20, unit="CREDITS")  # not yet seen by the other host
    redis_server.stop()
    redis_server.start()
    assert reserved_and_spent(behind) == (10, 0)  # it seeds first, from its shorter copy
    assert reserved_and_spent(ahead) == (30, 0)  # the longer history replaces that seed
    assert reserved_and_spent(behind) == (30, 0)
    behind.reserve(SUBJECT, ACTION, 1, unit="CREDITS")  # waits for the seed to settle
    assert reserved_and_spent(ahead) == (31, 0)
    assert ahead.losses == 0 and behind.losses == 0
    assert ahead.audit() is None


def test_a_redis_that_comes_back_behind_is_followed_and_the_loss_counted(redis_server: RedisServer) -> None:
    a, b = host_ledger(redis_server), host_ledger(redis_server)
    a.set_budget("tenant:acme", "CREDITS", 100)
    a.reserve(SUBJECT, ACTION, 10, unit="CREDITS")
    assert reserved_and_spent(b) == (10, 0)
    a.reserve(SUBJECT, ACTION, 20, unit="CREDITS")
    # As a failover to a replica one write behind: the last entry is gone.
    raw: Any = redis_server.client()
    raw.rpop(JOURNAL)
    raw.hincrby(META, "head", -1)
    b.reserve(SUBJECT, ACTION, 1, unit="CREDITS")  # takes the lost entry's number
    assert reserved_and_spent(a) == (11, 0)
    assert a.losses == 1 and b.losses == 0
    assert a.audit() is None


def test_a_killed_hosts_holds_are_swept_by_the_lease_holder(redis_server: RedisServer) -> None:
    sweeper = host_ledger(redis_server)
    sweeper.set_budget("tenant:acme", "CREDITS", 100)
    holder = host(redis_server, 1, 0, "--hold", "30")
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert reserved_and_spent(sweeper) == (30, 0)
    time.sleep(1.2)  # the hold's TTL is 1 s
    assert reserved_and_spent(sweeper) == (30, 0), "a read expires nothing"
    backend = sweeper._link.sequencer._backend  # type: ignore[union-attr]
    backend.flush()
    assert sweeper._link.sweeps == 1  # type: ignore[union-attr]
    assert reserved_and_spent(host_ledger(redis_server)) == (0, 0)
    (expired,) = sweeper.reservations("EXPIRED")
    assert expired.reserved.amount == 30


def test_the_journal_is_compacted_and_a_new_host_starts_from_the_snapshot(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_ledger, "COMPACT_BYTES", 0)
    ledger = host_ledger(redis_server)
    ledger.set_budget("tenant:acme", "CREDITS", 1_000)
    for _ in range(20):
        ledger.commit(ledger.reserve(SUBJECT, ACTION, 3, unit="CREDITS").reservation_id, 2)
    raw: Any = redis_server.client()
    assert raw.llen(JOURNAL) == 41
    ledger._link.sequencer._backend.flush()  # type: ignore[union-attr]
    assert raw.llen(JOURNAL) == 0 and int(raw.hget(META, "base")) == 41
    late = host_ledger(redis_server)
    assert reserved_and_spent(late) == (0, 40)
    late.reserve(SUBJECT, ACTION, 7, unit="CREDITS")
    assert reserved_and_spent(ledger) == (7, 40)
    assert ledger.audit() is None and late.audit() is None


def test_another_retention_under_the_same_name_is_refused(redis_server: RedisServer) -> None:
    host_ledger(redis_server).set_budget("tenant:acme", "CREDITS", 100)
    other = host_ledger(redis_server, retention_seconds=600)
    with pytest.raises(SharedLedgerError, match="another retention") as raised:
        other.balances()
    assert not isinstance(raised.value, LedgerUnavailableError)


def test_shared_takes_a_url_and_the_environment(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger(shared=redis_server.url, name="budget").set_budget("tenant:acme", "CREDITS", 100)
    monkeypatch.setenv("BURNGUARD_SHARED", redis_server.url)
    from_environment = Ledger(name="budget")
    assert from_environment.fleet
    assert reserved_and_spent(from_environment) == (0, 0)
    assert not Ledger(shared=False).is_shared


def test_bad_arguments_name_the_parameter(redis_server: RedisServer) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^on_unavailable") as raised:
        host_ledger(redis_server, on_unavailable="maybe")
    assert raised.value.param == "on_unavailable"
    with pytest.raises(InvalidArgumentError, match=r"^name"):
        Ledger(shared=redis_server.url, name="")


def test_the_exporter_shows_the_fleet_ledgers_progress(redis_server: RedisServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from burnguard import SLORegistry
    from burnguard.prometheus import PrometheusExporter

    ledger = host_ledger(redis_server)
    ledger.set_budget("tenant:acme", "CREDITS", 100)
    ledger.reserve(SUBJECT, ACTION, 10, unit="CREDITS")
    body, _ = PrometheusExporter(SLORegistry(), ledgers=[ledger]).render()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    assert samples[("burnguard_fleet_ledger_entries", (("ledger", "budget"),))] == 2
    assert samples[("burnguard_fleet_ledger_losses_total", (("ledger", "budget"),))] == 0
    assert samples[("burnguard_fleet_ledger_unguarded_calls_total", (("ledger", "budget"),))] == 0
    assert samples[("burnguard_fleet_reachable", (("namespace", "burnguard"),))] == 1
    assert samples[("burnguard_budget_reserved", (("scope", "tenant:acme"), ("unit", "CREDITS")))] == 10


class RecordingThreads:
    """A redis-py client that notes the thread of every script call."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.threads: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def evalsha(self, *args: Any) -> Any:
        self.threads.add(threading.get_ident())
        return self._client.evalsha(*args)


def test_async_guarded_calls_and_streams_reach_redis_off_the_event_loop(redis_server: RedisServer) -> None:
    client = RecordingThreads(redis_server.client())
    ledger = host_ledger(redis_server, client)
    ledger.set_budget("tenant:acme", "CREDITS", 100)

    @guard(ledger, 5, unit="CREDITS", tenant="acme")
    async def paid() -> int:
        return threading.get_ident()

    async def main() -> tuple[int, int]:
        client.threads.clear()
        ran_on = await paid()
        async with ledger.stream(SUBJECT, ACTION, 5, unit="CREDITS") as s:
            s.add(3)
        return threading.get_ident(), ran_on

    loop_thread, ran_on = asyncio.run(main())
    assert ran_on == loop_thread, "the guarded work itself runs on the loop"
    assert client.threads and loop_thread not in client.threads, "the round trips do not"
    assert reserved_and_spent(ledger) == (0, 8)


def test_an_asyncio_client_is_taken_as_a_sync_twin_of_its_settings(redis_server: RedisServer) -> None:
    import redis.asyncio

    from burnguard import SLODefinition, SLOTracker

    backend = RedisBackend(redis.asyncio.Redis(port=redis_server.port, db=3), flush_interval=60)
    tracker = SLOTracker(SLODefinition(name="async-app", target=0.99), shared=backend)
    tracker.record(True)
    assert tracker.flush()
    ledger = Ledger(shared=backend, name="budget")
    ledger.set_budget("tenant:acme", "CREDITS", 100)
    raw: Any = redis.Redis(port=redis_server.port, db=3)
    assert raw.exists(META) and raw.dbsize() > 2, "the twin writes to the asyncio client's database"
    cluster = redis.asyncio.RedisCluster(host="127.0.0.1", port=redis_server.port)
    with pytest.raises(TypeError, match="sync redis-py client for a cluster"):
        RedisBackend(cluster)


def test_route_guards_answer_503_or_let_requests_through_while_redis_is_down(
    redis_server: RedisServer,
) -> None:
    from burnguard import RouteBudget, RouteGuard

    def client() -> Any:
        return redis.Redis(port=redis_server.port, socket_timeout=2, retry=Retry(NoBackoff(), 1))

    closed = host_ledger(redis_server, client())
    opened = host_ledger(redis_server, client(), on_unavailable="allow")
    closed.set_budget("tenant:acme", "CREDITS", 100)
    guards = [RouteGuard(budgets={"*": RouteBudget(ledger, SUBJECT)}) for ledger in (closed, opened)]
    plans = [g.plan("GET", "/a") for g in guards]
    assert all(isinstance(g.admit(p), tuple) for g, p in zip(guards, plans, strict=True))
    redis_server.stop()
    refused = guards[0].admit(plans[0])
    assert getattr(refused, "status", None) == 503 and ("retry-after", "1") in refused.headers  # type: ignore[union-attr]
    assert guards[1].admit(plans[1]) == (None, None) and opened.unguarded_calls == 1
    assert guards[0].recording_errors == 0, "an outage is an answer, not a fault"
