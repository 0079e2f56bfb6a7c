"""``burnguard dashboard``: the live dashboard of an app's shared-memory arena, from a process
of its own. It opens the trackers a burnguard/v1 spec names (``sli: {slo: NAME}``) and the
app's route table in the arena, so it shows what every worker of the host records."""

from __future__ import annotations

from dataclasses import dataclass

from burnguard.cli.specs import RuleSLO, SpecError
from burnguard.routes import RouteTable
from burnguard.shared import Arena
from burnguard.slo import SLOTracker


@dataclass(frozen=True)
class Sources:
    """What the dashboard shows, and the spec's SLOs it cannot (not over an app's tracker)."""

    trackers: list[SLOTracker]
    routes: RouteTable | None
    skipped: list[str]


def open_sources(
    slos: list[RuleSLO], arena_name: str, *, routes: str | None, max_routes: int, retain_seconds: float
) -> Sources:
    """The arena's trackers for ``slos`` and its route table ``routes`` (None: no routes).
    SpecError if the arena does not exist or holds them with another geometry."""
    path = Arena.file_of(arena_name)
    if not path.exists():
        raise SpecError(
            f"no arena {arena_name!r} at {path}: start the app with shared={arena_name!r} "
            f"(or BURNGUARD_SHARED={arena_name}) first, or set BURNGUARD_SHARED_DIR"
        )
    arena = Arena(arena_name)
    trackers, skipped = [], []
    for slo in slos:
        if slo.tracker is None:
            skipped.append(slo.id)
            continue
        try:
            trackers.append(SLOTracker(slo.tracker, shared=arena))
        except ValueError as error:
            raise SpecError(f"{slo.id}: the arena's SLO {slo.tracker.name!r} differs: {error}") from error
    table = None
    if routes is not None:
        try:
            table = RouteTable(
                max_routes=max_routes, retain_seconds=retain_seconds, shared=arena, name=routes
            )
        except ValueError as error:
            raise SpecError(f"the arena's route table {routes!r} differs: {error}") from error
    return Sources(trackers, table, skipped)
