"""Markdown tables from a pytest-benchmark JSON file: median per test (a loop timed on a slice
of the rows is scaled to the whole batch) and its ratio to the fastest in its group, the
overhead per call over a group's baseline (a bare call), and the memory figures kept in
extra_info. ``--stat min`` reads each test's fastest round instead of its median: on a noisy
machine the fastest round is the one least disturbed by other work.

    pytest benches --benchmark-json=bench.json && python benches/report.py bench.json [--stat min]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:,.3g} {unit}"
    return f"{seconds / 1e-9:,.3g} ns"


def main(path: str, stat: str = "median") -> None:
    with open(path) as f:
        benchmarks: list[dict[str, Any]] = json.load(f)["benchmarks"]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for b in benchmarks:
        groups[b["group"] or b["name"]].append(b)
    print(f"| group | test | {stat} | vs fastest |\n| --- | --- | ---: | ---: |")
    for group, members in groups.items():
        if group.startswith("memory"):
            continue

        def median_of(b: dict[str, Any]) -> float:
            # A loop timed on a slice of the rows is scaled to the whole batch.
            return float(b["stats"][stat]) * float(b["extra_info"].get("scale", 1.0))

        fastest = min(median_of(b) for b in members)
        for b in sorted(members, key=median_of):
            median = median_of(b)
            print(f"| {group} | {b['name']} | {_time(median)} | {median / fastest:,.1f} |")
    overheads = [(g, m) for g, m in groups.items() if any(b["extra_info"].get("baseline") for b in m)]
    if overheads:
        print("\n| group | test | overhead per call |\n| --- | --- | ---: |")
    for group, members in overheads:
        base = next(b for b in members if b["extra_info"].get("baseline"))
        per_call = float(base["extra_info"]["calls"])
        for b in sorted(members, key=lambda b: float(b["stats"][stat])):
            if b is not base:
                extra = (float(b["stats"][stat]) - float(base["stats"][stat])) / per_call
                print(f"| {group} | {b['name']} | {_time(extra)} |")
    memory = [b for b in benchmarks if "python_heap_bytes" in b["extra_info"]]
    if memory:
        print("\n| test | events | Python heap held | native bytes |\n| --- | ---: | ---: | ---: |")
        for b in memory:
            info = b["extra_info"]
            print(
                f"| {b['name']} | {info['events']:,} | {info['python_heap_bytes']:,} | {info['native_bytes']:,} |"
            )


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 3 and args[1] == "--stat" and args[2] in ("median", "min"):
        main(args[0], args[2])
    elif len(args) == 1:
        main(args[0])
    else:
        sys.exit("usage: python benches/report.py BENCH.json [--stat median|min]")
