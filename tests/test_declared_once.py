"""Names, defaults and tables the core declares are the ones the facade shows."""

from __future__ import annotations

import inspect

import numpy as np

from burnguard import _native, spend


def test_the_spend_defaults_are_the_cores() -> None:
    seen = set()
    for name in spend.__all__:
        func = getattr(spend, name)
        if not inspect.isfunction(func):
            continue
        for param in inspect.signature(func).parameters.values():
            if param.name in _native.SPEND_DEFAULTS:
                assert param.default == _native.SPEND_DEFAULTS[param.name], (name, param.name)
                seen.add(param.name)
    assert seen == set(_native.SPEND_DEFAULTS)


def test_policy_decisions_come_from_the_cores_table() -> None:
    assert _native.POLICY_ACTIONS == ["allow", "throttle", "block"]
    assert _native.POLICY_SEVERITIES == ["info", "warning", "critical"]
    flags = [(True, False, False, False), (False, False, True, False), (False, False, False, False)]
    for code, (breached, is_open, warning, spike) in zip((2, 1, 0), flags, strict=True):
        scalar = _native.decide(breached, is_open, warning, spike)
        assert scalar == (
            code,
            _native.POLICY_ACTIONS[code],
            _native.POLICY_SEVERITIES[code],
            _native.POLICY_REASONS[code],
        )
        batch = _native.decide_batch(*(np.array([f]) for f in (breached, is_open, warning, spike)))
        assert batch.tolist() == [code]
