"""Circuit breakers: the overhead a guard adds to a call, burnguard against pybreaker 1.4 and
circuitbreaker 2.1, in one run: a closed breaker's guarded call, a rejected call while open, and
the async path. Each round makes 1,000 direct calls in a plain loop (pytest-benchmark's per-call
harness would cost more than the guard); the bare function's loop is the baseline that
`report.py` subtracts to give the overhead per call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import circuitbreaker
import pybreaker
import pytest

import burnguard

CALLS = 1_000


def work(x: int) -> int:
    return x


async def work_async(x: int) -> int:
    return x


def _loop(call: Callable[[int], object]) -> Callable[[], None]:
    def run() -> None:
        for i in range(CALLS):
            call(i)

    return run


def _rejected_loop(call: Callable[[int], object], error: type[BaseException]) -> Callable[[], None]:
    def run() -> None:
        for i in range(CALLS):
            try:
                call(i)
            except error:
                pass

    return run


def _async_loop(call: Callable[[int], Awaitable[object]]) -> Callable[[], None]:
    async def many() -> None:
        for i in range(CALLS):
            await call(i)

    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(many())


def _bench(benchmark: Any, run: Callable[[], None], baseline: bool = False) -> None:
    benchmark.extra_info["calls"] = CALLS
    if baseline:
        benchmark.extra_info["baseline"] = True
    benchmark(run)


GUARDED = "guarded call, closed: 1,000 calls"


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_bare_function(benchmark: Any) -> None:
    _bench(benchmark, _loop(work), baseline=True)


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_burnguard_decorator(benchmark: Any) -> None:
    guarded = burnguard.CircuitBreaker("bench")(work)
    _bench(benchmark, _loop(guarded))


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_burnguard_decorator_shared(benchmark: Any, tmp_path: Any, monkeypatch: Any) -> None:
    """Through a breaker kept in a shared-memory arena, as every worker of a host sees it."""
    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path / "arenas"))
    breaker = burnguard.CircuitBreaker("bench", shared="bench")
    assert breaker.is_shared
    _bench(benchmark, _loop(breaker(work)))


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_burnguard_call(benchmark: Any) -> None:
    breaker = burnguard.CircuitBreaker("bench")

    def run() -> None:
        for i in range(CALLS):
            breaker.call(work, i)

    _bench(benchmark, run)


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_burnguard_with(benchmark: Any) -> None:
    breaker = burnguard.CircuitBreaker("bench")

    def guarded(i: int) -> int:
        with breaker:
            return work(i)

    _bench(benchmark, _loop(guarded))


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_pybreaker_decorator(benchmark: Any) -> None:
    guarded = pybreaker.CircuitBreaker()(work)
    _bench(benchmark, _loop(guarded))


@pytest.mark.benchmark(group=GUARDED)
def test_guarded_circuitbreaker_decorator(benchmark: Any) -> None:
    guarded = circuitbreaker.CircuitBreaker()(work)
    _bench(benchmark, _loop(guarded))


REJECTED = "rejected call, open: 1,000 calls"


def _raising(x: int) -> int:
    raise ConnectionError(x)


@pytest.mark.benchmark(group=REJECTED)
def test_rejected_burnguard(benchmark: Any) -> None:
    breaker = burnguard.CircuitBreaker("bench")
    breaker.open()
    _bench(benchmark, _rejected_loop(breaker(work), burnguard.CircuitOpenError))


@pytest.mark.benchmark(group=REJECTED)
def test_rejected_burnguard_fallback(benchmark: Any) -> None:
    breaker = burnguard.CircuitBreaker("bench", fallback=lambda x: -1)
    breaker.open()
    _bench(benchmark, _loop(breaker(work)))


@pytest.mark.benchmark(group=REJECTED)
def test_rejected_pybreaker(benchmark: Any) -> None:
    breaker = pybreaker.CircuitBreaker()
    breaker.open()
    _bench(benchmark, _rejected_loop(breaker(work), pybreaker.CircuitBreakerError))


@pytest.mark.benchmark(group=REJECTED)
def test_rejected_circuitbreaker(benchmark: Any) -> None:
    breaker = circuitbreaker.CircuitBreaker(failure_threshold=1, expected_exception=ConnectionError)
    failing = breaker(_raising)
    try:
        failing(0)
    except ConnectionError:
        pass
    assert breaker.opened
    _bench(benchmark, _rejected_loop(breaker(work), circuitbreaker.CircuitBreakerError))


ASYNC = "async guarded call, closed: 1,000 awaits"


@pytest.mark.benchmark(group=ASYNC)
def test_async_bare_coroutine(benchmark: Any) -> None:
    _bench(benchmark, _async_loop(work_async), baseline=True)


@pytest.mark.benchmark(group=ASYNC)
def test_async_burnguard_decorator(benchmark: Any) -> None:
    _bench(benchmark, _async_loop(burnguard.CircuitBreaker("bench")(work_async)))


@pytest.mark.benchmark(group=ASYNC)
def test_async_circuitbreaker_decorator(benchmark: Any) -> None:
    _bench(benchmark, _async_loop(circuitbreaker.CircuitBreaker()(work_async)))
