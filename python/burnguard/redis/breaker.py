"""One circuit breaker's link to the fleet: one state per name for every host.

Calls are decided on the host's own state word, at the usual nanosecond cost; every sync
(the backend's flush) reports the host's window and any transition it made, and installs
the state the fleet settled on. A breaker opened by any host (its own window tripped, or the
fleet's summed windows did) rejects on every host within one sync interval. HALF_OPEN probes
are leased to one host at a time, so the fleet admits no more probes than one breaker would;
a lease not back in time reopens the breaker.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from burnguard.redis import scripts

if TYPE_CHECKING:
    from burnguard._native import BreakerCore
    from burnguard.redis.backend import RedisBackend

#: How long a HALF_OPEN probe lease lasts when the breaker waits for its probes forever.
PROBE_LEASE_SECONDS = 60.0


class BreakerLink:
    """Syncs one breaker with the fleet's state of its name."""

    __slots__ = (
        "__weakref__",
        "_backend",
        "_config",
        "_geometry",
        "_keys",
        "_known",
        "_local_epoch",
        "_manual",
        "_queued_epoch",
        "breaker",
        "name",
        "writer",
    )

    def __init__(self, backend: RedisBackend, breaker: BreakerCore, config: dict[str, Any]) -> None:
        self._backend = backend
        self.breaker = breaker
        self.name: str = breaker.name
        self.writer = uuid.uuid4().hex
        self._geometry = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:16]
        lease = config["max_wait_duration_in_half_open_state"] or PROBE_LEASE_SECONDS
        max_wait = config["max_wait_duration_in_open_state"] or config["wait_duration_in_open_state"]
        minimum = config["minimum_number_of_calls"]
        if config["sliding_window_type"] == "count":
            minimum = min(minimum, config["sliding_window_size"])
        self._config = [
            minimum,
            config["failure_rate_threshold"],
            config["slow_call_rate_threshold"],
            int(config["wait_duration_in_open_state"] * 1000),
            config["backoff_multiplier"],
            int(max_wait * 1000),
            int(lease * 1000),
        ]
        tag = backend.key(f"breaker:{self.name}")
        self._keys = [f"{tag}:state", f"{tag}:writers"]
        self._known = -1
        self._local_epoch: int | None = None
        self._queued_epoch = 0
        self._manual = False
        breaker._fleet_gate(True)

    def restart_after_fork(self) -> None:
        """Becomes a new writer (the parent's window is its own)."""
        self.writer = uuid.uuid4().hex
        self._known, self._local_epoch, self._manual = -1, None, False

    def manual(self) -> None:
        """The breaker was moved by hand: the next sync moves the fleet to its state."""
        self._manual = True

    @property
    def slot_key(self) -> str:
        """A key of this link's: they all share its hash slot."""
        return self._keys[0]

    def queue(self, pipe: Any, _now: float) -> None:
        """Adds this breaker's sync to ``pipe``."""
        state, epoch, level, calls, failed, slow, _holds = self.breaker._fleet_report()
        changed = self._local_epoch is not None and epoch != self._local_epoch
        self._queued_epoch = epoch
        writer_ttl = max(10_000, int(self._backend.flush_interval * 4000))
        minimum, failure, slow_threshold, wait_ms, multiplier, max_wait_ms, lease_ms = self._config
        args: list[object] = [
            self.writer, self._geometry, self._known, state, int(changed), int(self._manual),
            calls, failed, slow, minimum, failure, slow_threshold, wait_ms, multiplier, max_wait_ms,
            lease_ms, writer_ttl, level,
        ]  # fmt: skip
        self._manual = False
        self._backend.queue_script(pipe, scripts.BREAKER_SYNC, self._keys, args)

    def failed(self) -> None:
        """Redis was not reached: the breaker decides alone until it is, so a HALF_OPEN that
        waits for the fleet's lease takes its probes."""
        self.breaker._fleet_gate(False)
        state, _epoch, level, *_, holds = self.breaker._fleet_report()
        if state == "HALF_OPEN" and not holds:
            self.breaker._fleet_adopt("HALF_OPEN", level, None, True)
        self._known = -1  # adopt the fleet's state again once it is back

    def applied(self, reply: list[Any]) -> tuple[float, str]:
        """Installs the fleet's state from a sync's reply; returns Redis's time."""
        seconds, micros, fleet_state, fleet_epoch, level, left_ms, holder = reply
        fleet_state = fleet_state.decode() if isinstance(fleet_state, bytes) else str(fleet_state)
        fleet_epoch, level, left_ms = int(fleet_epoch), int(level), int(left_ms)
        self.breaker._fleet_gate(True)
        local_epoch = self._queued_epoch
        if fleet_epoch != self._known:
            if self._adopt(fleet_state, level, None if left_ms < 0 else left_ms / 1000, bool(holder)):
                local_epoch = self.breaker._fleet_report()[1]
            self._known = fleet_epoch
        self._local_epoch = local_epoch
        return int(seconds) + int(micros) / 1e6, "ok"

    def _adopt(self, state: str, level: int, remaining: float | None, holder: bool) -> bool:
        """Moves the local breaker to the fleet's state; whether its word changed."""
        local_state = self.breaker._fleet_report()[0]
        if state in ("OPEN", "HALF_OPEN"):
            self.breaker._fleet_adopt(state, level, remaining, state == "HALF_OPEN" and holder)
            return True
        if local_state == state:
            return False  # CLOSED here too: the window is kept
        self.breaker._fleet_adopt(state, level, None, False)
        return True
