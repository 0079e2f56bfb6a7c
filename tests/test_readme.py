"""The README's spend, circuit-breaker, ledger, per-route middleware and cost examples run as
written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .redis_server import redis_server

__all__ = ["redis_server"]

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_python_block_runs_as_written(block: str, request: pytest.FixtureRequest) -> None:
    if "REDIS_URL" in block:  # the fleet example: against a real redis-server
        server = request.getfixturevalue("redis_server")
        request.getfixturevalue("monkeypatch").setenv("REDIS_URL", server.url)
    exec(compile(block, "README.md", "exec"), {})


def test_the_cost_example_projects_its_route() -> None:
    cost = next(b for b in BLOCKS if "CostModel(" in b)
    namespace: dict[str, object] = {}
    exec(compile(cost, "README.md", "exec"), namespace)
    report = namespace["report"]
    assert [r.route for r in report.routes] == ["GET /payments/{pid}"]  # type: ignore[attr-defined]
