"""What the fleet tests' "hosts" share: forking workers and waiting for them."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


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


def hold_unflushed(count: int, record: Callable[[], None]) -> None:
    """Records ``count`` events it never flushes, says "ready", and waits to be killed."""
    for _ in range(count):
        record()
    print("ready", flush=True)
    time.sleep(3600)


def host_main(make: Callable[[str], T], work: Callable[[str, T | None, int, int], None]) -> None:
    """The command line of a fleet test's host: ``URL WORKERS EVENTS [--preload] [--hold N]``.
    Forks the workers (the object ``make`` builds for URL made before the fork with
    ``--preload``) and exits with their code."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("workers", type=int)
    parser.add_argument("events", type=int)
    parser.add_argument("--preload", action="store_true")
    parser.add_argument("--hold", type=int, default=0)
    args = parser.parse_args()
    preloaded = make(args.url) if args.preload else None
    sys.exit(run_workers(args.workers, lambda: work(args.url, preloaded, args.events, args.hold)))
