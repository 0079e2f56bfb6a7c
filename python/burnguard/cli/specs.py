"""SLO specs read from YAML: Sloth's ``prometheus/v1`` (and its Kubernetes
``PrometheusServiceLevel``), OpenSLO ``v1`` and ``v1alpha``, and burnguard's own ``burnguard/v1``.

Every format becomes the same :class:`RuleSLO`: an objective, a period, the SLI as PromQL with
a ``{{.window}}`` placeholder, the alert policies and the alerts' names and labels. A spec that
does not validate raises :class:`SpecError` naming the field (``slos[0].objective``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from burnguard._exposition import go_float
from burnguard.errors import BurnguardError
from burnguard.slo import BurnRatePolicy, SLODefinition

WINDOW = "{{.window}}"
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_UNITS = (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_OPENSLO_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class SpecError(BurnguardError, ValueError):
    """An SLO spec that cannot be read: the message names the file's field."""


@dataclass(frozen=True)
class AlertSpec:
    """How one severity's alert is named and labelled."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False


@dataclass(frozen=True)
class RuleSLO:
    """One SLO, whatever format it came from."""

    service: str
    name: str
    objective: float
    period_seconds: int
    policies: tuple[BurnRatePolicy, ...]
    #: ``(error_query, total_query)`` with the window placeholder, or None for a raw ratio.
    events: tuple[str, str] | None
    error_ratio_query: str | None
    spec_format: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    alert_name: str = ""
    alert_labels: Mapping[str, str] = field(default_factory=dict)
    alert_annotations: Mapping[str, str] = field(default_factory=dict)
    #: Per severity (``page``, ``ticket``, or a native policy's own).
    alerts: Mapping[str, AlertSpec] = field(default_factory=dict)
    #: burnguard's own counters behind the SLI, each with what it counts (``bad``, ``good`` or
    #: ``total`` events), so synthetic rule tests can feed them.
    synthetic_series: tuple[tuple[str, str], ...] = ()
    #: For a burnguard/v1 SLO over an app's ``SLOTracker`` (``sli: {slo: NAME}``): that
    #: tracker's definition, to read it from a shared arena (``burnguard dashboard``).
    tracker: SLODefinition | None = None

    @property
    def id(self) -> str:
        """``service-name``: Sloth's ``sloth_id``."""
        return f"{self.service}-{self.name}"

    def error_ratio(self, window: str) -> str:
        """The SLI's error ratio over ``window`` (a Prometheus duration), as PromQL."""
        if self.events is not None:
            error, total = (q.replace(WINDOW, window).strip() for q in self.events)
            return f"({error})\n/\n({total})"
        assert self.error_ratio_query is not None
        return self.error_ratio_query.replace(WINDOW, window).strip()


def parse_duration(text: object, where: str) -> int:
    """Seconds of a Prometheus duration such as ``30d``, ``1h30m`` or a number of seconds."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        return text
    match = _DURATION.match(text) if isinstance(text, str) and text else None
    if match is None or not any(match.groups()):
        raise SpecError(f"{where}: must be a duration such as 30d, 1h or 5m; got {text!r}")
    seconds = sum(int(n) * unit for n, (_, unit) in zip(match.groups(), _UNITS, strict=True) if n)
    if seconds <= 0:
        raise SpecError(f"{where}: must be longer than 0; got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest unit that holds it exactly: ``5m``, ``1h``, ``30d``, ``90m``."""
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        raise ValueError(f"a rule window must be a whole number of seconds > 0; got {seconds!r}")
    suffix, unit = next((suffix, unit) for suffix, unit in _UNITS[1:] if whole % unit == 0)
    return f"{whole // unit}{suffix}"


