"""Prometheus recording and alerting rules for SLOs, named as Sloth names them.

For each SLO, three groups:

* ``sloth-slo-sli-recordings-<id>``: ``slo:sli_error:ratio_rate<window>`` for Sloth's windows
  (5m, 30m, 1h, 2h, 6h, 1d, 3d), every window of the SLO's alert policies, and the period;
* ``sloth-slo-meta-recordings-<id>``: ``slo:objective:ratio``, ``slo:error_budget:ratio``,
  ``slo:time_period:days``, ``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
  ``slo:period_error_budget_remaining:ratio`` and ``sloth_slo_info``;
* ``sloth-slo-alerts-<id>``: one alert per severity (the SRE Workbook's ``page`` and
  ``ticket``, or a burnguard spec's own), firing while any of its policies has both windows at
  or above the policy's burn rate; or, with ``per_policy``, one alert per policy.

Every series carries ``sloth_id``, ``sloth_service``, ``sloth_slo`` (and ``sloth_window`` on
the SLI recordings), so Sloth's Grafana dashboards read them unchanged. The one deliberate
difference: burnguard compares with ``>=`` (an SLO burning exactly at the threshold alerts, as
burnguard's own evaluator does), where Sloth writes ``>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import burnguard
from burnguard.cli.specs import AlertSpec, RuleSLO, SpecError, format_duration, selector
from burnguard.slo import BurnRatePolicy

#: The alerts of a severity the spec does not configure.
_ENABLED_ALERT = AlertSpec()
_WHICH = "{{$labels.sloth_service}} {{$labels.sloth_slo}}"
#: Windows Sloth always records, so its dashboards find them.
SLOTH_WINDOWS = (300, 1800, 3600, 7200, 21600, 86400, 259200)


@dataclass(frozen=True)
class RuleOptions:
    """How the alerts are written."""

    #: One alert per policy instead of one per severity.
    per_policy: bool = False
    #: The alerts' ``for:`` duration in seconds (0: fire at the first evaluation that burns).
    hold_seconds: int = 0
    #: With events SLIs: alert only while the long window saw at least this many events a second.
    min_events_per_second: float = 0.0


def _ids(slo: RuleSLO) -> dict[str, str]:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def _selector(slo: RuleSLO) -> str:
    return selector(_ids(slo))


def recorded_windows(slo: RuleSLO) -> list[int]:
    """Every window an SLI ratio is recorded for, shortest first (the period last)."""
    policy_windows = {int(w) for p in slo.policies for w in (p.long_window_seconds, p.short_window_seconds)}
    windows = {w for w in SLOTH_WINDOWS if w < slo.period_seconds} | policy_windows
    return [*sorted(windows - {slo.period_seconds}), slo.period_seconds]


def _ratio_name(seconds: int) -> str:
    return f"slo:sli_error:ratio_rate{format_duration(seconds)}"


def _events_name(seconds: int) -> str:
    return f"burnguard:sli_events:rate{format_duration(seconds)}"


def rule_groups(slo: RuleSLO, options: RuleOptions = RuleOptions()) -> list[dict[str, Any]]:
    """The three rule groups of one SLO (see the module docs)."""
    if options.min_events_per_second > 0 and slo.events is None:
        raise SpecError(f"{slo.id}: a minimum traffic guard needs an events SLI, not a raw ratio query")
    labels = {**slo.labels, **_ids(slo)}
    windows = recorded_windows(slo)
    sli = []
    for seconds in windows[:-1]:
        window = format_duration(seconds)
        sli.append(
            {
                "record": _ratio_name(seconds),
                "expr": slo.error_ratio(window) + "\n",
                "labels": {**labels, "sloth_window": window},
            }
        )
    period = format_duration(slo.period_seconds)
    shortest = _ratio_name(windows[0]) + _selector(slo)
    sli.append(
        {
            "record": _ratio_name(slo.period_seconds),
            "expr": f"sum_over_time({shortest}[{period}])\n/ ignoring (sloth_window)\n"
            f"count_over_time({shortest}[{period}])\n",
            "labels": {**labels, "sloth_window": period},
        }
    )
    if options.min_events_per_second > 0:
        assert slo.events is not None
        for seconds in sorted({int(p.long_window_seconds) for p in slo.policies}):
            window = format_duration(seconds)
            sli.append(
                {
                    "record": _events_name(seconds),
                    "expr": slo.events[1].replace("{{.window}}", window).strip() + "\n",
                    "labels": {**labels, "sloth_window": window},
                }
            )
    return [
        {"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": sli},
        {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": _meta(slo, labels)},
        {"name": f"sloth-slo-alerts-{slo.id}", "rules": _alerts(slo, options)},
    ]


def _meta(slo: RuleSLO, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    sel = _selector(slo)
    budget = f"slo:error_budget:ratio{sel}"
    period = format_duration(slo.period_seconds)
    info = {
        **labels,
        "sloth_mode": "cli-gen-prom",
        "sloth_spec": slo.spec_format,
        "sloth_version": f"burnguard-{burnguard.__version__}",
        "sloth_objective": repr(round(slo.objective * 100, 10)),
    }
    return [
        {"record": "slo:objective:ratio", "expr": f"vector({slo.objective!r})\n", "labels": dict(labels)},
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector(1-{slo.objective!r})\n",
            "labels": dict(labels),
        },
        {
            "record": "slo:time_period:days",
            "expr": f"vector({slo.period_seconds / 86400!r})\n",
            "labels": dict(labels),
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"{_ratio_name(recorded_windows(slo)[0])}{sel}\n/ {on}\n{budget}\n",
            "labels": dict(labels),
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{sel}\n/ {on}\n{budget}\n",
            "labels": dict(labels),
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}\n",
            "labels": dict(labels),
        },
        {"record": "sloth_slo_info", "expr": "vector(1)\n", "labels": info},
    ]


def _condition(slo: RuleSLO, policy: BurnRatePolicy, options: RuleOptions) -> str:
    sel = _selector(slo)
    bound = f"({policy.threshold!r} * {1 - slo.objective!r})"
    long, short = int(policy.long_window_seconds), int(policy.short_window_seconds)
    parts = [
        f"max({_ratio_name(short)}{sel} >= {bound}) without (sloth_window)",
        f"max({_ratio_name(long)}{sel} >= {bound}) without (sloth_window)",
    ]
    if options.min_events_per_second > 0:
        parts.append(
            f"max({_events_name(long)}{sel} >= {options.min_events_per_second!r}) without (sloth_window)"
        )
    return "(\n    " + "\n    and\n    ".join(parts) + "\n)"


def alert_name(slo: RuleSLO) -> str:
    """The SLO's alert name: the spec's, or ``<Service><Slo>ErrorBudgetBurn``."""
    if slo.alert_name:
        return slo.alert_name
    words = f"{slo.service}-{slo.name}".replace("_", "-").split("-")
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "ErrorBudgetBurn"


def alert_rules_by_severity(
    slo: RuleSLO, options: RuleOptions
) -> list[tuple[str, dict[str, str], tuple[BurnRatePolicy, ...]]]:
    """Each alert rule's severity, extra labels and policies, in the order they are written."""
    severities: dict[str, list[BurnRatePolicy]] = {}
    for policy in slo.policies:
        if not slo.alerts.get(policy.severity, _ENABLED_ALERT).disabled:
            severities.setdefault(policy.severity, []).append(policy)
    out: list[tuple[str, dict[str, str], tuple[BurnRatePolicy, ...]]] = []
    for severity, policies in severities.items():
        if options.per_policy:
            for p in policies:
                windows = {
                    "burnguard_long_window": format_duration(p.long_window_seconds),
                    "burnguard_short_window": format_duration(p.short_window_seconds),
                }
                out.append((severity, windows, (p,)))
        else:
            out.append((severity, {}, tuple(policies)))
    return out


