from burnguard.slo.models import BurnRateAlert, BurnRateSample, Observation, SLODefinition, SLOSnapshot

__all__ = ["BurnRateAlert", "BurnRateSample", "Observation", "SLODefinition", "SLOSnapshot"]
