"""Budget reservation ledger: every operation and policy from Python, expiry with an injected
clock, idempotent replays, persistence, the guard decorator, streams, and bad input."""

from __future__ import annotations

import asyncio
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from burnguard import (
    Action,
    Amount,
    BudgetExceededError,
    BudgetNotFoundError,
    Caps,
    CommitOveragePolicy,
    DebtOutstandingError,
    Decision,
    DryRunResult,
    IdempotencyMismatchError,
    Ledger,
    LedgerError,
    OverdraftLimitExceededError,
    ReservationExpiredError,
    ReservationFinalizedError,
    ReservationNotFoundError,
    ReservationStatus,
    Subject,
    Unit,
    UnitMismatchError,
    current_reservation,
    guard,
)

ACME = Subject(tenant="acme", app="chat")
LLM = Action("llm.completion", "model-x")


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Ledger:
    ledger = Ledger(clock=clock)
    ledger.set_budget("tenant:acme", Unit.TOKENS, 1_000)
    return ledger


def tenant_balance(ledger: Ledger) -> Any:
    return next(b for b in ledger.balances("tenant:acme") if b.scope_path == "tenant:acme")


def test_reserve_commit_release(ledger: Ledger) -> None:
    r = ledger.reserve(ACME, LLM, 300, unit=Unit.TOKENS)
    assert (r.decision, r.reserved, r.unit, r.affected_scopes) == (
        Decision.ALLOW,
        300,
        Unit.TOKENS,
        ("tenant:acme",),
    )
    assert r.scope_path == "tenant:acme/app:chat" and r.reservation_id.startswith("rsv_")
    assert tenant_balance(ledger).remaining == 700
    c = ledger.commit(r.reservation_id, 250)
    assert (c.charged, c.released, c.debt_incurred) == (250, 50, 0)
    b = tenant_balance(ledger)
    assert (b.allocated, b.reserved, b.spent, b.remaining, b.debt) == (1_000, 0, 250, 750, 0)
    second = ledger.reserve(ACME, LLM, Amount(Unit.TOKENS, 100))
    assert ledger.release(second.reservation_id).released == 100
    with pytest.raises(ReservationFinalizedError) as raised:
        ledger.commit(second.reservation_id, 1)
    assert (raised.value.error_code, raised.value.reservation_id) == (
        "RESERVATION_FINALIZED",
        second.reservation_id,
    )
    with pytest.raises(ReservationNotFoundError):
        ledger.release("rsv_0000000000000999")
    with pytest.raises(UnitMismatchError):
        ledger.commit(ledger.reserve(ACME, LLM, 1, unit="TOKENS").reservation_id, Amount(Unit.CREDITS, 1))
    assert ledger.audit() is None


def test_scopes_caps_denials_and_decisions(ledger: Ledger) -> None:
    ledger.set_budget(ACME, "TOKENS", 100, caps=Caps(max_tokens=64, tool_denylist=("shell",)))
    with pytest.raises(BudgetExceededError) as raised:
        ledger.reserve(ACME, LLM, 150, unit="TOKENS")
    assert (raised.value.error_code, raised.value.scope) == ("BUDGET_EXCEEDED", "tenant:acme/app:chat")
    r = ledger.reserve(ACME, LLM, 80, unit="TOKENS")
    assert r.decision is Decision.ALLOW_WITH_CAPS and r.caps is not None
    assert (r.caps.max_tokens, r.caps.is_tool_allowed("shell"), r.caps.is_tool_allowed("search")) == (
        64,
        False,
        True,
    )
    d = ledger.decide(ACME, LLM, 50, unit="TOKENS")
    assert (d.decision, d.reason_code, d.denied_scope) == (
        Decision.DENY,
        "BUDGET_EXCEEDED",
        "tenant:acme/app:chat",
    )
    dry = ledger.dry_run(ACME, LLM, 10, unit="TOKENS")
    assert isinstance(dry, DryRunResult) and dry.decision is Decision.ALLOW_WITH_CAPS
    assert [b.scope_path for b in ledger.balances()] == ["tenant:acme", "tenant:acme/app:chat"]
    assert tenant_balance(ledger).reserved == 80, "dry runs and decisions hold nothing"
    with pytest.raises(BudgetNotFoundError):
        ledger.reserve(Subject(tenant="other"), LLM, 1, unit="TOKENS")
    assert ledger.decide(Subject(tenant="other"), LLM, 1, unit="TOKENS").reason_code == "BUDGET_NOT_FOUND"


