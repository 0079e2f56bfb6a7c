"""The SLO tracker: records events into a native bounded window and reads figures from it.

``SLOTracker`` keeps slo-budget-tracker 0.1.1's API. By default events are counted in the
native core: recording is a few atomic operations with no lock and no allocation, and memory is
fixed (under 64 KiB for a 30-day SLO), whatever the traffic. With ``store=`` the tracker keeps
the peer's contract instead: every ``Observation`` goes to the store and queries scan it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from burnguard import _native, audit_stream
from burnguard._arrays import bool_array, float_array
from burnguard.slo.models import (
    AlertTransition,
    BurnRateAlert,
    BurnRateSample,
    MultiWindowAlert,
    Observation,
    SLODefinition,
    SLOSnapshot,
)
from burnguard.slo.storage import ObservationStore

if TYPE_CHECKING:
    import httpx

    from burnguard._native import FiguresTuple, SnapshotTuple


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

    Reading: ``snapshot()``, ``check_burn_rate()``, ``check_alerts()``, ``poll_alerts()``.

    Events older than the retained history when they arrive are not recorded; ``dropped``
    counts them. ``resolution`` lists the bucket tiers (width and span of each).
    """

    __slots__ = (
        "_clock",
        "_core",
        "_definition",
        "_previous_alerted_windows",
        "_store",
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

    def __init__(
        self,
        definition: SLODefinition,
        *,
        store: ObservationStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._definition = definition
        self._store = store
        self._clock = clock
        self._core = _native.SloCore(**definition._spec(), clock=None if clock is time.time else clock)
        # Burn windows alerting at the previous check_burn_rate_with_audit call.
        self._previous_alerted_windows: set[int] = set()
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

    @property
    def definition(self) -> SLODefinition:
        return self._definition

    @property
    def name(self) -> str:
        return self._definition.name

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
        ok_array, at_array = bool_array("ok", ok), float_array("at", at)
        if self._store is None:
            self._core.record_many(ok_array, at_array)
        else:
            self._record_each(ok_array.tolist(), at_array)

    def record_latency_many(self, seconds: Any, at: Any) -> None:
        """Record one request per element of ``seconds`` (durations) at timestamps ``at``."""
        seconds_array, at_array = float_array("seconds", seconds), float_array("at", at)
        if self._store is None:
            self._core.record_latency_many(seconds_array, at_array)
        else:
            self._record_each([self._core.latency_is_good(s) for s in seconds_array.tolist()], at_array)

    # ---- read ------------------------------------------------------------------------------

    def snapshot(self, *, at: float | None = None) -> SLOSnapshot:
        """The SLO's figures now (or at ``at``)."""
        return self._snapshot(self._read_snapshot(at))

    def check_burn_rate(self, *, at: float | None = None) -> list[BurnRateAlert]:
        """One alert per burn-rate window with events whose burn rate is >= the threshold."""
        definition = self._definition
        threshold = definition.burn_rate_threshold
        return [
            BurnRateAlert(
                slo_name=definition.name,
                window_seconds=window,
                burn_rate=burn_rate,
                threshold=threshold,
                success_ratio=success_ratio,
                sample_count=total,
            )
            for window, (_, total, _, success_ratio, burn_rate) in zip(
                definition.burn_rate_windows, self._burn_samples(at), strict=True
            )
            if total and burn_rate >= threshold
        ]

    def check_alerts(self, *, at: float | None = None) -> list[MultiWindowAlert]:
        """The multiwindow alert policies firing now. Stateless."""
        return list(self.snapshot(at=at).alerts)

    def poll_alerts(self, *, at: float | None = None) -> list[AlertTransition]:
        """Alert policies that started firing or resolved since the previous poll.

        Each transition is reported once, even to concurrent pollers."""
        if self._store is None:
            raw, started, resolved = self._core.poll_alerts(at=at)
        else:
            raw, started, resolved = self._core.poll_counts(self._store_counts(at))
        alerts = self._alerts(raw)
        return [
            AlertTransition(state="firing" if started >> i & 1 else "resolved", alert=alert)
            for i, alert in enumerate(alerts)
            if (started | resolved) >> i & 1
        ]

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
        alerts = self.check_burn_rate(at=at)
        alerting = {a.window_seconds for a in alerts}
        started = alerting - self._previous_alerted_windows
        recovered = self._previous_alerted_windows - alerting
        self._previous_alerted_windows = alerting
        for alert in alerts:
            if alert.window_seconds in started:
                await audit_stream.emit(http_client, kind="slo_burn_started", payload=alert.to_dict())
        for window in sorted(recovered):
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
        return at if at is not None else self._clock()

    def _read_snapshot(self, at: float | None) -> SnapshotTuple:
        if self._store is None:
            return self._core.snapshot(at=at)
        return self._core.evaluate(self._store_counts(at))

    def _burn_samples(self, at: float | None) -> list[FiguresTuple]:
        if self._store is None:
            return self._core.burn_samples(at=at)
        now = self._now(at)
        return [self._core.figures(w, *self._good_bad(now, w)) for w in self._definition.burn_rate_windows]

    def _snapshot(self, raw: SnapshotTuple) -> SLOSnapshot:
        overall, remaining, consumed, samples, _, time_to_exhaustion, dropped = raw
        definition = self._definition
        return SLOSnapshot(
            name=definition.name,
            target=definition.target,
            window_seconds=definition.window_seconds,
            total=overall[1],
            failures=overall[2],
            success_ratio=overall[3],
            error_budget_remaining=remaining,
            burn_rate=overall[4],
            burn_rate_samples=tuple(
                BurnRateSample(window_seconds=w, burn_rate=s[4], success_ratio=s[3], sample_count=s[1])
                for w, s in zip(definition.burn_rate_windows, samples, strict=True)
            ),
            error_budget_consumed=consumed,
            time_to_exhaustion_seconds=time_to_exhaustion,
            alerts=tuple(self._alerts(raw, firing_only=True)),
            dropped=dropped,
        )

    def _alerts(self, raw: SnapshotTuple, *, firing_only: bool = False) -> list[MultiWindowAlert]:
        name = self._definition.name
        return [
            MultiWindowAlert(
                slo_name=name,
                severity=policy.severity,
                threshold=policy.threshold,
                long_window_seconds=policy.long_window_seconds,
                short_window_seconds=policy.short_window_seconds,
                long_burn_rate=long[4],
                short_burn_rate=short[4],
                long_sample_count=long[1],
                short_sample_count=short[1],
                firing=firing,
            )
            for policy, (long, short, firing) in zip(self._definition.policies, raw[4], strict=True)
            if firing or not firing_only
        ]

    # ---- the custom-store path -------------------------------------------------------------

    def _store_record(self, success: bool, *, at: float | None = None) -> None:
        assert self._store is not None
        self._store.record(Observation(timestamp=self._now(at), success=success))

    def _store_record_success(self, *, at: float | None = None) -> None:
        self._store_record(True, at=at)

    def _store_record_failure(self, *, at: float | None = None) -> None:
        self._store_record(False, at=at)

    def _store_record_latency(self, seconds: float, *, at: float | None = None) -> None:
        self._store_record(self._core.latency_is_good(seconds), at=at)

    def _record_each(self, ok: Sequence[bool], at: Any) -> None:
        if len(ok) != len(at):
            raise ValueError(f"at must have the same length as ok ({len(ok)}); got {len(at)}")
        for success, ts in zip(ok, at.tolist(), strict=True):
            self._store_record(success, at=ts)

    def _good_bad(self, now: float, seconds: float) -> tuple[int, int]:
        assert self._store is not None
        events = self._store.window(now, seconds)
        bad = sum(1 for o in events if not o.success)
        return len(events) - bad, bad

    def _store_counts(self, at: float | None) -> list[tuple[int, int]]:
        now = self._now(at)
        return [self._good_bad(now, w) for w in self._core.query_windows]