def load_specs(documents: Iterable[object], *, period_seconds: int = 30 * 86400) -> list[RuleSLO]:
    """The SLOs of parsed YAML ``documents`` (one file may hold several; OpenSLO ``SLI``
    documents are found by the ``SLO``s that name them). ``period_seconds`` is the period of
    Sloth specs, which do not state one."""
    docs = [d for d in documents if d is not None]
    indicators = {
        _get(d, "metadata", "name"): d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind") == "SLI"
        and str(d.get("apiVersion", "")).startswith("openslo")
    }
    slos: list[RuleSLO] = []
    for n, doc in enumerate(docs):
        where = f"document {n + 1}" if len(docs) > 1 else "spec"
        if not isinstance(doc, dict):
            raise SpecError(f"{where}: must be a mapping; got {type(doc).__name__}")
        version, api, kind = doc.get("version"), doc.get("apiVersion"), doc.get("kind")
        if version == "prometheus/v1":
            slos += _sloth(doc, period_seconds, camel=False)
        elif api == "sloth.slok.dev/v1" and kind == "PrometheusServiceLevel":
            slos += _sloth(_mapping(doc.get("spec"), "spec"), period_seconds, camel=True)
        elif api in ("openslo/v1", "openslo/v1alpha") and kind == "SLO":
            slos += _openslo(doc, api, indicators)
        elif api in ("openslo/v1", "openslo/v1alpha") and kind in ("SLI", "Service", "AlertPolicy"):
            continue
        elif version == "burnguard/v1":
            slos += _native(doc)
        else:
            raise SpecError(
                f"{where}: unknown format; expected version prometheus/v1 or burnguard/v1, or apiVersion "
                f"sloth.slok.dev/v1 (PrometheusServiceLevel) or openslo/v1, openslo/v1alpha (SLO); "
                f"got version={version!r} apiVersion={api!r} kind={kind!r}"
            )
    ids = [s.id for s in slos]
    if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
        raise SpecError(f"SLO ids must be unique; repeated: {', '.join(duplicated)}")
    if not slos:
        raise SpecError("the spec holds no SLO")
    return slos


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{where}: must be a mapping; got {value!r}")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"{where}: must be a non-empty string; got {value!r}")
    return value


