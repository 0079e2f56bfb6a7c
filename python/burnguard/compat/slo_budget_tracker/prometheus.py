from burnguard.prometheus import PrometheusExporter

__all__ = ["PrometheusExporter"]