def test_overage_policies(ledger: Ledger) -> None:
    r = ledger.reserve(ACME, LLM, 100, unit="TOKENS", overage_policy=CommitOveragePolicy.REJECT)
    with pytest.raises(BudgetExceededError):
        ledger.commit(r.reservation_id, 101)
    ledger.release(r.reservation_id)

    r = ledger.reserve(ACME, LLM, 900, unit="TOKENS")  # ALLOW_IF_AVAILABLE by default
    c = ledger.commit(r.reservation_id, 1_500)
    assert (c.charged, c.debt_incurred) == (1_000, 0), "capped to what remained"
    assert tenant_balance(ledger).is_over_limit
    with pytest.raises(OverdraftLimitExceededError):
        ledger.reserve(ACME, LLM, 0, unit="TOKENS")
    ledger.fund("tenant:acme", "TOKENS", 1_000)
    assert not tenant_balance(ledger).is_over_limit

    ledger.set_budget("tenant:acme", "TOKENS", 1_900, overdraft_limit=300)
    r = ledger.reserve(ACME, LLM, 900, unit="TOKENS", overage_policy="ALLOW_WITH_OVERDRAFT")
    with pytest.raises(OverdraftLimitExceededError):
        ledger.commit(r.reservation_id, 1_201)
    c = ledger.commit(r.reservation_id, 1_200)
    assert (c.charged, c.debt_incurred) == (1_200, 300)
    b = tenant_balance(ledger)
    assert (b.debt, b.remaining) == (300, -300)
    with pytest.raises(DebtOutstandingError):
        ledger.reserve(ACME, LLM, 1, unit="TOKENS")
    ledger.fund("tenant:acme", "TOKENS", 500)
    assert (tenant_balance(ledger).debt, tenant_balance(ledger).remaining) == (0, 200)


def test_events(ledger: Ledger) -> None:
    e = ledger.event(ACME, LLM, 400, unit="TOKENS", overage_policy="REJECT")
    assert (e.charged, e.unit, e.affected_scopes) == (400, Unit.TOKENS, ("tenant:acme",))
    assert e.event_id.startswith("evt_")
    with pytest.raises(BudgetExceededError):
        ledger.event(ACME, LLM, 700, unit="TOKENS", overage_policy="REJECT")
    assert ledger.event(ACME, LLM, 700, unit="TOKENS").charged == 600


def test_expiry_extension_and_sweep(ledger: Ledger, clock: Clock) -> None:
    r = ledger.reserve(ACME, LLM, 300, unit="TOKENS", ttl_ms=10_000, grace_period_ms=1_000)
    assert ledger.extend(r.reservation_id, 5_000).expires_at_ms == r.expires_at_ms + 5_000
    clock.t += 15.5
    with pytest.raises(ReservationExpiredError):
        ledger.extend(r.reservation_id, 5_000)  # no extension in the grace period...
    assert ledger.commit(r.reservation_id, 10).charged == 10  # ...but commits are taken
    late = ledger.reserve(ACME, LLM, 100, unit="TOKENS", ttl_ms=1_000)
    clock.t += 2
    assert ledger.sweep() == 1
    assert tenant_balance(ledger).reserved == 0
    with pytest.raises(ReservationExpiredError):
        ledger.commit(late.reservation_id, 1)
    statuses = [(d.reservation_id, d.status) for d in ledger.reservations()]
    assert statuses == [
        (r.reservation_id, ReservationStatus.COMMITTED),
        (late.reservation_id, ReservationStatus.EXPIRED),
    ]
    (detail,) = ledger.reservations("EXPIRED", scope="tenant:acme")
    assert (detail.subject, detail.action, detail.reserved) == (ACME, LLM, Amount(Unit.TOKENS, 100))


