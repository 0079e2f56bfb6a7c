"""A ledger shared through an arena by several processes: one set of budgets for the host, a
budget of N serving exactly N whatever the number of workers, recycled workers that cannot
refill it, and workers killed at any moment, with the lock held or not, losing at most their
own operation in flight."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest

from burnguard import Action, Arena, Ledger, LedgerFullError, Subject
from burnguard.errors import BudgetExceededError, InvalidArgumentError

from .conftest import kill_in_rounds

pytestmark = pytest.mark.usefixtures("arena_directory")

SUBJECT = Subject(tenant="acme", app="chat")
ACTION = Action("llm.completion", "model")


def _ledger(**options: Any) -> Ledger:
    options.setdefault("retention_seconds", 3600)
    return Ledger(shared="svc", **options)


def _spend_until_exhausted(start: Any, served: Any, slot: int, budget: int) -> None:
    ledger = _ledger()
    # Every worker sets the budget at import, as an app would: it must not refill it.
    ledger.set_budget("tenant:acme", "CREDITS", budget)
    start.wait()
    count = 0
    while True:
        try:
            r = ledger.reserve(SUBJECT, ACTION, 1, unit="CREDITS")
        except BudgetExceededError:
            break
        ledger.commit(r.reservation_id, 1)
        count += 1
    served[slot] = count


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_budget_of_n_serves_exactly_n_across_processes(method: str) -> None:
    context = multiprocessing.get_context(method)
    start, served = context.Barrier(4), context.RawArray("q", 4)
    workers = [
        context.Process(target=_spend_until_exhausted, args=(start, served, i, 2_000)) for i in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    assert sum(served) == 2_000
    ledger = _ledger()
    [balance] = ledger.balances()
    assert (balance.allocated, balance.spent, balance.reserved, balance.remaining) == (2_000, 2_000, 0, 0)
    assert ledger.audit() is None


def test_recycled_workers_setting_the_budget_again_never_refill_it() -> None:
    context = multiprocessing.get_context("fork")
    served = context.RawArray("q", 8)
    for i in range(8):  # one worker after another, as --max-requests recycles them
        start = context.Barrier(1)
        w = context.Process(target=_spend_until_exhausted, args=(start, served, i, 100))
        w.start()
        w.join(timeout=60)
        assert w.exitcode == 0
    assert list(served) == [100, 0, 0, 0, 0, 0, 0, 0]


def test_threads_and_handles_in_one_process_share_exactly() -> None:
    handles = [_ledger(), _ledger()]
    handles[0].set_budget("tenant:acme", "CREDITS", 10_000)
    served = [0] * 4

    def spend(slot: int) -> None:
        ledger = handles[slot % 2]
        for _ in range(1_000):
            r = ledger.reserve(SUBJECT, ACTION, 2, unit="CREDITS")
            ledger.commit(r.reservation_id, 1)
            served[slot] += 1

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [balance] = handles[1].balances()
    assert (balance.spent, balance.reserved) == (4_000, 0)
    assert handles[0].audit() is None


def test_replays_answer_across_processes() -> None:
    ledger = _ledger()
    ledger.set_budget("tenant:acme", "CREDITS", 100)
    first = ledger.reserve(SUBJECT, ACTION, 10, unit="CREDITS", idempotency_key="req-1")
    context = multiprocessing.get_context("fork")
    answers = context.Queue()

    def replay() -> None:
        answers.put(_ledger().reserve(SUBJECT, ACTION, 10, unit="CREDITS", idempotency_key="req-1"))

    w = context.Process(target=replay)
    w.start()
    assert answers.get(timeout=30) == first
    w.join(timeout=30)
    assert ledger.balances()[0].reserved == 10


def test_a_full_shared_ledger_raises_and_keeps_its_state() -> None:
    ledger = _ledger(capacity=1 << 16)
    ledger.set_budget("tenant:acme", "CREDITS", 1_000_000)
    made = 0
    with pytest.raises(LedgerFullError, match=r'shared ledger "ledger" is full: .* larger capacity'):
        while made < 10_000:
            ledger.reserve(SUBJECT, ACTION, 1, unit="CREDITS", ttl_ms=3_600_000)
            made += 1
    assert LedgerFullError("x", "INTERNAL_ERROR", None, None).error_code == "INTERNAL_ERROR"
    other = _ledger(capacity=1 << 16)
    [balance] = other.balances()
    assert balance.reserved == made and len(other.reservations("ACTIVE")) == made
    assert other.audit() is None


def test_bad_shared_options_are_clear_errors() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^capacity must be between 65536 and"):
        _ledger(capacity=10)
    _ledger()
    with pytest.raises(
        InvalidArgumentError, match=r'^shared holds Ledger "ledger" with another configuration'
    ):
        _ledger(retention_seconds=60)
    with pytest.raises(InvalidArgumentError, match=r"^name a shared ledger needs a name"):
        _ledger(name="")
    with pytest.raises(InvalidArgumentError, match=r"^capacity must be a whole number; got nan"):
        _ledger(capacity=float("nan"))
    with pytest.raises(InvalidArgumentError, match=r"^capacity must be >= 0; got -1"):
        _ledger(capacity=-1)
    with pytest.raises(TypeError, match=r"^shared must be an arena name"):
        Ledger(shared=3)  # type: ignore[arg-type]
    assert not Ledger(shared=False).is_shared and _ledger(name="other").is_shared


# Every reservation is retained, so the kill test can account for all of them.
KEEP_ALL = {"max_retained": 1_000_000, "capacity": 32 << 20}


def _reserve_forever(progress: Any, slot: int) -> None:
    ledger = _ledger(**KEEP_ALL)
    i = 0
    while True:
        try:
            r = ledger.reserve(SUBJECT, ACTION, 3, unit="CREDITS", ttl_ms=3_600_000)
        except BudgetExceededError:
            progress[slot] = -1
            return
        if i % 3 == 0:
            ledger.release(r.reservation_id)
        else:
            ledger.commit(r.reservation_id, 1 + i % 3)
        i += 1
        progress[slot] = i


def test_workers_killed_at_any_moment_never_wedge_or_tear_the_ledger() -> None:
    Arena("svc", size=96 << 20)  # made here, before the workers open it
    ledger = _ledger(**KEEP_ALL)
    ledger.set_budget("tenant:acme", "CREDITS", 1_000_000_000)
    progress = kill_in_rounds(_reserve_forever, rounds=8, per_round=3, seed=15)
    assert sum(progress) > 0, "the workers made progress"
    # The host's state is whole: the holds are the active reservations' (audit), and the
    # spending is exactly what the committed reservations charged.
    [balance] = ledger.balances()
    assert ledger.audit() is None
    rows = ledger.reservations()
    committed = sum(r.committed.amount for r in rows if r.committed is not None)
    active = [r for r in rows if r.status.value == "ACTIVE"]
    assert balance.spent == committed
    assert balance.reserved == 3 * len(active)
    # A killed worker loses at most the reservation it held (which expires): at most one each.
    assert len(active) <= 8 * 3
    # Nothing is wedged: a new process and this one still go on.
    r = ledger.reserve(SUBJECT, ACTION, 3, unit="CREDITS")
    assert ledger.commit(r.reservation_id, 3).charged == 3


def test_a_shared_ledger_keeps_what_its_capacity_holds_by_default() -> None:
    ledger = Ledger(shared="svc", capacity=2 << 20)  # max_retained: 2 MiB / 1 KiB = 2,048
    ledger.set_budget("tenant:acme", "CREDITS", 1_000_000)
    for i in range(3_000):
        r = ledger.reserve(SUBJECT, ACTION, 1, unit="CREDITS", idempotency_key=f"r{i}")
        ledger.release(r.reservation_id, idempotency_key=f"x{i}")
    assert len(ledger.reservations("RELEASED")) == 2_048
    assert ledger.balances()[0].reserved == 0 and ledger.audit() is None
