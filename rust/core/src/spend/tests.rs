//! Tests of the elementwise and series checks.

use super::*;

/// The peer's sort-based median and quantile, as references.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn reference_median(values: &[f64]) -> f64 {
    let v = sorted(values);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn reference_quantile(values: &[f64], p: f64) -> f64 {
    let v = sorted(values);
    if v.len() == 1 {
        return v[0];
    }
    let rank = p * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    if lo == hi {
        v[lo]
    } else {
        v[lo] + (rank - lo as f64) * (v[hi] - v[lo])
    }
}

#[test]
fn python_sum_compensates_like_cpython_312() {
    // sum([0.1] * 10) == 1.0 on CPython 3.12+, 0.9999999999999999 with a plain loop.
    assert_eq!(python_sum(&[0.1; 10]), 1.0);
    assert_eq!(python_sum(&[1e100, 1.0, -1e100, 1.0]), 2.0);
    assert_eq!(python_sum(&[]), 0.0);
}

#[test]
fn budget_matches_the_peer() {
    let b = check_budget(40.0, 100.0, 0.8).unwrap();
    assert_eq!(
        (
            b.usage_ratio,
            b.remaining_budget,
            b.is_warning,
            b.is_breached
        ),
        (0.4, 60.0, false, false)
    );
    let b = check_budget(100.0, 100.0, 0.8).unwrap();
    assert!(b.is_warning && b.is_breached);
    for (spend, limit, ratio, param) in [
        (-1.0, 100.0, 0.9, "current_spend"),
        (10.0, 0.0, 0.9, "budget_limit"),
        (10.0, 100.0, 0.0, "warning_ratio"),
        (f64::NAN, 100.0, 0.9, "current_spend"),
        (10.0, f64::INFINITY, 0.9, "budget_limit"),
    ] {
        let err = check_budget(spend, limit, ratio).unwrap_err();
        assert!(err.to_string().starts_with(param), "{err}");
    }
}

#[test]
fn budget_batch_equals_scalar_and_names_the_first_bad_index() {
    let spend = [0.0, 50.0, 95.0, 120.0];
    let limits = [100.0, 100.0, 100.0, 100.0];
    let (mut u, mut r, mut w, mut b) = ([0.0; 4], [0.0; 4], [false; 4], [false; 4]);
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    check_budget_batch(&spend, &[100.0], 0.9, out).unwrap();
    for i in 0..4 {
        let s = check_budget(spend[i], limits[i], 0.9).unwrap();
        assert_eq!(
            (u[i], r[i], w[i], b[i]),
            (
                s.usage_ratio,
                s.remaining_budget,
                s.is_warning,
                s.is_breached
            )
        );
    }
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&[1.0, 2.0, -3.0, -4.0], &[100.0], 0.9, out).unwrap_err();
    assert_eq!(err.to_string(), "current_spend[2] must be >= 0; got -3");
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&spend, &[1.0, 2.0], 0.9, out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "budget_limit must hold 1 or 4 values; got 2"
    );
}

#[test]
fn batch_outputs_must_match_the_rows_and_errors_follow_the_peers_order() {
    let (mut u, mut r, mut w, mut b) = ([7.0; 3], [7.0; 3], [true; 2], [true; 3]);
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&[1.0; 3], &[100.0], 0.9, out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "is_warning must hold 3 values, as usage_ratio does; got 2"
    );
    let mut w = [true; 3];
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&[1.0; 4], &[100.0], 0.9, out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "current_spend must hold 1 or 3 values; got 4"
    );
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    // The peer's order: the limit, then the ratio, then the spend.
    let err = check_budget_batch(&[-1.0, 1.0, 1.0], &[1.0, 0.0, 1.0], 2.0, out).unwrap_err();
    assert_eq!(err.to_string(), "budget_limit[1] must be > 0; got 0");
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&[-1.0, 1.0, 1.0], &[1.0], 2.0, out).unwrap_err();
    assert_eq!(err.to_string(), "warning_ratio must be in (0, 1]; got 2");

    let (mut open, mut allow, mut retry) = ([false; 2], [false; 2], [0; 1]);
    let out = BreakerColumns {
        is_open: &mut open,
        allow_operation: &mut allow,
        retry_after_steps: &mut retry,
    };
    let err = breaker_batch(&[1], &[3], &[0], out).unwrap_err();
    assert_eq!(
        err.to_string(),
        "retry_after_steps must hold 2 values, as is_open does; got 1"
    );
}

