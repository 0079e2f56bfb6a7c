"""Fleet-wide state on Redis: many hosts share SLOs, with no round trip on the hot path.

``SLOTracker(definition, shared="redis://host:6379/0")`` (or ``shared=RedisBackend(client)``,
or ``BURNGUARD_SHARED=redis://...`` in the environment) records locally and flushes to Redis
in the background; its snapshots, alerts and burndown read the fleet's counts.
``CircuitBreaker(name, shared=...)`` keeps one state per name for the fleet. Needs the
``redis`` extra (``pip install "burnguard[redis]"``).
"""

from burnguard.redis.backend import URL_SCHEMES, RedisBackend, backend_for, backend_of, is_redis
from burnguard.redis.breaker import BreakerLink
from burnguard.redis.slo import SLOLink

__all__ = ["URL_SCHEMES", "BreakerLink", "RedisBackend", "SLOLink", "backend_for", "backend_of", "is_redis"]
