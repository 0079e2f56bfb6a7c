"""Every result class the binding builds gets exactly the fields its dataclass declares."""

from __future__ import annotations

import dataclasses
from typing import Any

import burnguard
from burnguard import _native, spend

from .conftest import T0


def instances() -> list[Any]:
    """One instance of each result class the binding builds, made through the public API."""
    found: list[Any] = []
    definition = burnguard.SLODefinition(
        name="api", target=0.9, burn_rate_windows=(60,), burn_rate_threshold=2
    )
    tracker = burnguard.SLOTracker(definition)
    for i in range(100):
        tracker.record(i % 2 == 0, at=T0 - i * 0.1)
    snapshot = tracker.snapshot(at=T0)
    found += [snapshot, snapshot.burn_rate_samples[0], *tracker.check_burn_rate(at=T0)]
    found += [*tracker.alert_status(at=T0), *tracker.poll_alerts(at=T0)]
    found.append(burnguard.CircuitBreaker("b").snapshot())
    table = burnguard.RouteTable()
    table.route("GET /").record(0.1, at=T0)
    found.append(table.route("GET /").summary(60, at=T0))
    found += [
        spend.check_budget(5.0, 10.0),
        spend.check_anomaly_spike([1.0, 1.0, 9.0]),
        spend.check_burn_rate([1.0, 1.0, 3.0]),
        spend.forecast_budget_breach(5.0, 10.0, 2, 4),
        spend.evaluate_circuit_breaker(3, 2, 0),
    ]
    ledger = burnguard.Ledger()
    unit = burnguard.Unit.TOKENS
    ledger.set_budget("tenant:t", unit, 100, caps=burnguard.Caps(max_tokens=5))
    subject, action = burnguard.Subject(tenant="t"), burnguard.Action("llm", "m")
    held = ledger.reserve(subject, action, 10, unit=unit)
    found += [held, held.caps, ledger.reserve(subject, action, 10, unit=unit, dry_run=True)]
    found.append(ledger.decide(subject, action, 10, unit=unit))
    found.append(ledger.extend(held.reservation_id, 1000))
    found.append(ledger.commit(held.reservation_id, burnguard.Amount(unit, 5)))
    found.append(ledger.release(ledger.reserve(subject, action, 1, unit=unit).reservation_id))
    found.append(ledger.event(subject, action, 1, unit=unit))
    found += ledger.balances()
    detail = ledger.reservations(scope="tenant:t")[0]
    found += [detail, detail.subject, detail.action, detail.reserved]
    return found


def test_every_result_the_binding_builds_has_every_field_and_no_other() -> None:
    seen = set()
    for result in instances():
        cls = type(result)
        seen.add(cls.__name__)
        declared = [f.name for f in dataclasses.fields(cls)]
        for name in declared:
            getattr(result, name)  # AttributeError if the binding left it unset
        assert list(result.to_dict()) == declared
    assert seen == set(_native.RESULT_CLASSES)


def test_only_known_result_classes_can_be_bound() -> None:
    class Stranger:
        pass

    try:
        _native.bind_results({"Stranger": Stranger})
    except RuntimeError as err:
        assert "not a result class" in str(err)
    else:
        raise AssertionError("bound an unknown class")
