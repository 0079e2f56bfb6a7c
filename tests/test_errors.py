"""One error path: every deliberate error is a BurnguardError, bad input carries its fields."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import burnguard
from burnguard import _native, spend
from burnguard.errors import LEDGER_ERRORS, InvalidArgumentError, InvalidTypeError, LedgerError


def raised(call: object) -> InvalidArgumentError:
    assert callable(call)
    with pytest.raises(InvalidArgumentError) as info:
        call()
    return info.value


def test_bad_input_from_the_core_carries_its_fields() -> None:
    err = raised(lambda: burnguard.SLODefinition(name="api", target=1.5))
    assert isinstance(err, ValueError) and isinstance(err, burnguard.BurnguardError)
    assert (err.param, err.index, err.value) == ("target", (), "1.5")
    assert err.requirement == "must be in (0, 1)"
    assert str(err) == "target must be in (0, 1); got 1.5"


def test_batch_errors_give_the_position_in_the_callers_shape() -> None:
    limits = np.ones((2, 3))
    limits[1, 2] = -4.0
    err = raised(lambda: spend.check_budget(np.ones((2, 3)), limits))
    assert (err.param, err.index, err.value) == ("budget_limit", (1, 2), "-4")
    assert str(err) == "budget_limit[1, 2] must be > 0; got -4"
    series = np.ones((2, 2, 4))
    series[1, 0, 3] = np.inf
    err = raised(lambda: spend.check_anomaly_spike(series))
    assert (err.param, err.index) == ("spend_series", (1, 0, 3))
    one = np.array([1.0, 2.0, -1.0, 3.0])
    err = raised(lambda: spend.rolling_anomaly_spike(one, 2))
    assert (err.param, err.index, err.value) == ("spend_series", (2,), "-1")


def test_the_facades_own_checks_raise_the_same_class() -> None:
    err = raised(lambda: burnguard.RouteTable(max_routes=0))
    assert (err.param, err.value) == ("max_routes", "0")
    err = raised(
        lambda: burnguard.SLOTracker(burnguard.SLODefinition("a", 0.99)).record_many([True, 2], [1.0, 2.0])
    )
    assert (err.param, err.index, err.value) == ("ok", (1,), "2")
    with pytest.raises(InvalidTypeError) as info:
        burnguard.CircuitBreaker("b")(lambda: (yield 1))
    assert isinstance(info.value, TypeError) and info.value.param == "func"


def test_errors_pickle_with_their_fields() -> None:
    err = raised(lambda: spend.check_budget(np.ones((2, 3)), -np.ones((2, 3))))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InvalidArgumentError
    assert (str(back), back.param, back.index, back.value) == (str(err), err.param, err.index, err.value)


def test_one_table_maps_every_ledger_error_kind_to_a_class() -> None:
    assert set(LEDGER_ERRORS) == set(_native.LEDGER_ERROR_KINDS) - {"INVALID_REQUEST"}
    for cls in LEDGER_ERRORS.values():
        assert issubclass(cls, LedgerError) and issubclass(cls, burnguard.BurnguardError)
    assert issubclass(burnguard.CircuitOpenError, burnguard.BurnguardError)
    ledger = burnguard.Ledger()
    with pytest.raises(burnguard.BudgetNotFoundError) as info:
        ledger.reserve(burnguard.Subject(tenant="t"), burnguard.Action("llm", "m"), 5)
    assert info.value.error_code == "NOT_FOUND"
    with pytest.raises(burnguard.ReservationNotFoundError) as found:
        ledger.release("rsv_0000000000000009")
    assert found.value.error_code == "NOT_FOUND" and found.value.reservation_id == "rsv_0000000000000009"
    with pytest.raises(InvalidArgumentError) as bad:
        ledger.set_budget("tenant:t", burnguard.Unit.TOKENS, -1)
    assert (bad.value.param, bad.value.value) == ("allocated", "-1")
