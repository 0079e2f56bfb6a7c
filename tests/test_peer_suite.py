"""The peers' own test suites (slo-budget-tracker 0.1.1, cloudcircuit 0.3.8, cloudmeter 0.5.0),
run against burnguard.compat with only their imports rewritten. Each suite is downloaded from
PyPI at test time; nothing of it is kept here. cloudmeter's sdist lacks the conftest.py its
tests use; ``CLOUDMETER_FIXTURES`` is written here from what the tests ask of it."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

CLOUDMETER_FIXTURES = """
from unittest.mock import patch

import pytest

import burnguard.compat.cloudmeter._dashboard_server as dashboard_server
import burnguard.compat.cloudmeter._reporter as reporter


@pytest.fixture(autouse=True)
def reset_reporter():
    # A clean reporter for each test, and no dashboard unless a test starts the real one.
    reporter.clear()
    with patch.object(dashboard_server, "start"):
        yield
    reporter.clear()


@pytest.fixture()
def capture_reports():
    # Every report the middlewares make, as keyword arguments, passed on to the reporter.
    captured = []
    real = reporter.report

    def capture(**report):
        captured.append(report)
        real(**report)

    with patch.object(reporter, "report", side_effect=capture):
        yield captured
"""

PEERS = [
    # (distribution, version, module, tests in its suite, the conftest it needs)
    ("slo-budget-tracker", "0.1.1", "slo_budget_tracker", 52, None),
    ("cloudcircuit", "0.3.8", "cloudcircuit", 26, None),
    ("cloudmeter", "0.5.0", "cloudmeter", 86, CLOUDMETER_FIXTURES),
]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the peers' suites need Python >= 3.11")
@pytest.mark.parametrize(("distribution", "version", "module", "tests", "fixtures"), PEERS)
def test_the_peers_suite_passes_against_the_compat_package(
    tmp_path: Path, distribution: str, version: str, module: str, tests: int, fixtures: str | None
) -> None:
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
            f"{distribution}=={version}",
            "-d",
            str(tmp_path),
        ],
        check=True,
    )
    with tarfile.open(next(tmp_path.glob("*.tar.gz"))) as sdist:
        members = [m for m in sdist.getmembers() if "/tests/" in m.name and m.name.endswith(".py")]
        sdist.extractall(tmp_path, members=members, filter="data")
    suite = next(tmp_path.glob("*/tests"))
    (suite / "conftest.py").unlink(missing_ok=True)  # it only points sys.path at the peer's source
    if fixtures is not None:
        (suite / "conftest.py").write_text(fixtures)
    for test_file in suite.glob("test_*.py"):
        source = test_file.read_text()
        test_file.write_text(re.sub(rf"\b{module}\b", f"burnguard.compat.{module}", source))
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
    assert re.search(rf"\b{tests} passed\b", run.stdout), run.stdout[-1000:]
