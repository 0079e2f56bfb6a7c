"""Bad input found by a black-box review is refused, naming the parameter; nothing is silent."""

from __future__ import annotations

import math

import pytest

import burnguard as bg


@pytest.mark.parametrize("window", [math.nan, math.inf, -1.0, 0.0])
def test_workbook_policies_need_a_real_window(window: float) -> None:
    with pytest.raises(bg.InvalidArgumentError, match=r"^window_seconds "):
        bg.BurnRatePolicy.workbook(window)


@pytest.mark.parametrize("age", [math.nan, math.inf, 0, -5])
def test_a_store_needs_a_positive_finite_age(age: float) -> None:
    with pytest.raises(bg.InvalidArgumentError, match=r"^max_age_seconds "):
        bg.InMemoryStore(age)  # type: ignore[arg-type]


def test_the_overflow_label_must_not_be_empty() -> None:
    with pytest.raises(bg.InvalidArgumentError, match=r"^overflow_label must be non-empty"):
        bg.RouteTable(overflow_label="")


@pytest.mark.parametrize(
    "make",
    [
        lambda: bg.SLOTracker(bg.SLODefinition("a", 0.9), clock=5),  # type: ignore[arg-type]
        lambda: bg.CircuitBreaker("b", clock=5),  # type: ignore[arg-type]
        lambda: bg.Ledger(clock=5),  # type: ignore[arg-type]
        lambda: bg.RouteTable(clock=5),  # type: ignore[arg-type]
    ],
)
def test_a_clock_must_be_callable(make: object) -> None:
    with pytest.raises(bg.InvalidTypeError, match=r"^clock must be callable; got int") as info:
        make()  # type: ignore[operator]
    assert isinstance(info.value, TypeError) and info.value.param == "clock"


@pytest.mark.parametrize("param", ["exception_classifier", "result_classifier", "fallback"])
def test_breaker_callbacks_must_be_callable(param: str) -> None:
    with pytest.raises(bg.InvalidTypeError, match=rf"^{param} must be callable; got str"):
        bg.CircuitBreaker("b", **{param: "no"})  # type: ignore[arg-type]


def test_a_raising_classifier_is_chained_to_the_calls_exception() -> None:
    def classify(err: BaseException) -> bool:
        raise KeyError("classifier broke")

    breaker = bg.CircuitBreaker("b", exception_classifier=classify)

    def boom() -> None:
        raise OSError("downstream")

    with pytest.raises(KeyError) as info:
        breaker.call(boom)
    assert isinstance(info.value.__cause__, OSError)


def test_record_many_of_nothing_records_nothing() -> None:
    tracker = bg.SLOTracker(bg.SLODefinition("a", 0.9))
    tracker.record_many([], [])
    assert tracker.snapshot().total == 0


def test_absurd_durations_are_refused_and_totals_never_wrap() -> None:
    route = bg.RouteTable().route("GET /")
    with pytest.raises(bg.InvalidArgumentError, match=r"^duration must be a number of seconds in \[0, "):
        route.record(1e308)
    route.record(365 * 86_400.0)
    route.record(1.0)
    assert route.summary(60).duration_seconds == pytest.approx(365 * 86_400.0 + 1.0)


def _ledger() -> bg.Ledger:
    ledger = bg.Ledger()
    ledger.set_budget("tenant:t", bg.Unit.TOKENS, 1000)
    return ledger


@pytest.mark.parametrize("bad", [-1, 1.5, "ten", True, lambda result: -5])
def test_a_bad_actual_commits_the_estimate_and_returns_the_result(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = _ledger()

    @bg.guard(
        ledger, 10, actual=bad if callable(bad) else (lambda result: bad), unit=bg.Unit.TOKENS, tenant="t"
    )  # type: ignore[arg-type, misc]
    def work() -> str:
        return "done"

    assert work() == "done"
    balance = ledger.balances("tenant:t")[0]
    assert (balance.spent, balance.reserved) == (10, 0), "the estimate is charged, nothing left held"
    assert "committing the estimate" in caplog.text


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"estimate": -1}, "estimate"),
        ({"actual": 1.5}, "actual"),
        ({"ttl_ms": 5}, "ttl_ms"),
        ({"grace_period_ms": -1}, "grace_period_ms"),
    ],
)
def test_guard_options_are_checked_when_decorating(options: dict[str, object], param: str) -> None:
    kwargs: dict[str, object] = {"estimate": 10, **options}
    estimate = kwargs.pop("estimate")
    with pytest.raises(bg.InvalidArgumentError) as info:
        bg.guard(_ledger(), estimate, unit=bg.Unit.TOKENS, tenant="t", **kwargs)  # type: ignore[arg-type]
    assert info.value.param == param


