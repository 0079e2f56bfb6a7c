"""The recording hot paths make no system call: each is run 20,000 times in a fresh process
under strace, and must add almost no calls over the same process running it once. A system
call per event (asking for the pid, reading a clock that is not in the vDSO) costs more than
the whole record; one such call once cost every route record 0.7 µs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CALLS = 20_000

SETUP = """
import os, tempfile
os.environ["BURNGUARD_SHARED_DIR"] = tempfile.mkdtemp()
import burnguard
from burnguard import CircuitBreaker, RouteGuard, RouteSLO, SLODefinition, SLOTracker
tracker = SLOTracker(SLODefinition("api", 0.999))
shared = SLOTracker(SLODefinition("api", 0.999), shared="hot")
route = burnguard.RouteTable().route("GET /x")
shared_route = burnguard.RouteTable(shared="hot").route("GET /x")
breaker = CircuitBreaker("db")
shared_breaker = CircuitBreaker("db", shared="hot")
guard = RouteGuard(slos={"*": RouteSLO(availability=tracker)}, breakers={"*": breaker})
plan = guard.plan("GET", "/x")
work = lambda: None
"""

HOT_PATHS = {
    "SLOTracker.record": "tracker.record(True)",
    "shared SLOTracker.record": "shared.record(False)",
    "RouteStats.record": "route.record(0.01, False, 10, None, 200)",
    "shared RouteStats.record": "shared_route.record(0.01, False, 10, None, 200)",
    "CircuitBreaker.call": "breaker.call(work)",
    "shared CircuitBreaker.call": "shared_breaker.call(work)",
    "RoutePlan.settle": "plan.settle(True, 0.01, 10, 200, breaker.acquire())",
}


def _syscalls(statement: str, times: int, tmp_path: Path) -> int:
    """System calls made by a process that sets up and runs ``statement`` ``times`` times."""
    out = tmp_path / f"strace-{times}"
    script = f"{SETUP}\nfor _ in range({times}):\n    {statement}\n"
    subprocess.run(
        ["strace", "-f", "-c", "-o", str(out), sys.executable, "-c", script],
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    total = next(line for line in out.read_text().splitlines() if line.rstrip().endswith("total"))
    return int(total.split()[3])  # % time, seconds, usecs/call, calls, errors, "total"


@pytest.mark.parametrize("path", list(HOT_PATHS))
def test_a_hot_path_makes_no_system_call(path: str, tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing: .ci/run installs it")
        pytest.skip("needs strace")
    once = _syscalls(HOT_PATHS[path], 1, tmp_path)
    many = _syscalls(HOT_PATHS[path], CALLS, tmp_path)
    # Python's own allocator may map a page now and then; a call per event would add 20,000.
    assert many - once < CALLS // 100, f"{path}: {many - once} system calls over {CALLS:,} calls"
