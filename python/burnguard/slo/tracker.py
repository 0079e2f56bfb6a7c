"""The SLO tracker: records events into a native bounded window and reads figures from it.

``SLOTracker`` keeps slo-budget-tracker 0.1.1's API. By default events are counted in the
native core: recording is a few atomic operations with no lock and no allocation, and memory is
fixed (under 64 KiB for a 30-day SLO), whatever the traffic. With ``store=`` the tracker keeps
the peer's contract instead: every ``Observation`` goes to the store and queries scan it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from burnguard import _native, audit_stream
from burnguard._check import checked
from burnguard.errors import InvalidArgumentError, invalid, wrong_type
from burnguard.redis import RedisBackend, SLOLink, backend_for
from burnguard.shared import Arena, arena_of
from burnguard.slo.models import (
    AlertTransition,
    BurnRateAlert,
    MultiWindowAlert,
    Observation,
    SLODefinition,
    SLOSnapshot,
)
from burnguard.slo.storage import ObservationStore

if TYPE_CHECKING:
    import httpx


class _Record(Protocol):
    def __call__(self, success: bool, *, at: float | None = None) -> None: ...


class _RecordOne(Protocol):
    def __call__(self, *, at: float | None = None) -> None: ...


class _RecordLatency(Protocol):
    def __call__(self, seconds: float, *, at: float | None = None) -> None: ...


class SLOTracker:
    """One SLO and its bounded history. Thread-safe; recording never takes a lock.

    Recording (``at=`` is a timestamp in seconds since the epoch; default: the clock):

    * ``record(success, *, at=None)``, ``record_success(*, at=None)``, ``record_failure(*, at=None)``
    * ``record_latency(seconds, *, at=None)`` for latency SLOs: good when within the threshold
    * ``record_many(ok, at)`` and ``record_latency_many(seconds, at)`` for arrays (GIL released)

    Reading: ``snapshot()``, ``check_burn_rate()``, ``check_alerts()``, ``alert_status()``,
    ``poll_alerts()``.

    Events older than the retained history when they arrive are not recorded; ``dropped``
    counts them. ``resolution`` lists the bucket tiers (width and span of each).
    """

    __slots__ = (
        "_core",
        "_definition",
        "_fleet",
        "_native_reads",
        "_store",
        "arena",
        "backend",
        "record",
        "record_failure",
        "record_latency",
        "record_success",
    )

    # Bound straight to the native methods on the default path: no Python frame per event.
    record: _Record
    record_success: _RecordOne
    record_failure: _RecordOne
    record_latency: _RecordLatency

    @checked
    def __init__(
        self,
        definition: SLODefinition,
        *,
        store: ObservationStore | None = None,
        clock: Callable[[], float] = time.time,
        shared: str | Arena | RedisBackend | bool | None = None,
    ) -> None:
        if shared is None and store is None:
            shared = os.environ.get("BURNGUARD_SHARED") or None
        backend = backend_for(shared)
        arena = (
            (None if backend.host is None else backend.host.arena)  # a host's window, on the fleet
            if backend is not None
            else arena_of(False if shared is None and store is not None else shared)
        )
        if (arena is not None or backend is not None) and store is not None:
            raise invalid("shared", "cannot be combined with store= (a store keeps its own events)")
        self._definition = definition
        self._store = store
        self.arena = arena
        """The arena the SLO's counts live in (``shared=``), or None."""
        self.backend = backend
        """The Redis backend the SLO's counts are flushed to (``shared=``), or None."""
        native_clock: Any = None if clock is time.time else clock
        if backend is not None and native_clock is None:
            native_clock = backend.clock  # record and read on the fleet's time
        shared_core = None if arena is None else arena._core
        self._core = _native.SloCore(definition, clock=native_clock, shared=shared_core)
        self._fleet: SLOLink | None = None if backend is None else backend.attach_slo(definition, self._core)
        self._native_reads = store is None and backend is None
        if store is None:
            self.record = self._core.record
            self.record_success = self._core.record_success
            self.record_failure = self._core.record_failure
            self.record_latency = self._core.record_latency
        else:
            self.record = self._store_record
            self.record_success = self._store_record_success
            self.record_failure = self._store_record_failure
            self.record_latency = self._store_record_latency

    def _recording_core(self) -> _native.SloCore | None:
        """The native core events are recorded into, or None when they go to a store (for the
        web adapters, which record a request's SLOs in one native call)."""
        return self._core if self._store is None else None

    @property
    def is_shared(self) -> bool:
        """Whether the SLO's counts live in a shared arena or a fleet's Redis (``shared=``)."""
        shared: bool = self._core.shared or self._fleet is not None
        return shared

    def flush(self) -> bool:
        """With a Redis backend: flushes now, rather than at the next interval, so that reads
        see this process's latest events; False if Redis was not reached. Without: True."""
        return True if self.backend is None else self.backend.flush()

    @property
    def unshared(self) -> int:
        """With a Redis backend: events recorded here that the fleet never got (recorded
        with ``at=`` older than the finest buckets' span, or lost while Redis was
        unreachable for longer than that span). 0 otherwise."""
        return 0 if self._fleet is None else self._fleet.unshared

    @property
    def definition(self) -> SLODefinition:
        return self._definition

    @property
    def name(self) -> str:
        return self._definition.name

    @property
    def events_total(self) -> tuple[int, int] | None:
        """``(good, bad)``: every event recorded since the SLO was made (in every process, when
        shared), whether or not it is still held: monotonic, for Prometheus counters. None for
        a tracker backed by a store, which keeps its own events."""
        if self._store is not None:
            return None
        totals: tuple[int, int] = self._core.totals
        return totals

    @property
    def dropped(self) -> int:
        """Events that arrived older than the retained history and were not recorded."""
        return self._core.dropped

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the native window (fixed at construction)."""
        return self._core.memory_bytes

    @property
    def resolution(self) -> tuple[tuple[float, float], ...]:
        """``(bucket_width_seconds, span_seconds)`` of each tier, finest first. A window's old
        edge is exact to the width of the tier holding that age."""
        return tuple(self._core.resolution)

    # ---- record, arrays --------------------------------------------------------------------

    def record_many(self, ok: Any, at: Any) -> None:
        """Record one event per element of ``ok`` (booleans) at timestamps ``at``, for backfill
        and replay. Nothing is recorded if any element is bad."""
        from burnguard._arrays import bool_array, float_array  # numpy only when arrays are used

        ok_array, at_array = bool_array("ok", ok), float_array("at", at)
        if self._store is None:
            self._core.record_many(ok_array, at_array)
        else:
            self._record_each(ok_array.tolist(), at_array)

    def record_latency_many(self, seconds: Any, at: Any) -> None:
        """Record one request per element of ``seconds`` (durations) at timestamps ``at``."""
        from burnguard._arrays import float_array

        seconds_array, at_array = float_array("seconds", seconds), float_array("at", at)
        if self._store is None:
            self._core.record_latency_many(seconds_array, at_array)
        else:
            good = []
            for i, s in enumerate(seconds_array.tolist()):
                try:
                    good.append(self._core.latency_is_good(s))
                except InvalidArgumentError as err:
                    raise err.at((i,)) from None
            self._record_each(good, at_array)

    # ---- read ------------------------------------------------------------------------------

    def snapshot(self, *, at: float | None = None) -> SLOSnapshot:
        """The SLO's figures now (or at ``at``)."""
        if self._native_reads:
            return self._core.snapshot(at=at)
        return self._core.evaluate(self._counts(self._core.query_windows, at))

    def burndown(self, points: int = 48, *, at: float | None = None) -> list[tuple[float, float]]:
        """The error budget left across the SLO window ending now (or at ``at``), as
        ``points + 1`` pairs ``(time, share of the window's budget left)`` from the window's
        start to its end: the budget at the window's traffic, less the failures before each
        time. The last share is ``snapshot().error_budget_remaining``; shares follow the
        buckets' resolution (``resolution``)."""
        core, end = self._core, self._now(at)
        if self._native_reads:
            left = core.burndown(points, at=end)
        else:
            left = core.burndown_counts(self._counts(core.burndown_windows(points), end))
        start, step = end - self._definition.window_seconds, self._definition.window_seconds / points
        return [(start + k * step, share) for k, share in enumerate(left)]

    def check_burn_rate(self, *, at: float | None = None) -> list[BurnRateAlert]:
        """One alert per burn-rate window with events whose burn rate is >= the threshold."""
        if self._native_reads:
            return self._core.check_burn_rate(at=at)
        return self._core.check_burn_rate_counts(self._counts(self._definition.burn_rate_windows, at))

    def check_alerts(self, *, at: float | None = None) -> list[MultiWindowAlert]:
        """The multiwindow alert policies firing now. Stateless."""
        return list(self.snapshot(at=at).alerts)

    def alert_status(self, *, at: float | None = None) -> list[MultiWindowAlert]:
        """Every alert policy evaluated now, firing or not, with both windows' figures."""
        if self._native_reads:
            return self._core.alert_status(at=at)
        return self._core.alert_status_counts(self._counts(self._core.query_windows, at))

    def poll_alerts(self, *, at: float | None = None) -> list[AlertTransition]:
        """Alert policies that started firing or resolved since the previous poll.

        Each transition is reported once, even to concurrent pollers; with a Redis backend,
        once for the fleet (the firing state is swapped in Redis; while Redis is unreachable,
        once per process)."""
        if self._native_reads:
            return self._core.poll_alerts(at=at)
        counts = self._counts(self._core.query_windows, at)
        if self.backend is None:
            return self._core.poll_counts(counts)
        before = self.backend.swap(f"slo:{self.name}", "firing", self._core.firing_mask(counts))
        local = self._core.poll_counts(counts)  # kept in step, for when Redis is unreachable
        if before is None:  # Redis unreachable: claimed in this process meanwhile
            return local
        return self._core.transitions_since(counts, before)

    async def check_burn_rate_with_audit(
        self,
        http_client: httpx.AsyncClient,
        *,
        at: float | None = None,
    ) -> list[BurnRateAlert]:
        """``check_burn_rate``, emitting one audit-stream event per transition of a burn
        window: ``slo_burn_started`` when it starts alerting, ``slo_recovered`` when it stops.

        Emission is best effort (see ``burnguard.audit_stream``); the transition bookkeeping
        advances before emitting, so a slow or failing sink never causes repeats.
        """
        if self._native_reads:
            alerts, started, recovered = self._core.poll_burn_rate(at=at)
        else:
            counts = self._counts(self._definition.burn_rate_windows, at)
            alerts, started, recovered = self._core.poll_burn_rate_counts(counts)
        windows = self._definition.burn_rate_windows
        started_windows = {windows[i] for i in started}
        for alert in alerts:
            if alert.window_seconds in started_windows:
                await audit_stream.emit(http_client, kind="slo_burn_started", payload=alert.to_dict())
        for window in sorted(windows[i] for i in recovered):
            await audit_stream.emit(
                http_client,
                kind="slo_recovered",
                payload={
                    "slo_name": self.name,
                    "window_seconds": window,
                    "threshold": self._definition.burn_rate_threshold,
                },
            )
        return alerts

    # ---- internals -------------------------------------------------------------------------

    def _now(self, at: float | None) -> float:
        return self._core.now(at)

    # ---- the custom-store path -------------------------------------------------------------

    def _store_record(self, success: bool, *, at: float | None = None) -> None:
        assert self._store is not None
        if type(success).__name__ not in ("bool", "bool_"):  # as the native path: no 0/1 ints
            raise wrong_type("success", "must be a bool", type(success).__name__)
        self._store.record(Observation(timestamp=self._now(at), success=bool(success)))

    def _store_record_success(self, *, at: float | None = None) -> None:
        self._store_record(True, at=at)

    def _store_record_failure(self, *, at: float | None = None) -> None:
        self._store_record(False, at=at)

    def _store_record_latency(self, seconds: float, *, at: float | None = None) -> None:
        self._store_record(self._core.latency_is_good(seconds), at=at)

    def _record_each(self, ok: Sequence[bool], at: Any) -> None:
        """Records a batch into the store: all of it, or (on a bad element) none of it."""
        if len(ok) != len(at):
            raise invalid("at", f"must have the same length as ok ({len(ok)})", len(at))
        stamps = []
        for i, ts in enumerate(at.tolist()):
            try:
                stamps.append(self._now(ts))
            except InvalidArgumentError as err:
                raise err.at((i,)) from None
        assert self._store is not None
        for success, ts in zip(ok, stamps, strict=True):
            self._store.record(Observation(timestamp=ts, success=success))

    def _counts(self, windows: Sequence[float], at: float | None) -> list[tuple[int, int]]:
        """``(good, bad)`` over each window ending now (or at ``at``), from the fleet's mirror
        or the store."""
        now = self._now(at)
        if self._fleet is not None:
            return self._fleet.counts(now, list(windows))
        assert self._store is not None
        counts = []
        for seconds in windows:
            events = self._store.window(now, seconds)
            bad = sum(1 for o in events if not o.success)
            counts.append((len(events) - bad, bad))
        return counts
