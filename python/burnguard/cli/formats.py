"""How the command writes times, durations and ratios, on the terminal and in HTML reports."""

from __future__ import annotations

from datetime import datetime, timezone


def when(seconds: float | None) -> str:
    """A time as ``2025-12-03 10:22 UTC``; None (an alert not yet resolved) as ``still firing``."""
    if seconds is None:
        return "still firing"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def span(seconds: float | None) -> str:
    """A duration in whole minutes, as ``22m`` or ``5h40m`` (``-`` for none)."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    sign, minutes = ("-" if minutes < 0 else ""), abs(minutes)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{sign}{minutes}m"


def ratio(value: float | None) -> str:
    """A ratio as a whole percentage (``-`` for none)."""
    return "-" if value is None else f"{value:.0%}"
