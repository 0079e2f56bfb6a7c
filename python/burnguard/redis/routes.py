"""One route table's link to the fleet: every host's routes, summed, in a mirror table.

Recording stays in the host's own table. Each flush sends, for every route, the slots (of
every tier) and totals that changed since the last, as absolute figures of this process; the
script adds the difference from what this process last applied to the fleet's figures (so a
retried flush adds nothing twice), and brings back the fleet's slots that changed since this
host's last reply, which go into the mirror table that summaries, totals and exporters read.
The routes other hosts opened come too (as many as the table holds). A host killed loses what
it recorded since its last flush.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from burnguard import _native
from burnguard.redis import scripts

if TYPE_CHECKING:
    from burnguard._native import RouteCore, RouteTableCore
    from burnguard.redis.backend import RedisBackend

#: How long a writer's last figures are kept (it flushes every interval while it lives).
WRITER_TTL_MS = 3_600_000
#: Routes are synced at most this often (a flush of a busy route costs Redis about half a
#: millisecond), unless ``RouteTable.flush()`` asks.
SYNC_SECONDS = 1.0


class RouteLink:
    """Syncs one route table with the fleet's table of its name."""

    __slots__ = (
        "__weakref__",
        "_backend",
        "_created",
        "_cursors",
        "_fleet_ttl_ms",
        "_holding",
        "_known",
        "_local",
        "_mirror",
        "_outboxes",
        "_queued",
        "_synced",
        "_tag",
        "due",
        "name",
        "writer",
    )

    def __init__(
        self,
        backend: RedisBackend,
        name: str,
        local: RouteTableCore,
        mirror: RouteTableCore,
        geometry: str,
        retain_seconds: float,
    ) -> None:
        self._backend = backend
        self.name = name
        self._local = local
        self._mirror = mirror
        # Tables of other options under the same name are kept apart.
        self._tag = backend.key(f"routes:{name}:{geometry}")
        self._outboxes: dict[str, _native.RouteOutboxCore] = {}
        self._cursors: dict[str, int] = {}
        self._created: dict[str, str] = {}
        self._known: set[str] = set()  # the fleet's routes, as last listed
        self._queued: list[tuple[str, RouteCore | None, RouteCore]] = []
        self._synced = 0.0
        self.due = True
        """Whether the next flush syncs the routes whatever ``SYNC_SECONDS`` says."""
        self._fleet_ttl_ms = int(max(retain_seconds, 86_400.0) * 1000) + WRITER_TTL_MS
        self.writer = uuid.uuid4().hex
        self._holding = False  # with a host arena: whether this process flushes the host's table

    @property
    def slot_key(self) -> str:
        """A key of the table's hash slot."""
        return self._tag + ":keys"

    def restart_after_fork(self) -> None:
        """In a forked child: a writer of its own, which sends everything it holds (in a
        host, only once it holds the host's lease)."""
        self.writer = uuid.uuid4().hex
        self._holding = False
        for outbox in self._outboxes.values():
            outbox.resend_all()

    def _keys(self) -> list[tuple[str, RouteCore | None, RouteCore]]:
        """Every route to sync: this host's (with their core) and the fleet's others, each
        with its mirror; a fleet route the mirror has no room for is left out."""
        local = dict(self._local.routes())
        routes = []
        for key in sorted(set(local) | self._known):
            held, mirror = self._mirror.route(key)
            if held == key:
                routes.append((key, local.get(key), mirror))
        return routes

    def queue(self, pipe: Any, now: float) -> int:
        """Queues one script call per route and the listing of the fleet's routes, when due
        (every ``SYNC_SECONDS``); answers how many commands it queued."""
        if not self.due and now - self._synced < SYNC_SECONDS:
            return 0
        self.due, self._synced = False, now
        self._queued = self._keys()
        host = self._backend.host
        if host is not None:  # the host's lease first: its holder flushes the host's table
            lease_ms = int(3 * max(SYNC_SECONDS, self._backend.flush_interval) * 1000)
            self._backend.queue_script(
                pipe, scripts.LEASE, [f"{self._tag}:lease:{host.host_id}"], [self.writer, lease_ms]
            )
        writer_id = self.writer if host is None else f"host-{host.host_id}"
        sending = host is None or self._holding
        for key, core, mirror in self._queued:
            lines: list[str] = []
            totals: str | None = None
            if core is not None and sending:
                outbox = self._outboxes.setdefault(key, _native.RouteOutboxCore())
                lines, totals = core._fleet_batch(outbox)
            route = f"{self._tag}:r:{key}"
            slots = [f"{route}:s{i}" for i in range(mirror.fleet_slots)]
            writer = f"{self._tag}:w:{writer_id}:{key}"
            keys = [f"{route}:t", f"{writer}:t", self.slot_key, *slots]
            keys += [f"{writer}:s{line.split(' ', 1)[0]}" for line in lines]
            args: list[object] = [
                self._cursors.get(key, 0),
                WRITER_TTL_MS,
                self._fleet_ttl_ms,
                len(slots),
                self._created.get(key, ""),
                key,
                totals or "",
                *lines,
            ]
            self._backend.queue_script(pipe, scripts.ROUTE_FLUSH, keys, args)
        pipe.smembers(self.slot_key)
        return len(self._queued) + 1 + (host is not None)

    def failed(self) -> None:
        """The flush did not reach Redis: the next (at once) sends everything since."""
        self.due = True
        for outbox in self._outboxes.values():
            outbox.resend_all()

    def applied(self, replies: list[Any]) -> None:
        """Writes each route's reply into its mirror, and notes the fleet's routes (in a host,
        after the lease's reply)."""
        if self._backend.host is not None:
            lease, *replies = replies
            held = bool(int(lease[0]))
            if held and not self._holding:  # this process now flushes the host's table whole
                for outbox in self._outboxes.values():
                    outbox.resend_all()
                self.due = True
            self._holding = held
        for (key, _, mirror), reply in zip(self._queued, replies, strict=False):
            status, created, version, totals, *slots = reply
            created = _text(created)
            if _text(status) == "reset" or self._created.get(key) != created:
                # Redis lost this writer's figures (or it is new): send them all again.
                if key in self._outboxes and key in self._created:
                    self._outboxes[key].resend_all()
                self._created[key] = created
            self._cursors[key] = int(version)
            if totals is not None:
                mirror._fleet_set_totals(_text(totals))
            for line in slots:
                mirror._fleet_set_slot(_text(line))
        self._known = {_text(k) for k in replies[-1]}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
