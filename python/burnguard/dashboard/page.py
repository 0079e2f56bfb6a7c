"""The dashboard page, rendered on the server from the JSON API's data: one table or chart per
panel, figures marked with ``data-field`` so a browser test can compare them with the API."""

from __future__ import annotations

from html import escape
from typing import Any


def _pct(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _burn(rate: float, window_seconds: float) -> str:
    return f"{_num(rate)}x over {_span(window_seconds)}"


def _since(seconds: float | None) -> str:
    return "everything the windows hold" if seconds is None else f"the last {_span(seconds)}"


def _cell(field: str, text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f'<td data-field="{field}"{attr}>{escape(text)}</td>'


def _table(caption: str, heads: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    body = "".join(rows)
    caption = f"<caption>{escape(caption)}</caption>"
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figures(s: dict[str, Any], level: str) -> str:
    rows = [
        ("Objective", "objective", _pct(s["objective"], 3), ""),
        ("Success ratio", "success_ratio", _pct(s["success_ratio"], 3), ""),
        ("Budget remaining", "error_budget_remaining", _pct(s["error_budget_remaining"]), level),
        ("Burn rate now", "burn_rate", _num(s["burn_rate"]) + "x", ""),
        ("Time to exhaustion", "time_to_exhaustion", _span(s["time_to_exhaustion_seconds"]), ""),
        ("Events", "total", f"{s['total']:,}", ""),
    ]
    body = "".join(
        f'<tr><th scope="row">{label}</th>{_cell(f, text, cls)}</tr>' for label, f, text, cls in rows
    )
    return (
        f'<table class="figures"><caption>Figures over the SLO window</caption><tbody>{body}</tbody></table>'
    )


_POLICY_HEADS = ["Severity", "Threshold", "Long window", "Short window", "State"]
_BUDGET_HEADS = [
    "Scope",
    "Unit",
    "Allocated",
    "Reserved",
    "Spent",
    "Debt",
    "Used",
    "Overdraft used",
    "Active holds",
]
_TRAFFIC_HEADS = ["Route", "rps", "Errors", "p50", "p95", "p99", "max"]
_COST_HEADS = ["Route", "Instances", "Monthly", "Request p50", "Request p95", "Request p99", "p95/p50"]


def _figure(cls: str, chart: str, caption: str) -> str:
    return f'<figure class="{cls}">{chart}<figcaption>{escape(caption)}</figcaption></figure>'


def _slos(slos: list[dict[str, Any]]) -> str:
    if not slos:
        return '<p class="empty">No SLOs are given to the dashboard.</p>'
    out = []
    for s in slos:
        level = "critical" if s["error_budget_remaining"] <= 0 else "warning" if s["firing"] else "ok"
        policies = [
            f'<tr data-severity="{escape(p["severity"])}">'
            + _cell("severity", p["severity"])
            + _cell("threshold", f"{p['threshold']:g}x")
            + _cell("long_burn_rate", f"{_num(p['long_burn_rate'])}x over {_span(p['long_window_seconds'])}")
            + _cell(
                "short_burn_rate", f"{_num(p['short_burn_rate'])}x over {_span(p['short_window_seconds'])}"
            )
            + _cell("firing", "firing" if p["firing"] else "ok", "critical" if p["firing"] else "ok")
            + "</tr>"
            for p in s["policies"]
        ]
        transitions = "".join(
            f'<li data-state="{escape(t["state"])}">{escape(t["severity"])} {escape(t["state"])} '
            f'<time data-at="{t["at"]}">{t["at"]:.0f}</time></li>'
            for t in s["transitions"]
        )
        out.append(
            f'<article class="slo {level}" data-slo="{escape(s["name"])}">'
            f"<h3>{escape(s['name'])}</h3>"
            + _figures(s, level)
            + _figure("burndown", s["charts"]["burndown"], "Budget burndown")
            + _figure("burn-rates", s["charts"]["burn_rates"], "Burn rate per window (threshold dashed)")
            + _table("Alert policies", _POLICY_HEADS, policies, "")
            + (
                f'<h4>Recent transitions</h4><ul class="transitions">{transitions}</ul>'
                if transitions
                else ""
            )
            + "</article>"
        )
    return "".join(out)


def _breakers(breakers: list[dict[str, Any]]) -> str:
    rows = [
        f'<tr data-breaker="{escape(b["name"])}">'
        + _cell("name", b["name"])
        + _cell("state", b["state"], "ok" if b["state"] == "CLOSED" else "critical")
        + _cell("failure_rate", "-" if b["failure_rate"] < 0 else f"{b['failure_rate']:.1f}%")
        + _cell("slow_call_rate", "-" if b["slow_call_rate"] < 0 else f"{b['slow_call_rate']:.1f}%")
        + _cell("calls", f"{b['calls']:,}")
        + _cell("rejected_calls", f"{b['rejected_calls']:,}")
        + f'<td class="timeline">{b["charts"]["timeline"]}</td></tr>'
        for b in breakers
    ]
    heads = ["Breaker", "State", "Failure rate", "Slow calls", "Calls", "Rejected", "State timeline"]
    return _table("Circuit breakers", heads, rows, "No breakers are given to the dashboard.")


def _budgets(budgets: list[dict[str, Any]]) -> str:
    rows = [
        f'<tr data-scope="{escape(b["scope"])}" data-unit="{escape(b["unit"])}">'
        + _cell("scope", b["scope"])
        + _cell("unit", b["unit"])
        + _cell("allocated", f"{b['allocated']:,}")
        + _cell("reserved", f"{b['reserved']:,}")
        + _cell("spent", f"{b['spent']:,}")
        + _cell("debt", f"{b['debt']:,}")
        + _cell("used", _pct(b["used"], 1), b["level"])
        + _cell("overdraft_used", _pct(b["overdraft_used"], 1))
        + _cell("active_reservations", str(b["active_reservations"]))
        + "</tr>"
        for b in budgets
    ]
    return _table("Ledger budgets", _BUDGET_HEADS, rows, "No ledger is given to the dashboard.")


def _routes(routes: dict[str, Any] | None) -> str:
    if routes is None:
        return '<p class="empty">No route table is given to the dashboard.</p>'
    traffic = [
        f'<tr data-route="{escape(r["route"])}">'
        + _cell("route", r["route"])
        + _cell("rps", _num(r["rps"]))
        + _cell("error_ratio", _pct(r["error_ratio"]))
        + _cell("p50", _ms(r["p50_seconds"]))
        + _cell("p95", _ms(r["p95_seconds"]))
        + _cell("p99", _ms(r["p99_seconds"]))
        + _cell("max", _ms(r["max_seconds"]))
        + "</tr>"
        for r in routes["routes"]
    ]
    costs = [
        f'<tr data-route="{escape(c["route"])}">'
        + _cell("route", c["route"])
        + _cell("instance", f"{c['instance_count']} x {c['instance']}")
        + _cell("monthly_usd", _usd(c["monthly_usd"]), "critical" if c["over_budget"] else "")
        + _cell("request_cost_p50_usd", f"${c['request_cost_p50_usd']:.3g}")
        + _cell("request_cost_p95_usd", f"${c['request_cost_p95_usd']:.3g}")
        + _cell("request_cost_p99_usd", f"${c['request_cost_p99_usd']:.3g}")
        + _cell(
            "variance",
            ("high " if c["variance_warning"] else "") + _num(c["variance_ratio"]) + "x",
            "warning" if c["variance_warning"] else "",
        )
        + "</tr>"
        for c in routes["costs"]
    ]
    warming = ", ".join(routes["warming_up"]) or "none"
    return (
        _table(
            "Traffic over the last minute",
            _TRAFFIC_HEADS,
            traffic,
            "No requests yet.",
        )
        + f"<h3>Cost at {routes['target_users']:,} users ({escape(routes['provider'])})</h3>"
        + _table(
            "Projected monthly cost per route",
            _COST_HEADS,
            costs,
            "No route has finished its warm-up yet.",
        )
        + f'<p>Total: <span data-field="monthly_usd_total">{_usd(routes["monthly_usd"])}</span>; '
        f'warming up: <span data-field="warming_up">{escape(warming)}</span>; '
        "requests left out as warm-up: "
        f'<span data-field="excluded_requests">{routes["excluded_requests"]}</span></p>'
        + _figure("cost-curve", routes["charts"]["cost_curve"], "Cost curve")
    )


def _recording(r: dict[str, Any]) -> str:
    running = r["status"] == "recording"
    return (
        f'<p>Recording: <strong data-field="recording_status">{r["status"]}</strong>; the panels read '
        f'<span data-field="recording_seconds">{_since(r["seconds"])}</span>; warm-up '
        f'<span data-field="warming_up">{"in progress" if r["warming_up"] else "done"}</span> '
        f"({r['warmup_seconds']:g} s).</p>"
        f'<button type="button" id="recording-start" data-action="start"{" disabled" if running else ""}>'
        "Start recording</button> "
        f'<button type="button" id="recording-stop" data-action="stop"{"" if running else " disabled"}>'
        "Stop recording</button>"
    )


def panels(data: dict[str, Any]) -> str:
    """The page's ``<main>`` content (the page swaps it in on each refresh)."""
    sections = [
        ("slos", "SLOs, least budget left first", _slos(data["slos"])),
        ("breakers", "Circuit breakers", _breakers(data["breakers"])),
        ("budgets", "Ledger budgets", _budgets(data["budgets"])),
        ("routes", "Routes and costs", _routes(data["routes"])),
        ("recording", "Recording", _recording(data["recording"])),
    ]
    return "".join(
        f'<section id="{key}" aria-labelledby="{key}-title"><h2 id="{key}-title">{title}</h2>{body}</section>'
        for key, title, body in sections
    )


def render(data: dict[str, Any]) -> str:
    """The whole page."""
    title = escape(data["title"])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{title} dashboard</title><link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="dashboard.css"></head>'
        f'<body data-refresh="{data["refresh_seconds"]}"><header><h1>{title}</h1>'
        '<p role="status" id="updated">Live: refreshes every '
        f'{data["refresh_seconds"]:g} s</p></header><main id="panels">{panels(data)}</main>'
        '<script src="dashboard.js"></script></body></html>'
    )
