"""A spend report on the terminal (rich tables) and as one self-contained HTML page (a sparkline
of each group's daily spend, its spikes marked; no script, nothing from the network)."""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from burnguard.cli.html_report import STYLE, html_table
from burnguard.cli.spend import DailySpend, month_columns

_SPARK_W, _SPARK_H = 240, 36
# Groups drawn in the HTML page: those with findings first, then by spend this month.
_MOST_DRAWN = 1000


def money(value: float) -> str:
    return f"{value:,.2f}"


def _summary(result: dict[str, Any]) -> str:
    export = result["export"]
    by = ", ".join(export["by"]) or "nothing (one total)"
    preset = f"{export['preset']} preset" if export["preset"] else "named columns"
    return (
        f"{export['rows']:,} rows ({preset}), {export['groups']:,} groups by {by}, "
        f"{export['first_day']} to {export['last_day']}; {result['month']}: day {result['days_elapsed']} "
        f"of {result['days_in_month']}, {money(result['month_to_date'])} spent"
    )


def _budget_day(b: dict[str, Any]) -> str:
    return b.get("breached_on") or b.get("forecast_breach_on") or "-"


def print_report(result: dict[str, Any]) -> None:
    console = Console()
    console.print(_summary(result))
    export = result["export"]
    if export["malformed"]:
        console.print(f"[yellow]{export['malformed']:,} malformed rows skipped[/yellow], the first:")
        for example in export["malformed_examples"]:
            console.print(f"  line {example['line']}: {example['text']}", markup=False)
    findings = [b for b in result["budgets"] if b["status"] != "ok"]
    if result["budgets"]:
        table = Table(title=f"Budgets ({len(findings)} of {len(result['budgets'])} need attention)")
        for column in ("group", "to date", "budget", "used", "status", "breach on", "forecast"):
            table.add_column(column)
        for b in findings:
            table.add_row(
                b["group"],
                money(b["month_to_date"]),
                money(b["budget"]),
                f"{b['usage_ratio']:.0%}",
                b["status"],
                _budget_day(b),
                money(b["forecast_total"]),
            )
        console.print(table)
    if result["budgets_not_in_export"]:
        missing = ", ".join(result["budgets_not_in_export"])
        console.print(f"[yellow]budgets for groups not in the export:[/yellow] {missing}")
    spikes = Table(title=f"Spikes in {result['month']}")
    for column in ("group", "day", "spend", "mean before", "x mean", "flagged by"):
        spikes.add_column(column)
    for s in result["spikes"]:
        times = "-" if s["ratio_to_mean"] is None else f"{s['ratio_to_mean']:.1f}x"
        spikes.add_row(
            s["group"], s["day"], money(s["spend"]), money(s["mean"]), times, ", ".join(s["methods"])
        )
    console.print(spikes)
    options = result["options"]
    hot = Table(
        title=f"Running hot: the last {options['recent_days']} days against the {options['window']} before"
    )
    for column in ("group", "recent a day", "before a day", "ratio"):
        hot.add_column(column)
    for h in result["hot"]:
        times = "-" if h["burn_rate_ratio"] is None else f"{h['burn_rate_ratio']:.2f}x"
        hot.add_row(h["group"], money(h["recent_daily"]), money(h["baseline_daily"]), times)
    console.print(hot)


def _sparkline(values: npt.NDArray[np.float64], spikes: list[int]) -> str:
    known = ~np.isnan(values)
    top = float(np.nanmax(values)) if known.any() else 0.0
    top = top if top > 0 else 1.0
    step = (_SPARK_W - 4) / max(len(values) - 1, 1)

    def point(i: int) -> tuple[float, float]:
        value = max(float(values[i]), 0.0)
        return 2 + i * step, _SPARK_H - 2 - (_SPARK_H - 4) * value / top

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(int(i)) for i in np.flatnonzero(known)))
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="spike"/>' for x, y in map(point, spikes)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SPARK_W}" height="{_SPARK_H}" role="img">'
        f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="1.2"/>{dots}</svg>'
    )


def render(result: dict[str, Any], spend: DailySpend) -> str:
    """The page for a spend report's ``result`` (as ``spend --json`` prints it) on ``spend``."""
    labels = spend.labels()
    row_of = {label: i for i, label in enumerate(labels)}
    budget_of = {b["group"]: b for b in result["budgets"]}
    spike_days: dict[str, list[int]] = {}
    for s in result["spikes"]:
        day = (np.datetime64(s["day"]) - np.datetime64(spend.first_day)).astype(int)
        spike_days.setdefault(s["group"], []).append(int(day))
    hot = {h["group"] for h in result["hot"]}
    flagged = [
        g for g in labels if g in spike_days or g in hot or budget_of.get(g, {}).get("status", "ok") != "ok"
    ]
    begin, end = month_columns(spend, date.fromisoformat(result["month"] + "-01"))
    to_date = np.nan_to_num(spend.spend[:, begin:end], nan=0.0).sum(axis=1)
    rest = [labels[i] for i in np.argsort(-to_date, kind="stable") if labels[i] not in set(flagged)]
    drawn = (flagged + rest)[:_MOST_DRAWN]
    rows = []
    for group in drawn:
        i = row_of[group]
        budget = budget_of.get(group)
        notes = []
        if budget and budget["status"] != "ok":
            notes.append(f"budget {budget['status']} ({budget['usage_ratio']:.0%}, {_budget_day(budget)})")
        if group in spike_days:
            notes.append(f"{len(spike_days[group])} spike(s)")
        if group in hot:
            notes.append("running hot")
        rows.append(
            f"<tr><td>{html.escape(group)}</td><td>{money(float(to_date[i]))}</td>"
            f"<td>{_sparkline(spend.spend[i], spike_days.get(group, []))}</td>"
            f"<td>{html.escape('; '.join(notes))}</td></tr>"
        )
    left_out = len(labels) - len(drawn)
    title = f"burnguard spend: {result['month']}"
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(_summary(result))}.</p>",
        "<h2>Budgets</h2>",
        html_table(
            ("group", "to date", "budget", "used", "status", "breach on", "forecast total"),
            [
                (
                    b["group"],
                    money(b["month_to_date"]),
                    money(b["budget"]),
                    f"{b['usage_ratio']:.0%}",
                    b["status"],
                    _budget_day(b),
                    money(b["forecast_total"]),
                )
                for b in result["budgets"]
                if b["status"] != "ok"
            ],
        ),
        "<h2>Spikes</h2>",
        html_table(
            ("group", "day", "spend", "mean before", "flagged by"),
            [
                (s["group"], s["day"], money(s["spend"]), money(s["mean"]), ", ".join(s["methods"]))
                for s in result["spikes"]
            ],
        ),
        f"<h2>Daily spend, {spend.first_day} to {spend.last_day}</h2>",
        "<p>Each group's daily spend on its own scale, spikes marked red; groups with findings first, "
        f"then by spend this month{f' ({left_out:,} more not drawn)' if left_out else ''}.</p>",
        "<table><thead><tr><th>group</th><th>this month</th><th>daily spend</th><th>findings</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    style = STYLE + ".spike{fill:#d9534f}td svg{display:block}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
