"""slo-budget-tracker 0.1.1's own test suite, run against burnguard.compat with only its imports
rewritten. The suite is downloaded from PyPI at test time; nothing of it is kept here."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest


@pytest.mark.skipif(sys.version_info < (3, 11), reason="slo-budget-tracker needs Python >= 3.11")
def test_slo_budget_tracker_suite_passes_against_the_compat_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "slo-budget-tracker==0.1.1",
            "-d",
            str(tmp_path),
        ],
        check=True,
    )
    with tarfile.open(next(tmp_path.glob("slo_budget_tracker-*.tar.gz"))) as sdist:
        members = [m for m in sdist.getmembers() if "/tests/" in m.name and m.name.endswith(".py")]
        sdist.extractall(tmp_path, members=members, filter="data")
    suite = next(tmp_path.glob("slo_budget_tracker-*/tests"))
    for test_file in suite.glob("*.py"):
        source = test_file.read_text()
        test_file.write_text(re.sub(r"\bslo_budget_tracker\b", "burnguard.compat.slo_budget_tracker", source))
    (suite / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            str(suite),
        ],
        cwd=suite,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"\b52 passed\b", run.stdout), run.stdout[-1000:]
