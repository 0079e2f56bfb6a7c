"""``promtool test rules`` files that prove the generated alerts fire when they should.

For an SLO whose SLI is burnguard's own counters, the test feeds synthetic series: a baseline
at half the error budget's rate, as long as the longest alert window; then, for each severity,
a burn at 1.5 times its highest threshold for that policy's long window, followed by the
baseline again for twice the longest short window (long enough for every alert to resolve).
burnguard's replay (`_native.replay_policies`: each step, the ratio of the counters' increase
over each window, as Prometheus evaluates it) gives the step each alert fires and resolves. The
test checks the alerts firing at both edges of every episode, and one step before each (all the
rules of one SLO share its alert name, so each check lists every episode then under way).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from burnguard import _native
from burnguard.cli.backtest import runs
from burnguard.cli.rules import (
    RuleOptions,
    alert_annotations,
    alert_labels,
    alert_name,
    alert_rules_by_severity,
)
from burnguard.cli.specs import RuleSLO, SpecError, format_duration
from burnguard.slo import BurnRatePolicy


@dataclass(frozen=True)
class Scenario:
    """Synthetic traffic: events and failed events in each step of ``step_seconds``."""

    step_seconds: int
    total: np.ndarray[Any, np.dtype[np.uint64]]
    bad: np.ndarray[Any, np.dtype[np.uint64]]


@dataclass(frozen=True)
class Episode:
    """One alert rule firing from step ``fired`` until step ``resolved`` (exclusive)."""

    severity: str
    labels: dict[str, str]
    fired: int
    resolved: int


#: promtool's tests refuse a query that loads more samples than this (the period's ratio does).
_MAX_STEPS = 9_000


def scenario(slo: RuleSLO) -> Scenario:
    """The synthetic traffic for ``slo`` (see the module docs), in steps of a minute, or of the
    smallest step that divides every window and keeps the series within promtool's limits."""
    windows = [int(w) for p in slo.policies for w in (p.long_window_seconds, p.short_window_seconds)]
    severities: dict[str, list[BurnRatePolicy]] = {}
    for p in slo.policies:
        severities.setdefault(p.severity, []).append(p)
    strongest = [max(policies, key=lambda p: p.threshold) for policies in severities.values()]
    longest, quiet = max(windows), 2 * max(int(p.short_window_seconds) for p in slo.policies)
    seconds = longest + sum(int(p.long_window_seconds) + quiet for p in strongest)
    common = math.gcd(*windows)
    step = next(
        (
            d
            for d in range(math.gcd(60, common), common + 1)
            if common % d == 0 and seconds // d <= _MAX_STEPS
        ),
        common,
    )
    budget = 1 - slo.objective
    per_step = math.ceil(100 / budget)
    for extra in range(64):
        # A window whose burn rate equals a threshold would leave the alert to float rounding,
        # which Prometheus does differently: one more failed event a step moves it off.
        def burning(rate: float, duration: int, extra: int = extra) -> list[tuple[int, int]]:
            return [(per_step, round(rate * budget * per_step) + extra)] * (duration // step)

        steps = burning(0.5, longest)
        for policy in strongest:
            steps += burning(1.5 * policy.threshold, int(policy.long_window_seconds))
            steps += burning(0.5, quiet)
        counts = np.array(steps, dtype=np.uint64)
        traffic = Scenario(step_seconds=step, total=counts[:, 0], bad=counts[:, 1])
        if _clear_of_thresholds(traffic, slo.policies, budget):
            return traffic
    raise SpecError(f"{slo.id}: no synthetic traffic keeps clear of the alert thresholds")


def _clear_of_thresholds(traffic: Scenario, policies: tuple[BurnRatePolicy, ...], budget: float) -> bool:
    """Whether no window's burn rate comes within a millionth of its policy's threshold."""
    for policy in policies:
        for seconds in (policy.long_window_seconds, policy.short_window_seconds):
            steps = int(seconds) // traffic.step_seconds
            burn = _native.window_burn_rates(traffic.bad, traffic.total, steps, budget)
            if np.any(np.abs(burn - policy.threshold) < 1e-6 * policy.threshold):
                return False
    return True


def episodes(slo: RuleSLO, traffic: Scenario, options: RuleOptions) -> list[Episode]:
    """Every alert rule's firing episodes over ``traffic``, as burnguard's replay finds them."""
    hold = options.hold_seconds
    if hold % traffic.step_seconds:
        raise SpecError(
            f"the alerts' for: must be a whole number of {traffic.step_seconds} s steps; got {hold} s"
        )
    if options.min_events_per_second > traffic.total[0] / traffic.step_seconds:
        raise SpecError(
            "the minimum traffic guard is above the synthetic traffic: the alerts could never fire"
        )
    found = []
    for severity, extra, policies in alert_rules_by_severity(slo, options):
        firing = _native.replay_policies(
            traffic.bad,
            traffic.total,
            float(traffic.step_seconds),
            slo.objective,
            [(p.severity, p.long_window_seconds, p.short_window_seconds, p.threshold) for p in policies],
            hold // traffic.step_seconds,
        )
        any_firing = np.logical_or.reduce(firing)
        labels = {**slo.labels, "sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}
        labels.update(alert_labels(slo, severity, extra))
        found += [Episode(severity, labels, fired, resolved) for fired, resolved in runs(any_firing)]
        if not any_firing.any():
            raise SpecError(f"{slo.id}: the synthetic burn never fires the {severity} alert")
    return found


def _values(cumulative: np.ndarray[Any, np.dtype[np.uint64]]) -> str:
    """A counter's samples in promtool's expanding notation (``a+bxn`` runs)."""
    values = [int(v) for v in cumulative]
    runs, i = [], 0
    while i < len(values):
        j = i
        step = values[i + 1] - values[i] if i + 1 < len(values) else 0
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        runs.append(f"{values[i]}+{step}x{j - i}")
        i = j + 1
    return " ".join(runs)


_LABEL_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def _expanded(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    """The annotations as Prometheus expands them for an alert with ``labels``."""
    out = {}
    for key, text in annotations.items():
        value = _LABEL_TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), text)
        if "{{" in value:
            raise SpecError(
                f"annotation {key!r}: tests expand only {{{{$labels.name}}}} templates; got {text!r}"
            )
        out[key] = value
    return out


def rule_test(slo: RuleSLO, rule_file: str, options: RuleOptions) -> dict[str, Any]:
    """A ``promtool test rules`` file for ``slo``'s alerts in ``rule_file``."""
    if not slo.synthetic_series:
        raise SpecError(
            f"{slo.id}: synthetic rule tests need an SLI over burnguard's own counters "
            "(a burnguard/v1 spec with sli.slo or sli.route)"
        )
    traffic = scenario(slo)
    bad, total = np.cumsum(traffic.bad), np.cumsum(traffic.total)
    cumulative = {"bad": bad, "good": total - bad, "total": total}
    step = traffic.step_seconds
    name = alert_name(slo)
    found = episodes(slo, traffic, options)
    times = sorted({t for e in found for t in (e.fired - 1, e.fired, e.resolved - 1, e.resolved) if t >= 0})
    checks = [
        {
            "eval_time": format_duration(t * step) if t else "0s",
            "alertname": name,
            "exp_alerts": [
                {
                    "exp_labels": e.labels,
                    "exp_annotations": _expanded(alert_annotations(slo, e.severity), e.labels),
                }
                for e in found
                if e.fired <= t < e.resolved
            ],
        }
        for t in times
    ]
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(step),
        # promtool otherwise evaluates groups in a random order, so an alert may see the last
        # step's recordings: Prometheus itself runs groups apart, within one interval.
        "group_eval_order": [
            f"sloth-slo-{part}-{slo.id}" for part in ("sli-recordings", "meta-recordings", "alerts")
        ],
        "tests": [
            {
                "interval": format_duration(step),
                "input_series": [
                    {"series": series, "values": _values(cumulative[kind])}
                    for series, kind in slo.synthetic_series
                ],
                "alert_rule_test": checks,
            }
        ],
    }
