"""Writes the sample data bundled with the `burnguard` command (python/burnguard/cli/samples/).

An access log of a service over 8 days at 8 requests a minute (0.2 % of them failing) with two
known incidents: a fast burn (40 % errors for 40 minutes, on day 3) and a slow burn (5 % errors
for 18 hours, from day 6), with the SLO it is judged against (99 % over 30 days) and the
incidents' spans. Deterministic: the same files on every run.

    python scripts/make_samples.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "python" / "burnguard" / "cli" / "samples"
START = 1_764_547_200  # 2025-12-01T00:00:00Z
DAYS, PER_MINUTE, BASELINE = 8, 8, 0.002
INCIDENTS = [
    (START + 2 * 86400 + 10 * 3600, 40 * 60, 0.40),  # day 3, 10:00, 40 minutes at 40 %
    (START + 5 * 86400 + 2 * 3600, 18 * 3600, 0.05),  # day 6, 02:00, 18 hours at 5 %
]

SLO = """\
# The SLO the sample access log is judged against: 99 % of requests succeed over 30 days,
# alerted by the SRE Workbook's four multiwindow policies (the default).
version: burnguard/v1
service: shop
slos:
  - name: availability
    target: 0.99
    window: 30d
    sli: {route: GET /shop}
"""


def main() -> None:
    rng = np.random.default_rng(20261202)
    minutes = DAYS * 24 * 60
    count = minutes * PER_MINUTE
    at = np.sort(START + rng.uniform(0, minutes * 60, count))
    error_rate = np.full(count, BASELINE)
    for begin, duration, rate in INCIDENTS:
        error_rate[(at >= begin) & (at < begin + duration)] = rate
    failed = rng.random(count) < error_rate
    status = np.where(
        failed, rng.choice([500, 502, 503], count), rng.choice([200, 200, 200, 201, 304, 404], count)
    )
    latency = rng.lognormal(np.log(0.08), 0.5, count)
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp,status,latency"]
    lines += [f"{t:.3f},{s},{lat:.4f}" for t, s, lat in zip(at, status, latency, strict=True)]
    with gzip.GzipFile(OUT / "access.csv.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    spans = ["start,end"] + [f"{b},{b + d}" for b, d, _ in INCIDENTS]
    (OUT / "incidents.csv").write_text("\n".join(spans) + "\n")
    (OUT / "slo.yaml").write_text(SLO)
    print(f"wrote {count} requests, {int(failed.sum())} failed, to {OUT}")


if __name__ == "__main__":
    main()
