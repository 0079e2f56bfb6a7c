"""One ledger shared by a fleet: Redis orders its journal, every host applies it.

Each operation (``reserve``, ``commit``, ``release``, ``extend``, ``decide``, ``event``, the
budget settings) is one script call (the operations a process's other threads start while
one is out go together in the next): it appends the operation to the ledger's journal in
Redis, stamped with Redis's time, and brings back every entry this host had not applied; the
host applies them in order with the same native code as an in-process ledger, and its own
entry's outcome is the answer. Every host applies the same entries in the same order, so
they agree, and a reservation holds its amount on every scope of its subject in the one step
the journal orders: concurrent reservers on every host never overspend. A retried call
appends nothing twice (each carries the writer's sequence number), and idempotency keys
replay across hosts.

One host at a time (holding a lease in Redis) sweeps expired holds, as a journal entry every
host applies, and replaces the journal's head by a snapshot when the journal outgrows it.
When Redis is unreachable, operations raise ``LedgerUnavailableError`` and decide nothing
(the ledger fails closed); once an operation or a flush found it down, the others fail at
once, without waiting on the network, until the backend's next flush reaches it again.

When Redis restarted empty, the hosts seed it again with their copies of the state: for
``SETTLE_MS`` after the first seed a longer history replaces it and writes wait, so the fleet
goes on from the longest history any host had applied, and loses only operations whose
replies never arrived. A host with no history cannot tell a new ledger from a lost one, so a
new journal settles alike: the very first write to a new ledger waits ``SETTLE_MS``.

Every entry carries a unique token and every host's cursor names its last one, so a Redis
that comes back behind (an old persistence file, a failover to a replica behind) is noticed
too; a host that had applied operations the fleet no longer holds goes on from the fleet's
history, and counts it in ``Ledger.losses``.

Bounds: an operation whose reply never arrived (Redis died after running it) may be in the
journal or not; with an idempotency key, retrying it is safe either way. A process killed
mid-operation loses at most that operation's answer; its holds expire with their TTL.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from burnguard.errors import SharedLedgerError
from burnguard.redis import scripts
from burnguard.redis.scripts import is_response_error

if TYPE_CHECKING:
    from burnguard.redis.backend import RedisBackend


class FleetLedger(Protocol):
    """What a link keeps up: a ``Ledger``'s native core, or a ``burnguard serve`` server's."""

    def sweep(self) -> int: ...
    def _fleet_sync(self) -> None: ...
    def _fleet_snapshot(self) -> tuple[str, int, int, str, str] | None: ...
    def _fleet_status(self) -> tuple[str, int, int, int | None, int] | None: ...


#: How long a writer's last sequence number is kept (a retry comes within seconds).
WRITER_TTL_MS = 3_600_000
#: How long the sweeper's lease lasts without renewal.
LEASE_MS = 10_000
#: How long a seed settles (after Redis lost a journal, or for a new one): a longer history
#: may replace it meanwhile and writes wait (each host finds a loss within a flush interval).
SETTLE_MS = 1_000
#: The journal is compacted once it holds more than this, or more than the snapshot.
COMPACT_BYTES = 256 << 10


class LedgerSequencer:
    """Runs one fleet ledger's scripts: what the native ledger calls for every operation."""

    __slots__ = (
        "__weakref__",
        "_backend",
        "_geometry",
        "_keys",
        "_lock",
        "_pid",
        "_seq",
        "journal_bytes",
        "name",
        "snapshot_bytes",
        "writer",
    )

    def __init__(self, backend: RedisBackend, name: str, retention: tuple[float, int | None]) -> None:
        self._backend = backend
        self.name = name
        tag = backend.key("ledger:" + name)
        self._keys = (tag + ":meta", tag + ":journal", tag + ":lease")
        self._geometry = hashlib.sha256(repr(retention).encode()).hexdigest()[:16]
        self._lock = threading.Lock()
        self._new_writer()
        self.journal_bytes = 0
        """The journal's size in Redis, as last seen."""
        self.snapshot_bytes = 0
        """The snapshot's size in Redis, as last seen."""

    def _new_writer(self) -> None:
        self.writer = uuid.uuid4().hex
        self._pid = os.getpid()
        self._seq = 0

    @property
    def backend(self) -> RedisBackend:
        """The backend it runs on."""
        return self._backend

    @property
    def slot_key(self) -> str:
        """A key of the ledger's hash slot."""
        return self._keys[0]

    def restart_after_fork(self) -> None:
        """In a forked child: a writer of its own, and a lock no parent thread holds."""
        self._lock = threading.Lock()
        self._new_writer()

    def _writer_key(self) -> str:
        return self._keys[0][: -len(":meta")] + ":w:" + self.writer

    def sequence(self, instance: str, after: int, token: str, entries: list[str]) -> tuple[Any, ...] | None:
        """See ``burnguard_core::ledger::Sequencer::sequence``: one script call, retried once
        after a connection error (the writer's seq makes the retry append nothing twice)."""
        if not self._backend.reachable:
            # Fails fast while Redis is down: the flusher probes it every interval.
            raise ConnectionError("Redis is unreachable (retried at the next flush)")
        with self._lock:
            if self._pid != os.getpid():  # a forked worker is a writer of its own
                self._new_writer()
            if entries:
                self._seq += 1
            args: list[object] = [
                instance,
                after,
                token,
                self.writer,
                self._seq,
                self._geometry,
                WRITER_TTL_MS,
                SETTLE_MS,
            ]
            args.extend(entries)
            keys = [self._keys[0], self._keys[1], self._writer_key()]
            reply = self._call(scripts.LEDGER_SEQUENCE, keys, args)
            for _ in range(3):  # a new or lost journal settles: the write waits, then goes on
                if _text(reply[0]) != "settling":
                    break
                time.sleep(min(int(reply[1]), SETTLE_MS) / 1000 + 0.005)
                reply = self._call(scripts.LEDGER_SEQUENCE, keys, args)
        status = _text(reply[0])
        if status == "wiped":
            return None
        if status == "geometry":
            raise _refused(
                f"{self.name!r} is kept with another retention "
                "(every host must give the same retention_seconds and max_retained)"
            )
        if status == "settling":
            raise ConnectionError("the journal is still being seeded again by the hosts")
        if status != "ok":
            raise _refused(f"{self.name!r} refused a stale retry")
        (
            _,
            instance_now,
            own,
            first,
            journal,
            snapshot,
            full,
            snap_seq,
            snap_time,
            snap_token,
            snap,
            entries,
        ) = reply
        self.journal_bytes = int(journal)
        self.snapshot_bytes = int(snapshot)
        head = None if snap_seq is None else (int(snap_seq), int(snap_time), snap_token, snap)
        return (instance_now, bool(full), head, int(first), entries, int(own))

    def seed(self, seq: int, time_ms: int, token: str, text: str) -> None:
        """Starts a journal Redis lost again from this host's state."""
        keys = [self._keys[0], self._keys[1]]
        args: list[object] = [self.writer, self._geometry, seq, time_ms, token, text, SETTLE_MS]
        if self._call(scripts.LEDGER_SEED, keys, args):
            self._backend.report_reset(f"ledger {self.name!r}")

    def compact(self, core: FleetLedger) -> bool:
        """Replaces the journal's head by this host's state, when the journal outgrew it."""
        if self.journal_bytes <= max(COMPACT_BYTES, self.snapshot_bytes):
            return False
        snapshot = core._fleet_snapshot()
        if snapshot is None:
            return False
        instance, seq, time_ms, token, text = snapshot
        keys = [self._keys[0], self._keys[1]]
        return bool(self._call(scripts.LEDGER_COMPACT, keys, [instance, seq, time_ms, token, text]))

    def lease(self) -> tuple[bool, int]:
        """Takes or renews the lease of the host that sweeps and compacts; answers whether
        this host holds it, and Redis's time (ms)."""
        held, seconds, micros = self._call(scripts.LEASE, [self._keys[2]], [self.writer, LEASE_MS])
        return bool(held), int(seconds) * 1000 + int(micros) // 1000

    def _call(self, source: str, keys: list[str], args: list[object]) -> Any:
        """Runs a script on the node holding the ledger's keys (looked up each time: a cluster
        may move them), once more after a connection error."""
        try:
            return self._backend.run_script(self._backend.client_for(keys[0]), source, keys, args)
        except Exception as first_error:
            if is_response_error(first_error):  # Redis answered: not a retry's case
                raise
            return self._backend.run_script(self._backend.client_for(keys[0]), source, keys, args)


