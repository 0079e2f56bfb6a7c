"""The fleet backend on a real 3-node Redis Cluster: each entity's keys in one slot, one
pipelined round trip per node, exact totals, breakers and ledgers shared."""

from __future__ import annotations

from typing import Any

import pytest

from burnguard import Action, BudgetExceededError, CircuitBreaker, Ledger, SLODefinition, SLOTracker, Subject
from burnguard.redis import RedisBackend

from .redis_server import RedisClusterServers, redis_cluster

__all__ = ["redis_cluster"]


def test_slos_and_breakers_are_shared_through_a_cluster(redis_cluster: RedisClusterServers) -> None:
    hosts = [RedisBackend(redis_cluster.client(), flush_interval=60) for _ in range(2)]
    definitions = [SLODefinition(name=f"slo-{i}", target=0.99) for i in range(8)]
    trackers = [[SLOTracker(d, shared=h) for d in definitions] for h in hosts]
    breakers = [CircuitBreaker("db", shared=h, minimum_number_of_calls=5) for h in hosts]
    assert len(hosts[0]._by_node(hosts[0]._live_links())) == 3, "the entities spread over every node"
    for h in hosts:
        assert h.flush()
    for k, host_trackers in enumerate(trackers):
        for i, t in enumerate(host_trackers):
            for _ in range(10 + i):
                t.record(k == 0)
    for _ in range(5):
        with pytest.raises(ZeroDivisionError):
            breakers[0].call(lambda: 1 / 0)
    for h in [*hosts, *hosts]:
        assert h.flush()
    for i, t in enumerate(trackers[1]):
        snapshot = t.snapshot()
        assert (snapshot.total, snapshot.failures) == (2 * (10 + i), 10 + i)
    assert breakers[1].state == "OPEN"
    client: Any = redis_cluster.client()
    client.script_flush()  # on every node: loaded again by the next flush
    trackers[0][0].record(True)
    assert hosts[0].flush() and hosts[1].flush()
    assert trackers[1][0].snapshot().total == 21
    assert sum(h.flush_errors for h in hosts) == 0


def test_fleet_ledgers_work_through_a_cluster(redis_cluster: RedisClusterServers) -> None:
    subject, action = Subject(tenant="acme"), Action("llm.completion", "model")
    hosts = [RedisBackend(redis_cluster.client(), flush_interval=60) for _ in range(2)]
    ledgers = [[Ledger(shared=h, name=f"budget-{i}") for i in range(6)] for h in hosts]
    slots = {hosts[0].client_for(lg._link.sequencer.slot_key) for lg in ledgers[0] if lg._link}
    assert len(slots) > 1, "the ledgers spread over the nodes"
    for i, ledger in enumerate(ledgers[0]):
        ledger.set_budget("tenant:acme", "CREDITS", 10 + i)
    for i, ledger in enumerate(ledgers[1]):
        served = 0
        for _ in range(20 + i):
            try:
                ledger.reserve(subject, action, 1, unit="CREDITS")
                served += 1
            except BudgetExceededError:
                pass
        assert served == 10 + i
    client: Any = redis_cluster.client()
    client.script_flush()  # on every node: loaded again by the next call
    for h in hosts:
        assert h.flush()
    for i, ledger in enumerate(ledgers[0]):
        (balance,) = ledger.balances()
        assert (balance.allocated, balance.reserved) == (10 + i, 10 + i)


def test_route_tables_work_through_a_cluster(redis_cluster: RedisClusterServers) -> None:
    from burnguard import RouteTable

    tables = [
        RouteTable(shared=RedisBackend(redis_cluster.client(), flush_interval=60), name="api")
        for _ in range(2)
    ]
    for k, table in enumerate(tables):
        for _ in range(5 + k):
            table.route("GET /a").record(0.01, status=200)
    for table in [*tables, *tables]:
        assert table.flush()
    assert [t.route("GET /a").totals().requests for t in tables] == [11, 11]
