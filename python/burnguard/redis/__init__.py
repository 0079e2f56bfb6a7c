"""Fleet-wide state on Redis: many hosts share SLOs, breakers, budgets and route tables, with
no round trip on the hot path (the ledger's operations aside: one each).

``SLOTracker(definition, shared="redis://host:6379/0")`` (or ``shared=RedisBackend(client)``,
or ``BURNGUARD_SHARED=redis://...`` in the environment) records locally and flushes to Redis
in the background; its snapshots, alerts and burndown read the fleet's counts.
``CircuitBreaker(name, shared=...)`` keeps one state per name for the fleet, ``Ledger(shared=...,
name=...)`` one ledger (``burnguard.redis.ledger``), ``RouteTable(shared=...)`` one table of
routes (``burnguard.redis.routes``). ``RedisBackend(client, host_arena=...)`` makes a host's
workers share their windows and tables in its arena and flush them as one writer. Needs the
``redis`` extra (``pip install "burnguard[redis]"``).
"""

from burnguard.redis.backend import URL_SCHEMES, HostShare, RedisBackend, backend_for, backend_of, is_redis
from burnguard.redis.breaker import BreakerLink
from burnguard.redis.ledger import LedgerLink, LedgerSequencer
from burnguard.redis.routes import RouteLink
from burnguard.redis.slo import SLOLink

__all__ = [
    "URL_SCHEMES",
    "BreakerLink",
    "HostShare",
    "LedgerLink",
    "LedgerSequencer",
    "RedisBackend",
    "RouteLink",
    "SLOLink",
    "backend_for",
    "backend_of",
    "is_redis",
]
