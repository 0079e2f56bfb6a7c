use burnguard_core::spend::{check_budget_batch, BudgetColumns};
use std::time::Instant;
fn main() {
    let n = 1_000_000;
    let spend: Vec<f64> = (0..n).map(|i| (i % 200) as f64 + 0.5).collect();
    let (mut u, mut r, mut w, mut b) = (vec![0.0; n], vec![0.0; n], vec![false; n], vec![false; n]);
    let t = Instant::now();
    for _ in 0..20 {
        let out = BudgetColumns {
            usage_ratio: &mut u,
            remaining_budget: &mut r,
            is_warning: &mut w,
            is_breached: &mut b,
        };
        check_budget_batch(&spend, &[100.0], 0.9, out).unwrap();
    }
    println!(
        "kernel, preallocated: {:.2} ms",
        t.elapsed().as_secs_f64() / 20.0 * 1e3
    );
    let t = Instant::now();
    for _ in 0..20 {
        let (mut u, mut r, mut w, mut b) =
            (vec![0.0; n], vec![0.0; n], vec![false; n], vec![false; n]);
        let out = BudgetColumns {
            usage_ratio: &mut u,
            remaining_budget: &mut r,
            is_warning: &mut w,
            is_breached: &mut b,
        };
        check_budget_batch(&spend, &[100.0], 0.9, out).unwrap();
        std::hint::black_box((&u, &r, &w, &b));
    }
    println!(
        "kernel + fresh vecs: {:.2} ms",
        t.elapsed().as_secs_f64() / 20.0 * 1e3
    );
}
