"""One rule for option types across the public API: every wrong type or out-of-range integer
given to any public constructor or function is a TypeError or ValueError that names the
parameter, never PyO3's nameless message, an AttributeError or an OverflowError."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import burnguard
from burnguard import spend
from burnguard._results import Result

# Good values for the parameters that have no default, by name.
REQUIRED: dict[str, Any] = {
    "name": "a",
    "target": 0.99,
    "spend_series": [1.0, 2.0, 3.0, 4.0],
    "current_spend": 1.0,
    "budget_limit": 2.0,
    "days_remaining": 3,
    "observed_days": 3,
    "window": 3,
    "consecutive_failures": 1,
    "severity": "page",
    "long_window_seconds": 3600.0,
    "short_window_seconds": 300.0,
    "threshold": 14.4,
    "provider": "aws",
    "instances": (burnguard.Instance("a", 2, 0.1),),
    "egress_usd_per_gib": 0.1,
    "vcpu": 2.0,
    "hourly_usd": 0.1,
    "max_age_seconds": 60,
    "kind": "llm.call",
    "unit": "USD_MICROCENTS",
    "amount": 5,
    "ledger": burnguard.Ledger(),
    "subject": burnguard.Subject(tenant="acme"),
    "definition": burnguard.SLODefinition("a", 0.99),
    "app": lambda scope, receive, send: None,
    "estimate": 5,
    "periods_elapsed": 3,
    "total_periods": 30,
    "budget": spend.check_budget(1.0, 2.0),
    "anomaly": spend.check_anomaly_spike([1.0, 2.0, 3.0]),
    "breaker": spend.evaluate_circuit_breaker(0),
    "policy": spend.evaluate_spend_policy(
        spend.check_budget(1.0, 2.0),
        spend.check_anomaly_spike([1.0, 2.0, 3.0]),
        spend.evaluate_circuit_breaker(0),
    ),
    "service": "api",
    "environment": "prod",
}
WRONG = [None, "x", [1, "a"], object(), 2**70, -1, True, 1.5]
# Internal or enum-like callables; Arena makes files, and its options are tested in test_shared.py.
BUILT_BY_USERS = {
    "SLODefinition",
    "BurnRatePolicy",
    "Instance",
    "Pricing",
    "Caps",
    "Amount",
    "Action",
    "Subject",
}
SKIPPED = {
    "Arena",
    "RouteStats",
    "Rejections",
    "Unit",
    "Decision",
    "ReservationStatus",
    "CommitOveragePolicy",
}


def _public() -> list[tuple[str, Callable[..., Any]]]:
    found = []
    for module in (burnguard, spend):
        for name in module.__all__:
            obj = getattr(module, name)
            if name in SKIPPED or not callable(obj) or name.startswith("_"):
                continue
            if inspect.isclass(obj) and issubclass(obj, (BaseException, enum.Enum)):
                continue
            if inspect.isclass(obj) and issubclass(obj, Result) and name not in BUILT_BY_USERS:
                continue  # a result the library returns
            found.append((f"{module.__name__}.{name}", obj))
    return found


def _cases() -> list[tuple[str, Callable[..., Any], str, dict[str, Any]]]:
    cases = []
    for qualname, fn in _public():
        try:
            params = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not p.name.startswith("_")
            ]
        except (TypeError, ValueError):
            continue
        if any(p.default is inspect.Parameter.empty and p.name not in REQUIRED for p in params):
            continue
        base = {p.name: REQUIRED[p.name] for p in params if p.default is inspect.Parameter.empty}
        cases += [(qualname, fn, p.name, base) for p in params]
    return cases


CASES = _cases()


@pytest.fixture(autouse=True)
def private_arenas(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``shared="x"`` is a valid arena name: such arenas go to the test's own directory."""
    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(tmp_path / "arenas"))


def test_the_sweep_covers_the_api() -> None:
    covered = {qualname for qualname, *_ in CASES}
    assert len(covered) >= 20, sorted(covered)
    assert len(CASES) >= 150


@pytest.mark.parametrize(("qualname", "fn", "param", "base"), CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_a_wrong_value_names_its_parameter(
    qualname: str, fn: Callable[..., Any], param: str, base: dict[str, Any]
) -> None:
    for wrong in WRONG:
        try:
            fn(**{**base, param: wrong})
        except (TypeError, ValueError) as err:
            named = getattr(err, "param", None)
            message = str(err)
            if named is None and not any(n in message for n in (param, *base)):
                pytest.fail(
                    f"{qualname}({param}={wrong!r}) raised a nameless {type(err).__name__}: {message}"
                )
        except (OSError, burnguard.BurnguardError):
            pass  # a file that does not exist, a ledger's own refusal: deliberate, named errors
        except Exception as err:  # AttributeError, OverflowError, ...: the rule is broken
            pytest.fail(f"{qualname}({param}={wrong!r}) raised {type(err).__name__}: {err}")


def test_numpy_integers_are_integers_and_bools_are_not() -> None:
    assert burnguard.RouteTable(max_routes=np.int64(8)).max_routes == 8
    assert spend.evaluate_circuit_breaker(np.int32(5), np.uint8(3)).is_open
    with pytest.raises(TypeError, match=r"^max_routes must be an integer; got bool"):
        burnguard.RouteTable(max_routes=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^cost must be an integer; got bool"):
        burnguard.RouteBudget(burnguard.Ledger(), burnguard.Subject(tenant="a"), cost=True)
    with pytest.raises(ValueError, match=r"^max_routes must fit in 64 bits"):
        burnguard.RouteTable(max_routes=2**64)
    with pytest.raises(ValueError, match=r"^seed must be >= 0; got -1"):
        burnguard.CircuitBreaker(seed=-1)


def test_elements_of_lists_are_checked_and_named_by_position() -> None:
    with pytest.raises(TypeError, match=r"^burn_rate_windows\[1\] must be a number; got str"):
        burnguard.SLODefinition("a", 0.99, burn_rate_windows=(60, "x"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^alert_policies\[0\] must be a BurnRatePolicy; got int"):
        burnguard.SLODefinition("a", 0.99, alert_policies=(1,))  # type: ignore[arg-type]


def test_a_wrong_type_in_a_batch_call_is_named_after_the_call_failed() -> None:
    with pytest.raises(TypeError, match=r"^current_spend must be a number; got str") as caught:
        spend.check_budget("x", 2.0)  # type: ignore[call-overload]
    assert isinstance(caught.value.__cause__, TypeError)  # the native error, kept as the cause
    with pytest.raises(TypeError, match=r"^spend_series must be an iterable"):
        spend.check_burn_rate(5)  # type: ignore[call-overload]
