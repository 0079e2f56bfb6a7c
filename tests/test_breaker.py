"""Circuit breaker: every transition with an injected clock, the ways of guarding a call, outcome
classification, listeners, the registry, metrics, concurrency and bad configuration."""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
from typing import Any

import pytest

from burnguard import (
    BreakerRegistry,
    CallNotPermitted,
    CircuitBreaker,
    CircuitOpenError,
    PrometheusExporter,
    StateTransition,
)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def small(clock: Clock, **options: Any) -> CircuitBreaker:
    config: dict[str, Any] = {
        "sliding_window_size": 4,
        "minimum_number_of_calls": 4,
        "wait_duration_in_open_state": 10.0,
        "permitted_number_of_calls_in_half_open_state": 2,
        "clock": clock,
    }
    config.update(options)
    return CircuitBreaker("svc", **config)


def ok(x: int = 0) -> int:
    return x


def boom(*_: Any) -> None:
    raise ConnectionError("down")


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            breaker.call(boom)


def test_defaults_are_resilience4j_s() -> None:
    b = CircuitBreaker()
    assert (b.name, b.state) == ("default", "CLOSED")
    fail(b, 99)
    assert b.state == "CLOSED", "fewer than the 100 minimum calls"
    fail(b, 1)
    snap = b.snapshot()
    assert (snap.state, snap.failure_rate, snap.calls, snap.retry_after) == (
        "OPEN",
        100.0,
        100,
        pytest.approx(60, abs=1),
    )


def test_failure_rate_opens_then_probes_close() -> None:
    clock = Clock()
    b = small(clock)
    events: list[object] = []
    b.add_listener(on_state_change=events.append, on_call_rejected=events.append)
    assert b.call(ok, 1) == 1
    assert b.snapshot().failure_rate == -1.0
    b.call(ok)
    fail(b, 2)
    assert b.state == "OPEN"
    clock.t += 4
    with pytest.raises(CircuitOpenError) as raised:
        b.call(ok)
    assert (raised.value.name, raised.value.state, raised.value.retry_after) == ("svc", "OPEN", 6.0)
    assert "retry after 6.000 s" in str(raised.value)
    clock.t += 6
    first, second = b.acquire(), b.acquire()
    assert (first.state, b.state) == ("HALF_OPEN", "HALF_OPEN")
    with pytest.raises(CircuitOpenError) as raised:
        b.acquire()
    assert (raised.value.state, raised.value.retry_after) == ("HALF_OPEN", None)
    first.success()
    second.success()
    assert b.state == "CLOSED"
    snap = b.snapshot()
    assert (snap.calls, snap.not_permitted_calls, snap.transitions) == (0, 2, 3)
    assert events == [
        StateTransition("svc", "CLOSED", "OPEN"),
        CallNotPermitted("svc", "OPEN", 6.0),
        StateTransition("svc", "OPEN", "HALF_OPEN"),
        CallNotPermitted("svc", "HALF_OPEN", None),
        StateTransition("svc", "HALF_OPEN", "CLOSED"),
    ]
    assert events[0].to_dict() == {"name": "svc", "from_state": "CLOSED", "to_state": "OPEN"}  # type: ignore[attr-defined]


def test_failed_probes_reopen_with_capped_backoff_reset_by_a_clean_close() -> None:
    clock = Clock()
    b = small(
        clock,
        permitted_number_of_calls_in_half_open_state=1,
        backoff_multiplier=2.0,
        max_wait_duration_in_open_state=25.0,
    )
    fail(b, 4)
    for wait in (10.0, 20.0, 25.0):
        assert b.snapshot().retry_after == wait
        clock.t += wait
        fail(b, 1)
        assert b.state == "OPEN"
    clock.t += 25
    b.call(ok)
    assert b.state == "CLOSED"
    fail(b, 4)
    assert b.snapshot().retry_after == 10.0


def test_fallback_takes_rejected_calls() -> None:
    clock = Clock()
    b = small(clock, fallback=lambda *a, **k: ("fallback", a, k))
    b.force_open()
    assert b.call(ok, 5) == ("fallback", (5,), {})
    guarded = b(ok)
    assert guarded(7) == ("fallback", (7,), {})


def test_decorator_keeps_metadata_and_binds_methods() -> None:
    b = CircuitBreaker("deco")

    @b
    def double(x: int) -> int:
        """Doubles."""
        return 2 * x

    class Service:
        @b
        def name(self, suffix: str) -> str:
            return f"svc-{suffix}"

    assert double(4) == 8
    assert (double.__name__, double.__doc__) == ("double", "Doubles.")
    assert Service().name("a") == "svc-a"
    assert Service.name.breaker is b  # type: ignore[attr-defined]


def test_generators_are_refused() -> None:
    def numbers() -> Any:
        yield 1

    with pytest.raises(TypeError, match="with breaker"):
        CircuitBreaker()(numbers)


