"""SLOs shared through an arena by several processes: exact totals whatever the start method,
and workers killed mid-recording lose at most the event they were recording."""

from __future__ import annotations

import multiprocessing
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest

from burnguard import Arena, SLODefinition, SLORegistry, SLOTracker
from burnguard.slo.storage import InMemoryStore

from .conftest import kill_in_rounds

EVENTS = 250_000
NOW = 1_767_225_600.0
DEFINITION = SLODefinition(name="api", target=0.999, window_seconds=3600, burn_rate_windows=(300,))


pytestmark = pytest.mark.usefixtures("arena_directory")


def test_trackers_of_one_name_in_one_arena_share_their_counts(arena_directory: Path) -> None:
    a = SLOTracker(DEFINITION, shared="svc")
    b = SLOTracker(DEFINITION, shared=Arena("svc"))
    alone = SLOTracker(DEFINITION)
    assert a.is_shared and b.is_shared and not alone.is_shared
    a.record(True, at=NOW)
    b.record(False, at=NOW)
    assert (b.snapshot(at=NOW).total, a.snapshot(at=NOW).failures) == (2, 1)
    assert alone.snapshot(at=NOW).total == 0
    registry = SLORegistry(shared="svc")
    assert registry.define(DEFINITION).snapshot(at=NOW).total == 2
    arena = Arena("svc")
    assert arena.path == arena_directory / "svc.arena" and 0 < arena.used < arena.size
    assert stat.S_IMODE(os.stat(arena_directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(arena.path).st_mode) == 0o600


def test_bad_shared_options_are_refused_with_the_parameter_named(arena_directory: Path) -> None:
    SLOTracker(DEFINITION, shared="svc")
    other = SLODefinition(name="api", target=0.99, window_seconds=3600, burn_rate_windows=(300,))
    with pytest.raises(ValueError, match=r'^shared holds Slo "api" with another configuration'):
        SLOTracker(other, shared="svc")
    with pytest.raises(
        TypeError, match=r"^shared must be a str or an Arena or a RedisBackend or True or False"
    ):
        SLOTracker(DEFINITION, shared=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^shared must be an arena name"):
        SLOTracker(DEFINITION, shared="../etc")
    with pytest.raises(ValueError, match=r"^shared cannot be combined with store="):
        SLOTracker(DEFINITION, shared="svc", store=InMemoryStore(60))
    os.chmod(arena_directory, 0o755)
    with pytest.raises(PermissionError, match="open to other users"):
        Arena("elsewhere")
    os.chmod(arena_directory, 0o700)


def _record(start: Any, n: int, seed: int) -> None:
    """Records n events (one in ten bad) into the shared SLO, waiting for the others first."""
    tracker = SLOTracker(DEFINITION, shared="svc")
    start.wait()
    rng = random.Random(seed)
    for i in range(n):
        tracker.record(i % 10 != 0, at=NOW - rng.uniform(0, 3000))


def _read(queue: Any) -> None:
    tracker = SLOTracker(DEFINITION, shared="svc")
    snapshot = tracker.snapshot(at=NOW)
    queue.put((snapshot.total, snapshot.failures, tracker.events_total))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_four_processes_record_exact_totals_read_from_a_fifth(method: str) -> None:
    context = multiprocessing.get_context(method)
    start = context.Barrier(4)
    workers = [context.Process(target=_record, args=(start, EVENTS, seed)) for seed in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
        assert w.exitcode == 0
    queue = context.Queue()
    reader = context.Process(target=_read, args=(queue,))
    reader.start()
    good, bad = 4 * EVENTS - 4 * EVENTS // 10, 4 * EVENTS // 10
    assert queue.get(timeout=120) == (4 * EVENTS, bad, (good, bad))
    reader.join(timeout=60)


def _record_until_killed(progress: Any, slot: int) -> None:
    tracker = SLOTracker(DEFINITION, shared="svc")
    while True:
        tracker.record(True, at=NOW)
        progress[slot] += 1  # after the event: the count can lead the progress by one


def test_workers_killed_mid_recording_lose_at_most_their_event_and_block_nobody() -> None:
    SLOTracker(DEFINITION, shared="svc")  # the arena and the region exist before the kills
    rounds, per_round = 8, 3
    progress = kill_in_rounds(_record_until_killed, rounds, per_round, seed=3)
    counted = SLOTracker(DEFINITION, shared="svc").snapshot(at=NOW).total
    reported = sum(progress)
    assert reported > 0
    assert reported <= counted <= reported + rounds * per_round
    # Nothing is wedged: a fresh process records and reads at once.
    tracker = SLOTracker(DEFINITION, shared="svc")
    tracker.record(True, at=NOW)
    assert tracker.snapshot(at=NOW).total == counted + 1


def test_an_alert_transition_is_reported_once_per_host_not_once_per_worker() -> None:
    a = SLOTracker(DEFINITION, shared="svc")
    b = SLOTracker(DEFINITION, shared="svc")
    for i in range(1000):
        a.record(i % 5 != 0, at=NOW - i)  # 20 % bad: every policy burns
    first = a.poll_alerts(at=NOW)
    assert first and all(t.state == "firing" for t in first)
    assert b.poll_alerts(at=NOW) == []  # the other worker's poll: already reported

    context = multiprocessing.get_context("fork")
    queue = context.Queue()

    def poll_elsewhere() -> None:
        queue.put(len(SLOTracker(DEFINITION, shared="svc").poll_alerts(at=NOW + 7200)))

    child = context.Process(target=poll_elsewhere)
    child.start()
    resolved = queue.get(timeout=60)
    child.join(timeout=60)
    assert resolved == len(first)  # two hours on, the child hears every alert resolve
    assert a.poll_alerts(at=NOW + 7200) == []


def test_burnguard_shared_in_the_environment_shares_without_code_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BURNGUARD_SHARED", "from-env")
    a, b = SLOTracker(DEFINITION), SLORegistry().define(DEFINITION)
    assert a.is_shared and b.is_shared
    a.record(False, at=NOW)
    assert b.snapshot(at=NOW).failures == 1
    assert not SLOTracker(DEFINITION, shared=False).is_shared  # opted out
    assert not SLOTracker(DEFINITION, store=InMemoryStore(60)).is_shared  # a store keeps its own
    with pytest.raises(TypeError, match=r"^shared must be an arena name, an Arena or False; got bool"):
        SLOTracker(DEFINITION, shared=True)


def test_arena_options_are_checked_before_any_file_is_made(arena_directory: Path) -> None:
    with pytest.raises(ValueError, match=r"^size must be in \[1048576, 68719476736\] bytes; got 10"):
        Arena("svc", size=10)
    with pytest.raises(ValueError, match=r"^entries must be in \[1, "):
        Arena("svc", entries=0)
    with pytest.raises(ValueError, match=r"^entries must be >= 0; got -1"):
        Arena("svc", entries=-1)
    for bad in (float("nan"), float("inf"), 2.5):
        with pytest.raises(ValueError, match=r"^size must be a whole number"):
            Arena("svc", size=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^size must be an integer; got str"):
        Arena("svc", size="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^name must be a str; got int"):
        Arena(5)  # type: ignore[arg-type]
    assert not arena_directory.exists() or list(arena_directory.iterdir()) == []
