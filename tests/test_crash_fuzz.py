"""No panic reaches Python: the seeded crash fuzzer in a subprocess, and the cases it found."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from burnguard import InvalidArgumentError, spend

FUZZER = Path(__file__).with_name("crash_fuzz.py")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_fuzzer_finds_no_panic_abort_or_signal(seed: int) -> None:
    run = subprocess.run(
        [sys.executable, "-W", "ignore", str(FUZZER), str(seed), "20000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "PanicException" not in run.stderr, run.stderr[-2000:]
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"


@pytest.mark.parametrize(
    "call",
    [
        lambda: spend.check_anomaly_spike([]),
        lambda: spend.check_anomaly_spike(()),
        lambda: spend.check_anomaly_spike(np.array([])),
        lambda: spend.check_anomaly_robust([]),
        lambda: spend.check_burn_rate([]),
        lambda: spend.check_burn_rate(np.array([])),
    ],
)
def test_an_empty_series_is_the_peers_error(call: object) -> None:
    with pytest.raises(ValueError, match=r"^spend_series must contain at least 2 points$"):
        call()  # type: ignore[operator]


def test_empty_batches_check_their_one_value_arguments_on_every_side() -> None:
    empty, nan = np.array([]), math.nan
    with pytest.raises(InvalidArgumentError, match=r"^current_spend must be >= 0; got NaN$"):
        spend.check_budget(nan, empty)
    with pytest.raises(InvalidArgumentError, match=r"^budget_limit must be > 0; got NaN$"):
        spend.check_budget(empty, nan)
    with pytest.raises(InvalidArgumentError, match=r"^budget_limit must be > 0; got NaN$"):
        spend.forecast_budget_breach(empty, nan, 3, 20)
    with pytest.raises(InvalidArgumentError, match=r"^failure_threshold must be > 0; got -3$"):
        spend.evaluate_circuit_breaker(np.array([], dtype=np.int64), -3, 0)
    assert spend.check_budget(empty, 5.0).usage_ratio.shape == (0,)
    assert spend.forecast_budget_breach(5.0, 5.0, np.array([], dtype=np.int64), 20).will_breach.shape == (0,)
    assert spend.check_burn_rate(np.zeros((0, 0))).is_hot.shape == (0,)
    assert spend.check_anomaly_spike(np.ones((2, 0, 4))).is_spike.shape == (2, 0)


def test_a_broadcast_scalar_is_named_without_a_position() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        spend.check_budget(np.ones((2, 3)), math.nan)
    assert (info.value.param, info.value.index) == ("budget_limit", ())
    with pytest.raises(
        InvalidArgumentError, match=r"^spend_series must contain at least 2 points; series 0 has 0"
    ):
        spend.check_anomaly_spike(np.zeros((3, 0)))
    assert spend.check_budget(5.0, np.array([10.0, 20.0])).usage_ratio.tolist() == [0.5, 0.25]
