"""cloudmeter's request buffer, on burnguard's native windows: each report is recorded into a
bounded ``RouteTable`` (what the dashboard and the projections read; each recording starts a
new one, as cloudmeter empties its buffer), and only the last ``MAX_METRICS`` reports are kept
as dicts for ``get_metrics()``. Never raises."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from burnguard.dashboard.panels import Recording
from burnguard.routes import RouteTable

WARMUP_SECONDS = 30
"""Reports in the first 30 s after ``start_recording()`` are tagged as warm-up."""
MAX_METRICS = 10_000
"""How many recent reports ``get_metrics()`` returns at most (cloudmeter kept every one)."""

MAX_ROUTES = 256
routes = RouteTable(max_routes=MAX_ROUTES)
"""The native windows the current recording's reports go into (a new table each start)."""
on_new_routes: list[Callable[[RouteTable], None]] = []
"""Told of each new table (the dashboard reads the current one)."""
session = Recording()
"""The recording session the dashboard's route and cost panels read."""

_buffer: deque[dict[str, Any]] = deque(maxlen=MAX_METRICS)
_recording: bool = False
_recording_start: float = 0.0


def report(route: str, method: str, status: int, duration_ms: int, egress_bytes: int = 0) -> None:
    """Records one request while recording; silent on any error."""
    try:
        if _recording:
            now = time.time()
            routes.route(route).record(duration_ms / 1000.0, status >= 500, egress_bytes, now, status)
            _buffer.append(
                {
                    "route": route,
                    "method": method.upper(),
                    "status": status,
                    "duration_ms": duration_ms,
                    "egress_bytes": egress_bytes,
                    "ts": now,
                    "warmup": now < _recording_start + WARMUP_SECONDS,
                }
            )
    except Exception:
        pass


def start_recording() -> None:
    """Starts a new recording: the buffer is emptied and the dashboard reads from now on."""
    global _recording, _recording_start, routes
    _buffer.clear()
    routes = RouteTable(max_routes=MAX_ROUTES)
    for listener in on_new_routes:
        listener(routes)
    _recording, _recording_start = True, time.time()
    session.start(_recording_start)


def stop_recording() -> None:
    global _recording
    _recording = False
    session.stop(time.time())


def get_metrics() -> list[dict[str, Any]]:
    """A copy of the recent reports, oldest first."""
    return list(_buffer)


def clear() -> None:
    """Empties the buffer and stops recording."""
    global _recording
    _buffer.clear()
    _recording = False
