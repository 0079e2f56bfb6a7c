"""A simulated service with an injected incident, watched by a burnguard SLO tracker.

Five simulated hours of a 1,000 rps service against a 99.9 % availability SLO: healthy traffic
(0.05 % errors), then 15 minutes at 10 % errors from 2h00. Every event goes through
``tracker.record`` one call at a time, with simulated timestamps. Every 10 simulated seconds the
tracker's multiwindow alert policies (the SRE Workbook's) are polled, and each alert is printed
when it fires and when it resolves. A final snapshot and the recording throughput close the run.

    python examples/quickstart.py
"""

from __future__ import annotations

import json
import time

import numpy as np

from burnguard import AlertTransition, SLODefinition, SLOTracker

RPS = 1_000
HOURS = 5
INCIDENT = (2 * 3600, 2 * 3600 + 15 * 60)  # seconds into the run
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def clock(seconds: float) -> str:
    s = int(seconds - START)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def describe(t: AlertTransition, now: float) -> str:
    a = t.alert
    verb = "FIRING  " if t.state == "firing" else "RESOLVED"
    return (
        f"[{clock(now)}] {verb} {a.severity:<6} {a.threshold:>4}x policy: "
        f"burn {a.long_burn_rate:6.1f}x over {a.long_window_seconds / 3600:g}h, "
        f"{a.short_burn_rate:6.1f}x over {a.short_window_seconds / 60:g}m"
    )


def main() -> None:
    tracker = SLOTracker(SLODefinition(name="checkout", target=0.999))
    rng = np.random.default_rng(2026)
    record = tracker.record
    events = 0
    busy = 0.0
    start_min, end_min = INCIDENT[0] // 60, INCIDENT[1] // 60
    print(f"simulating {HOURS} h at {RPS:,} rps; incident from minute {start_min} to {end_min}")
    for second in range(HOURS * 3600):
        now = START + second
        error_rate = 0.10 if INCIDENT[0] <= second < INCIDENT[1] else 0.0005
        outcomes = (rng.random(RPS) >= error_rate).tolist()
        started = time.perf_counter()
        for ok in outcomes:
            record(ok, at=now)
        busy += time.perf_counter() - started
        events += RPS
        if second % 10 == 9:
            for transition in tracker.poll_alerts(at=now):
                print(describe(transition, now))

    snapshot = tracker.snapshot(at=START + HOURS * 3600 - 1)
    print("\nfinal snapshot:")
    print(json.dumps(snapshot.to_dict(), indent=2))
    rate = events / busy
    print(f"\nrecorded {events:,} events in {busy:.2f} s: {rate:,.0f} events/s through tracker.record")
    finest = tracker.resolution[0][0]
    print(f"tracker memory: {tracker.memory_bytes:,} bytes, fixed; finest buckets: {finest:g} s")


if __name__ == "__main__":
    main()
