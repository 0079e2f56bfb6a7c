"""One SLO's link to the fleet: its batches out, the fleet's buckets back into its mirror."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from burnguard import _native
from burnguard.redis import scripts

if TYPE_CHECKING:
    from burnguard.redis.backend import HostShare, RedisBackend

#: Most change-log entries the fleet keeps: a reader further behind takes a full copy.
LOG_CAP = 4096


class SLOLink:
    """Flushes one tracker's events to the fleet and mirrors the fleet's counts back.

    Each link is its own writer on the store, with its own id and sequence numbers. On a
    backend with a host arena (``host``), the window is the host's, shared by its processes:
    the one holding the host's lease flushes it whole as the host's writer (its sequence
    numbers from a counter of the host's), and the others flush nothing and read back."""

    __slots__ = (
        "__weakref__",
        "_acknowledged",
        "_backend",
        "_created",
        "_cursor",
        "_fleet",
        "_geometry",
        "_holding",
        "_host",
        "_keys",
        "_seq",
        "_sequence",
        "core",
        "name",
        "writer",
    )

    def __init__(
        self,
        backend: RedisBackend,
        name: str,
        core: _native.SloCore,
        geometry: str,
        host: HostShare | None = None,
    ) -> None:
        self._backend = backend
        self.name = name
        self.core = core
        self._geometry = geometry
        self._host = host
        self._sequence = None if host is None else host.counter(f"redis.slo.{name}.flushes")
        self._holding = False
        tag = backend.key(f"slo:{name}")
        self._keys = [f"{tag}:fleet", f"{tag}:log", ""]
        self._start_writer()

    def _start_writer(self) -> None:
        """A writer of this process's (in a host, its reader identity) with a fresh outbox."""
        self._fleet = _native.SloFleet(self.core, host=self._host is not None)
        self.writer = uuid.uuid4().hex
        self._keys[2] = f"{self._keys[0][: -len(':fleet')]}:w:{self.writer}"
        self._seq = self._acknowledged = self._cursor = 0
        self._created = ""
        self._holding = False

    def restart_after_fork(self) -> None:
        """Becomes a new writer, whose window's counts so far are the parent's (in a host,
        the host's: only its lease holder flushes them)."""
        self._start_writer()

    @property
    def unshared(self) -> int:
        """Events recorded here that were never flushed (older than the finest span)."""
        unshared: int = self._fleet.unshared
        return unshared

    def counts(self, now: float, windows: list[float]) -> list[tuple[int, int]]:
        """``(good, bad)`` over each window ending at ``now``, from the fleet's mirror."""
        counts: list[tuple[int, int]] = self._fleet.counts(now, windows)
        return counts

    @property
    def slot_key(self) -> str:
        """A key of this link's: they all share its hash slot."""
        return self._keys[0]

    def queue(self, pipe: Any, now: float) -> int | None:
        """Adds this link's flush to ``pipe`` (a redis-py pipeline): one command, or in a host
        the lease's and the flush's (2)."""
        base_width, buckets, tiers = self._fleet.layout
        keys = self._keys
        if self._host is None or self._holding:
            changed, forgotten, full = self._fleet.batch(now)
        else:
            changed, forgotten, full = [], [], False  # a reader of the host's flushes
        if self._sequence is not None and self._holding:
            self._sequence.inc()
            self._seq = self._sequence.value  # the host's, so a new holder goes on from it
            keys = [*keys[:2], f"{keys[0][: -len(':fleet')]}:w:host-{self._host_id}"]
        else:
            self._seq += 1
        oldest = max(0, int(now / base_width) - (buckets - 1))
        finest_span_ms = int(base_width * buckets * 1000)
        writer_ttl = max(600_000, 4 * finest_span_ms)
        fleet_ttl = int(self.core.resolution[-1][1] * 1000) + writer_ttl
        args: list[object] = [
            self._seq,
            buckets,
            tiers,
            writer_ttl,
            fleet_ttl,
            LOG_CAP,
            self._cursor,
            self._geometry,
            1 if full else 0,
            oldest,
            self._created or "-",
            self._acknowledged,
            len(changed),
        ]
        for index, good, bad in changed:
            args += (index, good, bad)
        args.append(len(forgotten))
        args += forgotten
        if self._host is None:
            self._backend.queue_script(pipe, scripts.SLO_FLUSH, keys, args)
            return None
        lease_ms = max(1000, int(3 * self._backend.flush_interval * 1000))
        lease = f"{keys[0][: -len(':fleet')]}:lease:{self._host_id}"
        self._backend.queue_script(pipe, scripts.LEASE, [lease], [self.writer, lease_ms])
        self._backend.queue_script(pipe, scripts.SLO_FLUSH, keys, args)
        return 2

    @property
    def _host_id(self) -> str:
        return "" if self._host is None else self._host.host_id

    def failed(self) -> None:
        """The flush may or may not have been applied: the next one carries every bucket
        (its counts are absolute, so nothing is added twice)."""
        self._fleet.resend_all()

    def applied(self, replies: list[Any]) -> tuple[float, str]:
        """Takes the store's replies to a flush (in a host, the lease's first): the mirror, the
        cursor, the writer's standing. Returns Redis's time and the status."""
        reply = replies[-1]
        if self._host is not None:
            held = bool(int(replies[0][0]))
            if held and not self._holding:
                self._fleet.resend_all()  # this process now flushes the host's window whole
                self._acknowledged = 0
            was_holding, self._holding = self._holding, held
            if not was_holding:  # read back only: this process's own writer sent nothing
                return self._mirror_from(reply)
        status, created = _text(reply[3]), _text(reply[4])
        if status == "lost":
            self._fleet.rebase()  # the next flush starts this writer over, as a new one
            self._acknowledged = 0
        elif status in ("ok", "stale"):  # stale: a retried flush, applied the first time
            if self._created and created != self._created:
                self._backend.report_reset(f"SLO {self.name!r}")
                self._fleet.resend_all()  # the fleet was lost: fill it again from here
            self._acknowledged = self._seq
            self._fleet.acknowledge()
        self._created = created
        return self._mirror_from(reply)

    def _mirror_from(self, reply: list[Any]) -> tuple[float, str]:
        """Sets the mirror and the cursor from a flush's reply."""
        seconds, micros, _applied, status = reply[:4]
        self._created = _text(reply[4])
        logn = reply[5]
        kind = _text(reply[6])
        values = [int(v) for v in reply[7:]]
        entries = [
            (values[i], values[i + 1], values[i + 2], values[i + 3], values[i + 4])
            for i in range(0, len(values), 5)
        ]
        self._fleet.apply(entries, clear=kind == "full")
        self._cursor = int(logn)
        return int(seconds) + int(micros) / 1e6, _text(status)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
