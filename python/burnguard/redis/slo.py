"""One SLO's link to the fleet: its batches out, the fleet's buckets back into its mirror."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from burnguard import _native
from burnguard.redis import scripts

if TYPE_CHECKING:
    from burnguard.redis.backend import RedisBackend

#: Most change-log entries the fleet keeps: a reader further behind takes a full copy.
LOG_CAP = 4096


class SLOLink:
    """Flushes one tracker's events to the fleet and mirrors the fleet's counts back.

    Each link is its own writer on the store, with its own id and sequence numbers."""

    __slots__ = (
        "__weakref__",
        "_acknowledged",
        "_backend",
        "_created",
        "_cursor",
        "_fleet",
        "_geometry",
        "_keys",
        "_seq",
        "core",
        "name",
        "writer",
    )

    def __init__(self, backend: RedisBackend, name: str, core: _native.SloCore, geometry: str) -> None:
        self._backend = backend
        self.name = name
        self.core = core
        self._geometry = geometry
        self._fleet = _native.SloFleet(core)
        self.writer = uuid.uuid4().hex
        tag = backend.key(f"slo:{name}")
        self._keys = [f"{tag}:fleet", f"{tag}:log", f"{tag}:w:{self.writer}"]
        self._seq = 0
        self._acknowledged = 0
        self._created = ""
        self._cursor = 0

    def restart_after_fork(self) -> None:
        """Becomes a new writer, whose window's counts so far are the parent's."""
        self._fleet = _native.SloFleet(self.core)
        self.writer = uuid.uuid4().hex
        self._keys[2] = self._keys[2].rsplit(":", 1)[0] + ":" + self.writer
        self._seq = self._acknowledged = self._cursor = 0
        self._created = ""

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

    def queue(self, pipe: Any, now: float) -> None:
        """Adds this link's flush to ``pipe`` (a redis-py pipeline)."""
        base_width, buckets, tiers = self._fleet.layout
        changed, forgotten, full = self._fleet.batch(now)
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
        self._backend.queue_script(pipe, scripts.SLO_FLUSH, self._keys, args)

    def failed(self) -> None:
        """The flush may or may not have been applied: the next one carries every bucket
        (its counts are absolute, so nothing is added twice)."""
        self._fleet.resend_all()

    def applied(self, reply: list[Any]) -> tuple[float, str]:
        """Takes the store's reply to a flush: the mirror, the cursor, the writer's standing.
        Returns Redis's time and the status."""
        seconds, micros, _applied, status, created, logn = reply[:6]
        status = _text(status)
        created = _text(created)
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
        kind = _text(reply[6])
        values = [int(v) for v in reply[7:]]
        entries = [
            (values[i], values[i + 1], values[i + 2], values[i + 3], values[i + 4])
            for i in range(0, len(values), 5)
        ]
        self._fleet.apply(entries, clear=kind == "full")
        self._cursor = int(logn)
        return int(seconds) + int(micros) / 1e6, status


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