#[test]
fn series_checks_match_the_peers_formulas() {
    let series = [10.0, 12.0, 11.0, 9.0, 30.0];
    let mut scratch = Vec::new();
    let spike = SeriesCheck::spike(1.5, 0.0)
        .unwrap()
        .apply(&series, &mut scratch);
    assert_eq!(
        (spike.baseline_mean, spike.threshold, spike.is_spike),
        (10.5, 15.75, true)
    );
    let mad = SeriesCheck::robust(
        Robust::Mad {
            z_threshold: 3.5,
            min_mad: 0.0,
        },
        0.0,
    )
    .unwrap()
    .apply(&series, &mut scratch);
    // median 10.5, deviations [0.5, 1.5, 0.5, 1.5] -> MAD 1.0
    assert_eq!(mad.baseline_mean, 10.5);
    assert_eq!(mad.threshold, 10.5 + 3.5 * (1.0 / 0.6745));
    let pct = SeriesCheck::robust(Robust::Percentile { percentile: 0.95 }, 0.0)
        .unwrap()
        .apply(&series, &mut scratch);
    assert_eq!(pct.threshold, reference_quantile(&series[..4], 0.95));
    let b = burn(&[0.0, 0.0, 5.0], 1.4);
    assert_eq!((b.burn_rate_ratio, b.is_hot), (f64::INFINITY, true));
    assert_eq!(burn(&[0.0, 0.0], 1.4).burn_rate_ratio, 1.0);
}

/// `anomaly_batch` over `batch`, as one result per row.
fn anomaly_rows(check: &SeriesCheck, batch: &SeriesBatch<'_>) -> Result<Vec<Anomaly>, Error> {
    let rows = batch.rows();
    let (mut l, mut m, mut t, mut s) = (
        vec![0.0; rows],
        vec![0.0; rows],
        vec![0.0; rows],
        vec![false; rows],
    );
    let out = AnomalyColumns {
        latest_spend: &mut l,
        baseline_mean: &mut m,
        threshold: &mut t,
        is_spike: &mut s,
    };
    anomaly_batch(check, batch, out)?;
    Ok((0..rows)
        .map(|i| Anomaly {
            latest_spend: l[i],
            baseline_mean: m[i],
            threshold: t[i],
            is_spike: s[i],
        })
        .collect())
}

/// The error of a bad batch, the same from every kernel that reads it.
fn first_error(values: &[f64], width: usize) -> String {
    let batch = SeriesBatch::new(values, values.len() / width, width, None).unwrap();
    let rows = batch.rows();
    let error = batch.validate().unwrap_err().to_string();
    let mad = SeriesCheck::robust(
        Robust::Mad {
            z_threshold: 3.5,
            min_mad: 0.0,
        },
        0.0,
    )
    .unwrap();
    for check in [mad, SeriesCheck::spike(1.5, 0.0).unwrap()] {
        let got = anomaly_rows(&check, &batch).unwrap_err();
        assert_eq!(got.to_string(), error);
    }
    let (mut a, mut b, mut c, mut d) = (
        vec![0.0; rows],
        vec![0.0; rows],
        vec![0.0; rows],
        vec![false; rows],
    );
    let out = BurnColumns {
        latest_spend: &mut a,
        average_spend: &mut b,
        burn_rate_ratio: &mut c,
        is_hot: &mut d,
    };
    assert_eq!(burn_batch(&batch, 2.0, out).unwrap_err().to_string(), error);
    error
}

