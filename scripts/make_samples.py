"""Writes the sample data bundled with the `burnguard` command (python/burnguard/cli/samples/).

An access log of a service over 8 days at 8 requests a minute (0.2 % of them failing) with two
known incidents: a fast burn (40 % errors for 40 minutes, on day 3) and a slow burn (5 % errors
for 18 hours, from day 6), with the SLO it is judged against (99 % over 30 days) and the
incidents' spans. And an AWS Cost and Usage Report (daily, legacy column names) of 300
accounts from 2025-11-01 to 2025-12-15 with the budgets it is checked against: three spikes,
one budget breached, one warning, one forecast breach and one account running hot (and the
account of the first spike, whose week holds it); the rest steady within 2 %. Deterministic:
the same files on every run.

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
    billing()


BILLING_START, BILLING_DAYS, ACCOUNTS = np.datetime64("2025-11-01"), 45, 300
SERVICES = {"AmazonEC2": 0.6, "AmazonS3": 0.15, "AmazonRDS": 0.25}
# Account index: its daily spend.
STEADY = {7: 100.0, 3: 60.0, 9: 80.0, 12: 40.0, 55: 50.0}
# (account index, service, day of December, multiple of its usual spend that day)
SPIKES = [(17, "AmazonEC2", 9, 6.0), (42, "AmazonEC2", 12, 5.0), (101, "AmazonRDS", 14, 9.0)]
HOT_ACCOUNT, HOT_FROM, HOT_MULTIPLE = 55, 9, 1.45  # from December 9th on
NEW_ACCOUNTS = range(290, 295)  # start on November 20th
BUDGETS = """\
# Monthly budgets for the sample billing export (burnguard spend --sample), by account.
warning_ratio: 0.8
default: 6000
budgets:
  "{a7}": 1150                  # breached on December 12th
  "{a9}": 1400                  # past 80 %, forecast to breach on December 18th
  "{a3}": 1470                  # forecast to breach on December 25th
  "{a12}": {{limit: 5000, warning_ratio: 0.9}}
  "999999999999": 100           # not in the export
"""


def account_id(index: int) -> str:
    return f"{100_000_000_000 + index * 7_919:012d}"


def billing() -> None:
    rng = np.random.default_rng(20261203)
    header = (
        "bill/PayerAccountId,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,"
        "lineItem/ProductCode,lineItem/UnblendedCost,lineItem/CurrencyCode"
    )
    lines = [header]
    base = np.clip(rng.lognormal(np.log(30), 0.6, ACCOUNTS), 5, 150)
    odds = {"AmazonEC2": 1.1, "AmazonS3": 0.8, "AmazonRDS": 0.5}
    uses = {service: rng.random(ACCOUNTS) < p for service, p in odds.items()}
    for index, daily in STEADY.items():
        base[index] = daily
        for service in SERVICES:
            uses[service][index] = True
    for index, service, _, _ in SPIKES:
        uses[service][index] = True
    for day in range(BILLING_DAYS):
        when = BILLING_START + np.timedelta64(day, "D")
        december_day = day - 29
        for index in range(ACCOUNTS):
            if index in NEW_ACCOUNTS and day < 19:
                continue
            multiple = HOT_MULTIPLE if index == HOT_ACCOUNT and december_day >= HOT_FROM else 1.0
            for service, share in SERVICES.items():
                if not uses[service][index]:
                    continue
                cost = base[index] * share * multiple * rng.uniform(0.98, 1.02)
                for spike_index, spike_service, spike_day, spike_multiple in SPIKES:
                    if (index, service, december_day) == (spike_index, spike_service, spike_day):
                        cost *= spike_multiple
                lines.append(
                    f"{account_id(0)},{account_id(index)},Usage,{when}T00:00:00Z,{service},{cost:.6f},USD"
                )
        if day == 30:  # a credit on December 2nd
            lines.append(f"{account_id(0)},{account_id(5)},Credit,{when}T00:00:00Z,AmazonEC2,-25.000000,USD")
    with gzip.GzipFile(OUT / "billing.csv.gz", "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    ids = {f"a{i}": account_id(i) for i in STEADY}
    (OUT / "budgets.yaml").write_text(BUDGETS.format(**ids))
    print(f"wrote {len(lines) - 1} billing rows of {ACCOUNTS} accounts to {OUT}")


if __name__ == "__main__":
    main()