class LedgerLink:
    """A fleet ledger's upkeep on the backend's flusher thread: keeps the host caught up and,
    holding the lease, sweeps expired holds and compacts the journal."""

    __slots__ = ("__weakref__", "_ledger", "name", "sequencer", "sweeps")

    def __init__(self, core: FleetLedger, sequencer: LedgerSequencer) -> None:
        self._ledger = weakref.ref(core)  # the ledger holds its link
        self.name = sequencer.name
        self.sequencer = sequencer
        self.sweeps = 0
        """Sweeps this host ran as the lease holder."""

    def restart_after_fork(self) -> None:
        """In a forked child (see ``LedgerSequencer.restart_after_fork``)."""
        self.sequencer.restart_after_fork()

    def maintain(self) -> None:
        """One round of upkeep (errors are the caller's to count)."""
        core = self._ledger()
        if core is None:
            return
        held, now_ms = self.sequencer.lease()
        status = core._fleet_status()
        next_expiry = None if status is None else status[3]
        if held and next_expiry is not None and next_expiry < now_ms:
            core.sweep()
            self.sweeps += 1
        else:
            core._fleet_sync()
        if held:
            self.sequencer.compact(core)


def _refused(reason: str) -> SharedLedgerError:
    return SharedLedgerError(f"the fleet's ledger {reason}", "INTERNAL_ERROR", None, None)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
