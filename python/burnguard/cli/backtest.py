"""Backtests of alert policies on access logs.

A log is counted natively into per-step good and bad events (``_native.LogCountsCore``), then
replayed through the SLO's burn-rate policies and through the SRE Workbook's six alerting
approaches (``_native.replay_policies``, the evaluation Prometheus does each step). Each
approach is scored against incidents, given in a file or derived from the log:

* an incident is a run of steps whose 10-minute error ratio is at least twice the error budget,
  runs less than 30 minutes apart merged, kept when it spent at least 1 % of the period's budget;
* an alert detects an incident when it fires between the incident's start and its end plus the
  approach's longest window (or the next incident's start, if sooner); precision is the share
  of alerts that detect one, recall the share of incidents detected; detection time runs from
  the incident's start to the first alert, reset time from its end to the last detecting
  alert's resolution;
* budget figures are fractions of the period's error budget at the log's mean traffic;
* a policy fires only once the log fills its long window.
"""

from __future__ import annotations

import gzip
import io
import math
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._results import Result
from burnguard.slo import BurnRatePolicy

_CHUNK = 1 << 20
_WORKBOOK = 30 * 86400


@dataclass(frozen=True)
class LogCounts(Result):
    """An access log counted per step."""

    start: float
    step_seconds: int
    bad: npt.NDArray[np.uint64] = field(repr=False)
    total: npt.NDArray[np.uint64] = field(repr=False)
    lines: int
    malformed: int
    examples: list[tuple[int, str]]


def open_source(source: str) -> Any:
    """A binary file of ``source`` (a path or ``-`` for stdin), gunzipped if it is gzip."""
    raw: Any = sys.stdin.buffer if source == "-" else open(source, "rb")
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    return raw


