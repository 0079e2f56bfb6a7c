"""The fleet backend on a real 3-node Redis Cluster: each entity's keys in one slot, one
pipelined round trip per node, exact totals, breakers shared."""

from __future__ import annotations

from typing import Any

import pytest

from burnguard import CircuitBreaker, SLODefinition, SLOTracker
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