def test_a_stream_whose_cost_fails_commits_the_estimate(caplog: pytest.LogCaptureFixture) -> None:
    ledger = _ledger()
    with ledger.stream(
        bg.Subject(tenant="t"), bg.Action("llm", "m"), 10, unit=bg.Unit.TOKENS, cost=lambda usage: -3
    ):
        pass
    assert ledger.balances("tenant:t")[0].spent == 10
    assert "committing the estimate" in caplog.text


def test_a_store_backed_tracker_keeps_the_native_contract() -> None:
    store = bg.InMemoryStore(3600)
    tracker = bg.SLOTracker(bg.SLODefinition("a", 0.9), store=store)
    with pytest.raises(bg.InvalidArgumentError) as info:
        tracker.record_many([True, False, True], [1_700_000_000.0, math.nan, 1_700_000_001.0])
    assert (info.value.param, info.value.index) == ("at", (1,))
    assert len(store) == 0, "nothing of a rejected batch is recorded"
    with pytest.raises(bg.InvalidTypeError, match=r"^success must be a bool; got int"):
        tracker.record(5)  # type: ignore[arg-type]
    native = bg.SLOTracker(bg.SLODefinition("b", 0.9))
    with pytest.raises(TypeError):
        native.record(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "values", [[1e308, 1e308, 1.0], [1e308, 0.0, 1e308, 5.0, 1e308, 3.0], [1.0, 1e308, 1e308, 2.0]]
)
def test_rolling_checks_equal_the_scalar_check_on_huge_values(values: list[float]) -> None:
    import numpy as np

    from burnguard import spend

    for window in (2, 3):
        spike, burn = spend.rolling_anomaly_spike(values, window), spend.rolling_burn_rate(values, window)
        for t in range(window, len(values)):
            scalar = spend.check_anomaly_spike(values[t - window : t + 1])
            assert (spike.baseline_mean[t], spike.is_spike[t]) == (scalar.baseline_mean, scalar.is_spike)
            hot = spend.check_burn_rate(values[t - window : t + 1])
            assert np.array_equal([burn.burn_rate_ratio[t]], [hot.burn_rate_ratio], equal_nan=True)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: bg.SLODefinition("a", 0.9, window_seconds=10**12),
            r"^window_seconds must be a number of seconds in \(0, ",
        ),
        (
            lambda: bg.SLODefinition(
                "a", 0.9, window_seconds=10**9, burn_rate_windows=(0.001,), alert_policies=()
            ),
            r"^burn_rate_windows must be at least 0.06 seconds",
        ),
        (
            lambda: bg.Ledger(retention_seconds=1e30),
            r"^retention_seconds must be in \[60, 315360000\] seconds; got 1e\+?30|^retention_seconds must be in \[60, ",
        ),
        (lambda: bg.Ledger(max_retained=-1), r"^max_retained must be an int in \[1000, \d+\]; got -1$"),
        (
            lambda: bg.Ledger(max_retained=2**64),
            r"^max_retained must be an int in \[1000, \d+\]; got 18446744073709551616$",
        ),
    ],
)
def test_messages_name_the_users_parameter_and_the_real_range(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (2**70, ValueError, r"^allocated must fit in 64 bits; got 1180591620717411303424$"),
        (1.5, TypeError, r"^allocated must be an int; got float$"),
        (True, TypeError, r"^allocated must be an int; got bool$"),
        (None, TypeError, r"^allocated must be an int; got NoneType$"),
    ],
)
def test_budget_amounts_name_their_parameter(value: object, error: type[Exception], message: str) -> None:
    import numpy as np

    ledger = bg.Ledger()
    with pytest.raises(error, match=message):
        ledger.set_budget("tenant:a", bg.Unit.TOKENS, value)  # type: ignore[arg-type]
    ledger.set_budget("tenant:a", bg.Unit.TOKENS, np.int64(5), overdraft_limit=np.int64(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^amount must fit in 64 bits"):
        ledger.fund("tenant:a", bg.Unit.TOKENS, 2**64)
