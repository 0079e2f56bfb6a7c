"""The ledger itself: budgets per scope and unit, reservations against them, streams."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Literal, cast

from burnguard import _native
from burnguard._check import checked, diagnosed
from burnguard.errors import invalid
from burnguard.ledger.models import (
    Action,
    Amount,
    CommitOveragePolicy,
    CommitResult,
    DryRunResult,
    ReservationDetail,
    ReservationResult,
    ReservationStatus,
    Subject,
    Unit,
)
from burnguard.redis import RedisBackend, backend_for
from burnguard.redis.ledger import LedgerLink
from burnguard.shared import Arena, arena_of

_log = logging.getLogger("burnguard.ledger")


class Ledger(_native.LedgerCore):
    """Budgets per scope and unit, and reservations against them, with the Cycles protocol's
    semantics (see the module docs and ``README.md``).

    ``Ledger(clock=None, retention_seconds=300, max_retained=100_000, shared=None,
    name="ledger", capacity=4 MiB)``. Every operation takes
    an optional ``idempotency_key``: replaying it with the same payload returns the first
    answer; another payload raises ``IdempotencyMismatchError``. Idempotency records and
    finalized reservations are kept for ``retention_seconds``, and at most ``max_retained`` of
    each (the oldest go first), so memory stays bounded whatever the traffic. ``clock``
    (seconds) replaces the wall clock, for tests and simulations. Amounts are ints in ``unit``
    (``USD_MICROCENTS`` unless given) or ``Amount``s.

    ``shared`` (an arena name or ``Arena``; by default ``BURNGUARD_SHARED``; ``False`` for
    none) makes it the ledger ``name`` of that arena, which every process of the host that
    opens it shares: a budget of 100 serves 100 whatever the number of workers, and
    ``set_budget`` at import never refills it (spending, holds and debt are kept). Its
    budgets, reservations and records may take ``capacity`` bytes (about 200 per retained
    reservation, 270 per idempotency record); past that, operations raise
    ``LedgerFullError``. ``max_retained`` defaults to ``capacity / 1024`` for a shared ledger
    (4,096 for 4 MiB), which leaves room for active reservations. Every process must open it
    with the same retention and capacity.

    ``shared`` may also be a Redis URL or a ``burnguard.redis.RedisBackend``: the ledger
    ``name`` is then the fleet's, every host's (see ``burnguard.redis.ledger``). Each operation
    is one round trip to Redis, its time is Redis's (``clock`` is not used), and reads answer
    as of the last operation. ``max_retained`` defaults to 10,000. When Redis is unreachable,
    operations raise ``LedgerUnavailableError`` and decide nothing; ``on_unavailable="allow"``
    makes ``guard`` run its calls unguarded instead (counted in ``unguarded_calls``).

    The operations (``set_budget``, ``fund``, ``reserve``, ``decide``, ``commit``,
    ``release``, ``extend``, ``event``, ``balances``, ``sweep``, ``audit``, ``save``) run
    natively, without a Python frame; their signatures are in ``burnguard/_native.pyi``."""

    __slots__ = ("__weakref__", "_link", "on_unavailable", "unguarded_calls")
    _link: LedgerLink | None
    on_unavailable: Literal["deny", "allow"]
    unguarded_calls: int

    @diagnosed
    def __new__(
        cls,
        *,
        clock: Callable[[], float] | None = None,
        retention_seconds: float = 300.0,
        max_retained: int | None = None,
        shared: str | Arena | RedisBackend | bool | None = None,
        name: str = "ledger",
        capacity: int = 4 << 20,
        on_unavailable: Literal["deny", "allow"] = "deny",
        _path: str | None = None,
    ) -> Ledger:
        if on_unavailable not in ("deny", "allow"):
            raise invalid("on_unavailable", 'must be "deny" or "allow"', on_unavailable)
        if shared is None and _path is None:
            shared = os.environ.get("BURNGUARD_SHARED") or None
        backend = None if _path is not None else backend_for(shared)
        arena = None if _path is not None or backend is not None else arena_of(shared)
        if backend is not None and not name:
            raise invalid("name", "a fleet's ledger needs a name", name)
        sequencer = None if backend is None else backend.sequencer(name, (retention_seconds, max_retained))
        self = super().__new__(
            cls,
            clock=clock,
            retention_seconds=retention_seconds,
            max_retained=max_retained,
            shared=None if arena is None else arena._core,
            name=name,
            capacity=capacity,
            sequencer=sequencer,
            _path=_path,
        )
        self.on_unavailable = on_unavailable
        """What ``guard`` does when a fleet's Redis is unreachable: ``deny`` (raise
        ``LedgerUnavailableError``) or ``allow`` (run the call unguarded)."""
        self.unguarded_calls = 0
        """Calls ``guard`` ran unguarded because Redis was unreachable."""
        self._link = None if backend is None or sequencer is None else backend.attach_ledger(self, sequencer)
        return self

    @property
    def is_shared(self) -> bool:
        """Whether the ledger is shared: by the host's processes (an arena) or by a fleet
        (Redis)."""
        return self.shared or self.fleet

    def runs_unguarded(self) -> bool:
        """Whether a guarded call may run without a reservation while the fleet's Redis is
        unreachable (``on_unavailable="allow"``); counts it in ``unguarded_calls`` if so."""
        if self.on_unavailable != "allow":
            return False
        self.unguarded_calls += 1  # the outage itself is logged once, by the backend
        return True

    @property
    def backend(self) -> RedisBackend | None:
        """The Redis backend of a fleet's ledger (None otherwise)."""
        return None if self._link is None else self._link.sequencer.backend

    @property
    def fleet_name(self) -> str | None:
        """The name of a fleet's ledger in Redis (None otherwise)."""
        return None if self._link is None else self._link.name

    @property
    def entries(self) -> int:
        """Operations of the fleet's journal this host applied (0 for another ledger)."""
        status = self._fleet_status()
        return 0 if status is None else status[1]

    @property
    def losses(self) -> int:
        """Times this host found that the fleet's Redis had lost operations it had applied
        (restarted empty or behind, failed over to a replica behind); it then went on from the
        fleet's history. 0 for a ledger that is not a fleet's."""
        status = self._fleet_status()
        return 0 if status is None else status[4]

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, clock: Callable[[], float] | None = None) -> Ledger:
        """The ledger saved at ``path`` (by ``save``); it answers exactly as the saved one did,
        idempotent replays included."""
        return cls(clock=clock, _path=os.fspath(path))

    def dry_run(
        self, subject: Subject, action: Action, estimate: Amount | int, *, unit: Unit | str | None = None
    ) -> DryRunResult:
        """What ``reserve`` would answer, holding nothing (runcycles' shadow mode)."""
        return cast(DryRunResult, self.reserve(subject, action, estimate, unit=unit, dry_run=True))

    def reservations(
        self, status: ReservationStatus | str | None = None, *, scope: str | Subject | None = None
    ) -> list[ReservationDetail]:
        """Reservations (finalized ones for the retention period), oldest first, filtered by
        status and by the scope their subject is in."""
        return self._reservations(status, scope)

    def stream(
        self,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        *,
        cost: Callable[[Mapping[str, int]], int] | None = None,
        unit: Unit | str | None = None,
        ttl_ms: int = 60_000,
        overage_policy: CommitOveragePolicy | str | None = None,
    ) -> Stream:
        """A context manager (sync or async) for streamed work: reserves on enter, accumulates
        usage (``s.add(tokens=...)``), commits ``cost(usage)`` (or the sum of ``s.add(n)``) on
        exit, releases on an exception."""
        return Stream(self, subject, action, estimate, cost, unit, ttl_ms, overage_policy)


