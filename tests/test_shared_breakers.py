"""Breakers shared through an arena by several processes: one state machine for the host,
exact counts from many processes, and workers killed at any moment leave no breaker stuck."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from typing import Any

import pytest

from burnguard import CircuitBreaker, CircuitOpenError

CALLS = 50_000


pytestmark = pytest.mark.usefixtures("arena_directory")


def _breaker(**options: Any) -> CircuitBreaker:
    settings: dict[str, Any] = {"consecutive_failure_threshold": 5, "wait_duration_in_open_state": 600.0}
    return CircuitBreaker("db", shared="svc", **{**settings, **options})


def _fail() -> None:
    raise ConnectionError("the downstream is down")


def test_a_breaker_opened_in_one_process_is_open_in_every_other() -> None:
    here = _breaker()
    assert here.is_shared and not CircuitBreaker("db", shared=False).is_shared
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        for _ in range(5):
            assert pool.apply(_call_failing) == "failed"
    assert here.state == "OPEN"
    with pytest.raises(CircuitOpenError):
        here.call(_fail)
    snapshot = here.snapshot()
    assert (snapshot.consecutive_failures, snapshot.transitions, snapshot.not_permitted_calls) == (5, 1, 1)


def _call_failing() -> str:
    try:
        _breaker().call(_fail)
    except ConnectionError:
        return "failed"
    except CircuitOpenError:
        return "rejected"
    return "passed"


def test_breakers_that_disagree_on_their_configuration_are_refused() -> None:
    _breaker()
    with pytest.raises(ValueError, match=r'^shared holds Breaker "db" with another configuration'):
        _breaker(consecutive_failure_threshold=6)
    assert _breaker(wait_duration_in_open_state=600).is_shared  # the same, spelt differently


def _reject_many(start: Any, n: int) -> None:
    breaker = _breaker()
    start.wait()
    for _ in range(n):
        try:
            breaker.call(_fail)
        except CircuitOpenError:
            pass


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_four_processes_count_exact_rejections(method: str) -> None:
    breaker = _breaker()
    breaker.force_open()
    context = multiprocessing.get_context(method)
    start = context.Event()
    workers = [context.Process(target=_reject_many, args=(start, CALLS)) for _ in range(4)]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join()
        assert w.exitcode == 0
    assert breaker.snapshot().not_permitted_calls == 4 * CALLS
    assert breaker.state == "FORCED_OPEN"


def _churn(progress: Any, slot: int) -> None:
    """Calls the breaker for ever, one in three failing, until killed."""
    breaker = _churn_breaker()
    rng = random.Random(slot)
    while True:
        try:
            with breaker:
                if rng.random() < 0.34:
                    raise ConnectionError
        except (ConnectionError, CircuitOpenError):
            pass
        progress[slot] += 1


def _churn_breaker() -> CircuitBreaker:
    return CircuitBreaker(
        "churn",
        shared="svc",
        sliding_window_size=10,
        minimum_number_of_calls=10,
        failure_rate_threshold=30.0,
        wait_duration_in_open_state=0.02,
        permitted_number_of_calls_in_half_open_state=3,
        max_wait_duration_in_half_open_state=0.3,
    )


def test_workers_killed_at_any_moment_leave_no_breaker_stuck() -> None:
    """Workers that trip, probe and close the breaker are SIGKILLed at random moments (while
    holding probes, between a transition and its deadline, anywhere). After the kills a new
    process still gets through within the lease, and closes the breaker with good calls."""
    context = multiprocessing.get_context("fork")
    progress = context.Array("q", 4, lock=False)
    workers = [context.Process(target=_churn, args=(progress, slot)) for slot in range(4)]
    for w in workers:
        w.start()
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 8
    while kills < 40 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.005, 0.05))
        slot = rng.randrange(4)
        os.kill(workers[slot].pid, signal.SIGKILL)  # type: ignore[arg-type]
        workers[slot].join()
        kills += 1
        workers[slot] = context.Process(target=_churn, args=(progress, slot))
        workers[slot].start()
    for w in workers:
        os.kill(w.pid, signal.SIGKILL)  # type: ignore[arg-type]
        w.join()
    assert kills >= 20 and sum(progress) > 1000, (kills, list(progress))
    breaker = _churn_breaker()
    assert breaker.snapshot().transitions > 0, "the workers moved the breaker"
    # Whatever state the kills left, good calls close it within the wait plus the lease.
    give_up = time.monotonic() + 10
    while breaker.state != "CLOSED":
        assert time.monotonic() < give_up, f"stuck: {breaker.snapshot()}"
        try:
            breaker.call(lambda: None)
        except CircuitOpenError:
            time.sleep(0.01)
    assert breaker.state == "CLOSED"
