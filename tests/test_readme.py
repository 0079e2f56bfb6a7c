"""The README's spend, circuit-breaker, ledger, per-route middleware and cost examples run as
written."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
MARKERS = {"spend": "out=result", "breaker": "CircuitBreaker(", "ledger": "Ledger()", "routes": "RouteGuard("}
EXAMPLES = [next(b for b in BLOCKS if marker in b) for marker in MARKERS.values()]


@pytest.mark.parametrize("example", EXAMPLES, ids=list(MARKERS))
def test_readme_example_runs(example: str) -> None:
    exec(compile(example, "README.md", "exec"), {})


def test_readme_cost_example_runs_on_the_routes_example() -> None:
    routes, cost = (next(b for b in BLOCKS if marker in b) for marker in ("RouteGuard(", "CostModel("))
    namespace: dict[str, object] = {}
    exec(compile(routes, "README.md", "exec"), namespace)
    guard = namespace["guard"]
    route = guard.routes.route("GET /payments/{pid}")  # type: ignore[attr-defined]
    now = time.time()
    for i in range(200):  # the last 200 s: past the default 30 s warm-up
        route.record(0.05, bytes=2_000, at=now - 200 + i)
    exec(compile(cost, "README.md", "exec"), namespace)
    report = namespace["report"]
    assert [r.route for r in report.routes] == ["GET /payments/{pid}"]  # type: ignore[attr-defined]
