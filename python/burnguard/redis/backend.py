"""The Redis backend: a background flusher per process, with Redis's clock as the fleet's."""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, cast

from burnguard import _native
from burnguard._check import checked
from burnguard.errors import InvalidArgumentError, invalid, wrong_type
from burnguard.redis.breaker import BreakerLink
from burnguard.redis.ledger import FleetLedger, LedgerLink, LedgerSequencer
from burnguard.redis.routes import RouteLink
from burnguard.redis.scripts import is_response_error
from burnguard.redis.slo import SLOLink
from burnguard.shared import REDIS_SCHEMES, Arena, arena_of

if TYPE_CHECKING:
    from burnguard._native import BreakerCore, RouteTableCore
    from burnguard.slo.models import SLODefinition

_Pipelined = SLOLink | BreakerLink | RouteLink  # synced in the flush's pipeline
_Link = _Pipelined | LedgerLink

_log = logging.getLogger("burnguard.redis")

#: Schemes of the URLs ``shared=`` takes as a Redis backend.
URL_SCHEMES = REDIS_SCHEMES


class RedisBackend:
    """Fleet-wide state on Redis, reached through a redis-py client. Given an asyncio client
    (``redis.asyncio.Redis``), the backend makes a sync client of the same connection settings
    (address or socket, database, credentials, TLS, timeouts): its flusher is a thread.

    Recording stays local. Every ``flush_interval`` seconds a background thread sends each
    attached SLO's changed buckets and each breaker's window and transitions to Redis, in one
    pipelined round trip for all of them (per node of a cluster), and the replies bring back
    the fleet's counts that snapshots, alerts and exporters read, and the fleet's breaker
    states (see ``burnguard.redis.breaker``). Flushes are idempotent (counts are absolute per writer, and each
    carries a sequence number), so redis-py's retries never count twice.

    Redis's ``TIME`` is the fleet's clock: each flush measures this host's offset from it
    (``clock_offset``), and the SLOs attached record and read on the corrected clock, so the
    hosts' buckets line up whatever their clocks' skew.

    When Redis is unreachable, recording goes on locally; the outage is logged once and
    counted (``outages``), and the next successful flush carries everything since. A process
    killed loses at most what it recorded since its last flush; one that exits normally
    flushes at exit.
    """

    __slots__ = (
        "__weakref__",
        "_client",
        "_flushing",
        "_links",
        "_lock",
        "_memory_checked",
        "_namespace",
        "_scripts",
        "_stop",
        "_thread",
        "clock",
        "flush_errors",
        "flush_interval",
        "flushes",
        "host",
        "outages",
        "reachable",
        "resets",
    )

    @checked
    def __init__(
        self,
        client: Any,
        *,
        namespace: str = "burnguard",
        flush_interval: float = 0.25,
        host_arena: str | Arena | None = None,
    ) -> None:
        if not hasattr(client, "register_script") or not hasattr(client, "pipeline"):
            raise wrong_type("client", "must be a redis-py client", type(client).__name__)
        client = _sync_twin(client)
        if not isinstance(namespace, str) or not namespace or any(c in namespace for c in "{}"):
            raise invalid("namespace", "must be a non-empty string without braces", namespace)
        if not (isinstance(flush_interval, (int, float)) and 0.001 <= flush_interval <= 60):
            raise invalid("flush_interval", "must be a number of seconds in [0.001, 60]", flush_interval)
        self._client = client
        self._namespace = namespace
        self.flush_interval = float(flush_interval)
        self.clock = _native.FleetClock()
        """The fleet's clock: this host's wall clock plus ``clock_offset``."""
        # Weakly, in the order attached: a link lives as long as its tracker or breaker.
        self._links: list[weakref.ref[_Link]] = []
        self._scripts: dict[str, str] = {}  # source: its SHA-1, for EVALSHA
        self._memory_checked = False
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time: batches reach Redis in order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.flushes = 0
        """Flush rounds that reached Redis."""
        self.flush_errors = 0
        """Flush rounds that did not (each retried by the next)."""
        self.outages = 0
        """Times Redis became unreachable (logged once each)."""
        self.resets = 0
        """Times a fleet's data was found lost (a Redis restarted empty, keys evicted)."""
        self.reachable = True
        """Whether the last flush reached Redis."""
        self.host = None if host_arena is None else HostShare(_host_arena(host_arena))
        """With ``host_arena``: the host's arena, where its processes share SLO windows and
        route tables, flushed by one process of the host at a time."""
        _backends.add(self)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "burnguard",
        flush_interval: float = 0.25,
        host_arena: str | Arena | None = None,
    ) -> RedisBackend:
        """A backend on a new redis-py client for ``url`` (``redis://``, ``rediss://`` for TLS,
        ``unix://``). Needs the ``redis`` extra: ``pip install "burnguard[redis]"``."""
        if not isinstance(url, str) or not url.startswith(URL_SCHEMES):
            raise invalid("url", f"must be a Redis URL ({', '.join(URL_SCHEMES)})", url)
        try:
            import redis
        except ImportError:  # pragma: no cover - the extra is installed in the tests
            raise ImportError('the Redis backend needs redis-py: pip install "burnguard[redis]"') from None
        # Retries (a reply lost to a timeout is retried, and applied once) with short waits:
        # redis-py's default backs off for seconds, which would hold a request that long.
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        retry = Retry(ExponentialBackoff(cap=0.1, base=0.01), 2)
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=1, retry=retry)
        return cls(client, namespace=namespace, flush_interval=flush_interval, host_arena=host_arena)

    @property
    def namespace(self) -> str:
        """The prefix of every key this backend writes."""
        return self._namespace

    @property
    def clock_offset(self) -> float:
        """Seconds this host's clock is behind Redis's (negative: ahead), as last measured."""
        return self.clock.offset

    def key(self, entity: str) -> str:
        """The hash tag of one entity's keys (``{namespace:entity}``): one cluster slot."""
        return "{" + self._namespace + ":" + entity + "}"

    def attach_slo(self, definition: SLODefinition, core: _native.SloCore) -> SLOLink:
        """Links an SLO's native core to the fleet's SLO of its name, and starts flushing."""
        identity = (
            definition.target,
            definition.window_seconds,
            tuple(definition.burn_rate_windows),
            definition.latency_threshold_seconds,
            core.resolution[0],
        )
        finest_span = core.resolution[0][1]
        if self.flush_interval > finest_span / 4:
            raise invalid(
                "flush_interval",
                f"must be at most a quarter of the SLO {definition.name!r}'s finest span ({finest_span:g} s)",
                self.flush_interval,
            )
        geometry = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
        # With a host arena the core's window is the host's (see SLOTracker), flushed as one.
        link = SLOLink(self, definition.name, core, geometry, self.host)
        with self._lock:
            self._links.append(weakref.ref(link))
        self._start()
        return link

    def attach_routes(
        self, name: str, table: RouteTableCore, mirror: RouteTableCore, geometry: str, retain_seconds: float
    ) -> RouteLink:
        """Links a route table to the fleet's table of its name (kept apart by ``geometry``,
        its options): flushes its routes' changes and fills ``mirror`` with the fleet's."""
        link = RouteLink(self, name, table, mirror, geometry, retain_seconds)
        with self._lock:
            self._links.append(weakref.ref(link))
        self._start()
        return link

    def attach_breaker(self, breaker: BreakerCore, config: dict[str, Any]) -> BreakerLink:
        """Links a breaker to the fleet's breaker of its name (``config``: its options, which
        every host must give alike), and starts syncing."""
        link = BreakerLink(self, breaker, config)
        with self._lock:
            self._links.append(weakref.ref(link))
        self._start()
        return link

    def swap(self, entity: str, word: str, value: int) -> int | None:
        """Sets the fleet's ``word`` of ``entity`` to ``value`` and returns what it held (0 if
        none): one atomic step, so of two hosts making the same change only one sees it.
        None if Redis was not reached (counted in ``flush_errors``, the outage logged once)."""
        try:
            before = self._client.set(self.key(entity) + ":" + word, str(value), get=True)
        except Exception as err:
            self._unreachable(err)
            return None
        return int(before) if before is not None else 0

    def flush(self) -> bool:
        """Flushes every attached SLO now, in one pipelined round trip; False if Redis was not
        reached (the next flush carries everything since)."""
        with self._flushing:
            return self._flush()

    def _flush(self, load_scripts: bool = True) -> bool:
        with self._lock:
            live = self._live_links()
        links: list[_Pipelined] = [link for link in live if not isinstance(link, LedgerLink)]
        if load_scripts:
            for ledger in live:
                if isinstance(ledger, LedgerLink):
                    self._maintain(ledger)
        if not links:
            return self.reachable
        now = self.clock.offset + time.time()
        reached = True
        unknown_scripts = False
        offsets: list[float] = []
        for client, group in self._by_node(links):
            try:
                pipe = client.pipeline(transaction=False)
                # A link queues one command, or (a route table) says how many, maybe none.
                counts = [1 if (n := link.queue(pipe, now)) is None else n for link in group]
                sent = time.time()
                replies = pipe.execute(raise_on_error=False)
                received = time.time()
            except Exception as err:
                for link in group:
                    link.failed()
                self._unreachable(err)
                reached = False
                continue
            if not self._memory_checked:
                self._check_eviction(client)
            unknown = [type(r).__name__ == "NoScriptError" for r in replies]
            if load_scripts and any(unknown):  # a Redis restarted, or its scripts flushed
                unknown_scripts = True
                for source in self._scripts:
                    client.script_load(source)
            at = 0
            for link, count in zip(group, counts, strict=True):
                theirs, not_run = replies[at : at + count], any(unknown[at : at + count])
                at += count
                failure = next((r for r in theirs if isinstance(r, Exception)), None)
                if count == 0:
                    continue
                if not_run and load_scripts:
                    link.failed()  # not applied: carried by the flush below
                elif failure is not None:
                    link.failed()
                    self._log_error(link, failure)
                elif isinstance(link, RouteLink):
                    link.applied(theirs)
                else:
                    answer = link.applied(theirs) if isinstance(link, SLOLink) else link.applied(theirs[0])
                    redis_time = answer[0]
                    offsets.append(redis_time - (sent + received) / 2)
        self._memory_checked = self._memory_checked or reached
        if reached and load_scripts:  # (a second pass, for scripts Redis lacked, is the same flush)
            self._reached()
        if offsets:
            self.clock.set_offset(sorted(offsets)[len(offsets) // 2])
        if unknown_scripts:
            return self._flush(load_scripts=False) and reached
        return reached

    def _maintain(self, link: LedgerLink) -> None:
        """A fleet ledger's upkeep; an error is logged (an outage once) and counted."""
        try:
            link.maintain()
        except Exception as err:
            if self.reachable or is_response_error(err):
                self._log_error(link, err)
            else:
                self.flush_errors += 1
            return
        if not self._memory_checked:
            self._check_eviction(self.client_for(link.sequencer.slot_key))
            self._memory_checked = True

    def _check_eviction(self, client: Any) -> None:
        """Warns when Redis may evict keys under memory pressure: a fleet's counts and states
        would then be lost (any ``maxmemory-policy`` but ``noeviction``; the SLO keys carry a
        TTL, so the ``volatile-*`` policies evict them too)."""
        try:
            policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
        except Exception:  # CONFIG disabled (a managed Redis): nothing to check
            return
        if policy not in (None, "noeviction", b"noeviction"):
            policy = policy.decode() if isinstance(policy, bytes) else policy
            _log.warning(
                "Redis's maxmemory-policy is %s: under memory pressure it may evict the fleet's "
                "keys (counts and breaker states would be lost); noeviction keeps them",
                policy,
            )

    def _live_links(self) -> list[_Link]:
        """The links whose tracker or breaker is alive, in the order attached (the dead are
        forgotten)."""
        live = [link for ref in self._links if (link := ref()) is not None]
        if len(live) < len(self._links):
            self._links = [weakref.ref(link) for link in live]
        return live

    def _by_node(self, links: list[_Pipelined]) -> list[tuple[Any, list[_Pipelined]]]:
        """The links grouped by the client that serves their keys: the one client, or for a
        Redis Cluster the node holding each link's hash slot (one round trip per node; redis-py's
        cluster pipelines refuse scripts)."""
        if not hasattr(self._client, "get_node_from_key"):
            return [(self._client, links)]
        groups: dict[str, tuple[Any, list[_Pipelined]]] = {}
        for link in links:
            node = self._client.get_node_from_key(link.slot_key)
            groups.setdefault(node.name, (node.redis_connection, []))[1].append(link)
        return list(groups.values())

    def client_for(self, key: str) -> Any:
        """The client that serves ``key``: the one client, or a cluster node's."""
        if not hasattr(self._client, "get_node_from_key"):
            return self._client
        return self._client.get_node_from_key(key).redis_connection

    def run_script(self, client: Any, source: str, keys: list[str], args: list[object]) -> Any:
        """One EVALSHA of ``source`` on ``client`` (loading it when Redis lacks it): a round
        trip. Counts an outage when Redis is not reached, and raises."""
        sha = self._scripts.get(source)
        if sha is None:
            sha = self._scripts[source] = hashlib.sha1(source.encode()).hexdigest()
        try:
            try:
                reply = client.evalsha(sha, len(keys), *keys, *args)
            except Exception as err:
                if type(err).__name__ != "NoScriptError":
                    raise
                client.script_load(source)
                reply = client.evalsha(sha, len(keys), *keys, *args)
        except Exception as err:
            if is_response_error(err):
                raise
            self._unreachable(err)
            raise
        self._now_reachable()
        return reply

    def attach_ledger(self, ledger: FleetLedger, sequencer: LedgerSequencer) -> LedgerLink:
        """Starts the upkeep of a fleet ledger (see ``burnguard.redis.ledger``)."""
        link = LedgerLink(ledger, sequencer)
        with self._lock:
            self._links.append(weakref.ref(link))
        self._start()
        return link

    def sequencer(self, name: str, retention: tuple[float, int | None]) -> LedgerSequencer:
        """The sequencer of the fleet ledger ``name``, kept with ``retention``."""
        return LedgerSequencer(self, name, retention)

    def queue_script(self, pipe: Any, source: str, keys: list[str], args: list[object]) -> None:
        """Adds an EVALSHA of the script ``source`` to ``pipe``: no round trip to check that
        Redis has it; a flush that finds it missing loads it and flushes again."""
        sha = self._scripts.get(source)
        if sha is None:
            sha = self._scripts[source] = hashlib.sha1(source.encode()).hexdigest()
        pipe.evalsha(sha, len(keys), *keys, *args)

    def report_reset(self, what: str) -> None:
        """Counts and logs a fleet's ``what`` found to have lost its data."""
        self.resets += 1
        _log.warning(
            "the fleet's %s was lost in Redis (restarted empty, or evicted); it is refilled "
            "from this host's copy (an SLO's recent buckets, a ledger's whole state), what "
            "this host had not seen is gone",
            what,
        )

    def close(self) -> None:
        """Stops the flusher after one last flush."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush()

    # ---- internals -------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="burnguard-redis-flush", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self.flush_interval):
            self.flush()

    def _unreachable(self, err: Exception) -> None:
        self.flush_errors += 1
        if self.reachable:
            self.reachable = False
            self.outages += 1
            _log.warning("Redis is unreachable (%s); recording goes on locally until it is back", err)

    def _reached(self) -> None:
        self.flushes += 1
        self._now_reachable()

    def _now_reachable(self) -> None:
        if not self.reachable:
            self.reachable = True
            _log.warning("Redis is reachable again; the fleet's counts are caught up")

    def _log_error(self, link: _Link, err: Exception) -> None:
        self.flush_errors += 1
        kind = {SLOLink: "SLO", BreakerLink: "breaker", LedgerLink: "ledger", RouteLink: "route table"}[
            type(link)
        ]
        _log.error("the fleet's %s %r was not synced: %s", kind, link.name, err)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
        links = self._live_links()
        for link in links:
            link.restart_after_fork()
        if links:
            self._start()


def _host_arena(given: object) -> Arena:
    """The arena ``host_arena=`` names (an arena's name or an ``Arena``), its errors naming it."""
    if isinstance(given, Arena):
        return given
    if not isinstance(given, str):
        raise wrong_type("host_arena", "must be an arena name or an Arena", type(given).__name__)
    if not given or given.startswith(REDIS_SCHEMES):
        raise invalid("host_arena", "must be an arena's name (not empty, not a Redis URL)", given)
    try:
        return cast(Arena, arena_of(given))  # a name always opens one
    except InvalidArgumentError as err:
        raise err.renamed("host_arena") from None


class HostShare:
    """A host's arena on a Redis backend: its processes share each SLO's window and each route
    table there, and one process at a time (holding a lease in Redis, renewed at each flush)
    flushes them as the host's one writer; the others only read the fleet's figures back."""

    __slots__ = ("arena", "host_id")

    def __init__(self, arena: Arena) -> None:
        self.arena = arena
        where = f"{socket.gethostname()}|{arena.path}"
        self.host_id = hashlib.sha256(where.encode()).hexdigest()[:16]
        """The host's writer id on the store (the same in every process of the host)."""

    def counter(self, name: str) -> _native.Counter:
        """A counter every process of the host shares (a flush's sequence numbers)."""
        return _native.Counter(shared=self.arena._core, name=name)


_backends: weakref.WeakSet[RedisBackend] = weakref.WeakSet()
_by_url: dict[tuple[int, str], RedisBackend] = {}


#: The connection settings a sync twin of an asyncio client takes over (and every ``ssl_*``).
_PORTABLE = {
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "credential_provider",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "client_name",
    "health_check_interval",
}


def _sync_twin(client: Any) -> Any:
    """``client`` if it is sync; for a ``redis.asyncio.Redis``, a sync client with its
    connection settings. An asyncio cluster or Sentinel client is refused (give a sync one)."""
    try:
        import redis
        import redis.asyncio as aredis
    except ImportError:  # pragma: no cover - the extra is installed wherever this runs
        return client
    if isinstance(client, aredis.RedisCluster) or (
        isinstance(client, aredis.Redis) and type(client.connection_pool) is not aredis.ConnectionPool
    ):
        raise wrong_type(
            "client",
            "must be a sync redis-py client for a cluster or Sentinel "
            "(redis.RedisCluster, Sentinel.master_for)",
            type(client).__name__,
        )
    if not isinstance(client, aredis.Redis):
        return client
    pool = client.connection_pool
    settings = {k: v for k, v in pool.connection_kwargs.items() if k in _PORTABLE or k.startswith("ssl_")}
    kind = {
        aredis.SSLConnection: redis.SSLConnection,
        aredis.UnixDomainSocketConnection: redis.UnixDomainSocketConnection,
    }.get(pool.connection_class, redis.Connection)
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=kind, **settings))


def _before_fork() -> None:
    """Waits for any flush in flight: a fork during one would leave the child a fleet
    ledger's lock that no thread of its own releases."""
    for backend in list(_backends):
        backend._flushing.acquire()


def _after_fork_in_parent() -> None:
    for backend in list(_backends):
        backend._flushing.release()


def _after_fork_in_child() -> None:
    for backend in list(_backends):
        backend._after_fork_in_child()


def _flush_at_exit() -> None:
    """A process that exits normally flushes what it recorded since the last interval."""
    for backend in list(_backends):
        for link in backend._live_links():
            if isinstance(link, RouteLink):
                link.due = True  # whatever the routes' own interval says
        try:
            backend.flush()
        except Exception:  # at exit, best effort: an outage is already logged by flush
            pass


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
atexit.register(_flush_at_exit)


def backend_of(url: str) -> RedisBackend:
    """The backend for ``url``, made once per process."""
    key = (os.getpid(), url)
    backend = _by_url.get(key)
    if backend is None:
        host_arena = os.environ.get("BURNGUARD_HOST_ARENA") or None
        backend = _by_url[key] = RedisBackend.from_url(url, host_arena=host_arena)
    return backend


def is_redis(shared: object) -> bool:
    """Whether ``shared=`` names a Redis backend (a URL or a backend object)."""
    return isinstance(shared, RedisBackend) or (isinstance(shared, str) and shared.startswith(URL_SCHEMES))


def backend_for(shared: object) -> RedisBackend | None:
    """The backend ``shared=`` names (a backend, or a URL: its backend, made once per process
    and URL), or None when it names an arena or nothing."""
    if isinstance(shared, RedisBackend):
        return shared
    return backend_of(shared) if isinstance(shared, str) and shared.startswith(URL_SCHEMES) else None
