"""One "host" of the fleet ledger tests: forks WORKERS workers that each try ATTEMPTS paid
calls (reserve 1 credit, commit 1) against the fleet's budget, and print how many were
served, and how many of those were not committed (Redis down at the commit). A call denied
because Redis is unreachable is not served. With --pace S a worker waits S seconds between
calls, after saying "up" once it has read the fleet's ledger. With --preload the ledger is
made before the fork, as under gunicorn --preload. With
--hold N a worker instead reserves N credits, says "ready" and waits to be killed."""

from __future__ import annotations

import argparse
import os
import sys
import time

from burnguard import Action, BudgetExceededError, Ledger, LedgerUnavailableError, Subject
from burnguard.redis import RedisBackend
from tests.apps.forking import run_workers

SUBJECT = Subject(tenant="acme")
ACTION = Action("llm.completion", "model")


def ledger(url: str) -> Ledger:
    return Ledger(shared=RedisBackend.from_url(url, flush_interval=0.05), name="budget")


def work(url: str, preloaded: Ledger | None, attempts: int, hold: int, pace: float) -> None:
    fleet = preloaded or ledger(url)
    if hold:
        fleet.reserve(SUBJECT, ACTION, hold, unit="CREDITS", ttl_ms=1_000)
        print("ready", flush=True)
        time.sleep(3600)
    if pace:  # a paced run: say when this worker holds the fleet's history
        fleet.balances()
        os.write(1, b"up\n")  # one write: the workers' lines never interleave
    served = uncommitted = 0
    for _ in range(attempts):
        time.sleep(pace)
        try:
            held = fleet.reserve(SUBJECT, ACTION, 1, unit="CREDITS")
        except (BudgetExceededError, LedgerUnavailableError):
            continue
        served += 1
        try:
            fleet.commit(held.reservation_id, 1)
        except LedgerUnavailableError:
            uncommitted += 1
    os.write(1, f"served {served} {uncommitted}\n".encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("workers", type=int)
    parser.add_argument("attempts", type=int)
    parser.add_argument("--preload", action="store_true")
    parser.add_argument("--hold", type=int, default=0)
    parser.add_argument("--pace", type=float, default=0.0)
    args = parser.parse_args()
    preloaded = ledger(args.url) if args.preload else None
    if preloaded is not None:
        preloaded.balances()  # caught up before the fork, as an app at import would be
    sys.exit(
        run_workers(args.workers, lambda: work(args.url, preloaded, args.attempts, args.hold, args.pace))
    )


if __name__ == "__main__":
    main()
