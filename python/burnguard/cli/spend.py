"""Spend reports on billing exports.

An export is read natively into daily spend per group (``_native.DailySpendCore``), then every
series is checked in one batch each, by the functions of ``burnguard.spend``:

* budgets: the report month's spend to date against each group's monthly budget
  (``check_budget``): breached, or past the warning ratio; ``forecast_budget_breach`` projects
  the month at its pace so far, and the forecast breach day is the day that pace crosses the
  budget;
* spikes: each day of the report month against the ``window`` days before it, by the mean
  (``rolling_anomaly_spike``), the median and MAD, and a percentile
  (``rolling_anomaly_robust``); a day is a spike when at least ``spike_votes`` of the three
  flag it (by default all three);
* burn: the mean daily spend of the last ``recent_days`` against that of the ``window`` days
  before them (``check_burn_rate``): hot at ``hot_multiplier`` times or more.

Days whose net spend is negative (credits or refunds past the charges) count as 0 in the spike
and burn checks, and a baseline under ``min_baseline`` a day counts as ``min_baseline``: a few
cents that double are not reported.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._results import Result
from burnguard.cli.backtest import read_chunks
from burnguard.spend import (
    BurnRateBatch,
    check_budget,
    check_burn_rate,
    forecast_budget_breach,
    rolling_anomaly_robust,
    rolling_anomaly_spike,
)

_CHUNK = 1 << 22
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class DailySpend(Result):
    """A billing export's spend per group (rows) and day (columns), NaN before a group's first row."""

    first_day: date
    keys: list[tuple[str, ...]]
    spend: npt.NDArray[np.float64] = field(repr=False)
    columns: dict[str, Any]
    rows: int
    malformed: int
    examples: list[tuple[int, str]]

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=max(self.spend.shape[1] - 1, 0))

    def labels(self) -> list[str]:
        """Each group's name: its key's parts joined by `` / `` (``all`` without grouping)."""
        return [" / ".join(key) if key else "all" for key in self.keys]


def read_export(
    source: str,
    *,
    by: list[str] | None = None,
    preset: str | None = None,
    date_column: str | None = None,
    cost_column: str | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> DailySpend:
    """Reads the export at ``source`` (a path, gzip or not, or ``-`` for stdin), grouped ``by``
    columns (``account`` and ``service`` name the preset's; None: by account if the layout has
    one, else one total)."""
    core = _native.DailySpendCore(
        by=by, preset_name=preset, date_column=date_column, cost_column=cost_column, strict=strict
    )
    for chunk in read_chunks(source, _CHUNK, progress):
        core.feed(chunk)
    core.finish()
    columns = core.columns()
    if columns is None:
        raise ValueError(f"{source} is empty: it has no header row")
    if core.rows == 0:
        raise ValueError(f"{source} has no rows that parse ({core.malformed} malformed)")
    first, keys, spend = core.series()
    return DailySpend(
        _EPOCH + timedelta(days=first),
        [tuple(k) for k in keys],
        spend,
        columns,
        core.rows,
        core.malformed,
        core.examples,
    )


@dataclass(frozen=True)
class Budgets:
    """Monthly budgets by group label, with their warning ratios; ``default`` for the rest."""

    limits: dict[str, tuple[float, float]]
    default: tuple[float, float] | None = None

    def of(self, label: str) -> tuple[float, float] | None:
        return self.limits.get(label, self.default)


def parse_budgets(document: Any, source: str) -> Budgets:
    """Budgets from a YAML document::

    warning_ratio: 0.8        # for every budget that states none (default 0.9)
    default: 5000             # the monthly budget of every group not listed (optional)
    budgets:
      "123456789012": 2000    # a group's label, as the report shows it
      "team-a / AmazonEC2": {limit: 900, warning_ratio: 0.95}
    """
    if not isinstance(document, Mapping):
        raise ValueError(f"{source} must be a mapping with a budgets: entry")
    unknown = set(document) - {"warning_ratio", "default", "budgets"}
    if unknown:
        raise ValueError(f"{source} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    warning = _ratio(document.get("warning_ratio", 0.9), f"{source}: warning_ratio")
    limits: dict[str, tuple[float, float]] = {}
    entries = document.get("budgets") or {}
    if not isinstance(entries, Mapping):
        raise ValueError(f"{source}: budgets must map group labels to monthly budgets")
    for label, entry in entries.items():
        where = f"{source}: budgets[{label!r}]"
        if isinstance(entry, Mapping):
            extra = set(entry) - {"limit", "warning_ratio"}
            if extra or "limit" not in entry:
                raise ValueError(f"{where} must be a number or {{limit, warning_ratio}}")
            limits[str(label)] = (
                _amount(entry["limit"], where),
                _ratio(entry.get("warning_ratio", warning), f"{where}.warning_ratio"),
            )
        else:
            limits[str(label)] = (_amount(entry, where), warning)
    default = document.get("default")
    return Budgets(limits, None if default is None else (_amount(default, f"{source}: default"), warning))


def _amount(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{where} must be a budget > 0; got {value!r}")
    return float(value)


def _ratio(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"{where} must be a ratio in (0, 1]; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SpendOptions:
    """The checks' settings (see the module's docstring)."""

    month: date | None = None
    window: int = 14
    spike_multiplier: float = 1.5
    z_threshold: float = 3.5
    percentile: float = 0.95
    spike_votes: int = 3
    recent_days: int = 7
    hot_multiplier: float = 1.4
    min_baseline: float = 1.0


def report(spend: DailySpend, budgets: Budgets | None, options: SpendOptions) -> dict[str, Any]:
    """Everything the checks found, as plain data (the ``--json`` output)."""
    month = options.month or spend.last_day.replace(day=1)
    if not spend.first_day.replace(day=1) <= month <= spend.last_day:
        raise ValueError(
            f"--month {month:%Y-%m} is outside the export, "
            f"which runs from {spend.first_day} to {spend.last_day}"
        )
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    begin, end = month_columns(spend, month)
    labels = spend.labels()
    this_month = np.nan_to_num(spend.spend[:, begin:end], nan=0.0)
    to_date = this_month.sum(axis=1)
    checked = np.maximum(spend.spend, 0.0)
    result: dict[str, Any] = {
        "export": {
            "rows": spend.rows,
            "malformed": spend.malformed,
            "malformed_examples": [{"line": n, "text": t} for n, t in spend.examples],
            **spend.columns,
            "first_day": spend.first_day.isoformat(),
            "last_day": spend.last_day.isoformat(),
            "groups": len(labels),
        },
        "options": {**asdict(options), "month": f"{month:%Y-%m}"},
        "month": f"{month:%Y-%m}",
        "days_elapsed": end - begin,
        "days_in_month": days_in_month,
        "month_to_date": float(to_date.sum()),
        "top": [
            {"group": labels[i], "month_to_date": float(to_date[i])}
            for i in np.argsort(-to_date, kind="stable")[:5]
        ],
    }
    result["budgets"], result["budgets_not_in_export"] = _budgets(
        labels, this_month, to_date, budgets, month, result["days_elapsed"], days_in_month
    )
    result["spikes"] = _spikes(labels, checked, spend.first_day, begin, end, options)
    result["hot"] = _hot(labels, checked[:, :end], options)
    return result


def month_columns(spend: DailySpend, month: date) -> tuple[int, int]:
    """The columns of ``spend`` in ``month`` (its first day): ``spend.spend[:, begin:end]``."""
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    month_end = month + timedelta(days=days_in_month - 1)
    begin = max((month - spend.first_day).days, 0)
    return begin, (min(month_end, spend.last_day) - spend.first_day).days + 1


def _budgets(
    labels: list[str],
    this_month: npt.NDArray[np.float64],
    to_date: npt.NDArray[np.float64],
    budgets: Budgets | None,
    month: date,
    elapsed: int,
    days_in_month: int,
) -> tuple[list[dict[str, Any]], list[str]]:
    if budgets is None:
        return [], []
    rows = [(i, entry) for i, label in enumerate(labels) if (entry := budgets.of(label)) is not None]
    if not rows:
        return [], sorted(budgets.limits)
    index = np.array([i for i, _ in rows])
    limit = np.array([b for _, (b, _) in rows])
    warning = np.array([w for _, (_, w) in rows])
    current = np.maximum(to_date[index], 0.0)
    usage = np.empty(len(rows))
    is_warning = np.empty(len(rows), dtype=bool)
    is_breached = np.empty(len(rows), dtype=bool)
    for ratio in np.unique(warning):
        same = warning == ratio
        check = check_budget(current[same], limit[same], float(ratio))
        usage[same], is_warning[same], is_breached[same] = (
            check.usage_ratio,
            check.is_warning,
            check.is_breached,
        )
    forecast = forecast_budget_breach(current, limit, elapsed, days_in_month)
    cumulative = np.cumsum(this_month[index], axis=1)
    found: list[dict[str, Any]] = []
    for row, (i, (budget, ratio)) in enumerate(rows):
        on: int | None
        if is_breached[row]:
            status, on = "breached", int(np.argmax(cumulative[row] >= budget)) + 1
        else:
            status = "warning" if is_warning[row] else "forecast" if forecast.will_breach[row] else "ok"
            # The day the month's pace so far (spend over elapsed days) reaches the budget.
            on = math.ceil(budget * elapsed / current[row]) if forecast.will_breach[row] else None
        found.append(
            {
                "group": labels[i],
                "month_to_date": float(current[row]),
                "budget": budget,
                "warning_ratio": ratio,
                "usage_ratio": float(usage[row]),
                "status": status,
                "breached_on" if status == "breached" else "forecast_breach_on": (
                    None if on is None else (month + timedelta(days=on - 1)).isoformat()
                ),
                "forecast_total": float(forecast.projected_total_spend[row]),
            }
        )
    order = {"breached": 0, "warning": 1, "forecast": 2, "ok": 3}
    found.sort(key=lambda b: (order[b["status"]], -b["usage_ratio"]))
    return found, sorted(set(budgets.limits) - set(labels))


def _spikes(
    labels: list[str],
    checked: npt.NDArray[np.float64],
    first_day: date,
    begin: int,
    end: int,
    options: SpendOptions,
) -> list[dict[str, Any]]:
    window, floor = options.window, options.min_baseline
    # Only groups with a full window before some day can flag one.
    rows = np.flatnonzero(np.count_nonzero(~np.isnan(checked), axis=1) > window)
    checked = checked[rows]
    by_mean = rolling_anomaly_spike(checked, window, options.spike_multiplier, floor)
    by_mad = rolling_anomaly_robust(checked, window, z_threshold=options.z_threshold, min_baseline=floor)
    by_percentile = rolling_anomaly_robust(
        checked, window, method="percentile", percentile=options.percentile, min_baseline=floor
    )
    methods = {"mean": by_mean, "mad": by_mad, "percentile": by_percentile}
    votes = np.zeros(checked.shape, dtype=np.int8)
    for m in methods.values():
        votes += m.is_spike
    votes[:, :begin] = 0
    votes[:, end:] = 0
    flagged = votes >= options.spike_votes
    found = []
    for i, day in zip(*np.nonzero(flagged), strict=True):
        found.append(
            {
                "group": labels[rows[i]],
                "day": (first_day + timedelta(days=int(day))).isoformat(),
                "spend": float(checked[i, day]),
                "mean": float(by_mean.baseline_mean[i, day]),
                "median": float(by_mad.baseline_mean[i, day]),
                "ratio_to_mean": _ratio_of(checked[i, day], by_mean.baseline_mean[i, day]),
                "methods": [name for name, m in methods.items() if m.is_spike[i, day]],
            }
        )
    found.sort(key=lambda s: (s["day"], -(s["ratio_to_mean"] or math.inf)))
    return found


def _hot(labels: list[str], checked: npt.NDArray[np.float64], options: SpendOptions) -> list[dict[str, Any]]:
    recent, window = options.recent_days, options.window
    if checked.shape[1] < recent + 2:
        return []
    # Each group's baseline days, then the mean of its recent days as the latest point.
    baseline = checked[:, -(recent + window) : -recent]
    latest = checked[:, -recent:].mean(axis=1)
    usable = ~np.isnan(latest) & (np.count_nonzero(~np.isnan(baseline), axis=1) >= 1)
    if not usable.any():
        return []
    series = np.concatenate([baseline[usable], latest[usable, np.newaxis]], axis=1)
    burn = check_burn_rate(series, options.hot_multiplier)
    assert isinstance(burn, BurnRateBatch)
    rows = np.flatnonzero(usable)
    found = [
        {
            "group": labels[rows[k]],
            "recent_daily": float(burn.latest_spend[k]),
            "baseline_daily": float(burn.average_spend[k]),
            "burn_rate_ratio": _ratio_of(burn.latest_spend[k], burn.average_spend[k]),
        }
        # The baseline counts as at least min_baseline, as in the spike checks.
        for k in np.flatnonzero(
            burn.is_hot & (burn.latest_spend >= options.min_baseline * options.hot_multiplier)
        )
    ]
    found.sort(key=lambda h: -(h["burn_rate_ratio"] or math.inf))
    return found


def _ratio_of(spend: float, baseline: float) -> float | None:
    """``spend / baseline``, None (JSON's null) over a zero baseline."""
    return float(spend / baseline) if baseline > 0 else None
