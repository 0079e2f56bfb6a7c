use burnguard_core::slo::{workbook_policies, Slo, SloSpec};
use std::time::Instant;
fn main() {
    let spec = SloSpec {
        target: 0.999,
        window_seconds: 2_592_000.0,
        burn_windows: vec![3600.0, 21600.0],
        burn_threshold: 14.4,
        policies: workbook_policies(2_592_000.0),
        latency_threshold: None,
    };
    let slo = Slo::new(spec).unwrap();
    let now = 1_700_000_000.0;
    for i in 0..1_000_000u64 {
        slo.record(now - (i as f64) * 0.0216, i % 500 != 0).unwrap();
    }
    let n = 100_000;
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..n {
        acc += slo.snapshot(now).unwrap().overall.total;
    }
    println!(
        "snapshot {:.2} us ({acc})",
        t.elapsed().as_secs_f64() / n as f64 * 1e6
    );
    let t = Instant::now();
    for _ in 0..n {
        acc += slo.counts(now).unwrap()[0].good;
    }
    println!(
        "counts {:.2} us ({acc})",
        t.elapsed().as_secs_f64() / n as f64 * 1e6
    );
}
