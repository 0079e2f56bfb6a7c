"""Writes large synthetic access logs for timing `burnguard backtest`:

python benches/make_access_logs.py /tmp/logs     # /tmp/logs/big.csv (5M lines), big.log (2M)
time burnguard backtest /tmp/logs/big.csv --target 0.999 --json > /dev/null
time burnguard backtest /tmp/logs/big.log --target 0.999 --json > /dev/null
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

START = 1_764_547_200  # 2025-12-01T00:00:00Z


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    n = 5_000_000
    at = np.sort(START + rng.uniform(0, 14 * 86400, n))
    status = rng.choice([200, 200, 200, 500], n)
    latency = rng.lognormal(-2.5, 0.5, n)
    with open(out / "big.csv", "w") as f:
        f.write("timestamp,status,latency\n")
        f.writelines(f"{a:.3f},{s},{lat:.4f}\n" for a, s, lat in zip(at, status, latency, strict=True))
    with open(out / "big.log", "w") as f:
        for a, s, lat in zip(at[:2_000_000], status[:2_000_000], latency[:2_000_000], strict=True):
            when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(int(a)))
            f.write(
                f'10.0.0.1 - - [{when}] "GET /api/items?id=42 HTTP/1.1" {s} 512 "-" "Mozilla/5.0" {lat:.3f}\n'
            )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/burnguard-logs"))
