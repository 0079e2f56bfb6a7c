"""Budget reservations from Python: a reserve + commit pair, a preflight decision, and a call
through the guard decorator. Each round makes 1,000 of them in a plain loop, against a ledger in
steady state (its retention already full), so the figures include the ledger's bookkeeping.
runcycles needs a Cycles server and a network round trip per call, so it is not timed here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import burnguard as bg

CALLS = 1_000
SUBJECT = bg.Subject(tenant="acme", app="chat")
ACTION = bg.Action("llm.completion", "model-x")


def _ledger(shared: bg.Arena | bool = False) -> bg.Ledger:
    ledger = bg.Ledger(max_retained=10_000, shared=shared)
    ledger.set_budget("tenant:acme", bg.Unit.TOKENS, 10**15)
    ledger.set_budget("tenant:acme/app:chat", bg.Unit.TOKENS, 10**15)
    for _ in range(20_000):  # fill the retention, as a long-running service has it
        r = ledger.reserve(SUBJECT, ACTION, 1, unit=bg.Unit.TOKENS)
        ledger.commit(r.reservation_id, 1)
    return ledger


def _loop(call: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        for _ in range(CALLS):
            call()

    return run


@pytest.mark.benchmark(group="ledger: 1,000 operations")
def test_reserve_commit_pair(benchmark: Any) -> None:
    ledger = _ledger()

    def pair() -> None:
        r = ledger.reserve(SUBJECT, ACTION, 300, unit=bg.Unit.TOKENS)
        ledger.commit(r.reservation_id, 200)

    benchmark.extra_info["calls"] = CALLS
    benchmark(_loop(pair))
    assert ledger.audit() is None


@pytest.mark.benchmark(group="ledger: 1,000 operations")
def test_reserve_commit_pair_shared(benchmark: Any, tmp_path: Path) -> None:
    """The same pair on a ledger shared through an arena (one process: the journal's lock,
    encoding and snapshots, without other writers to catch up with)."""
    ledger = _ledger(bg.Arena("bench", directory=tmp_path, size=64 << 20))

    def pair() -> None:
        r = ledger.reserve(SUBJECT, ACTION, 300, unit=bg.Unit.TOKENS)
        ledger.commit(r.reservation_id, 200)

    benchmark.extra_info["calls"] = CALLS
    benchmark(_loop(pair))
    assert ledger.audit() is None


@pytest.mark.benchmark(group="ledger: 1,000 operations")
def test_reserve_commit_pair_with_idempotency_keys(benchmark: Any) -> None:
    ledger = _ledger()
    keys = iter(range(10**9))

    def pair() -> None:
        n = next(keys)
        r = ledger.reserve(SUBJECT, ACTION, 300, unit=bg.Unit.TOKENS, idempotency_key=f"r{n}")
        ledger.commit(r.reservation_id, 200, idempotency_key=f"c{n}")

    benchmark(_loop(pair))


@pytest.mark.benchmark(group="ledger: 1,000 operations")
def test_decide(benchmark: Any) -> None:
    ledger = _ledger()
    benchmark(_loop(lambda: ledger.decide(SUBJECT, ACTION, 300, unit=bg.Unit.TOKENS)))


@pytest.mark.benchmark(group="ledger: 1,000 operations")
def test_guarded_call(benchmark: Any) -> None:
    ledger = _ledger()

    @bg.guard(ledger, estimate=300, actual=200, unit=bg.Unit.TOKENS, tenant="acme", app="chat")
    def work() -> int:
        return 1

    benchmark(_loop(work))