def _labels(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    labels = _mapping(value, where)
    for key, v in labels.items():
        if not isinstance(key, str) or not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", key):
            raise SpecError(f"{where}: label names must match [a-zA-Z_][a-zA-Z0-9_]*; got {key!r}")
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise SpecError(f"{where}.{key}: must be a string; got {v!r}")
    return {k: str(v) for k, v in labels.items()}


def _query(value: object, where: str) -> str:
    query = _string(value, where)
    if WINDOW not in query:
        raise SpecError(f"{where}: must contain the window placeholder {WINDOW}; got {query!r}")
    return query


def _workbook(period_seconds: int) -> tuple[BurnRatePolicy, ...]:
    return BurnRatePolicy.workbook(period_seconds)


def _alerting(
    spec: object, where: str, camel: bool
) -> tuple[str, dict[str, str], dict[str, str], dict[str, AlertSpec]]:
    alerting = _mapping(spec, where) if spec is not None else {}
    name = alerting.get("name", "")
    if name and not isinstance(name, str):
        raise SpecError(f"{where}.name: must be a string; got {name!r}")
    alerts = {}
    for severity in ("page", "ticket"):
        key = f"{severity}Alert" if camel else f"{severity}_alert"
        one = _mapping(alerting.get(key) or {}, f"{where}.{key}")
        alerts[severity] = AlertSpec(
            labels=_labels(one.get("labels"), f"{where}.{key}.labels"),
            annotations=_labels(one.get("annotations"), f"{where}.{key}.annotations"),
            disabled=bool(one.get("disable", False)),
        )
    return (
        name,
        _labels(alerting.get("labels"), f"{where}.labels"),
        _labels(alerting.get("annotations"), f"{where}.annotations"),
        alerts,
    )


def _service(doc: dict[str, Any]) -> tuple[str, dict[str, str], list[tuple[str, dict[str, Any]]]]:
    """A Sloth or burnguard spec's service, labels and SLOs (each with where it is)."""
    service = _string(doc.get("service"), "service")
    labels = _labels(doc.get("labels"), "labels")
    slos = doc.get("slos")
    if not isinstance(slos, list) or not slos:
        raise SpecError(f"slos: must be a non-empty list; got {slos!r}")
    return service, labels, [(f"slos[{i}]", _mapping(raw, f"slos[{i}]")) for i, raw in enumerate(slos)]


def _objective_percent(value: object, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 100:
        raise SpecError(f"{where}: must be a percentage in (0, 100); got {value!r}")
    return float(value) / 100


def _sloth(doc: dict[str, Any], period_seconds: int, *, camel: bool) -> list[RuleSLO]:
    service, labels, slos = _service(doc)
    out = []
    for where, slo in slos:
        sli = _mapping(slo.get("sli"), f"{where}.sli")
        events = raw_ratio = None
        if "events" in sli:
            ev = _mapping(sli["events"], f"{where}.sli.events")
            error_key, total_key = ("errorQuery", "totalQuery") if camel else ("error_query", "total_query")
            events = (
                _query(ev.get(error_key), f"{where}.sli.events.{error_key}"),
                _query(ev.get(total_key), f"{where}.sli.events.{total_key}"),
            )
        elif "raw" in sli:
            key = "errorRatioQuery" if camel else "error_ratio_query"
            raw_ratio = _query(_get(sli, "raw", key), f"{where}.sli.raw.{key}")
        else:
            raise SpecError(f"{where}.sli: must hold events or raw (SLI plugins are not supported)")
        name, alert_labels, annotations, alerts = _alerting(slo.get("alerting"), f"{where}.alerting", camel)
        out.append(
            RuleSLO(
                service=service,
                name=_string(slo.get("name"), f"{where}.name"),
                objective=_objective_percent(slo.get("objective"), f"{where}.objective"),
                period_seconds=period_seconds,
                policies=_workbook(period_seconds),
                events=events,
                error_ratio_query=raw_ratio,
                spec_format="prometheus/v1",
                description=str(slo.get("description", "")),
                labels={**labels, **_labels(slo.get("labels"), f"{where}.labels")},
                alert_name=name,
                alert_labels=alert_labels,
                alert_annotations=annotations,
                alerts=alerts,
            )
        )
    return out


def _openslo_query(metric: object, where: str, alpha: bool) -> str:
    metric = _mapping(metric, where)
    query = metric.get("query") if alpha else _get(metric, "metricSource", "spec", "query")
    return _query(query, f"{where}.query" if alpha else f"{where}.metricSource.spec.query")


def _openslo(doc: dict[str, Any], api: str, indicators: dict[Any, Any]) -> list[RuleSLO]:
    alpha = api == "openslo/v1alpha"
    name = _string(_get(doc, "metadata", "name"), "metadata.name")
    spec = _mapping(doc.get("spec"), "spec")
    service = _string(spec.get("service"), "spec.service")
    if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
        raise SpecError(
            f"spec.budgetingMethod: only Occurrences is supported; got {spec['budgetingMethod']!r}"
        )
    windows = spec.get("timeWindows" if alpha else "timeWindow")
    if not isinstance(windows, list) or len(windows) != 1:
        raise SpecError(
            f"spec.{'timeWindows' if alpha else 'timeWindow'}: must hold one window; got {windows!r}"
        )
    window = _mapping(windows[0], "spec.timeWindow[0]")
    if alpha:
        unit = str(window.get("unit", "")).lower()
        count = window.get("count")
        if unit not in _OPENSLO_UNITS or not isinstance(count, int) or count <= 0:
            raise SpecError(
                f"spec.timeWindows[0]: needs a count > 0 and a unit (Day, Week...); got {window!r}"
            )
        period = count * _OPENSLO_UNITS[unit]
    else:
        period = parse_duration(window.get("duration"), "spec.timeWindow[0].duration")
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise SpecError(f"spec.objectives: must be a non-empty list; got {objectives!r}")
    out = []
    for i, objective in enumerate(objectives):
        where = f"spec.objectives[{i}]"
        objective = _mapping(objective, where)
        if alpha:
            ratio = _mapping(objective.get("ratioMetrics"), f"{where}.ratioMetrics")
            ratio_where = f"{where}.ratioMetrics"
        else:
            indicator = spec.get("indicator")
            if indicator is None and "indicatorRef" in spec:
                indicator = indicators.get(spec["indicatorRef"])
                if indicator is None:
                    raise SpecError(f"spec.indicatorRef: no SLI document named {spec['indicatorRef']!r}")
            ratio = _mapping(_get(indicator, "spec", "ratioMetric"), "spec.indicator.spec.ratioMetric")
            ratio_where = "spec.indicator.spec.ratioMetric"
        total = _openslo_query(ratio.get("total"), f"{ratio_where}.total", alpha)
        if "bad" in ratio:
            error = _openslo_query(ratio["bad"], f"{ratio_where}.bad", alpha)
        else:
            good = _openslo_query(ratio.get("good"), f"{ratio_where}.good", alpha)
            error = f"({total.strip()}) - ({good.strip()})"
        target = objective.get("target")
        if target is None and "targetPercent" in objective:
            target = _objective_percent(objective["targetPercent"], f"{where}.targetPercent")
        if not isinstance(target, (int, float)) or isinstance(target, bool) or not 0 < target < 1:
            raise SpecError(f"{where}.target: must be a ratio in (0, 1); got {target!r}")
        out.append(
            RuleSLO(
                service=service,
                name=name if len(objectives) == 1 else f"{name}-{i}",
                objective=float(target),
                period_seconds=period,
                policies=_workbook(period),
                events=(error, total),
                error_ratio_query=None,
                spec_format=api,
                description=str(spec.get("description", "")),
                alerts={"page": AlertSpec(), "ticket": AlertSpec()},
            )
        )
    return out


def selector(labels: Mapping[str, str]) -> str:
    """A PromQL label selector matching ``labels`` exactly."""

    def escape(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def _native(doc: dict[str, Any]) -> list[RuleSLO]:
    service, labels, slos = _service(doc)
    out = []
    for where, slo in slos:
        definition = _definition(slo, where)
        sli = _mapping(slo.get("sli"), f"{where}.sli")
        extra = _labels(sli.get("selector"), f"{where}.sli.selector")
        latency = definition.latency_threshold_seconds
        tracker = None
        if "slo" in sli:
            base = {"slo": _string(sli["slo"], f"{where}.sli.slo"), **extra}
            tracker = replace(definition, name=base["slo"])
            bad, good = selector({**base, "outcome": "bad"}), selector({**base, "outcome": "good"})
            events = (
                f"sum(rate(burnguard_slo_events_total{bad}[{WINDOW}]))",
                f"sum(rate(burnguard_slo_events_total{selector(base)}[{WINDOW}]))",
            )
            series = (
                (f"burnguard_slo_events_total{bad}", "bad"),
                (f"burnguard_slo_events_total{good}", "good"),
            )
        elif "route" in sli:
            route = {"route": _string(sli["route"], f"{where}.sli.route"), **extra}
            if latency is None:
                events = (
                    f"sum(rate(burnguard_http_request_errors_total{selector(route)}[{WINDOW}]))",
                    f"sum(rate(burnguard_http_requests_total{selector(route)}[{WINDOW}]))",
                )
                series = (
                    (f"burnguard_http_request_errors_total{selector(route)}", "bad"),
                    (f"burnguard_http_requests_total{selector({**route, 'code_class': '2xx'})}", "total"),
                )
            else:
                histogram = "burnguard_http_request_duration_seconds"
                fast = selector({**route, "le": go_float(latency)})
                total = f"sum(rate({histogram}_count{selector(route)}[{WINDOW}]))"
                events = (f"{total}\n-\nsum(rate({histogram}_bucket{fast}[{WINDOW}]))", total)
                series = (
                    (f"{histogram}_count{selector(route)}", "total"),
                    (f"{histogram}_bucket{fast}", "good"),
                )
        else:
            raise SpecError(f"{where}.sli: must name an slo (burnguard_slo_events_total) or a route")
        alert_name, alert_labels, annotations, alerts = _alerting(
            slo.get("alerting"), f"{where}.alerting", False
        )
        for policy in definition.policies:
            alerts.setdefault(policy.severity, AlertSpec())
        out.append(
            RuleSLO(
                service=service,
                name=definition.name,
                objective=definition.target,
                period_seconds=int(definition.window_seconds),
                policies=definition.policies,
                events=events,
                error_ratio_query=None,
                spec_format="burnguard/v1",
                description=definition.description,
                labels={**labels, **_labels(slo.get("labels"), f"{where}.labels")},
                alert_name=alert_name,
                alert_labels=alert_labels,
                alert_annotations=annotations,
                alerts=alerts,
                synthetic_series=series,
                tracker=tracker,
            )
        )
    return out


def _definition(slo: dict[str, Any], where: str) -> SLODefinition:
    """The SLO's burnguard definition: its fields are ``SLODefinition``'s, with durations
    written as ``window: 30d`` or ``window_seconds: 2592000``."""
    window = slo.get("window_seconds", slo.get("window", "30d"))
    policies = slo.get("alert_policies")
    try:
        return SLODefinition(
            name=_string(slo.get("name"), f"{where}.name"),
            target=slo.get("target"),  # type: ignore[arg-type]  # checked by SLODefinition
            window_seconds=parse_duration(window, f"{where}.window"),
            description=str(slo.get("description", "")),
            alert_policies=None
            if policies is None
            else tuple(_policy(p, f"{where}.alert_policies[{j}]") for j, p in enumerate(policies)),
            latency_threshold_seconds=slo.get("latency_threshold_seconds"),
        )
    except (TypeError, ValueError) as error:
        if isinstance(error, SpecError):
            raise
        raise SpecError(f"{where}: {error}") from error


def _policy(raw: object, where: str) -> BurnRatePolicy:
    policy = _mapping(raw, where)

    def seconds(key: str) -> int:
        return parse_duration(policy.get(key, policy.get(f"{key}_seconds")), f"{where}.{key}")

    return BurnRatePolicy(
        severity=_string(policy.get("severity"), f"{where}.severity"),
        long_window_seconds=seconds("long_window"),
        short_window_seconds=seconds("short_window"),
        threshold=policy.get("threshold"),  # type: ignore[arg-type]  # checked by BurnRatePolicy
    )
