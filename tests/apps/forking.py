"""What the fleet tests' "hosts" share: forking workers and waiting for them."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable


def run_workers(count: int, work: Callable[[], None]) -> int:
    """Forks ``count`` workers that each run ``work`` (a traceback and exit 1 if it raises),
    waits for them, and answers the host's exit code: 1 if any failed."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                work()
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        pids.append(pid)
    failed = [pid for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    return 1 if failed else 0
