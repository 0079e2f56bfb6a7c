"""Ledger files: atomic under concurrent saves, checked on load, private, with clear errors."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

import burnguard as bg


def _ledger() -> bg.Ledger:
    ledger = bg.Ledger()
    ledger.set_budget("tenant:acme", bg.Unit.TOKENS, 1000)
    ledger.reserve(
        bg.Subject(tenant="acme"), bg.Action("llm", "m"), 10, unit=bg.Unit.TOKENS, idempotency_key="k"
    )
    return ledger


def test_concurrent_saves_all_succeed_and_readers_see_complete_files(tmp_path: Path) -> None:
    ledger, path = _ledger(), tmp_path / "ledger.bg"
    ledger.save(path)
    errors: list[BaseException] = []
    loaded: list[bg.Ledger] = []

    def saver() -> None:
        try:
            for _ in range(10):
                ledger.save(path)
        except BaseException as err:  # pragma: no cover - the assertion below reports it
            errors.append(err)

    def reader() -> None:
        for _ in range(30):
            loaded.append(bg.Ledger.load(path))

    threads = [threading.Thread(target=saver) for _ in range(90)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(loaded) == 30 and all(len(back.balances()) == 1 for back in loaded)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.bg"]
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_tampered_file_does_not_load(tmp_path: Path) -> None:
    path = tmp_path / "ledger.bg"
    _ledger().save(path)
    path.write_text(path.read_text().replace(" 1000 ", " 9000 ", 1))
    with pytest.raises(OSError, match="checksum mismatch") as info:
        bg.Ledger.load(path)
    assert str(path) in str(info.value)


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.bg"):
        bg.Ledger.load(tmp_path / "nowhere.bg")


def test_replays_survive_a_save_and_load(tmp_path: Path) -> None:
    ledger, path = _ledger(), tmp_path / "ledger.bg"
    ledger.save(path)
    back = bg.Ledger.load(path)
    again = back.reserve(
        bg.Subject(tenant="acme"), bg.Action("llm", "m"), 10, unit=bg.Unit.TOKENS, idempotency_key="k"
    )
    assert again.reservation_id == "rsv_0000000000000001"
    assert back.balances("tenant:acme")[0].reserved == 10, "replayed, not reserved twice"


_SAVER = """
import sys
import burnguard as bg
ledger = bg.Ledger()
ledger.set_budget("tenant:acme", bg.Unit.CREDITS, 10**9)
path = sys.argv[1]
ledger.save(path)
print("ready", flush=True)
n = 0
while True:
    n += 1
    r = ledger.reserve(bg.Subject(tenant="acme"), bg.Action("llm.call", "gpt"), 7, unit=bg.Unit.CREDITS)
    ledger.commit(r.reservation_id, 5)
    ledger.save(path)
"""


def test_a_saver_killed_at_any_moment_leaves_a_complete_file(tmp_path: Path) -> None:
    """SIGKILL a process that saves in a loop, 20 times at random moments: the file always
    loads (the last save before the kill, whole), and a kill leaves at most one temporary file."""
    import random
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "ledger.bg"
    rng = random.Random(7)
    spent_before = -1
    for _ in range(20):
        saver = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        assert saver.stdout is not None and saver.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        loaded = bg.Ledger.load(path)
        (balance,) = loaded.balances("tenant:acme")
        assert balance.spent % 5 == 0 and balance.reserved == 0  # one whole step, never half
        assert loaded.audit() is None  # None: every balance adds up
        spent_before = max(spent_before, balance.spent)
        leftovers = [p for p in tmp_path.iterdir() if p.name != "ledger.bg"]
        for p in leftovers:
            p.unlink()
        assert len(leftovers) <= 1
    assert spent_before > 0  # some kills landed after saves that made progress
