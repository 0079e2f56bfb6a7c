from __future__ import annotations

import math
import pickle

import pytest

from burnguard import BurnRatePolicy, SLODefinition


def test_defaults_match_slo_budget_tracker() -> None:
    d = SLODefinition(name="availability", target=0.999)
    assert d.window_seconds == 2_592_000
    assert d.burn_rate_windows == (3600, 21600)
    assert d.burn_rate_threshold == 14.4
    assert d.description == ""
    assert d.error_budget_ratio == pytest.approx(0.001)


def test_default_alert_policies_are_the_sre_workbook_table() -> None:
    d = SLODefinition(name="a", target=0.999)
    assert d.policies == (
        BurnRatePolicy("page", 3600, 300, 14.4),
        BurnRatePolicy("page", 21600, 1800, 6.0),
        BurnRatePolicy("ticket", 86400, 7200, 3.0),
        BurnRatePolicy("ticket", 259200, 21600, 1.0),
    )


def test_policies_scale_with_the_window() -> None:
    week = SLODefinition(name="a", target=0.99, window_seconds=7 * 86400, burn_rate_windows=(3600,))
    assert [(p.long_window_seconds, p.short_window_seconds) for p in week.policies] == [
        (840, 70),
        (5040, 420),
        (20160, 1680),
        (60480, 5040),
    ]
    assert SLODefinition(name="a", target=0.99, alert_policies=()).policies == ()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"name": ""}, "name"),
        ({"target": 1.0}, "target"),
        ({"target": 0.0}, "target"),
        ({"target": math.nan}, "target"),
        ({"window_seconds": 0}, "window_seconds"),
        ({"window_seconds": math.inf}, "window_seconds"),
        ({"window_seconds": 3600, "burn_rate_windows": (7200,)}, "burn_rate_window"),
        ({"burn_rate_windows": (0,)}, "burn_rate_window"),
        ({"burn_rate_threshold": 1.0}, "burn_rate_threshold"),
        ({"burn_rate_threshold": math.nan}, "burn_rate_threshold"),
        ({"alert_policies": (BurnRatePolicy("page", 60, 120, 2.0),)}, "short_window_seconds"),
        ({"alert_policies": (BurnRatePolicy("page", 60, 5, math.inf),)}, "alert_policies.threshold"),
        ({"latency_threshold_seconds": -0.1}, "latency_threshold_seconds"),
    ],
)
def test_bad_definitions_name_the_parameter(kwargs: dict[str, object], param: str) -> None:
    args: dict[str, object] = {"name": "x", "target": 0.99, **kwargs}
    with pytest.raises(ValueError, match=param):
        SLODefinition(**args)  # type: ignore[arg-type]


def test_definitions_are_frozen_picklable_and_serialisable() -> None:
    d = SLODefinition(name="a", target=0.99, latency_threshold_seconds=0.25)
    assert pickle.loads(pickle.dumps(d)) == d
    assert d.to_dict()["alert_policies"][0] == {
        "severity": "page",
        "long_window_seconds": 3600.0,
        "short_window_seconds": 300.0,
        "threshold": 14.4,
    }
    with pytest.raises(AttributeError):
        d.target = 0.5  # type: ignore[misc]
