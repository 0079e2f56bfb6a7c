"""One clock: at= wins, else the injected clock= (checked, its exceptions raised as they are),
else the wall clock; the same rules for every stateful type."""

from __future__ import annotations

import pytest

import burnguard
from burnguard import CircuitBreaker, Ledger, RouteTable, SLODefinition, SLOTracker


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_route_table_reads_its_clock() -> None:
    clock = Clock(1_700_000_000.0)
    table = RouteTable(retain_seconds=86_400, clock=clock)
    route = table.route("GET /")
    route.record(0.1)
    clock.t += 30
    route.record(0.2, at=clock.t - 10)
    assert table.now() == clock.t
    assert route.summary(60).requests == 2
    clock.t += 3600
    assert route.summary(60).requests == 0
    assert route.summary(60, at=clock.t - 3600).requests == 2


def test_now_is_the_old_spelling_of_at() -> None:
    table = RouteTable(retain_seconds=86_400)
    route = table.route("GET /")
    route.record(0.1, at=1_700_000_000.0)
    assert route.summary(60, now=1_700_000_010.0).requests == 1
    assert [s.requests for s in table.summaries(60, now=1_700_000_010.0)] == [1]
    with pytest.raises(burnguard.InvalidArgumentError, match=r"^now "):
        route.summary(60, now=float("nan"))
    with pytest.raises(burnguard.InvalidArgumentError, match="not both"):
        route.summary(60, at=1.0, now=1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda clock: SLOTracker(SLODefinition("a", 0.9), clock=clock).record_success(),
        lambda clock: CircuitBreaker("b", clock=clock).call(lambda: 1),
        lambda clock: Ledger(clock=clock).sweep(),
        lambda clock: RouteTable(clock=clock).route("r").record(0.1),
    ],
    ids=["slo", "breaker", "ledger", "routes"],
)
def test_every_type_checks_its_clock_and_raises_its_exceptions(make: object) -> None:
    assert callable(make)

    def broken() -> float:
        raise ZeroDivisionError("no time")

    with pytest.raises(ZeroDivisionError, match="no time"):
        make(broken)
    with pytest.raises(
        burnguard.InvalidArgumentError, match=r"^clock\(\) must be a finite timestamp"
    ) as info:
        make(lambda: float("inf"))
    assert info.value.param == "clock()"
    with pytest.raises(TypeError):
        make(lambda: "noon")
