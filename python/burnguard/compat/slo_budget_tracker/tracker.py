from burnguard.slo.tracker import SLOTracker

__all__ = ["SLOTracker"]
