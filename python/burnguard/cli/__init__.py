"""The ``burnguard`` command: Prometheus rules from SLO specs (and, later, log backtests and
spend reports). Needs the ``cli`` extra: ``pip install 'burnguard[cli]'``."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Runs the command with ``argv`` (default: the process's arguments); returns its exit code."""
    try:
        from burnguard.cli.app import cli
    except ImportError as missing:
        print(f"burnguard: the command needs {missing.name}: pip install 'burnguard[cli]'", file=sys.stderr)
        return 2
    try:
        cli.main(args=argv, prog_name="burnguard")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else int(done.code is not None)
    return 0
