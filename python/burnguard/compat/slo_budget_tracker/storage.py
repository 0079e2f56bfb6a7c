from burnguard.slo.storage import InMemoryStore, ObservationStore

__all__ = ["InMemoryStore", "ObservationStore"]