def test_idempotent_replays(ledger: Ledger) -> None:
    first = ledger.reserve(ACME, LLM, 100, unit="TOKENS", idempotency_key="k1")
    assert ledger.reserve(ACME, LLM, 100, unit="TOKENS", idempotency_key="k1") == first
    assert tenant_balance(ledger).reserved == 100
    with pytest.raises(IdempotencyMismatchError):
        ledger.reserve(ACME, LLM, 101, unit="TOKENS", idempotency_key="k1")
    c = ledger.commit(first.reservation_id, 60, idempotency_key="c1")
    assert ledger.commit(first.reservation_id, 60, idempotency_key="c1") == c
    assert tenant_balance(ledger).spent == 60


def test_save_and_load(ledger: Ledger, clock: Clock, tmp_path: Path) -> None:
    r = ledger.reserve(ACME, LLM, 100, unit="TOKENS", idempotency_key="k")
    done = ledger.reserve(ACME, LLM, 10, unit="TOKENS")
    ledger.commit(done.reservation_id, 5, idempotency_key="c")
    path = tmp_path / "ledger.bg"
    ledger.save(path)
    assert not list(tmp_path.glob("*.tmp-*")), "the temporary file was renamed"
    back = Ledger.load(path, clock=clock)
    assert back.balances() == ledger.balances()
    assert back.reservations() == ledger.reservations()
    assert back.reserve(ACME, LLM, 100, unit="TOKENS", idempotency_key="k") == r
    assert back.commit(done.reservation_id, 5, idempotency_key="c").charged == 5
    path.write_text("not a ledger")
    with pytest.raises(OSError, match="not a burnguard ledger"):
        Ledger.load(path)


def test_guard_reserves_runs_commits_and_releases(ledger: Ledger) -> None:
    seen: list[Any] = []

    @guard(
        ledger,
        estimate=lambda n: n * 10,
        actual=lambda out: len(out),
        unit="TOKENS",
        tenant="acme",
        app=lambda n: "chat",
        action_kind="llm.completion",
        action_name="model-x",
    )
    def complete(n: int) -> str:
        seen.append(current_reservation())
        return "x" * 7

    assert complete(5) == "xxxxxxx"
    assert seen[0].estimate == 50 and seen[0].scope_path == "tenant:acme/app:chat"
    assert current_reservation() is None
    assert tenant_balance(ledger).spent == 7

    @guard(ledger, estimate=100, unit="TOKENS", tenant="acme")
    def boom() -> None:
        raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError):
        boom()
    assert tenant_balance(ledger).reserved == 0, "released"

    @guard(ledger, estimate=10_000, unit="TOKENS", tenant="acme")
    def too_big() -> None:
        raise AssertionError("must not run")

    with pytest.raises(BudgetExceededError):
        too_big()

    @guard(ledger, estimate=10, unit="TOKENS", tenant="acme", dry_run=True)
    def shadow() -> str:
        raise AssertionError("must not run")

    result = shadow()
    assert isinstance(result, DryRunResult) and result.decision is Decision.ALLOW


def test_nested_guards_reserve_independently(ledger: Ledger) -> None:
    reservations: list[str] = []

    @guard(ledger, estimate=100, unit="TOKENS", tenant="acme", action_name="inner")
    def inner() -> None:
        ctx = current_reservation()
        assert ctx is not None
        reservations.append(ctx.reservation_id)
        assert tenant_balance(ledger).reserved == 600, "outer and inner both hold"

    @guard(ledger, estimate=500, unit="TOKENS", tenant="acme", action_name="outer")
    def outer() -> None:
        before = current_reservation()
        inner()
        assert current_reservation() == before, "the outer context comes back"

    outer()
    assert tenant_balance(ledger).spent == 600


async def test_async_guard_and_stream(ledger: Ledger) -> None:
    @guard(ledger, estimate=20, unit="TOKENS", tenant="acme")
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 1

    assert await fetch() == 1
    async with ledger.stream(ACME, LLM, 300, unit="TOKENS", cost=lambda u: u["input"] + 2 * u["output"]) as s:
        s.add(input=10, output=5)
        s.add(input=1)
    assert s.result is not None and s.result.charged == 21
    with pytest.raises(ValueError), ledger.stream(ACME, LLM, 300, unit="TOKENS") as s:
        s.add(40)
        raise ValueError("stream broke")
    assert tenant_balance(ledger).reserved == 0
    assert tenant_balance(ledger).spent == 20 + 21