def _subject(levels: list[str | None], dimensions: Mapping[str, str] | None) -> Subject:
    tenant, workspace, app, workflow, agent, toolset = levels
    return Subject(tenant, workspace, app, workflow, agent, toolset, dimensions)


class Stream:
    """See ``Ledger.stream``."""

    @checked
    def __init__(
        self,
        ledger: Ledger,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        cost: Callable[[Mapping[str, int]], int] | None,
        unit: Unit | str | None,
        ttl_ms: int,
        overage_policy: CommitOveragePolicy | str | None,
    ) -> None:
        self._ledger = ledger
        self._request = (subject, action, estimate, unit, ttl_ms, overage_policy)
        self._cost = cost
        self.usage: dict[str, int] = {}
        self.total = 0
        self.reservation: ReservationResult | None = None
        self.result: CommitResult | None = None

    def add(self, amount: int = 0, **usage: int) -> None:
        """Adds ``amount`` to the running total and each keyword to ``usage``."""
        self.total += amount
        for name, value in usage.items():
            self.usage[name] = self.usage.get(name, 0) + value

    def __enter__(self) -> Stream:
        subject, action, estimate, unit, ttl_ms, overage = self._request
        self.reservation = self._ledger.reserve(
            subject, action, estimate, unit=unit, ttl_ms=ttl_ms, overage_policy=overage
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        assert self.reservation is not None, "__exit__ without __enter__"
        rid = self.reservation.reservation_id
        if exc is not None:
            self._ledger.release(rid)
            return False
        try:
            actual: Amount | int = self._cost(self.usage) if self._cost is not None else self.total
            _native.check_amount_arg("actual", actual)
        except Exception:
            # The work ran: the estimate is charged, as runcycles does with an actual that fails.
            _log.exception("the stream's cost failed; committing the estimate")
            actual = self._request[2]
        self.result = self._ledger.commit(rid, actual)
        return False

    async def __aenter__(self) -> Stream:
        if self._ledger.fleet:  # a round trip to Redis: off the event loop
            return await asyncio.to_thread(self.__enter__)
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        if self._ledger.fleet:
            return await asyncio.to_thread(self.__exit__, exc_type, exc, tb)
        return self.__exit__(exc_type, exc, tb)