def test_context_managers_record_outcomes() -> None:
    clock = Clock()
    b = small(clock, minimum_number_of_calls=2, sliding_window_size=2)
    with b as permit:
        assert permit.state == "CLOSED"
    with pytest.raises(ConnectionError), b:
        raise ConnectionError
    snap = b.snapshot()
    assert (snap.state, snap.calls, snap.failed_calls) == ("OPEN", 2, 1)
    with pytest.raises(CircuitOpenError), b:
        pass


async def test_async_paths() -> None:
    clock = Clock()
    b = small(clock, minimum_number_of_calls=2, sliding_window_size=2, failure_rate_threshold=100)

    @b
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x

    assert await fetch(3) == 3
    assert await b.call_async(fetch, 4) == 4
    async with b:
        pass
    with pytest.raises(ConnectionError):
        async with b:
            raise ConnectionError
    assert b.snapshot().failed_calls == 1
    b.force_open()
    with pytest.raises(CircuitOpenError):
        await fetch(1)

    async def async_fallback(x: int) -> str:
        return f"cached {x}"

    c = small(clock, fallback=async_fallback)
    c.force_open()
    assert await c.call_async(fetch, 9) == "cached 9"


def test_cancellation_and_interrupts_do_not_count() -> None:
    b = small(Clock())

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        b.call(interrupted)
    assert b.snapshot().calls == 0


def test_exception_options_and_result_classifier() -> None:
    clock = Clock()
    b = small(clock, record_exceptions=(ConnectionError,), ignore_exceptions=(KeyError,))

    def raise_(error: Exception) -> None:
        raise error

    with pytest.raises(ValueError):
        b.call(raise_, ValueError())  # not recorded: a success
    with pytest.raises(KeyError):
        b.call(raise_, KeyError())  # ignored: not counted
    with pytest.raises(ConnectionError):
        b.call(raise_, ConnectionError())
    snap = b.snapshot()
    assert (snap.calls, snap.failed_calls) == (2, 1)

    c = small(clock, exception_classifier=lambda e: "retry" in str(e), result_classifier=lambda r: r >= 500)
    with pytest.raises(RuntimeError):
        c.call(raise_, RuntimeError("please retry"))
    with pytest.raises(RuntimeError):
        c.call(raise_, RuntimeError("bad input"))
    assert c.call(ok, 503) == 503
    assert c.call(ok, 200) == 200
    snap = c.snapshot()
    assert (snap.calls, snap.failed_calls) == (4, 2)


def test_slow_calls_are_timed_with_the_clock() -> None:
    clock = Clock()
    b = small(clock, slow_call_duration_threshold=2.0, slow_call_rate_threshold=50.0)

    def slow() -> None:
        clock.t += 3

    b.call(slow)
    b.call(ok)
    permit = b.acquire()
    permit.success(duration=0.5)
    assert b.state == "CLOSED"
    b.acquire().slow()
    snap = b.snapshot()
    assert (snap.state, snap.slow_calls, snap.slow_call_rate, snap.failure_rate) == ("OPEN", 2, 50.0, 0.0)


def test_permits_complete_once_and_check_durations() -> None:
    b = small(Clock())
    permit = b.acquire()
    with pytest.raises(ValueError, match="duration"):
        permit.success(duration=-1.0)
    permit.failure()
    assert permit.completed
    with pytest.raises(RuntimeError, match="already completed"):
        permit.success()
    b.acquire().ignore()
    assert b.snapshot().calls == 1


def test_consecutive_failures_and_time_window() -> None:
    clock = Clock()
    b = CircuitBreaker("streak", consecutive_failure_threshold=3, clock=clock)
    fail(b, 2)
    b.call(ok)
    fail(b, 2)
    assert b.state == "CLOSED"
    fail(b, 1)
    assert b.state == "OPEN"

    t = CircuitBreaker(
        "timed", sliding_window_type="time", sliding_window_size=10, minimum_number_of_calls=2, clock=clock
    )
    fail(t, 1)
    clock.t += 11
    fail(t, 1)
    assert (t.state, t.snapshot().calls) == ("CLOSED", 1), "the first failure left the window"
    fail(t, 1)
    assert t.state == "OPEN"


def test_manual_states_and_reset() -> None:
    b = small(Clock())
    assert b.disable() and b.state == "DISABLED"
    fail(b, 10)
    assert b.snapshot().calls == 0
    assert b.metrics_only()
    fail(b, 10)
    assert (b.state, b.snapshot().failure_rate) == ("METRICS_ONLY", 100.0)
    assert b.force_open()
    with pytest.raises(CircuitOpenError) as raised:
        b.call(ok)
    assert raised.value.retry_after is None
    assert b.half_open() and b.state == "HALF_OPEN"
    assert b.open() and b.state == "OPEN"
    assert b.close() and not b.close()
    b.open()
    b.reset()
    snap = b.snapshot()
    assert (snap.state, snap.not_permitted_calls, snap.calls) == ("CLOSED", 0, 0)