def alert_labels(slo: RuleSLO, severity: str, extra: Mapping[str, str]) -> dict[str, str]:
    """An alert's labels, as the rule sets them (the series' own come from the expression)."""
    alert = slo.alerts.get(severity, _ENABLED_ALERT)
    return {**slo.alert_labels, **alert.labels, "sloth_severity": severity, **extra}


def alert_annotations(slo: RuleSLO, severity: str) -> dict[str, str]:
    """An alert's annotations: the spec's, over a title and a summary."""
    alert = slo.alerts.get(severity, _ENABLED_ALERT)
    return {
        "title": f"({severity}) {_WHICH} SLO error budget burn rate is too fast.",
        "summary": f"{_WHICH} SLO error budget burn rate is over expected.",
        **slo.alert_annotations,
        **alert.annotations,
    }


def _alerts(slo: RuleSLO, options: RuleOptions) -> list[dict[str, Any]]:
    rules = []
    for severity, extra, policies in alert_rules_by_severity(slo, options):
        rule: dict[str, Any] = {
            "alert": alert_name(slo),
            "expr": "\nor\n".join(_condition(slo, p, options) for p in policies) + "\n",
        }
        if options.hold_seconds:
            rule["for"] = format_duration(options.hold_seconds)
        rule["labels"] = alert_labels(slo, severity, extra)
        rule["annotations"] = alert_annotations(slo, severity)
        rules.append(rule)
    return rules


def rule_file(slos: list[RuleSLO], options: RuleOptions = RuleOptions()) -> dict[str, Any]:
    """A whole Prometheus rule file for ``slos``."""
    return {"groups": [group for slo in slos for group in rule_groups(slo, options)]}
