//! The server's Prometheus metrics: requests by operation and status code, a latency
//! histogram per operation, and every budget's balance. Counting is a few relaxed atomic
//! additions per request.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use burnguard_core::ledger::Balance;

/// The operations requests are counted under.
pub const OPERATIONS: [&str; 11] = [
    "reserve", "commit", "release", "extend", "get", "list", "decide", "event", "balances",
    "health", "other",
];
/// The status codes counted one by one (others count as `other`).
const CODES: [u16; 16] = [
    200, 201, 400, 401, 403, 404, 405, 409, 410, 411, 413, 415, 429, 431, 500, 505,
];
/// The latency histogram's upper bounds, in seconds.
const BOUNDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The counters.
pub struct Metrics {
    /// Per operation, per code (the last column: any other code).
    requests: Vec<[AtomicU64; CODES.len() + 1]>,
    /// Per operation: a count per bound, one past the last, the sum in microseconds.
    latency: Vec<[AtomicU64; BOUNDS.len() + 2]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: OPERATIONS.iter().map(|_| Default::default()).collect(),
            latency: OPERATIONS.iter().map(|_| Default::default()).collect(),
        }
    }
}

/// The index of operation `name` in [`OPERATIONS`] (`other` if unknown).
pub fn operation(name: &str) -> usize {
    OPERATIONS
        .iter()
        .position(|o| *o == name)
        .unwrap_or(OPERATIONS.len() - 1)
}

impl Metrics {
    /// Counts one request of `operation` answered `status` in `seconds`.
    pub fn record(&self, operation: usize, status: u16, seconds: f64) {
        let code = CODES
            .iter()
            .position(|&c| c == status)
            .unwrap_or(CODES.len());
        self.requests[operation][code].fetch_add(1, Ordering::Relaxed);
        let bucket = BOUNDS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BOUNDS.len());
        let latency = &self.latency[operation];
        latency[bucket].fetch_add(1, Ordering::Relaxed);
        latency[BOUNDS.len() + 1].fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The text exposition, with `balances` as gauges.
    pub fn render(&self, balances: &[Balance]) -> String {
        let mut out = String::with_capacity(8 * 1024);
        out.push_str("# HELP burnguard_cycles_requests_total Requests answered, by operation and status code.\n");
        out.push_str("# TYPE burnguard_cycles_requests_total counter\n");
        for (op, counts) in OPERATIONS.iter().zip(&self.requests) {
            for (i, count) in counts.iter().enumerate() {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    let code = CODES.get(i).map_or("other".to_string(), u16::to_string);
                    let _ = writeln!(
                        out,
                        "burnguard_cycles_requests_total{{operation=\"{op}\",code=\"{code}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP burnguard_cycles_request_duration_seconds Time to answer a request.\n",
        );
        out.push_str("# TYPE burnguard_cycles_request_duration_seconds histogram\n");
        for (op, buckets) in OPERATIONS.iter().zip(&self.latency) {
            let counts: Vec<u64> = buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let total: u64 = counts[..=BOUNDS.len()].iter().sum();
            if total == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, count) in BOUNDS.iter().zip(&counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "burnguard_cycles_request_duration_seconds_bucket{{operation=\"{op}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "burnguard_cycles_request_duration_seconds_bucket{{operation=\"{op}\",le=\"+Inf\"}} {total}"
            );
            let sum = counts[BOUNDS.len() + 1] as f64 / 1e6;
            let _ = writeln!(
                out,
                "burnguard_cycles_request_duration_seconds_sum{{operation=\"{op}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "burnguard_cycles_request_duration_seconds_count{{operation=\"{op}\"}} {total}"
            );
        }
        let gauges = [
            ("allocated", "Granted."),
            ("reserved", "Held by active reservations."),
            ("spent", "Charged and covered by the budget."),
            ("remaining", "Left to reserve (negative in overdraft)."),
            ("debt", "Charged beyond the budget, until funded."),
        ];
        for (name, help) in gauges {
            let _ = writeln!(out, "# HELP burnguard_cycles_budget_{name} {help}");
            let _ = writeln!(out, "# TYPE burnguard_cycles_budget_{name} gauge");
            for b in balances {
                let value = match name {
                    "allocated" => b.allocated,
                    "reserved" => b.reserved,
                    "spent" => b.spent,
                    "remaining" => b.remaining,
                    _ => b.debt,
                };
                let _ = writeln!(
                    out,
                    "burnguard_cycles_budget_{name}{{scope=\"{}\",unit=\"{}\"}} {value}",
                    escape(&b.scope_path),
                    b.unit.as_str()
                );
            }
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.record(operation("reserve"), 200, 0.0003);
        m.record(operation("reserve"), 409, 0.002);
        m.record(operation("nonsense"), 599, 5.0);
        let text = m.render(&[]);
        assert!(
            text.contains("burnguard_cycles_requests_total{operation=\"reserve\",code=\"200\"} 1")
        );
        assert!(
            text.contains("burnguard_cycles_requests_total{operation=\"other\",code=\"other\"} 1")
        );
        assert!(text.contains("_bucket{operation=\"reserve\",le=\"0.00025\"} 0"));
        assert!(text.contains("_bucket{operation=\"reserve\",le=\"0.0005\"} 1"));
        assert!(text.contains("_bucket{operation=\"reserve\",le=\"+Inf\"} 2"));
        assert!(text.contains("_bucket{operation=\"other\",le=\"1\"} 0"));
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
