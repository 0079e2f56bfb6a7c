"""Writes a large synthetic AWS Cost and Usage Report for timing `burnguard spend`:

python benches/make_billing_export.py /tmp/billing    # /tmp/billing/cur.csv: 10M rows, 1.5 GB
time burnguard spend /tmp/billing/cur.csv --json > /dev/null
time burnguard spend /tmp/billing/cur.csv --by account --by service --json > /dev/null

Hourly rows of 2,000 accounts over 60 days, in the CUR's legacy column layout with the columns
an export commonly carries (a line item id, usage type, operation, amount, rates), accounts and
services shuffled within each hour as a CUR writes them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROWS, ACCOUNTS, DAYS = 10_000_800, 2_000, 60  # 6,945 rows an hour
SERVICES = np.array(["AmazonEC2", "AmazonS3", "AmazonRDS", "AWSLambda", "AmazonCloudWatch"])
HEADER = (
    "identity/LineItemId,bill/PayerAccountId,lineItem/UsageAccountId,lineItem/LineItemType,"
    "lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UsageType,"
    "lineItem/Operation,lineItem/UsageAmount,lineItem/UnblendedRate,lineItem/UnblendedCost\n"
)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    hours = DAYS * 24
    per_hour = ROWS // hours
    with open(out / "cur.csv", "w") as f:
        f.write(HEADER)
        for hour in range(hours):
            day, h = divmod(hour, 24)
            start = f"2025-{10 + day // 31:02d}-{day % 31 + 1:02d}T{h:02d}:00:00Z"
            end = f"2025-{10 + day // 31:02d}-{day % 31 + 1:02d}T{h:02d}:59:59Z"
            account = rng.integers(0, ACCOUNTS, per_hour)
            service = SERVICES[rng.integers(0, len(SERVICES), per_hour)]
            amount = rng.lognormal(0, 1, per_hour)
            rate = rng.choice([0.0116, 0.023, 0.096, 0.2], per_hour)
            ids = rng.integers(1 << 40, 1 << 41, per_hour)
            f.writelines(
                f"{i:x},100000000000,{100_000_000_000 + a * 7_919:012d},Usage,{start},{end},{s},"
                f"USE1-BoxUsage,RunInstances,{u:.6f},{r},{u * r:.10f}\n"
                for i, a, s, u, r in zip(ids, account, service, amount, rate, strict=True)
            )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/burnguard-billing"))
