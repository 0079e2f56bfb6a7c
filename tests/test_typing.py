"""``mypy --strict`` accepts a sample app written the way the README uses burnguard: the
adapters' options type-check through Starlette's ``add_middleware``, the element-wise spend
checks answer a batch for arrays and a result for scalars."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).parent / "typed_app" / "sample_app.py"


def test_mypy_strict_accepts_the_sample_app() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-version",
            "3.11",
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_sample_app_runs() -> None:
    run = subprocess.run([sys.executable, str(SAMPLE)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
