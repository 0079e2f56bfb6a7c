"""Pluggable observation stores, for ``SLOTracker(store=...)``.

The default tracker keeps no observations at all: it counts them in the native bounded window.
A custom store keeps slo-budget-tracker's contract (one ``Observation`` per event, scanned on
every query) for callers that need the raw events, at the cost of memory and speed.
"""

from __future__ import annotations

import math
from collections import deque
from threading import Lock
from typing import Protocol

from burnguard._check import checked
from burnguard.errors import invalid
from burnguard.slo.models import Observation


class ObservationStore(Protocol):
    """A backend holding observations within a rolling window."""

    def record(self, observation: Observation) -> None: ...

    def window(self, now: float, seconds: float) -> list[Observation]:
        """Observations whose timestamp is at least ``now - seconds``."""
        ...

    def trim(self, before: float) -> None:
        """Forget observations older than ``before`` (seconds since the epoch)."""
        ...

    def __len__(self) -> int: ...


class InMemoryStore:
    """A thread-safe deque of observations, trimmed to ``max_age_seconds`` on every write."""

    __slots__ = ("_events", "_lock", "_max_age_seconds")

    @checked
    def __init__(self, max_age_seconds: int) -> None:
        if not (isinstance(max_age_seconds, (int, float)) and 0 < max_age_seconds < math.inf):
            raise invalid("max_age_seconds", "must be a positive, finite number of seconds", max_age_seconds)
        self._max_age_seconds = max_age_seconds
        self._events: deque[Observation] = deque()
        self._lock = Lock()

    def record(self, observation: Observation) -> None:
        with self._lock:
            self._events.append(observation)
            self._drop_before(observation.timestamp - self._max_age_seconds)

    def window(self, now: float, seconds: float) -> list[Observation]:
        cutoff = now - seconds
        with self._lock:
            return [o for o in self._events if o.timestamp >= cutoff]

    def trim(self, before: float) -> None:
        with self._lock:
            self._drop_before(before)

    def _drop_before(self, cutoff: float) -> None:
        events = self._events
        while events and events[0].timestamp < cutoff:
            events.popleft()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