#[test]
fn series_batches_trim_padding_honour_lengths_and_locate_errors() {
    let nan = f64::NAN;
    let values = [nan, 1.0, 2.0, 9.0, /* row 1 */ 3.0, 4.0, 5.0, nan];
    let batch = SeriesBatch::new(&values, values.len() / 4, 4, None).unwrap();
    assert_eq!(batch.row(0).unwrap(), &[1.0, 2.0, 9.0]);
    assert_eq!(batch.row(1).unwrap(), &[3.0, 4.0, 5.0]);
    let batch = SeriesBatch::new(&values[4..], 1, 4, Some(&[2])).unwrap();
    assert_eq!(batch.row(0).unwrap(), &[3.0, 4.0]);

    let holed = [1.0, 2.0, 3.0, /* row 1 */ 1.0, nan, 3.0];
    assert!(
        first_error(&holed, 3).starts_with("spend_series[1, 1] is NaN between values"),
        "{}",
        first_error(&holed, 3)
    );
    let negative = [1.0, 2.0, 3.0, 1.0, 2.0, -3.0];
    assert_eq!(
        first_error(&negative, 3),
        "spend_series[1, 2] must be a finite value >= 0; got -3"
    );
    let short = [nan, nan, 1.0];
    assert_eq!(
        first_error(&short, 3),
        "spend_series must contain at least 2 points; series 0 has 1"
    );
    // Rows far apart land in different tasks: the first bad one is still the one named.
    let mut many = vec![1.0; 30 * 10_000];
    many[30 * 9_000 + 4] = -1.0;
    many[30 * 2_000 + 7] = nan;
    assert!(first_error(&many, 30).starts_with("spend_series[2000, 7] is NaN"));
    let err = SeriesBatch::new(&values, values.len() / 4, 4, Some(&[2, 5])).unwrap_err();
    assert_eq!(err.to_string(), "lengths[1] must be in [2, 4]; got 5");
}

#[test]
fn forecast_and_breaker_match_the_peer() {
    let f = forecast_budget_breach(50.0, 100.0, 10, 30).unwrap();
    assert_eq!(
        (f.projected_total_spend, f.projected_overrun, f.will_breach),
        (150.0, 50.0, true)
    );
    let err = forecast_budget_breach(50.0, 100.0, 31, 30).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("periods_elapsed must be <= total_periods"));
    let b = evaluate_circuit_breaker(1, 3, 2).unwrap();
    assert_eq!(
        (b.is_open, b.allow_operation, b.retry_after_steps),
        (true, false, 2)
    );
    assert!(evaluate_circuit_breaker(0, 0, 0).is_err());
    assert_eq!(decide(false, false, true, false), Action::Throttle);
    assert_eq!(decide(false, true, false, true).as_str(), "block");
}

proptest::proptest! {
    #[test]
    fn mad_by_splitting_equals_sorting_the_deviations(values in proptest::collection::vec(
        proptest::prop_oneof![0.0f64..1e6, proptest::sample::select(vec![0.0, 1.0, 2.5])], 1..60)
    ) {
        let mut keys = Vec::new();
        load_keys(&mut keys, values.iter().copied());
        keys.sort_unstable();
        let median = median_of(&Sorted(&keys));
        proptest::prop_assert_eq!(median, reference_median(&values));
        let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        proptest::prop_assert_eq!(mad_of(&Sorted(&keys), median), reference_median(&deviations));
    }
}