def read_chunks(source: str, size: int, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The bytes of ``source`` (see ``open_source``) in chunks of ``size``, read and gunzipped on
    a thread while the caller parses the previous ones (both release the GIL), at most four
    chunks ahead. ``progress`` is told how many bytes of the file itself each chunk took."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def produce() -> None:
        try:
            with open_source(source) as f:
                raw, done = getattr(f, "fileobj", f), 0
                while not stop.is_set() and (chunk := f.read(size)):
                    chunks.put(chunk)
                    if progress is not None and source != "-":
                        progress(raw.tell() - done)
                        done = raw.tell()
            chunks.put(None)
        except BaseException as error:  # handed to the reading thread, which raises it
            chunks.put(error)

    thread = threading.Thread(target=produce, name="burnguard-reader", daemon=True)
    thread.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                chunks.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def sniff_layout(head: bytes) -> str:
    """The layout of a log starting ``head``: ``json`` when its first line is an object,
    ``combined`` when it looks like a combined log (``[time] "request"``), else ``csv``."""
    first = head.lstrip().split(b"\n", 1)[0]
    if first.startswith(b"{"):
        return "json"
    return "combined" if b"[" in first and b'"' in first else "csv"


def read_log(
    source: str,
    *,
    layout: str,
    step_seconds: int,
    latency_threshold: float | None = None,
    strict: bool = False,
    columns: dict[str, str | None] | None = None,
    preset: str | None = None,
    latency_unit: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> LogCounts:
    """Counts the log at ``source`` (a path, gzip or not, or ``-`` for stdin) laid out as
    ``layout`` (``auto``: sniffed from its first line). ``columns`` name a CSV's columns or a
    JSON log's fields (dotted paths); ``preset`` is a JSON log's server; ``latency_unit`` is the
    seconds in a unit of a bare latency number."""
    names = columns or {}
    chunks = read_chunks(source, _CHUNK, progress)
    first = next(chunks, b"")
    layout = sniff_layout(first) if layout == "auto" else layout
    if preset and layout != "json":
        raise ValueError(f"--preset names a JSON log's server, but the log is {layout}")
    core = _native.LogCountsCore(
        layout,
        float(step_seconds),
        latency_threshold=latency_threshold,
        strict=strict,
        timestamp_column=names.get("timestamp_column"),
        status_column=names.get("status_column"),
        ok_column=names.get("ok_column"),
        latency_column=names.get("latency_column"),
        preset=preset,
        latency_unit=latency_unit,
    )
    core.feed(first)
    for chunk in chunks:
        core.feed(chunk)
    core.finish()
    start, bad, total = core.steps()
    return LogCounts(start, step_seconds, bad, total, core.lines, core.malformed, core.examples)


@dataclass(frozen=True)
class Approach:
    """An alerting strategy: policies (a single-window one has equal windows) and a hold."""

    name: str
    policies: tuple[BurnRatePolicy, ...]
    hold_seconds: int = 0


def workbook_approaches(slo_policies: Sequence[BurnRatePolicy], period_seconds: int) -> list[Approach]:
    """The SRE Workbook's six approaches ("Alerting on SLOs"), windows scaled from 30 days to the
    period; the sixth is the SLO's own multiwindow, multi-burn-rate policies."""
    scale = period_seconds / _WORKBOOK

    def single(severity: str, window: float, threshold: float) -> BurnRatePolicy:
        seconds = max(1.0, round(window * scale))
        return BurnRatePolicy(severity, seconds, seconds, threshold)

    return [
        Approach("1 error rate, 10m", (single("page", 600, 1.0),)),
        Approach("2 error rate, 36h", (single("page", 129600, 1.0),)),
        Approach("3 1m for 1h", (single("page", 60, 1.0),), round(3600 * scale)),
        Approach("4 36x over 1h", (single("page", 3600, 36.0),)),
        Approach(
            "5 multi burn rate",
            (single("page", 3600, 14.4), single("page", 21600, 6.0), single("ticket", 259200, 1.0)),
        ),
        Approach("6 multiwindow", tuple(slo_policies)),
    ]


def _on_steps(policy: BurnRatePolicy, step: int) -> tuple[str, float, float, float]:
    """The policy with its windows rounded to whole steps (at least one)."""

    def whole(seconds: float) -> float:
        return float(max(1, round(seconds / step)) * step)

    return (
        policy.severity,
        whole(policy.long_window_seconds),
        whole(policy.short_window_seconds),
        policy.threshold,
    )


def runs(firing: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(first step, step after the last)`` of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], firing.astype(np.int8), [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class Episode(Result):
    """One alert, fired at ``fired_at`` and resolved at ``resolved_at`` (None: still firing)."""

    severity: str
    fired_at: float
    resolved_at: float | None
    peak_burn_rate: float
    budget_consumed_at_fire: float


@dataclass(frozen=True)
class Incident(Result):
    """A span of bad service, from a file or found in the log."""

    start: float
    end: float
    budget_spent: float


@dataclass(frozen=True)
class Score(Result):
    """How one approach did on the log."""

    approach: str
    alerts: int
    precision: float | None
    recall: float | None
    mean_detection_seconds: float | None
    mean_reset_seconds: float | None
    mean_budget_spent_before_detection: float | None
    alerts_per_week: float


class Replay:
    """A counted log replayed for one SLO: its ``target``, ``period_seconds`` and policies."""

    def __init__(self, counts: LogCounts, target: float, period_seconds: int) -> None:
        if counts.total.size == 0:
            raise ValueError("the log holds no request")
        self.counts = counts
        self.target = target
        self.budget = 1 - target
        self.period_steps = max(1, round(period_seconds / counts.step_seconds))
        mean_events = float(counts.total.sum()) / counts.total.size
        #: The period's error budget in events, at the log's mean traffic.
        self.period_budget_events = self.budget * mean_events * self.period_steps
        self._bad_cum = np.concatenate(([0.0], np.cumsum(counts.bad, dtype=np.float64)))

    def time_of(self, step: int) -> float:
        """The end of ``step``: when an alert evaluated after it fires."""
        return self.counts.start + (step + 1) * self.counts.step_seconds

    def firing(self, policies: Sequence[BurnRatePolicy], hold_seconds: int = 0) -> npt.NDArray[np.bool_]:
        """Steps at which any of ``policies`` fires, once the log fills its long window (before
        that, a window holding the log's first minutes would judge the period by them)."""
        step = self.counts.step_seconds
        on_steps = [_on_steps(p, step) for p in policies]
        per_policy = _native.replay_policies(
            self.counts.bad, self.counts.total, float(step), self.target, on_steps, round(hold_seconds / step)
        )
        firing = np.zeros(self.counts.total.size, bool)
        for (_, long, _, _), fires in zip(on_steps, per_policy, strict=True):
            fires[: int(long // step) - 1] = False
            firing |= fires
        return firing

    def spent(self, first: int, last: int) -> float:
        """Bad events in steps ``first..last`` (exclusive) over the period's budget."""
        return float(self._bad_cum[last] - self._bad_cum[first]) / self.period_budget_events

    def episodes(self, policies: Sequence[BurnRatePolicy]) -> list[Episode]:
        """The alerts of each severity of ``policies``, in time order."""
        step = self.counts.step_seconds
        found = []
        for severity in dict.fromkeys(p.severity for p in policies):
            mine = [p for p in policies if p.severity == severity]
            burns = np.fmax.reduce(
                [
                    _native.window_burn_rates(
                        self.counts.bad, self.counts.total, int(_on_steps(p, step)[1] // step), self.budget
                    )
                    for p in mine
                ]
            )
            for first, after in runs(self.firing(mine)):
                found.append(
                    Episode(
                        severity=severity,
                        fired_at=self.time_of(first),
                        resolved_at=None if after == self.counts.total.size else self.time_of(after),
                        peak_burn_rate=float(np.nanmax(burns[first:after])),
                        budget_consumed_at_fire=self.spent(max(0, first + 1 - self.period_steps), first + 1),
                    )
                )
        return sorted(found, key=lambda e: e.fired_at)

    def derived_incidents(self) -> list[Incident]:
        """Incidents found in the log (see the module docs)."""
        step = self.counts.step_seconds
        window = max(1, round(600 / step))
        burns = _native.window_burn_rates(self.counts.bad, self.counts.total, window, self.budget)
        # The window ending at step i covers steps i - window + 1 .. i: a burn starts there.
        hot = np.nan_to_num(burns) >= 2.0
        merged: list[list[int]] = []
        gap = max(1, round(1800 / step))
        for first, after in runs(hot):
            first = max(0, first - window + 1)
            if merged and first - merged[-1][1] < gap:
                merged[-1][1] = after
            else:
                merged.append([first, after])
        return [
            Incident(self.counts.start + a * step, self.counts.start + b * step, self.spent(a, b))
            for a, b in merged
            if self.spent(a, b) >= 0.01
        ]

    def incidents_from(self, spans: Sequence[tuple[float, float]]) -> list[Incident]:
        """Incidents given as ``(start, end)`` times."""
        step = self.counts.step_seconds
        out = []
        for start, end in spans:
            a = min(max(0, math.floor((start - self.counts.start) / step)), self.counts.total.size)
            b = min(max(a, math.ceil((end - self.counts.start) / step)), self.counts.total.size)
            out.append(Incident(start, end, self.spent(a, b)))
        return out

    def score(self, approach: Approach, incidents: Sequence[Incident]) -> Score:
        """``approach``'s alerts on the log against ``incidents``."""
        step = self.counts.step_seconds
        alerts = runs(self.firing(approach.policies, approach.hold_seconds))
        grace = (
            max(max(p.long_window_seconds, p.short_window_seconds) for p in approach.policies)
            + approach.hold_seconds
        )
        detecting: set[int] = set()
        detections, resets, spent = [], [], []
        ordered = sorted(incidents, key=lambda i: i.start)
        for k, incident in enumerate(ordered):
            # An alert belongs to the last incident that began before it, within the grace.
            until = incident.end + grace
            if k + 1 < len(ordered):
                until = min(until, ordered[k + 1].start)
            mine = [i for i, (first, _) in enumerate(alerts) if incident.start <= self.time_of(first) < until]
            if not mine:
                continue
            detecting.update(mine)
            fired = self.time_of(alerts[mine[0]][0])
            detections.append(fired - incident.start)
            resets.append(self.time_of(alerts[mine[-1]][1]) - incident.end)
            first = math.floor((incident.start - self.counts.start) / step)
            spent.append(self.spent(max(0, first), alerts[mine[0]][0] + 1))
        weeks = self.counts.total.size * step / 604800

        def mean(values: list[float]) -> float | None:
            return float(np.mean(values)) if values else None

        return Score(
            approach=approach.name,
            alerts=len(alerts),
            precision=len(detecting) / len(alerts) if alerts else None,
            recall=len(detections) / len(incidents) if incidents else None,
            mean_detection_seconds=mean(detections),
            mean_reset_seconds=mean(resets),
            mean_budget_spent_before_detection=mean(spent),
            alerts_per_week=len(alerts) / weeks,
        )


def read_incidents(path: str) -> list[tuple[float, float]]:
    """``start,end`` rows (Unix seconds or ISO 8601; a header row is allowed)."""
    from datetime import datetime

    def when(text: str) -> float:
        text = text.strip()
        try:
            return float(text)
        except ValueError:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    spans = []
    for number, line in enumerate(io.StringIO(Path(path).read_text(encoding="utf-8")), 1):
        cells = [c for c in line.strip().split(",")]
        if not line.strip() or (number == 1 and cells[0].strip().lower() == "start"):
            continue
        try:
            start, end = when(cells[0]), when(cells[1])
        except (ValueError, IndexError):
            raise ValueError(f"{path} line {number}: must be start,end times; got {line.strip()!r}") from None
        if end < start:
            raise ValueError(f"{path} line {number}: the end is before the start")
        spans.append((start, end))
    return spans


def report(
    replay: Replay, policies: Sequence[BurnRatePolicy], incidents: Sequence[Incident], period: int
) -> dict[str, Any]:
    """Everything a backtest found, as plain data."""
    return {
        "log": {
            "lines": replay.counts.lines,
            "malformed": replay.counts.malformed,
            "malformed_examples": [{"line": n, "text": t} for n, t in replay.counts.examples],
            "start": replay.counts.start,
            "end": replay.time_of(replay.counts.total.size - 1),
            "step_seconds": replay.counts.step_seconds,
            "events": int(replay.counts.total.sum()),
            "bad_events": int(replay.counts.bad.sum()),
        },
        "alerts": [e.to_dict() for e in replay.episodes(policies)],
        "incidents": [i.to_dict() for i in incidents],
        "approaches": [replay.score(a, incidents).to_dict() for a in workbook_approaches(policies, period)],
    }
