"""The Prometheus text format, written directly: what ``prometheus_client.generate_latest``
writes for the exporter's families, byte for byte, without its per-sample name validation
(every name here is a valid legacy name by construction), so a scrape costs little however
many routes it has. ``tests/test_prometheus.py`` checks the two agree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

_KINDS = {"counter": ("_total", "counter"), "info": ("_info", "gauge"), "unknown": ("", "untyped")}


def go_float(value: float) -> str:
    """``value`` as Go (and Prometheus) writes it: ``+Inf``, ``NaN``, and exponents from 1e7."""
    if type(value) is int and -(2**53) < value < 1_000_000:
        return f"{value}.0"  # most samples are counts: what the general path gives them, sooner
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    s = repr(float(value))
    dot = s.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


def escape(value: str) -> str:
    """A label value, escaped."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def header(name: str, kind: str, documentation: str) -> str:
    """The HELP and TYPE lines of the family ``name`` (already suffixed, as ``…_total``)."""
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n"


def lines(metrics: Iterable[Metric]) -> list[str]:
    """The text of ``metrics`` (families with no timestamps and no ``_created`` samples)."""
    out: list[str] = []
    for metric in metrics:
        suffix, kind = _KINDS.get(metric.type, ("", metric.type))
        out.append(header(metric.name + suffix, kind, metric.documentation))
        for sample in metric.samples:
            if sample.labels:
                labels = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(sample.labels.items()))
                out.append(f"{sample.name}{{{labels}}} {go_float(sample.value)}\n")
            else:
                out.append(f"{sample.name} {go_float(sample.value)}\n")
    return out
