"""A backtest as one self-contained HTML page: no script, no stylesheet or font from the
network. An SVG chart shows each policy's long-window burn rate over time (log scale), its
threshold, the alert spans and the incidents; tables repeat the figures."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from burnguard import _native
from burnguard.cli.backtest import Replay
from burnguard.cli.formats import ratio, span, when
from burnguard.slo import BurnRatePolicy

_WIDTH, _HEIGHT, _LEFT, _TOP, _BOTTOM = 960, 320, 56, 16, 28
_POINTS = 960
_COLOURS = ("#1f5fa8", "#b8452b", "#2d7d46", "#7a4fa0", "#9a6b00", "#00758f")
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b;background:#fff;max-width:1000px}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}
th,td{border:1px solid #bbb;padding:0.25rem 0.6rem;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}
.alert{fill:#d9534f;opacity:0.18}.incident{fill:#555;opacity:0.12}
"""


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" text-anchor="{anchor}">{html.escape(text)}</text>'


def _chart(replay: Replay, policies: Sequence[BurnRatePolicy], result: dict[str, Any]) -> str:
    counts = replay.counts
    steps = counts.total.size
    start, end = counts.start, counts.start + steps * counts.step_seconds
    plot_w, plot_h = _WIDTH - _LEFT - 8, _HEIGHT - _TOP - _BOTTOM
    top = max(p.threshold for p in policies) * 4

    def x(t: float) -> float:
        return _LEFT + (t - start) / (end - start) * plot_w

    def y(burn: float) -> float:
        # log scale from 0.1x to 4x the highest threshold
        clipped = min(max(burn, 0.1), top)
        return _TOP + plot_h * (1 - (math.log10(clipped) + 1) / (math.log10(top) + 1))

    def span(kind: str, x0: float, x1: float) -> str:
        return (
            f'<rect class="{kind}" x="{x0:.1f}" y="{_TOP}" width="{max(x1 - x0, 1):.1f}" height="{plot_h}"/>'
        )

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" role="img">']
    parts.append("<title>Burn rate over each policy's long window</title>")
    parts += [span("incident", x(i["start"]), x(i["end"])) for i in result["incidents"]]
    parts += [span("alert", x(a["fired_at"]), x(a["resolved_at"] or end)) for a in result["alerts"]]
    bucket = max(1, math.ceil(steps / _POINTS))
    width = bucket * counts.step_seconds
    for colour, policy in zip(_COLOURS * 4, policies, strict=False):
        window = max(1, round(policy.long_window_seconds / counts.step_seconds))
        burns = _native.window_burn_rates(counts.bad, counts.total, window, replay.budget)
        padded = np.full(math.ceil(steps / bucket) * bucket, np.nan)
        padded[:steps] = burns
        peaks = np.nan_to_num(np.nanmax(padded.reshape(-1, bucket), axis=1, initial=0.0))
        points = " ".join(
            f"{x(start + (i + 0.5) * width):.1f},{y(float(b)):.1f}" for i, b in enumerate(peaks)
        )
        label = html.escape(f"{policy.severity} {policy.threshold:g}x over {policy.long_window_seconds:g} s")
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}">'
            f"<title>{label}</title></polyline>"
        )
        ty = f"{y(policy.threshold):.1f}"
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ty}" y2="{ty}" '
            f'stroke="{colour}" stroke-dasharray="4 3"/>'
        )
    parts += [_text(_LEFT - 6, y(t) + 4, f"{t:g}x", "end") for t in (0.1, 1, 10, 100, 1000) if t <= top]
    parts.append(_text(_LEFT, _HEIGHT - 8, when(start), "start"))
    parts.append(_text(_LEFT + plot_w, _HEIGHT - 8, when(end), "end"))
    parts.append("</svg>")
    return "\n".join(parts)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(replay: Replay, policies: Sequence[BurnRatePolicy], result: dict[str, Any]) -> str:
    """The page for a backtest's ``result`` (as ``backtest --json`` prints it)."""
    log = result["log"]
    title = f"burnguard backtest: {result['slo']}"
    legend = ", ".join(
        f"{p.severity} {p.threshold:g}x over {p.long_window_seconds / 3600:g} h" for p in policies
    )
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{log['lines']:,} requests ({log['bad_events']:,} bad, {log['malformed']:,} malformed lines) "
        "from "
        f"{html.escape(when(log['start']))} to {html.escape(when(log['end']))}; target "
        f"{result['target']:.3%} over {result['period_seconds'] / 86400:g} days.</p>",
        "<h2>Burn rates</h2>",
        f"<p>Long-window burn rate of each policy ({html.escape(legend)}), its threshold dashed; "
        "alerts shaded red, incidents grey.</p>",
        _chart(replay, policies, result),
        "<h2>Alerts</h2>",
        html_table(
            ("severity", "fired", "resolved", "peak burn rate", "budget used"),
            [
                (
                    a["severity"],
                    when(a["fired_at"]),
                    when(a["resolved_at"]),
                    f"{a['peak_burn_rate']:.1f}x",
                    f"{a['budget_consumed_at_fire']:.0%}",
                )
                for a in result["alerts"]
            ],
        ),
        f"<h2>Incidents ({html.escape(result['incidents_from'])})</h2>",
        html_table(
            ("start", "end", "budget spent"),
            [(when(i["start"]), when(i["end"]), f"{i['budget_spent']:.1%}") for i in result["incidents"]],
        ),
        "<h2>The SRE Workbook's alerting approaches</h2>",
        html_table(
            (
                "approach",
                "alerts",
                "precision",
                "recall",
                "detection",
                "reset",
                "budget before detection",
                "alerts a week",
            ),
            [
                (
                    s["approach"],
                    s["alerts"],
                    ratio(s["precision"]),
                    ratio(s["recall"]),
                    span(s["mean_detection_seconds"]),
                    span(s["mean_reset_seconds"]),
                    "-"
                    if s["mean_budget_spent_before_detection"] is None
                    else f"{s['mean_budget_spent_before_detection']:.1%}",
                    f"{s['alerts_per_week']:.1f}",
                )
                for s in result["approaches"]
            ],
        ),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
