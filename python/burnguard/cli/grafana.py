"""A Grafana dashboard for the SLOs a rule file records: a row per SLO with its error budget
left, its burn rate now and its SLI over the period, then its burn rate over each policy's
windows against the policies' thresholds, the budget left over time and its alerts' states.
Every query reads the rule file's recordings (Sloth's names) and Prometheus's ``ALERTS``."""

from __future__ import annotations

from typing import Any

from burnguard.cli.rules import alert_name, recorded_windows
from burnguard.cli.specs import RuleSLO, format_duration, selector

_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_ON = "on(sloth_id, sloth_slo, sloth_service) group_left"


def _target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"datasource": _DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _thresholds(*steps: tuple[str, float | None]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def _stat(title: str, expr: str, unit: str, thresholds: dict[str, Any], x: int, y: int) -> dict[str, Any]:
    return {
        "type": "stat",
        "title": title,
        "datasource": _DATASOURCE,
        "gridPos": {"h": 5, "w": 8, "x": x, "y": y},
        "targets": [_target(expr)],
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 2, "thresholds": thresholds}, "overrides": []},
        "options": {
            "colorMode": "background",
            "graphMode": "area",
            "reduceOptions": {"calcs": ["lastNotNull"]},
        },
    }


def _panels(slo: RuleSLO, y: int) -> list[dict[str, Any]]:
    sel = selector({"sloth_id": slo.id})
    period = format_duration(slo.period_seconds)
    budget = f"slo:error_budget:ratio{sel}"
    thresholds = sorted({p.threshold for p in slo.policies})
    colours = zip(("orange", "red", "dark-red"), thresholds[-3:], strict=False)
    burn_steps: list[tuple[str, float | None]] = [("green", None), *colours]
    windows = sorted({int(w) for p in slo.policies for w in (p.short_window_seconds, p.long_window_seconds)})
    windows = [w for w in recorded_windows(slo) if w in windows] or recorded_windows(slo)[:1]
    burn_targets = [
        _target(
            f"slo:sli_error:ratio_rate{format_duration(w)}{sel}\n/ {_ON}\n{budget}",
            f"{format_duration(w)} window",
            chr(ord("A") + i),
        )
        for i, w in enumerate(windows)
    ]
    return [
        {
            "type": "row",
            "title": f"{slo.id}: {slo.objective:.4%} over {period}",
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        },
        _stat(
            "Error budget left this period",
            f"slo:period_error_budget_remaining:ratio{sel}",
            "percentunit",
            _thresholds(("red", None), ("orange", 0.0), ("green", 0.25)),
            0,
            y + 1,
        ),
        _stat(
            f"Burn rate now ({format_duration(recorded_windows(slo)[0])})",
            f"slo:current_burn_rate:ratio{sel}",
            "x",
            _thresholds(*burn_steps),
            8,
            y + 1,
        ),
        _stat(
            f"SLI over {period}",
            f"1 - slo:sli_error:ratio_rate{period}{sel}",
            "percentunit",
            _thresholds(("red", None), ("green", slo.objective)),
            16,
            y + 1,
        ),
        {
            "type": "timeseries",
            "title": "Burn rate over the policies' windows (thresholds dashed)",
            "datasource": _DATASOURCE,
            "gridPos": {"h": 8, "w": 12, "x": 0, "y": y + 6},
            "targets": burn_targets,
            "fieldConfig": {
                "defaults": {
                    "unit": "x",
                    "custom": {
                        "thresholdsStyle": {"mode": "dashed"},
                        "scaleDistribution": {"type": "log", "log": 10},
                    },
                    "thresholds": _thresholds(*burn_steps),
                },
                "overrides": [],
            },
        },
        {
            "type": "timeseries",
            "title": f"Error budget left over {period}",
            "datasource": _DATASOURCE,
            "gridPos": {"h": 8, "w": 12, "x": 12, "y": y + 6},
            "targets": [_target(f"slo:period_error_budget_remaining:ratio{sel}", "budget left")],
            "fieldConfig": {
                "defaults": {"unit": "percentunit", "custom": {"fillOpacity": 10}},
                "overrides": [],
            },
        },
        {
            "type": "state-timeline",
            "title": f"Alerts ({alert_name(slo)})",
            "datasource": _DATASOURCE,
            "gridPos": {"h": 4, "w": 24, "x": 0, "y": y + 14},
            "targets": [
                _target(
                    f'max by (sloth_severity) (ALERTS{{sloth_id="{slo.id}", alertstate="firing"}})',
                    "{{sloth_severity}}",
                )
            ],
            "fieldConfig": {
                "defaults": {
                    "mappings": [{"type": "value", "options": {"1": {"text": "firing", "color": "red"}}}],
                },
                "overrides": [],
            },
        },
    ]


def dashboard(slos: list[RuleSLO], title: str = "burnguard SLOs") -> dict[str, Any]:
    """The dashboard's JSON model (import it, or provision it from a file)."""
    panels: list[dict[str, Any]] = []
    for slo in slos:
        panels += _panels(slo, y=len(panels) and max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels))
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "title": title,
        "uid": None,
        "tags": ["slo", "burnguard", "sloth"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "1m",
        "editable": True,
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }
