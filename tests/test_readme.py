"""The README's circuit-breaker, ledger and per-route middleware examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
EXAMPLES = [
    b
    for b in re.findall(r"```python\n(.*?)```", README, re.S)
    if "CircuitBreaker(" in b or "Ledger()" in b or "RouteGuard(" in b
]


@pytest.mark.parametrize("example", EXAMPLES, ids=["breaker", "ledger", "routes"])
def test_readme_example_runs(example: str) -> None:
    exec(compile(example, "README.md", "exec"), {})
