"""A named collection of SLO trackers."""

from __future__ import annotations

from collections.abc import Iterator
from threading import Lock

from burnguard.errors import InvalidArgumentError
from burnguard.redis import RedisBackend, backend_for
from burnguard.shared import Arena, arena_of
from burnguard.slo.models import AlertTransition, BurnRateAlert, MultiWindowAlert, SLODefinition, SLOSnapshot
from burnguard.slo.tracker import SLOTracker


class SLORegistry:
    """Named SLO trackers, safe to share across threads."""

    __slots__ = ("_lock", "_shared", "_trackers")

    def __init__(self, *, shared: str | Arena | RedisBackend | bool | None = None) -> None:
        self._trackers: dict[str, SLOTracker] = {}
        self._lock = Lock()
        backend = backend_for(shared)
        self._shared: Arena | RedisBackend | None = backend or arena_of(shared)

    def define(self, definition: SLODefinition) -> SLOTracker:
        """Register a new SLO (in the registry's arena, if it has one); ``ValueError`` if the
        name is already registered."""
        tracker = SLOTracker(definition, shared=self._shared)
        self.add(tracker)
        return tracker

    def add(self, tracker: SLOTracker) -> None:
        """Register an existing tracker (one with a custom store or clock, say)."""
        with self._lock:
            if tracker.name in self._trackers:
                raise InvalidArgumentError(f"SLO {tracker.name!r} is already registered", "definition")
            self._trackers[tracker.name] = tracker

    def get(self, name: str) -> SLOTracker:
        with self._lock:
            try:
                return self._trackers[name]
            except KeyError:
                raise KeyError(f"No SLO registered under {name!r}") from None

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._trackers

    def __len__(self) -> int:
        with self._lock:
            return len(self._trackers)

    def __iter__(self) -> Iterator[SLOTracker]:
        with self._lock:
            return iter(list(self._trackers.values()))

    def names(self) -> list[str]:
        with self._lock:
            return list(self._trackers)

    def snapshot_all(self, *, at: float | None = None) -> list[SLOSnapshot]:
        return [t.snapshot(at=at) for t in self]

    def check_burn_rates(self, *, at: float | None = None) -> list[BurnRateAlert]:
        return [alert for t in self for alert in t.check_burn_rate(at=at)]

    def check_alerts(self, *, at: float | None = None) -> list[MultiWindowAlert]:
        """Every multiwindow alert policy firing now, across all SLOs."""
        return [alert for t in self for alert in t.check_alerts(at=at)]

    def poll_alerts(self, *, at: float | None = None) -> list[AlertTransition]:
        """Every alert transition since the previous poll, across all SLOs."""
        return [transition for t in self for transition in t.poll_alerts(at=at)]