proptest::proptest! {
    #[test]
    fn sorting_network_rows_equal_one_by_one_checks(
        width in 2usize..40,
        rows in proptest::collection::vec(
            (proptest::collection::vec(proptest::prop_oneof![
                0.0f64..1e4,
                proptest::sample::select(vec![0.0, -0.0, 1.0, 2.5]),
            ], 40), 2usize..40),
            1..20,
        ),
        percentile in 0.01f64..0.99,
    ) {
        let lengths: Vec<i64> = rows.iter().map(|(_, n)| (*n).min(width) as i64).collect();
        let values: Vec<f64> = rows.iter().flat_map(|(v, _)| v[..width].to_vec()).collect();
        let batch = SeriesBatch::new(&values, values.len() / width, width, Some(&lengths)).unwrap();
        let mad = Robust::Mad { z_threshold: 3.5, min_mad: 0.0 };
        for method in [mad, Robust::Percentile { percentile }] {
            let check = SeriesCheck::robust(method, 0.0).unwrap();
            for (row, got) in anomaly_rows(&check, &batch).unwrap().into_iter().enumerate() {
                let one = check.apply(batch.row(row).unwrap(), &mut Vec::new());
                proptest::prop_assert_eq!(got, one);
            }
        }
    }
}

#[test]
fn batches_split_across_threads_equal_row_by_row_results() {
    let rows = 3 * POINTS_PER_TASK + 17;
    let width = 9;
    let values: Vec<f64> = (0..rows * width)
        .map(|i| ((i * 7919) % 1000) as f64 / 7.0)
        .collect();
    let batch = SeriesBatch::new(&values, values.len() / width, width, None).unwrap();
    let check = SeriesCheck::robust(
        Robust::Mad {
            z_threshold: 3.5,
            min_mad: 0.0,
        },
        0.0,
    )
    .unwrap();
    let mut scratch = Vec::new();
    for (row, got) in anomaly_rows(&check, &batch)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let one = check.apply(&values[row * width..(row + 1) * width], &mut scratch);
        assert_eq!(got, one);
    }
    let spend: Vec<f64> = (0..rows).map(|i| (i % 300) as f64).collect();
    let (mut u, mut r, mut w, mut b) = (
        vec![0.0; rows],
        vec![0.0; rows],
        vec![false; rows],
        vec![false; rows],
    );
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    check_budget_batch(&spend, &[200.0], 0.8, out).unwrap();
    for (i, &x) in spend.iter().enumerate() {
        let one = check_budget(x, 200.0, 0.8).unwrap();
        assert_eq!(
            (u[i], r[i], w[i], b[i]),
            (
                one.usage_ratio,
                one.remaining_budget,
                one.is_warning,
                one.is_breached
            )
        );
    }
    let mut limits: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 7) as f64 * 40.0).collect();
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    check_budget_batch(&spend, &limits, 0.8, out).unwrap();
    for (i, (&x, &limit)) in spend.iter().zip(&limits).enumerate() {
        let one = check_budget(x, limit, 0.8).unwrap();
        let figures = (
            one.usage_ratio,
            one.remaining_budget,
            one.is_warning,
            one.is_breached,
        );
        assert_eq!((u[i], r[i], w[i], b[i]), figures);
    }
    // Bad rows in two pieces: the error names the first.
    limits[rows - 5] = f64::NAN;
    limits[2 * POINTS_PER_TASK + 3] = -1.0;
    let out = BudgetColumns {
        usage_ratio: &mut u,
        remaining_budget: &mut r,
        is_warning: &mut w,
        is_breached: &mut b,
    };
    let err = check_budget_batch(&spend, &limits, 0.8, out).unwrap_err();
    let first = 2 * POINTS_PER_TASK + 3;
    assert_eq!(
        err.to_string(),
        format!("budget_limit[{first}] must be > 0; got -1")
    );
}

proptest::proptest! {
    #[test]
    fn quantile_of_sorted_keys_equals_the_reference(
        values in proptest::collection::vec(0.0f64..1e6, 1..60),
        p in 0.001f64..0.999,
    ) {
        let mut keys = Vec::new();
        load_keys(&mut keys, values.iter().copied());
        keys.sort_unstable();
        proptest::prop_assert_eq!(quantile_of(&Sorted(&keys), p), reference_quantile(&values, p));
    }
}
