from __future__ import annotations

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