def test_concurrent_reservers_never_overspend(clock: Clock) -> None:
    ledger = Ledger(clock=clock)
    ledger.set_budget("tenant:acme", "TOKENS", 10_000)
    granted: list[int] = []

    def worker() -> None:
        for _ in range(500):
            try:
                r = ledger.reserve(ACME, LLM, 7, unit="TOKENS")
            except BudgetExceededError:
                continue
            ledger.commit(r.reservation_id, 7)
            granted.append(7)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == tenant_balance(ledger).spent == 9_996
    assert ledger.audit() is None


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda led: led.reserve(ACME, LLM, -1, unit="TOKENS"), "estimate"),
        (lambda led: led.reserve(ACME, LLM, 1.5, unit="TOKENS"), "estimate"),
        (lambda led: led.reserve(ACME, LLM, True, unit="TOKENS"), "estimate"),
        (lambda led: led.reserve(ACME, LLM, 1, unit="DOLLARS"), "unit"),
        (lambda led: led.reserve(ACME, LLM, 1, unit="TOKENS", ttl_ms=10), "ttl_ms"),
        (lambda led: led.reserve(ACME, LLM, 1, unit="TOKENS", grace_period_ms=70_000), "grace_period_ms"),
        (lambda led: led.reserve(ACME, LLM, 1, unit="TOKENS", overage_policy="SOMETIMES"), "overage_policy"),
        (lambda led: led.reserve(Subject(), LLM, 1, unit="TOKENS"), "subject"),
        (lambda led: led.reserve(Subject(tenant="a/b"), LLM, 1, unit="TOKENS"), "tenant"),
        (lambda led: led.reserve(ACME, Action("", "x"), 1, unit="TOKENS"), "action_kind"),
        (lambda led: led.reserve(ACME, LLM, 1, unit="TOKENS", idempotency_key=""), "idempotency_key"),
        (lambda led: led.set_budget("app:x/tenant:y", "TOKENS", 1), "scope"),
        (lambda led: led.set_budget("tenant:acme", "TOKENS", -5), "allocated"),
        (lambda led: led.set_budget("tenant:acme", "TOKENS", 5, overdraft_limit=-1), "overdraft_limit"),
        (lambda led: led.set_budget("tenant:acme", 7, 5), "unit"),
        (lambda led: led.fund("tenant:acme", "TOKENS", -1), "amount"),
        (lambda led: led.balances("tenant"), "scope"),
        (lambda led: led.reserve(ACME, LLM, float("inf"), unit="TOKENS"), "estimate"),
        (lambda led: led.reserve(ACME, LLM, 2**70, unit="TOKENS"), "estimate"),
        (lambda led: led.commit("rsv_0000000000000001", float("nan")), "actual"),
        (lambda led: led.event(ACME, LLM, -3, unit="TOKENS"), "actual"),
        (lambda led: led.reservations("SOMEWHERE"), "status"),
        (lambda led: led.extend("rsv_0000000000000001", 0), "extend_by_ms"),
        (lambda led: Ledger(retention_seconds=1), "retention_seconds"),
        (lambda led: Ledger(max_retained=5), "max_retained"),
    ],
)
def test_bad_input_names_the_parameter(ledger: Ledger, call: Any, param: str) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        call(ledger)


def test_errors_share_a_base_and_pickle() -> None:
    error = BudgetExceededError("budget exceeded on scope tenant:a", "BUDGET_EXCEEDED", "tenant:a", None)
    assert isinstance(error, LedgerError)
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.error_code, back.scope) == (BudgetExceededError, "BUDGET_EXCEEDED", "tenant:a")


def test_prometheus_budget_metrics(ledger: Ledger) -> None:
    pytest.importorskip("prometheus_client")
    from burnguard import PrometheusExporter

    ledger.reserve(ACME, LLM, 300, unit="TOKENS")
    body = PrometheusExporter(ledgers=[ledger]).render()[0].decode()
    assert 'burnguard_budget_allocated{scope="tenant:acme",unit="TOKENS"} 1000.0' in body
    assert 'burnguard_budget_reserved{scope="tenant:acme",unit="TOKENS"} 300.0' in body
    assert 'burnguard_budget_remaining{scope="tenant:acme",unit="TOKENS"} 700.0' in body
    assert 'burnguard_budget_over_limit{scope="tenant:acme",unit="TOKENS"} 0.0' in body
