from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from burnguard import SLODefinition, SLOTracker

T0 = 1_700_000_000.0


@pytest.fixture
def tracker() -> SLOTracker:
    """A 1-hour, 99 % SLO with 60 s and 300 s burn windows and no alert policies."""
    return SLOTracker(
        SLODefinition(
            name="api", target=0.99, window_seconds=3600, burn_rate_windows=(60, 300), alert_policies=()
        )
    )


@pytest.fixture
def arena_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private directory for the test's shared-memory arenas (``BURNGUARD_SHARED_DIR``)."""
    directory = tmp_path / "arenas"
    monkeypatch.setenv("BURNGUARD_SHARED_DIR", str(directory))
    return directory


def kill_in_rounds(target: Callable[[Any, int], None], rounds: int, per_round: int, seed: int) -> Any:
    """Starts ``per_round`` forked workers ``target(progress, slot)``, SIGKILLs them all after a
    random moment, ``rounds`` times; returns ``progress``, one shared int per worker, which each
    worker advances after every operation it completes."""
    context = multiprocessing.get_context("fork")
    progress = context.RawArray("q", rounds * per_round)
    rng = random.Random(seed)
    for r in range(rounds):
        workers = [
            context.Process(target=target, args=(progress, r * per_round + i)) for i in range(per_round)
        ]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.05, 0.2))
        for w in workers:
            os.kill(w.pid, signal.SIGKILL)  # type: ignore[arg-type]
        for w in workers:
            w.join(timeout=30)
            assert w.exitcode == -signal.SIGKILL
    return progress
