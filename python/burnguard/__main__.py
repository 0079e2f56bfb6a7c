"""``python -m burnguard``: the ``burnguard`` command."""

from burnguard.cli import main

raise SystemExit(main())