def test_automatic_transition_on_read_and_by_timer() -> None:
    clock = Clock()
    b = small(clock, automatic_transition_from_open_to_half_open=True)
    b.open()
    clock.t += 10
    assert b.state == "HALF_OPEN"

    moved = threading.Event()
    real = CircuitBreaker(
        "timer",
        wait_duration_in_open_state=0.01,
        automatic_transition_from_open_to_half_open=True,
        on_state_change=[lambda e: e.to_state == "HALF_OPEN" and moved.set()],
    )
    real.open()
    assert moved.wait(10), "the timer moved the breaker without a call"


def test_listener_errors_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: object) -> None:
        raise RuntimeError("listener bug")

    b = small(Clock(), on_state_change=[broken])
    with caplog.at_level(logging.ERROR, logger="burnguard.breaker"):
        b.open()
    assert b.state == "OPEN"
    assert "state-change listener of breaker 'svc' failed" in caplog.text


def test_registry() -> None:
    registry = BreakerRegistry(failure_rate_threshold=25.0)
    a = registry.get("a")
    assert registry.get("a") is a and "a" in registry and len(registry) == 1
    registry.register(CircuitBreaker("b"))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(CircuitBreaker("b"))
    assert [s.name for s in registry.snapshots()] == ["a", "b"]
    assert registry["b"].name == "b"


def test_prometheus_metrics() -> None:
    pytest.importorskip("prometheus_client")
    b = small(Clock())
    b.call(ok)
    fail(b, 3)
    with pytest.raises(CircuitOpenError):
        b.call(ok)
    body = PrometheusExporter(breakers=[b]).render()[0].decode()
    assert 'burnguard_circuitbreaker_state{name="svc",state="OPEN"} 1.0' in body
    assert 'burnguard_circuitbreaker_state{name="svc",state="CLOSED"} 0.0' in body
    assert 'burnguard_circuitbreaker_failure_rate{name="svc"} 75.0' in body
    assert 'burnguard_circuitbreaker_buffered_calls{kind="failed",name="svc"} 3.0' in body
    assert 'burnguard_circuitbreaker_not_permitted_calls_total{name="svc"} 1.0' in body
    assert 'burnguard_circuitbreaker_transitions_total{name="svc"} 1.0' in body


def test_errors_pickle() -> None:
    error = pickle.loads(pickle.dumps(CircuitOpenError("x", "OPEN", 1.5)))
    assert (error.name, error.state, error.retry_after) == ("x", "OPEN", 1.5)


def test_threads_count_exactly() -> None:
    b = CircuitBreaker("mt", sliding_window_size=100_000, failure_rate_threshold=100.0)
    b.metrics_only()

    def work(k: int) -> None:
        for i in range(5000):
            if (i + k) % 4 == 0:
                with pytest.raises(ConnectionError):
                    b.call(boom)
            else:
                b.call(ok)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = b.snapshot()
    assert (snap.calls, snap.failed_calls) == (20_000, 5000)


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"failure_rate_threshold": float("nan")}, "failure_rate_threshold"),
        ({"wait_duration_in_open_state": float("inf")}, "wait_duration_in_open_state"),
        ({"jitter": float("nan")}, "jitter"),
        ({"backoff_multiplier": float("inf")}, "backoff_multiplier"),
        ({"slow_call_duration_threshold": float("nan")}, "slow_call_duration_threshold"),
        ({"max_wait_duration_in_half_open_state": -1.0}, "max_wait_duration_in_half_open_state"),
        ({"minimum_number_of_calls": 2**40}, "minimum_number_of_calls"),
        ({"slow_call_rate_threshold": 150}, "slow_call_rate_threshold"),
        ({"slow_call_duration_threshold": 0}, "slow_call_duration_threshold"),
        ({"sliding_window_size": 0}, "sliding_window_size"),
        ({"sliding_window_type": "sliding"}, "sliding_window_type"),
        ({"minimum_number_of_calls": -1}, "minimum_number_of_calls"),
        ({"permitted_number_of_calls_in_half_open_state": 0}, "permitted_number_of_calls_in_half_open_state"),
        ({"wait_duration_in_open_state": -1}, "wait_duration_in_open_state"),
        ({"max_wait_duration_in_open_state": 1}, "max_wait_duration_in_open_state"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"jitter": 1.0}, "jitter"),
        ({"record_exceptions": [int]}, "record_exceptions"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_configuration_names_the_parameter(options: dict[str, Any], param: str) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        CircuitBreaker(**options)


def test_a_raising_clock_propagates() -> None:
    def broken() -> float:
        raise OSError("no clock")

    b = CircuitBreaker(clock=broken)
    with pytest.raises(OSError):
        b.call(ok)
    bad = CircuitBreaker(clock=lambda: float("nan"))
    with pytest.raises(ValueError, match=r"^clock\(\) must be"):
        bad.call(ok)
