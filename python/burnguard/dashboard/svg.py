"""Server-side SVG charts for the dashboard: plain markup, no script, so a test (or a reader of
the JSON API) can read each series back. Every series is a ``<g class="series"
data-name="...">`` holding a ``<polyline>`` (or bars); thresholds are ``<line
class="threshold" data-value="...">``; the timeline's spans are ``<rect class="span"
data-state="...">``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 480, 160, 28
_PALETTE = ("#1f6feb", "#9a6700", "#8250df", "#0a7f5a", "#cf222e", "#57606a")
_STATE_COLOURS = {
    "CLOSED": "#1a7f37",
    "OPEN": "#cf222e",
    "HALF_OPEN": "#9a6700",
    "FORCED_OPEN": "#82071e",
    "DISABLED": "#57606a",
    "METRICS_ONLY": "#0550ae",
}


def _frame(title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect class="plot" x="{PAD}" y="4" width="{width - PAD - 4}" height="{height - PAD - 4}" '
        f'fill="none" stroke="#d0d7de"/>{body}</svg>'
    )


def _number(value: float) -> str:
    for suffix, size in (("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    thresholds: Sequence[tuple[str, float]] = (),
    y_min: float | None = None,
    y_max: float | None = None,
) -> str:
    """Lines of ``(x, y)`` points (x ascending), on shared axes, with dashed thresholds."""
    xs = [x for _, points in series for x, _ in points]
    ys = [y for _, points in series for _, y in points if math.isfinite(y)] + [v for _, v in thresholds]
    if not xs or not ys:
        return _frame(title, f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>')
    x0, x1 = min(xs), max(xs)
    lo = min(ys) if y_min is None else y_min
    hi = max(ys) if y_max is None else y_max
    if hi <= lo:
        hi = lo + 1.0
    span_x = (x1 - x0) or 1.0
    plot_w, plot_h = WIDTH - PAD - 4, HEIGHT - PAD - 4

    def at(x: float, y: float) -> str:
        y = min(max(y, lo), hi)
        return f"{PAD + (x - x0) / span_x * plot_w:.1f},{4 + (hi - y) / (hi - lo) * plot_h:.1f}"

    parts = [
        f'<text class="axis" x="{PAD - 2}" y="12" text-anchor="end" font-size="9">{_number(hi)}</text>',
        f'<text class="axis" x="{PAD - 2}" y="{HEIGHT - PAD}" text-anchor="end" font-size="9">'
        f"{_number(lo)}</text>",
    ]
    for label, value in thresholds:
        y = at(x0, value).split(",")[1]
        parts.append(
            f'<line class="threshold" data-name="{escape(label)}" data-value="{value!r}" x1="{PAD}" '
            f'y1="{y}" x2="{WIDTH - 4}" y2="{y}" stroke="#cf222e" stroke-dasharray="4 3"/>'
        )
    for i, (label, points) in enumerate(series):
        shown = " ".join(at(x, y) for x, y in points if math.isfinite(y))
        colour = _PALETTE[i % len(_PALETTE)]
        parts.append(
            f'<g class="series" data-name="{escape(label)}" data-points="{len(points)}">'
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{shown}"/></g>'
        )
    legend = " · ".join(escape(label) for label, _ in series)
    parts.append(f'<text class="legend" x="{PAD}" y="{HEIGHT - 8}" font-size="10">{legend}</text>')
    return _frame(title, "".join(parts))


def bar_chart(title: str, bars: Sequence[tuple[str, float, float]]) -> str:
    """Bars of ``(label, value, threshold)``, each with its threshold marked, on a log scale
    from 0.01 (burn rates span orders of magnitude)."""
    if not bars:
        return _frame(title, f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>')
    top = max([max(v, t) for _, v, t in bars] + [1.0]) * 1.5
    lo, plot_w, plot_h = 0.01, WIDTH - PAD - 4, HEIGHT - PAD - 4
    scale = math.log10(top / lo)

    def height_of(value: float) -> float:
        return 0.0 if value <= lo else min(math.log10(value / lo) / scale, 1.0) * plot_h

    width = plot_w / len(bars)
    parts = []
    for i, (label, value, threshold) in enumerate(bars):
        x, h, t = PAD + i * width, height_of(value), height_of(threshold)
        colour = "#cf222e" if value >= threshold else "#1f6feb"
        parts.append(
            f'<g class="series" data-name="{escape(label)}" data-value="{value!r}">'
            f'<rect x="{x + width * 0.2:.1f}" y="{4 + plot_h - h:.1f}" width="{width * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{colour}"/>'
            f'<line class="threshold" data-value="{threshold!r}" x1="{x + width * 0.1:.1f}" '
            f'x2="{x + width * 0.9:.1f}" y1="{4 + plot_h - t:.1f}" y2="{4 + plot_h - t:.1f}" '
            f'stroke="#24292f" stroke-dasharray="3 2"/>'
            f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="9">'
            f"{escape(label)}</text></g>"
        )
    return _frame(title, "".join(parts))


def timeline(title: str, spans: Sequence[tuple[float, float, str]], start: float, end: float) -> str:
    """States over ``[start, end]``: one coloured ``rect`` per ``(from, to, state)``."""
    plot_w, length = WIDTH - PAD - 4, (end - start) or 1.0
    parts = []
    for begin, finish, state in spans:
        x = PAD + (max(begin, start) - start) / length * plot_w
        w = max((min(finish, end) - max(begin, start)) / length * plot_w, 1.0)
        parts.append(
            f'<rect class="span" data-state="{escape(state)}" x="{x:.1f}" y="12" width="{w:.1f}" '
            f'height="24" fill="{_STATE_COLOURS.get(state, "#57606a")}"><title>{escape(state)}</title></rect>'
        )
    states = sorted({state for *_, state in spans})
    parts.append(f'<text class="legend" x="{PAD}" y="54" font-size="10">{escape(" · ".join(states))}</text>')
    return _frame(title, "".join(parts), height=64)
