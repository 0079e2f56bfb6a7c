"""Shared-memory arenas: state that every worker process of a host shares.

An arena is one fixed-size file, by default ``/dev/shm/burnguard-<uid>/<name>.arena``
(``BURNGUARD_SHARED_DIR`` or ``directory=`` moves it; Docker gives containers a 64 MB
``/dev/shm`` by default, so size arenas to fit or mount a larger one). Its space is reserved
when it is created, so a full file system is an error then and never a crash while recording.
The directory is 0700 and the file 0600, both the user's own; anything else is refused.

Objects given ``shared=`` (an arena name or an ``Arena``; by default the arena named by the
environment variable ``BURNGUARD_SHARED``, so a deployment needs no code change; ``False``
for none) keep their state in the arena, under
their identity (an SLO's name): every process that opens the same arena and builds the same
object shares its counts, whether the arena was opened before a fork (``gunicorn --preload``)
or in each worker. Recording stays a few atomic operations on shared memory: a worker killed
at any moment loses at most the event it was recording, and cannot block the others.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from burnguard import _native
from burnguard._check import checked
from burnguard.errors import invalid, wrong_type

__all__ = ["Arena", "arena_of"]


class Arena:
    """The arena ``name``, opened (and created with ``size`` bytes and room for ``entries``
    regions if no process has yet; an existing arena keeps its own)."""

    __slots__ = ("_core",)

    @checked
    def __init__(
        self,
        name: str,
        *,
        directory: str | os.PathLike[str] | None = None,
        size: int = 32 << 20,
        entries: int = 4096,
    ) -> None:
        if directory is None:
            directory = os.environ.get("BURNGUARD_SHARED_DIR") or None
        self._core = _native.ArenaCore(name, directory=directory, size=size, entries=entries)

    @staticmethod
    def file_of(name: str, *, directory: str | os.PathLike[str] | None = None) -> Path:
        """The file the arena ``name`` lives in (``BURNGUARD_SHARED_DIR`` or the default
        directory unless given), whether it exists yet or not."""
        if directory is None:
            directory = os.environ.get("BURNGUARD_SHARED_DIR") or None
        return _native.ArenaCore.file_of(name, directory=directory)

    @property
    def name(self) -> str:
        """The arena's name."""
        return self._core.name

    @property
    def path(self) -> Path:
        """The arena's file."""
        return Path(self._core.path)

    @property
    def size(self) -> int:
        """The arena's size in bytes."""
        return self._core.size

    @property
    def used(self) -> int:
        """Bytes taken so far by the header, the directory and the regions placed."""
        return self._core.used

    def __repr__(self) -> str:
        return f"Arena({self.name!r}, path={str(self.path)!r}, used={self.used}, size={self.size})"


_opened: dict[tuple[int, str, str | None], Arena] = {}
_opening = threading.Lock()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at the fork; the child has no such thread.
    global _opening
    _opening = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


#: URL schemes that name a Redis backend rather than an arena (``burnguard.redis``).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def arena_of(shared: object) -> Arena | None:
    """The arena ``shared`` names (opened once per process and name), or None: None means the
    arena named by ``BURNGUARD_SHARED`` if it is set, False means none whatever it says.

    A Redis URL in ``BURNGUARD_SHARED`` is for the objects that take a Redis backend (SLOs,
    breakers, ledgers and route tables): the others (the exporter's fault counters) stay per
    process. Given as ``shared=`` to one of them, it is an
    error."""
    from_environment = shared is None
    if shared is None:
        shared = os.environ.get("BURNGUARD_SHARED") or False
    if isinstance(shared, str) and shared.startswith(REDIS_SCHEMES):
        if from_environment:
            return None
        raise invalid(
            "shared",
            "is a Redis URL: SLOTracker, SLORegistry, CircuitBreaker, Ledger and RouteTable take a "
            "Redis backend; this object keeps its state per process",
            shared,
        )
    if shared is False or isinstance(shared, Arena):
        return shared or None
    if not isinstance(shared, str):
        raise wrong_type("shared", "must be an arena name, an Arena or False", type(shared).__name__)
    key = (os.getpid(), shared, os.environ.get("BURNGUARD_SHARED_DIR"))
    with _opening:
        arena = _opened.get(key)
        if arena is None:
            arena = _opened[key] = Arena(shared)
        return arena
