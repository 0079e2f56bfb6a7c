from burnguard.slo.registry import SLORegistry

__all__ = ["SLORegistry"]
