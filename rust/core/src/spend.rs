//! Spend safeguards: budget, spike (mean, MAD, percentile), burn, forecast, breaker and policy
//! checks, for one value or one series at a time and over whole batches.
//!
//! The figures follow cloudcircuit 0.3.8 operation for operation. Its means are Python's
//! `sum(values) / len(values)`; [`python_sum`] is the compensated summation CPython 3.12 and
//! later use for floats, so means agree with the peer to the last bit there (and within a few
//! units in the last place of 3.11's plain left-to-right sum). Medians and quantiles select the
//! same order statistics the peer's sort does, so they agree exactly.
//!
//! Batch kernels write one output column per result field. Bad input is an error naming the
//! parameter and the first bad index: elementwise kernels check before computing, series
//! kernels check each series as they read it (see [`SeriesBatch`]). Robust checks on series of
//! up to 33 points sort eight series at a time with a sorting network (`network.rs`).

use crate::error::Error;
use crate::names::named_enum;
use crate::{network, simd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Values per task when a batch is split across threads; smaller batches stay on the caller's
/// thread. Every row is computed by the same code whatever the split, so results never depend
/// on the number of threads.
pub const POINTS_PER_TASK: usize = 16_384;

/// Output columns that can be cut at a row, so the halves can be filled on different threads.
pub trait Columns: Send + Sized {
    /// Rows in these columns.
    fn rows(&self) -> usize;
    /// The first `mid` rows and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
}

/// Implements [`Columns`] for a struct of equally long mutable slices.
macro_rules! columns {
    ($name:ident { $first:ident $(, $field:ident)* }) => {
        impl Columns for $name<'_> {
            fn rows(&self) -> usize {
                self.$first.len()
            }

            fn split_at(self, mid: usize) -> (Self, Self) {
                let $first = self.$first.split_at_mut(mid);
                $(let $field = self.$field.split_at_mut(mid);)*
                (
                    $name { $first: $first.0, $($field: $field.0),* },
                    $name { $first: $first.1, $($field: $field.1),* },
                )
            }
        }

        impl $name<'_> {
            /// The rows, once every column is checked to hold as many as the first.
            fn equal_rows(&self) -> Result<usize, Error> {
                let rows = self.$first.len();
                $(if self.$field.len() != rows {
                    return Err(Error::bad(
                        stringify!($field),
                        format!("must hold {rows} values, as {} does", stringify!($first)),
                        self.$field.len(),
                    ));
                })*
                Ok(rows)
            }
        }
    };
}

/// Calls `fill(piece, first_row)` on pieces of `columns` of at most `rows_per_task` rows, in
/// parallel on rayon's pool.
fn par_fill<C: Columns>(
    columns: C,
    first_row: usize,
    rows_per_task: usize,
    fill: &(impl Fn(C, usize) + Sync),
) {
    let rows = columns.rows();
    if rows <= rows_per_task {
        fill(columns, first_row);
        return;
    }
    let mid = rows / 2;
    let (head, tail) = columns.split_at(mid);
    rayon::join(
        || par_fill(head, first_row, rows_per_task, fill),
        || par_fill(tail, first_row + mid, rows_per_task, fill),
    );
}

/// [`par_fill`] with a `fill` that validates its piece and returns `false`, writing nothing
/// more, when a row is bad; then `first_error` searches the whole input for the error to
/// report (in the peer's order), and `out` is not to be read.
fn par_fill_checked<C: Columns>(
    out: C,
    rows_per_task: usize,
    fill: &(impl Fn(C, usize) -> bool + Sync),
    first_error: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    let bad = AtomicBool::new(false);
    par_fill(out, 0, rows_per_task, &|out: C, first: usize| {
        if !fill(out, first) {
            bad.store(true, Ordering::Relaxed);
        }
    });
    if bad.into_inner() {
        first_error()?;
        unreachable!("a piece failed validation, so the search finds an error");
    }
    Ok(())
}

/// `cloudcircuit.check_budget`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Spend over the limit.
    pub usage_ratio: f64,
    /// Limit minus spend (negative once over).
    pub remaining_budget: f64,
    /// `usage_ratio >= warning_ratio`.
    pub is_warning: bool,
    /// `current_spend >= budget_limit`.
    pub is_breached: bool,
}

/// The result of a spike check on a series (mean, MAD or percentile baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anomaly {
    /// The newest point.
    pub latest_spend: f64,
    /// The baseline location (mean, median or percentile of the history).
    pub baseline_mean: f64,
    /// The level the newest point must exceed to be a spike.
    pub threshold: f64,
    /// `latest_spend > threshold`.
    pub is_spike: bool,
}

/// `cloudcircuit.check_burn_rate`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    /// The newest point.
    pub latest_spend: f64,
    /// Mean of the history.
    pub average_spend: f64,
    /// Newest over average (`inf` over a zero average, 1.0 when both are zero).
    pub burn_rate_ratio: f64,
    /// `burn_rate_ratio >= hot_multiplier`.
    pub is_hot: bool,
}

/// `cloudcircuit.forecast_budget_breach`'s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// `current_spend / periods_elapsed * total_periods`.
    pub projected_total_spend: f64,
    /// How far the projection exceeds the limit, 0.0 if it does not.
    pub projected_overrun: f64,
    /// `projected_total_spend >= budget_limit`.
    pub will_breach: bool,
}

/// `cloudcircuit.evaluate_circuit_breaker`'s decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// The breaker is open (threshold reached or cooling down).
    pub is_open: bool,
    /// `!is_open`.
    pub allow_operation: bool,
    /// Cooldown steps left while open, else 0.
    pub retry_after_steps: i64,
}

/// The options' defaults, cloudcircuit's: declared here once, exported to the facade.
pub mod defaults {
    /// `check_budget`'s `warning_ratio`.
    pub const WARNING_RATIO: f64 = 0.9;
    /// `check_anomaly_spike`'s `spike_multiplier`.
    pub const SPIKE_MULTIPLIER: f64 = 1.5;
    /// `check_anomaly_robust`'s `z_threshold`.
    pub const Z_THRESHOLD: f64 = 3.5;
    /// `check_anomaly_robust`'s `min_mad`.
    pub const MIN_MAD: f64 = 0.0;
    /// `check_anomaly_robust`'s `percentile`.
    pub const PERCENTILE: f64 = 0.95;
    /// The spike checks' `min_baseline`.
    pub const MIN_BASELINE: f64 = 0.0;
    /// `check_burn_rate`'s `hot_multiplier`.
    pub const HOT_MULTIPLIER: f64 = 1.4;
    /// Every default by its option's name.
    pub const ALL: [(&str, f64); 7] = [
        ("warning_ratio", WARNING_RATIO),
        ("spike_multiplier", SPIKE_MULTIPLIER),
        ("z_threshold", Z_THRESHOLD),
        ("min_mad", MIN_MAD),
        ("percentile", PERCENTILE),
        ("min_baseline", MIN_BASELINE),
        ("hot_multiplier", HOT_MULTIPLIER),
    ];
}

/// The combined policy action, ordered by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Action {
    /// All safeguards healthy.
    Allow = 0,
    /// Budget warning or spend spike.
    Throttle = 1,
    /// Budget breached or breaker open.
    Block = 2,
}

named_enum!(Action, "action", {
    Allow => "allow",
    Throttle => "throttle",
    Block => "block",
});

impl Action {
    /// The peer's severity for this action.
    pub fn severity(self) -> &'static str {
        ["info", "warning", "critical"][self as usize]
    }

    /// The peer's reason for this action.
    pub fn reason(self) -> &'static str {
        [
            "All safeguards healthy",
            "Budget warning or spend spike detected",
            "Budget breached or circuit breaker open",
        ][self as usize]
    }
}

/// How `check_anomaly_robust` sets its threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Robust {
    /// `max(median, min_baseline) + z_threshold * max(MAD, min_mad) / 0.6745`.
    Mad {
        /// Robust z-score above which the newest point is a spike.
        z_threshold: f64,
        /// Floor on the median absolute deviation.
        min_mad: f64,
    },
    /// `max(quantile(history, percentile), min_baseline)`.
    Percentile {
        /// The quantile of the history, in (0, 1).
        percentile: f64,
    },
}

/// A series check with validated parameters, applicable to any number of series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeriesCheck {
    /// Newest point above `max(mean, min_baseline) * spike_multiplier`.
    Spike {
        /// Must be > 1.
        spike_multiplier: f64,
        /// Floor on the baseline, >= 0.
        min_baseline: f64,
    },
    /// Newest point above a median/MAD or percentile threshold.
    Robust {
        /// MAD or percentile.
        method: Robust,
        /// Floor on the baseline location, >= 0.
        min_baseline: f64,
    },
}

/// Python's `sum()` of floats (CPython 3.12+): Neumaier's compensated summation.
pub fn python_sum(values: &[f64]) -> f64 {
    let (mut sum, mut compensation) = (0.0f64, 0.0f64);
    for &x in values {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            compensation += (sum - t) + x;
        } else {
            compensation += (x - t) + sum;
        }
        sum = t;
    }
    if compensation != 0.0 && compensation.is_finite() {
        sum += compensation;
    }
    sum
}

fn positive(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be > 0", value))
    }
}

fn non_negative(param: &'static str, value: f64) -> Result<f64, Error> {
    if value >= 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be >= 0", value))
    }
}

fn above_one(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 1.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be > 1.0", value))
    }
}

fn in_open_unit(param: &'static str, value: f64) -> Result<f64, Error> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(Error::bad(param, "must be in (0, 1)", value))
    }
}

/// Checks `warning_ratio` is in (0, 1].
pub fn check_warning_ratio(warning_ratio: f64) -> Result<f64, Error> {
    if warning_ratio > 0.0 && warning_ratio <= 1.0 {
        Ok(warning_ratio)
    } else {
        Err(Error::bad(
            "warning_ratio",
            "must be in (0, 1]",
            warning_ratio,
        ))
    }
}

/// `check_budget` for one value, validating in the peer's order.
pub fn check_budget(
    current_spend: f64,
    budget_limit: f64,
    warning_ratio: f64,
) -> Result<Budget, Error> {
    positive("budget_limit", budget_limit)?;
    check_warning_ratio(warning_ratio)?;
    non_negative("current_spend", current_spend)?;
    Ok(budget(current_spend, budget_limit, warning_ratio))
}

#[inline(always)]
fn budget(current_spend: f64, budget_limit: f64, warning_ratio: f64) -> Budget {
    let usage_ratio = current_spend / budget_limit;
    Budget {
        usage_ratio,
        remaining_budget: budget_limit - current_spend,
        is_warning: usage_ratio >= warning_ratio,
        is_breached: current_spend >= budget_limit,
    }
}

/// Output columns of [`check_budget_batch`], one element per row.
pub struct BudgetColumns<'a> {
    /// See [`Budget::usage_ratio`].
    pub usage_ratio: &'a mut [f64],
    /// See [`Budget::remaining_budget`].
    pub remaining_budget: &'a mut [f64],
    /// See [`Budget::is_warning`].
    pub is_warning: &'a mut [bool],
    /// See [`Budget::is_breached`].
    pub is_breached: &'a mut [bool],
}

/// Value `i` of a column that is either one value for all rows or one per row.
#[inline(always)]
fn at<T: Copy>(column: &[T], i: usize) -> T {
    if column.len() == 1 {
        column[0]
    } else {
        column[i]
    }
}

/// Checks that every column holds one value or `rows` values.
fn check_lengths(rows: usize, columns: &[(&'static str, usize)]) -> Result<(), Error> {
    for &(param, len) in columns {
        if len != 1 && len != rows {
            return Err(Error::bad(
                param,
                format!("must hold 1 or {rows} values"),
                len,
            ));
        }
    }
    Ok(())
}

/// Whether every element passes `valid`, in a branch-free pass the compiler vectorizes.
#[inline(always)]
fn all_valid(column: &[f64], valid: fn(f64) -> bool) -> bool {
    column.iter().fold(true, |ok, &v| ok & valid(v))
}

/// The first element of `column` failing `valid`, as `check`'s error at that index; the
/// position is searched only when [`all_valid`] finds something wrong.
fn first_bad(
    column: &[f64],
    valid: fn(f64) -> bool,
    check: impl Fn(f64) -> Result<f64, Error>,
) -> Result<(), Error> {
    if all_valid(column, valid) {
        return Ok(());
    }
    let i = column
        .iter()
        .position(|&v| !valid(v))
        .expect("one is invalid");
    Err(check(column[i]).unwrap_err().at(i))
}

#[inline(always)]
fn is_positive(v: f64) -> bool {
    v > 0.0 && v < f64::INFINITY
}

#[inline(always)]
fn is_non_negative(v: f64) -> bool {
    (0.0..f64::INFINITY).contains(&v)
}

columns!(BudgetColumns {
    usage_ratio,
    remaining_budget,
    is_warning,
    is_breached
});

/// `check_budget` over rows: `budget_limit` holds one value or one per row.
pub fn check_budget_batch(
    current_spend: &[f64],
    budget_limit: &[f64],
    warning_ratio: f64,
    out: BudgetColumns<'_>,
) -> Result<(), Error> {
    let rows = out.equal_rows()?;
    if current_spend.len() != rows {
        return Err(Error::bad(
            "current_spend",
            format!("must hold {rows} values"),
            current_spend.len(),
        ));
    }
    check_lengths(rows, &[("budget_limit", budget_limit.len())])?;
    // The first error in the peer's order, searched only once something is wrong.
    let first_error = || -> Result<(), Error> {
        first_bad(budget_limit, is_positive, |v| positive("budget_limit", v))?;
        check_warning_ratio(warning_ratio)?;
        first_bad(current_spend, is_non_negative, |v| {
            non_negative("current_spend", v)
        })
    };
    if check_warning_ratio(warning_ratio).is_err() {
        return first_error();
    }
    // Each piece is validated and filled while it is in cache.
    let fill = |out: BudgetColumns<'_>, first: usize| {
        let spend = &current_spend[first..first + out.rows()];
        let limits = piece(budget_limit, first..first + spend.len());
        budget_piece(spend, limits, warning_ratio, out)
    };
    par_fill_checked(out, POINTS_PER_TASK, &fill, first_error)
}

simd::widest! {
    /// Validates a piece of a budget batch and, if every row is valid, fills `out`; `limits`
    /// holds one value or one per row.
    fn budget_piece(
        spend: &[f64],
        limits: &[f64],
        warning_ratio: f64,
        out: BudgetColumns<'_>,
    ) -> bool {
        let valid = all_valid(spend, is_non_negative) & all_valid(limits, is_positive);
        if valid {
            fill_budgets(spend, limits, warning_ratio, out);
        }
        valid
    }
}

/// [`budget`]'s figures for rows of valid input; `limits` holds one value or one per row.
#[inline(always)]
fn fill_budgets(spend: &[f64], limits: &[f64], warning_ratio: f64, out: BudgetColumns<'_>) {
    let mut write = |k: usize, checked: Budget| {
        out.usage_ratio[k] = checked.usage_ratio;
        out.remaining_budget[k] = checked.remaining_budget;
        out.is_warning[k] = checked.is_warning;
        out.is_breached[k] = checked.is_breached;
    };
    if let [limit] = *limits {
        for (k, &spend) in spend.iter().enumerate() {
            write(k, budget(spend, limit, warning_ratio));
        }
    } else {
        for (k, (&spend, &limit)) in spend.iter().zip(limits).enumerate() {
            write(k, budget(spend, limit, warning_ratio));
        }
    }
}

/// `forecast_budget_breach` for one value, validating in the peer's order.
pub fn forecast_budget_breach(
    current_spend: f64,
    budget_limit: f64,
    periods_elapsed: i64,
    total_periods: i64,
) -> Result<Forecast, Error> {
    non_negative("current_spend", current_spend)?;
    positive("budget_limit", budget_limit)?;
    check_periods(periods_elapsed, total_periods)?;
    Ok(forecast(
        current_spend,
        budget_limit,
        periods_elapsed,
        total_periods,
    ))
}

fn check_periods(periods_elapsed: i64, total_periods: i64) -> Result<(), Error> {
    if periods_elapsed <= 0 {
        return Err(Error::bad(
            "periods_elapsed",
            "must be > 0",
            periods_elapsed,
        ));
    }
    if total_periods <= 0 {
        return Err(Error::bad("total_periods", "must be > 0", total_periods));
    }
    if periods_elapsed > total_periods {
        return Err(Error::bad(
            "periods_elapsed",
            format!("must be <= total_periods ({total_periods})"),
            periods_elapsed,
        ));
    }
    Ok(())
}

#[inline(always)]
fn forecast(
    current_spend: f64,
    budget_limit: f64,
    periods_elapsed: i64,
    total_periods: i64,
) -> Forecast {
    let projected = (current_spend / periods_elapsed as f64) * total_periods as f64;
    Forecast {
        projected_total_spend: projected,
        projected_overrun: (projected - budget_limit).max(0.0),
        will_breach: projected >= budget_limit,
    }
}

/// Output columns of [`forecast_batch`].
pub struct ForecastColumns<'a> {
    /// See [`Forecast::projected_total_spend`].
    pub projected_total_spend: &'a mut [f64],
    /// See [`Forecast::projected_overrun`].
    pub projected_overrun: &'a mut [f64],
    /// See [`Forecast::will_breach`].
    pub will_breach: &'a mut [bool],
}

columns!(ForecastColumns {
    projected_total_spend,
    projected_overrun,
    will_breach
});

/// `forecast_budget_breach` over rows; every input column holds one value or one per row.
pub fn forecast_batch(
    current_spend: &[f64],
    budget_limit: &[f64],
    periods_elapsed: &[i64],
    total_periods: &[i64],
    out: ForecastColumns<'_>,
) -> Result<(), Error> {
    let rows = out.equal_rows()?;
    check_lengths(
        rows,
        &[
            ("current_spend", current_spend.len()),
            ("budget_limit", budget_limit.len()),
            ("periods_elapsed", periods_elapsed.len()),
            ("total_periods", total_periods.len()),
        ],
    )?;
    // The first bad row, each checked in the peer's order; searched only if a piece fails.
    let first_error = || -> Result<(), Error> {
        for i in 0..rows {
            non_negative("current_spend", at(current_spend, i))
                .and_then(|_| positive("budget_limit", at(budget_limit, i)))
                .and_then(|_| check_periods(at(periods_elapsed, i), at(total_periods, i)))
                .map_err(|e| e.at(i))?;
        }
        Ok(())
    };
    let fill = |out: ForecastColumns<'_>, first: usize| {
        let rows = first..first + out.rows();
        let (spend, limits) = (
            piece(current_spend, rows.clone()),
            piece(budget_limit, rows.clone()),
        );
        let (elapsed, total) = (
            piece(periods_elapsed, rows.clone()),
            piece(total_periods, rows),
        );
        forecast_piece(spend, limits, elapsed, total, out)
    };
    par_fill_checked(out, POINTS_PER_TASK, &fill, first_error)
}

/// The `rows` of a column that holds one value for all rows or one per row.
fn piece<T>(column: &[T], rows: std::ops::Range<usize>) -> &[T] {
    match column {
        [_] => column,
        _ => &column[rows],
    }
}

simd::widest! {
    /// Validates a piece of a forecast batch and, if every row is valid, fills `out`; each
    /// input holds one value or one per row.
    fn forecast_piece(
        spend: &[f64],
        limits: &[f64],
        elapsed: &[i64],
        total: &[i64],
        out: ForecastColumns<'_>,
    ) -> bool {
        let rows = out.rows();
        let mut valid = all_valid(spend, is_non_negative) & all_valid(limits, is_positive);
        for k in 0..elapsed.len().max(total.len()) {
            let (e, t) = (at(elapsed, k), at(total, k));
            valid &= (e > 0) & (t > 0) & (e <= t);
        }
        if !valid {
            return false;
        }
        let mut write = |k: usize, f: Forecast| {
            out.projected_total_spend[k] = f.projected_total_spend;
            out.projected_overrun[k] = f.projected_overrun;
            out.will_breach[k] = f.will_breach;
        };
        // One period for every row, as a month's forecast has, gets loops that vectorize.
        match (limits, elapsed, total) {
            ([limit], [e], [t]) if spend.len() == rows => {
                for (k, &s) in spend.iter().enumerate() {
                    write(k, forecast(s, *limit, *e, *t));
                }
            }
            (_, [e], [t]) if spend.len() == rows && limits.len() == rows => {
                for (k, (&s, &limit)) in spend.iter().zip(limits).enumerate() {
                    write(k, forecast(s, limit, *e, *t));
                }
            }
            _ => {
                for k in 0..rows {
                    write(k, forecast(at(spend, k), at(limits, k), at(elapsed, k), at(total, k)));
                }
            }
        }
        true
    }
}

/// `evaluate_circuit_breaker` for one set of counters, validating in the peer's order.
pub fn evaluate_circuit_breaker(
    consecutive_failures: i64,
    failure_threshold: i64,
    cooldown_steps_remaining: i64,
) -> Result<Breaker, Error> {
    if consecutive_failures < 0 {
        return Err(Error::bad(
            "consecutive_failures",
            "must be >= 0",
            consecutive_failures,
        ));
    }
    if failure_threshold <= 0 {
        return Err(Error::bad(
            "failure_threshold",
            "must be > 0",
            failure_threshold,
        ));
    }
    if cooldown_steps_remaining < 0 {
        return Err(Error::bad(
            "cooldown_steps_remaining",
            "must be >= 0",
            cooldown_steps_remaining,
        ));
    }
    let is_open = consecutive_failures >= failure_threshold || cooldown_steps_remaining > 0;
    Ok(Breaker {
        is_open,
        allow_operation: !is_open,
        retry_after_steps: if is_open { cooldown_steps_remaining } else { 0 },
    })
}

/// Output columns of [`breaker_batch`].
pub struct BreakerColumns<'a> {
    /// See [`Breaker::is_open`].
    pub is_open: &'a mut [bool],
    /// See [`Breaker::allow_operation`].
    pub allow_operation: &'a mut [bool],
    /// See [`Breaker::retry_after_steps`].
    pub retry_after_steps: &'a mut [i64],
}

columns!(BreakerColumns {
    is_open,
    allow_operation,
    retry_after_steps
});

/// `evaluate_circuit_breaker` over rows; each input holds one value or one per row.
pub fn breaker_batch(
    consecutive_failures: &[i64],
    failure_threshold: &[i64],
    cooldown_steps_remaining: &[i64],
    out: BreakerColumns<'_>,
) -> Result<(), Error> {
    let rows = out.equal_rows()?;
    check_lengths(
        rows,
        &[
            ("consecutive_failures", consecutive_failures.len()),
            ("failure_threshold", failure_threshold.len()),
            ("cooldown_steps_remaining", cooldown_steps_remaining.len()),
        ],
    )?;
    let decision = |i: usize| {
        evaluate_circuit_breaker(
            at(consecutive_failures, i),
            at(failure_threshold, i),
            at(cooldown_steps_remaining, i),
        )
        .map_err(|e| e.at(i))
    };
    for i in 0..rows {
        decision(i)?;
    }
    par_fill(
        out,
        0,
        POINTS_PER_TASK,
        &|out: BreakerColumns<'_>, first: usize| {
            for k in 0..out.rows() {
                let d = decision(first + k).expect("validated above");
                out.is_open[k] = d.is_open;
                out.allow_operation[k] = d.allow_operation;
                out.retry_after_steps[k] = d.retry_after_steps;
            }
        },
    );
    Ok(())
}

/// [`decide`] over rows of the four flags, as action codes (`Action as u8`).
pub fn decide_batch(
    is_breached: &[bool],
    is_open: &[bool],
    is_warning: &[bool],
    is_spike: &[bool],
) -> Result<Vec<u8>, Error> {
    let rows = is_breached.len();
    check_lengths(
        rows,
        &[
            ("is_open", is_open.len()),
            ("is_warning", is_warning.len()),
            ("is_spike", is_spike.len()),
        ],
    )?;
    let flag = |column: &[bool], i: usize| {
        if column.len() == 1 {
            column[0]
        } else {
            column[i]
        }
    };
    Ok((0..rows)
        .map(|i| {
            decide(
                is_breached[i],
                flag(is_open, i),
                flag(is_warning, i),
                flag(is_spike, i),
            ) as u8
        })
        .collect())
}

/// The policy action for one row: block on a breach or an open breaker, throttle on a warning
/// or a spike, else allow.
pub fn decide(is_breached: bool, is_open: bool, is_warning: bool, is_spike: bool) -> Action {
    if is_breached || is_open {
        Action::Block
    } else if is_warning || is_spike {
        Action::Throttle
    } else {
        Action::Allow
    }
}

impl SeriesCheck {
    /// `check_anomaly_spike`'s parameters, validated in the peer's order.
    pub fn spike(spike_multiplier: f64, min_baseline: f64) -> Result<Self, Error> {
        above_one("spike_multiplier", spike_multiplier)?;
        non_negative("min_baseline", min_baseline)?;
        Ok(SeriesCheck::Spike {
            spike_multiplier,
            min_baseline,
        })
    }

    /// `check_anomaly_robust`'s parameters, validated in the peer's order.
    pub fn robust(method: Robust, min_baseline: f64) -> Result<Self, Error> {
        non_negative("min_baseline", min_baseline)?;
        match method {
            Robust::Mad {
                z_threshold,
                min_mad,
            } => {
                positive("z_threshold", z_threshold)?;
                non_negative("min_mad", min_mad)?;
            }
            Robust::Percentile { percentile } => {
                in_open_unit("percentile", percentile)?;
            }
        }
        Ok(SeriesCheck::Robust {
            method,
            min_baseline,
        })
    }

    /// The check on one validated series (at least two finite points >= 0, newest last).
    /// `scratch` is reused across series to avoid allocating.
    pub fn apply(&self, series: &[f64], scratch: &mut Vec<u64>) -> Anomaly {
        let (&latest_spend, history) = series.split_last().expect("validated: at least 2 points");
        if self.needs_sorted() {
            load_keys(scratch, history.iter().copied());
            scratch.sort_unstable();
        }
        self.judge(
            latest_spend,
            || python_sum(history) / history.len() as f64,
            &Sorted(scratch),
        )
    }

    /// Whether the check reads the history's sorted keys (robust checks) or only its mean.
    fn needs_sorted(&self) -> bool {
        matches!(self, SeriesCheck::Robust { .. })
    }

    /// The check of `latest_spend` against a history known by its mean (computed only if
    /// needed) and, for robust checks, its values in order. Shared by one-off and rolling
    /// checks.
    fn judge(
        &self,
        latest_spend: f64,
        mean: impl FnOnce() -> f64,
        history: &impl Ordered,
    ) -> Anomaly {
        let (baseline, threshold) = match *self {
            SeriesCheck::Spike {
                spike_multiplier,
                min_baseline,
            } => {
                let mean = mean();
                (mean, mean.max(min_baseline) * spike_multiplier)
            }
            SeriesCheck::Robust {
                method:
                    Robust::Mad {
                        z_threshold,
                        min_mad,
                    },
                min_baseline,
            } => {
                let median = median_of(history);
                let mad = mad_of(history, median).max(min_mad);
                let sigma = if mad > 0.0 { mad / 0.6745 } else { 0.0 };
                (median, median.max(min_baseline) + z_threshold * sigma)
            }
            SeriesCheck::Robust {
                method: Robust::Percentile { percentile },
                min_baseline,
            } => {
                let location = quantile_of(history, percentile);
                (location, location.max(min_baseline))
            }
        };
        Anomaly {
            latest_spend,
            baseline_mean: baseline,
            threshold,
            is_spike: latest_spend > threshold,
        }
    }
}

/// Fills `keys` with the bit patterns of finite values >= 0, which order like the values
/// (`+ 0.0` turns a `-0.0` into `0.0`), so selection compares integers.
fn load_keys(keys: &mut Vec<u64>, values: impl Iterator<Item = f64>) {
    keys.clear();
    keys.extend(values.map(|v| (v + 0.0).to_bits()));
}

fn key(k: u64) -> f64 {
    f64::from_bits(k)
}

/// A multiset of finite values >= 0 that can be read in ascending order: the sorted keys of
/// a one-off check, or the sliding window of a rolling check.
trait Ordered {
    /// Number of values.
    fn len(&self) -> usize;
    /// The `i`-th smallest value (from 0).
    fn nth(&self, i: usize) -> f64;
    /// How many values are below `x`.
    fn count_below(&self, x: f64) -> usize;
}

/// Sorted keys (see [`load_keys`]).
struct Sorted<'a>(&'a [u64]);

impl Ordered for Sorted<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn nth(&self, i: usize) -> f64 {
        key(self.0[i])
    }

    fn count_below(&self, x: f64) -> usize {
        self.0.partition_point(|&k| key(k) < x)
    }
}

/// The first `len` values of one lane of a block sorted by [`network::sort`].
struct SortedLane<'a> {
    block: &'a network::Block,
    lane: usize,
    len: usize,
}

impl Ordered for SortedLane<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn nth(&self, i: usize) -> f64 {
        self.block[i][self.lane]
    }

    fn count_below(&self, x: f64) -> usize {
        let (mut low, mut high) = (0, self.len);
        while low < high {
            let mid = (low + high) / 2;
            if self.nth(mid) < x {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }
}

/// The median, as the peer computes it from its sorted list.
fn median_of(values: &impl Ordered) -> f64 {
    let n = values.len();
    let mid = n / 2;
    if n % 2 == 1 {
        values.nth(mid)
    } else {
        (values.nth(mid - 1) + values.nth(mid)) / 2.0
    }
}

/// The median of `|v - median|`, without computing and sorting every deviation. The
/// deviations of the values below the median ascend walking down from it (run `below`), those
/// of the others ascend walking up (run `above`); the `t` smallest deviations are the first
/// `a` of `below` and `t - a` of `above` for the one `a` that a binary search finds, so this
/// reads O(log n) values. `|v - m|` and `m - v` are the same float, so this is the peer's
/// figure to the bit.
fn mad_of(values: &impl Ordered, median: f64) -> f64 {
    let n = values.len();
    let split = values.count_below(median);
    let below = |i: usize| median - values.nth(split - 1 - i);
    let above = |j: usize| values.nth(split + j) - median;
    let t = n / 2;
    let (mut lo, mut hi) = (t.saturating_sub(n - split), t.min(split));
    while lo < hi {
        let a = (lo + hi) / 2;
        if below(a) < above(t - a - 1) {
            lo = a + 1;
        } else {
            hi = a;
        }
    }
    let a = lo;
    let b = t - a;
    let pick = |x: Option<f64>, y: Option<f64>, f: fn(f64, f64) -> f64| match (x, y) {
        (Some(x), Some(y)) => f(x, y),
        (x, y) => x.or(y).expect("n >= 1"),
    };
    let middle = pick(
        (a < split).then(|| below(a)),
        (b < n - split).then(|| above(b)),
        f64::min,
    );
    if n % 2 == 1 {
        middle
    } else {
        let previous = pick(
            (a > 0).then(|| below(a - 1)),
            (b > 0).then(|| above(b - 1)),
            f64::max,
        );
        (previous + middle) / 2.0
    }
}

/// The peer's linear-interpolation quantile.
fn quantile_of(values: &impl Ordered, p: f64) -> f64 {
    let n = values.len();
    if n == 1 {
        return values.nth(0);
    }
    let rank = p * (n - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    if lo == hi {
        values.nth(lo)
    } else {
        let low = values.nth(lo);
        low + (rank - lo as f64) * (values.nth(hi) - low)
    }
}

/// `check_burn_rate`'s parameter, validated.
pub fn check_hot_multiplier(hot_multiplier: f64) -> Result<f64, Error> {
    above_one("hot_multiplier", hot_multiplier)
}

/// `check_burn_rate` on one validated series.
pub fn burn(series: &[f64], hot_multiplier: f64) -> Burn {
    let (&latest_spend, history) = series.split_last().expect("validated: at least 2 points");
    burn_of(
        latest_spend,
        python_sum(history) / history.len() as f64,
        hot_multiplier,
    )
}

/// The burn figures of `latest_spend` against a history averaging `average_spend`.
fn burn_of(latest_spend: f64, average_spend: f64, hot_multiplier: f64) -> Burn {
    let burn_rate_ratio = if average_spend == 0.0 {
        if latest_spend > 0.0 {
            f64::INFINITY
        } else {
            1.0
        }
    } else {
        latest_spend / average_spend
    };
    Burn {
        latest_spend,
        average_spend,
        burn_rate_ratio,
        is_hot: burn_rate_ratio >= hot_multiplier,
    }
}

/// A batch of series: `rows` series of `width` points each (newest last), row-major. Each row
/// is its first `lengths[i]` points when `lengths` is given; otherwise its points without
/// leading and trailing NaN (padding). A NaN between values, a negative or infinite value, or
/// fewer than two points is an error naming `spend_series` and the first bad position.
///
/// Construction checks the shape only. The kernels check each row as they read it, so the
/// points are read once (the batch is usually larger than the caches), and on a bad row
/// return [`SeriesBatch::validate`]'s error: the first bad row's, however the work was split.
#[derive(Debug, Clone, Copy)]
pub struct SeriesBatch<'a> {
    values: &'a [f64],
    width: usize,
    lengths: Option<&'a [i64]>,
    /// One series given as a 1-D array: errors name `spend_series[col]`, not `[0, col]`.
    single: bool,
}

impl<'a> SeriesBatch<'a> {
    /// Wraps `values` (`rows * width` points) and, optionally, one length per row.
    pub fn new(values: &'a [f64], width: usize, lengths: Option<&'a [i64]>) -> Result<Self, Error> {
        if width == 0 || values.len() % width != 0 {
            return Err(Error::invalid(
                "spend_series",
                format!("must be rows of equal width; got {} values", values.len()),
            ));
        }
        let rows = values.len() / width;
        if let Some(lengths) = lengths {
            if lengths.len() != rows {
                return Err(Error::bad(
                    "lengths",
                    format!("must hold one length per series ({rows})"),
                    lengths.len(),
                ));
            }
            if let Some(i) = lengths.iter().position(|&n| n < 2 || n as usize > width) {
                return Err(
                    Error::bad("lengths", format!("must be in [2, {width}]"), lengths[i]).at(i),
                );
            }
        }
        Ok(SeriesBatch {
            values,
            width,
            lengths,
            single: false,
        })
    }

    /// One series (a 1-D array): a batch of one whose errors name 1-D positions.
    pub fn single(values: &'a [f64]) -> Self {
        let width = values.len().max(1);
        SeriesBatch {
            values,
            width,
            lengths: None,
            single: true,
        }
    }

    /// Checks every series, in parallel; the error is always the first bad series'.
    pub fn validate(&self) -> Result<(), Error> {
        use rayon::prelude::*;
        let bad = (0..self.rows())
            .into_par_iter()
            .with_min_len(self.rows_per_task())
            .find_first(|&row| self.row(row).is_err());
        match bad {
            Some(row) => Err(self.row(row).unwrap_err()),
            None => Ok(()),
        }
    }

    /// Fills `out` with `fill(piece, first_row)` on pieces of at most [`Self::rows_per_task`]
    /// rows, in parallel. `fill` reads rows with [`Self::row`] and returns `false` at the first
    /// bad one; then the result is the batch's first error, and `out` is not to be read.
    fn fill_checked<C: Columns>(
        &self,
        out: C,
        fill: &(impl Fn(C, usize) -> bool + Sync),
    ) -> Result<(), Error> {
        if out.rows() != self.rows() {
            return Err(Error::bad(
                "out",
                format!("must hold {} rows", self.rows()),
                out.rows(),
            ));
        }
        par_fill_checked(out, self.rows_per_task(), fill, || self.validate())
    }

    /// Series `row` without its padding, and where it starts in the row (not validated).
    fn trimmed(&self, row: usize) -> (usize, &'a [f64]) {
        let full = &self.values[row * self.width..(row + 1) * self.width];
        match self.lengths {
            Some(lengths) => (0, &full[..lengths[row] as usize]),
            None => {
                let start = full.iter().position(|v| !v.is_nan()).unwrap_or(full.len());
                let end = full
                    .iter()
                    .rposition(|v| !v.is_nan())
                    .map_or(start, |e| e + 1);
                (start, &full[start..end])
            }
        }
    }

    /// Series per task when the batch is split across threads.
    fn rows_per_task(&self) -> usize {
        (POINTS_PER_TASK / self.width).max(1)
    }

    /// Number of series.
    pub fn rows(&self) -> usize {
        self.values.len() / self.width
    }

    /// Series `row`, validated.
    pub fn row(&self, row: usize) -> Result<&'a [f64], Error> {
        let (start, series) = self.trimmed(row);
        let valid = |v: f64| (0.0..f64::INFINITY).contains(&v);
        // A branch-free pass over the whole row, so the compiler can vectorize it; the
        // position is looked for only when something is wrong.
        if !series.iter().fold(true, |ok, &v| ok & valid(v)) {
            let i = series
                .iter()
                .position(|&v| !valid(v))
                .expect("a point is invalid");
            let v = series[i];
            let error = if v.is_nan() {
                Error::invalid(
                    "spend_series",
                    "is NaN between values (padding goes first or last)",
                )
            } else {
                Error::bad("spend_series", "must be a finite value >= 0", v)
            };
            let col = start + i;
            let index = if self.single {
                vec![col]
            } else {
                vec![row, col]
            };
            return Err(Error { index, ..error });
        }
        if series.len() < 2 {
            let which = if self.single {
                String::new()
            } else {
                format!("; series {row} has {}", series.len())
            };
            return Err(Error::invalid(
                "spend_series",
                format!("must contain at least 2 points{which}"),
            ));
        }
        Ok(series)
    }
}

/// Output columns of a batch series check.
pub struct AnomalyColumns<'a> {
    /// See [`Anomaly::latest_spend`].
    pub latest_spend: &'a mut [f64],
    /// See [`Anomaly::baseline_mean`].
    pub baseline_mean: &'a mut [f64],
    /// See [`Anomaly::threshold`].
    pub threshold: &'a mut [f64],
    /// See [`Anomaly::is_spike`].
    pub is_spike: &'a mut [bool],
}

columns!(AnomalyColumns {
    latest_spend,
    baseline_mean,
    threshold,
    is_spike
});

/// A series check over every series of a batch.
pub fn anomaly_batch(
    check: &SeriesCheck,
    batch: &SeriesBatch<'_>,
    out: AnomalyColumns<'_>,
) -> Result<(), Error> {
    out.equal_rows()?;
    batch.fill_checked(out, &|mut out: AnomalyColumns<'_>, first: usize| {
        if check.needs_sorted() && batch.width <= network::WIDTH + 1 {
            return robust_by_network(check, batch, &mut out, first);
        }
        let mut scratch = Vec::with_capacity(batch.width);
        for k in 0..out.rows() {
            let Ok(series) = batch.row(first + k) else {
                return false;
            };
            out.write(k, check.apply(series, &mut scratch));
        }
        true
    })
}

impl AnomalyColumns<'_> {
    fn write(&mut self, row: usize, a: Anomaly) {
        self.latest_spend[row] = a.latest_spend;
        self.baseline_mean[row] = a.baseline_mean;
        self.threshold[row] = a.threshold;
        self.is_spike[row] = a.is_spike;
    }
}

/// A robust check of series whose histories fit the sorting network, [`network::LANES`] at a
/// time: the same figures as [`SeriesCheck::apply`], about twice as fast on 30-point series.
/// `false` at the first bad row.
fn robust_by_network(
    check: &SeriesCheck,
    batch: &SeriesBatch<'_>,
    out: &mut AnomalyColumns<'_>,
    first: usize,
) -> bool {
    let mut block: network::Block = [[0.0; network::LANES]; network::WIDTH];
    for group in (0..out.rows()).step_by(network::LANES) {
        let lanes = network::LANES.min(out.rows() - group);
        let mut latest = [0.0; network::LANES];
        let mut lengths = [0; network::LANES];
        for lane in 0..network::LANES {
            let history = if lane < lanes {
                let Ok(series) = batch.row(first + group + lane) else {
                    return false;
                };
                let (&last, history) = series.split_last().expect("checked: at least 2 points");
                latest[lane] = last;
                history
            } else {
                &[]
            };
            lengths[lane] = history.len();
            for (i, row) in block.iter_mut().enumerate() {
                // `+ 0.0` turns a `-0.0` into `0.0`, as `load_keys` does.
                row[lane] = history.get(i).map_or(f64::INFINITY, |v| v + 0.0);
            }
        }
        network::sort(&mut block, lengths.iter().copied().max().unwrap_or(0));
        for lane in 0..lanes {
            let history = SortedLane {
                block: &block,
                lane,
                len: lengths[lane],
            };
            let mean = || unreachable!("robust checks do not read the mean");
            out.write(group + lane, check.judge(latest[lane], mean, &history));
        }
    }
    true
}

/// Output columns of [`burn_batch`].
pub struct BurnColumns<'a> {
    /// See [`Burn::latest_spend`].
    pub latest_spend: &'a mut [f64],
    /// See [`Burn::average_spend`].
    pub average_spend: &'a mut [f64],
    /// See [`Burn::burn_rate_ratio`].
    pub burn_rate_ratio: &'a mut [f64],
    /// See [`Burn::is_hot`].
    pub is_hot: &'a mut [bool],
}

columns!(BurnColumns {
    latest_spend,
    average_spend,
    burn_rate_ratio,
    is_hot
});

/// `check_burn_rate` over every series of a batch.
pub fn burn_batch(
    batch: &SeriesBatch<'_>,
    hot_multiplier: f64,
    out: BurnColumns<'_>,
) -> Result<(), Error> {
    out.equal_rows()?;
    batch.fill_checked(out, &|out: BurnColumns<'_>, first: usize| {
        for k in 0..out.rows() {
            let Ok(series) = batch.row(first + k) else {
                return false;
            };
            let b = burn(series, hot_multiplier);
            out.latest_spend[k] = b.latest_spend;
            out.average_spend[k] = b.average_spend;
            out.burn_rate_ratio[k] = b.burn_rate_ratio;
            out.is_hot[k] = b.is_hot;
        }
        true
    })
}

#[cfg(all(test, not(loom)))]
mod tests {
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
        assert_eq!(err.to_string(), "current_spend must hold 3 values; got 4");
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
        let batch = SeriesBatch::new(values, width, None).unwrap();
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
        let batch = SeriesBatch::new(&values, 4, None).unwrap();
        assert_eq!(batch.row(0).unwrap(), &[1.0, 2.0, 9.0]);
        assert_eq!(batch.row(1).unwrap(), &[3.0, 4.0, 5.0]);
        let batch = SeriesBatch::new(&values[4..], 4, Some(&[2])).unwrap();
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
        let err = SeriesBatch::new(&values, 4, Some(&[2, 5])).unwrap_err();
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
            let batch = SeriesBatch::new(&values, width, Some(&lengths)).unwrap();
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
        let batch = SeriesBatch::new(&values, width, None).unwrap();
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
}

/// What a rolling check computes at each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RollingCheck {
    /// A spike check ([`SeriesCheck`]) against the previous `window` points.
    Anomaly(SeriesCheck),
    /// `check_burn_rate` against the previous `window` points.
    Burn {
        /// Must be > 1.
        hot_multiplier: f64,
    },
}

/// Output of [`rolling_batch`]: one value per point of every series (rows × width, row-major).
/// Points without `window` earlier points, and padding, hold NaN and `false`.
pub struct RollingColumns<'a> {
    /// Points per row.
    pub width: usize,
    /// The baseline (mean, median or percentile) of the previous `window` points.
    pub baseline: &'a mut [f64],
    /// The threshold the point had to exceed (spike checks) or its burn-rate ratio (burn).
    pub level: &'a mut [f64],
    /// Spike (or hot) at this point.
    pub flag: &'a mut [bool],
}

impl Columns for RollingColumns<'_> {
    fn rows(&self) -> usize {
        self.flag.len() / self.width.max(1)
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let cut = mid * self.width;
        let (b0, b1) = self.baseline.split_at_mut(cut);
        let (l0, l1) = self.level.split_at_mut(cut);
        let (f0, f1) = self.flag.split_at_mut(cut);
        let width = self.width;
        (
            RollingColumns {
                width,
                baseline: b0,
                level: l0,
                flag: f0,
            },
            RollingColumns {
                width,
                baseline: b1,
                level: l1,
                flag: f1,
            },
        )
    }
}

/// Neumaier's compensated sum (as [`python_sum`]), kept as its running pair.
#[derive(Default, Clone, Copy)]
struct Compensated {
    sum: f64,
    compensation: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() {
            (self.sum - t) + x
        } else {
            (x - t) + self.sum
        };
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The sum of a sliding window of `k` points without ever subtracting (a running sum that
/// subtracts loses small windows after large values). Windows start at block `b` of `k`
/// points: each is a suffix of block `b`, summed once per block, plus a prefix of block
/// `b + 1`, summed as it arrives. O(1) a step, and the sum of the window's own points only.
#[derive(Default)]
struct WindowSum {
    suffixes: Vec<Compensated>,
    prefix: Compensated,
}

impl WindowSum {
    /// Starts a block: `block` is the next window, the suffix sums are taken afresh.
    fn start_block(&mut self, block: &[f64]) {
        self.suffixes.clear();
        let mut sum = Compensated::default();
        for &x in block.iter().rev() {
            sum.add(x);
            self.suffixes.push(sum);
        }
        self.suffixes.reverse();
        self.prefix = Compensated::default();
    }

    /// The window `step` points into the block.
    fn value(&self, step: usize) -> f64 {
        let mut sum = self.suffixes[step];
        sum.add(self.prefix.sum);
        sum.compensation += self.prefix.compensation;
        sum.value()
    }

    /// A point enters (the window's first leaves with the next `step`).
    fn push(&mut self, x: f64) {
        self.prefix.add(x);
    }
}

/// Checks a rolling window length.
pub fn check_window(window: i64) -> Result<usize, Error> {
    if window >= 1 {
        Ok(window as usize)
    } else {
        Err(Error::bad("window", "must be >= 1", window))
    }
}

/// A rolling check over every series of a batch: at each point with at least
/// `window` earlier points, the check of that point against the previous `window` points,
/// exactly as the scalar check of that slice gives it (means within an ulp or two: the
/// window's points are summed in another order, see [`WindowSum`]). Means cost O(1) a step; medians and percentiles O(log k), MADs
/// O(log² k) (see [`RankWindow`]).
pub fn rolling_batch(
    check: &RollingCheck,
    batch: &SeriesBatch<'_>,
    window: usize,
    out: RollingColumns<'_>,
) -> Result<(), Error> {
    // The rolling work per point dwarfs a separate validation pass.
    batch.validate()?;
    let width = batch.width;
    let keep_ordered = matches!(check, RollingCheck::Anomaly(c) if c.needs_sorted());
    par_fill(
        out,
        0,
        batch.rows_per_task(),
        &|out: RollingColumns<'_>, first: usize| {
            out.baseline.fill(f64::NAN);
            out.level.fill(f64::NAN);
            out.flag.fill(false);
            let mut ordered = RankWindow::default();
            for k in 0..out.rows() {
                let (start, series) = batch.trimmed(first + k);
                let base = k * width + start;
                let mut sum = WindowSum::default();
                for t in window..series.len() {
                    let step = (t - window) % window;
                    if step == 0 {
                        sum.start_block(&series[t - window..t]);
                    }
                    if keep_ordered {
                        if step == 0 {
                            let block_end = (t + window).min(series.len());
                            ordered.rebuild(&series[t - window..block_end - 1], window);
                        } else {
                            ordered.slide(step);
                        }
                    }
                    let mean = || sum.value(step) / window as f64;
                    let (baseline, level, flag) = rolling_step(check, series[t], mean, &ordered);
                    out.baseline[base + t] = baseline;
                    out.level[base + t] = level;
                    out.flag[base + t] = flag;
                    sum.push(series[t]);
                }
            }
        },
    );
    Ok(())
}

/// The window of a rolling robust check, as a Fenwick tree counting the window's points by
/// rank. The ranks are those of one block's points: the `2k - 1` points that windows of `k`
/// points see over `k` consecutive steps. Ranking a block costs O(k log k), so O(log k) a
/// step; inserting, removing, and finding the i-th smallest cost O(log k) each.
#[derive(Default)]
struct RankWindow {
    /// The block's distinct keys (see [`load_keys`]), ascending.
    distinct: Vec<u64>,
    /// Each block point's index in `distinct`.
    ranks: Vec<u32>,
    /// Fenwick tree (1-based) of how many window points have each rank, over a power of two
    /// of ranks so that [`Ordered::nth`] descends it without bounds checks or branches.
    counts: Vec<u32>,
    /// Points in the window.
    window: usize,
}

impl RankWindow {
    /// Ranks a block's points and makes the window its first `window` points.
    fn rebuild(&mut self, block: &[f64], window: usize) {
        load_keys(&mut self.distinct, block.iter().copied());
        self.distinct.sort_unstable();
        self.distinct.dedup();
        let distinct = &self.distinct;
        self.ranks.clear();
        self.ranks.extend(block.iter().map(|&v| {
            let at = distinct.binary_search(&(v + 0.0).to_bits());
            at.expect("every block point is ranked") as u32
        }));
        self.counts.clear();
        self.counts
            .resize(distinct.len().next_power_of_two() + 1, 0);
        for &rank in &self.ranks[..window] {
            self.counts[rank as usize + 1] += 1;
        }
        for i in 1..self.counts.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent < self.counts.len() {
                self.counts[parent] += self.counts[i];
            }
        }
        self.window = window;
    }

    /// Moves the window one point on, to start at block point `step`.
    fn slide(&mut self, step: usize) {
        self.add(self.ranks[step - 1], u32::wrapping_sub);
        self.add(self.ranks[step - 1 + self.window], u32::wrapping_add);
    }

    fn add(&mut self, rank: u32, op: fn(u32, u32) -> u32) {
        let mut i = rank as usize + 1;
        while i < self.counts.len() {
            self.counts[i] = op(self.counts[i], 1);
            i += i & i.wrapping_neg();
        }
    }
}

impl Ordered for RankWindow {
    fn len(&self) -> usize {
        self.window
    }

    fn nth(&self, i: usize) -> f64 {
        let (mut rank, mut remaining) = (0, i as u32 + 1);
        let mut step = (self.counts.len() - 1) / 2;
        while step > 0 {
            let count = self.counts[rank + step];
            let take = count < remaining;
            rank += usize::from(take) * step;
            remaining -= u32::from(take) * count;
            step >>= 1;
        }
        key(self.distinct[rank])
    }

    fn count_below(&self, x: f64) -> usize {
        let mut i = self.distinct.partition_point(|&k| key(k) < x);
        let mut count = 0;
        while i > 0 {
            count += self.counts[i] as usize;
            i &= i - 1;
        }
        count
    }
}

/// One step of [`rolling_batch`]: `(baseline, level, flag)` for `latest` against the window.
fn rolling_step(
    check: &RollingCheck,
    latest: f64,
    mean: impl Fn() -> f64,
    ordered: &impl Ordered,
) -> (f64, f64, bool) {
    match check {
        RollingCheck::Burn { hot_multiplier } => {
            let b = burn_of(latest, mean(), *hot_multiplier);
            (b.average_spend, b.burn_rate_ratio, b.is_hot)
        }
        RollingCheck::Anomaly(series_check) => {
            let a = series_check.judge(latest, mean, ordered);
            (a.baseline_mean, a.threshold, a.is_spike)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod rolling_tests {
    use super::*;

    fn run(
        check: RollingCheck,
        values: &[f64],
        width: usize,
        window: usize,
    ) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        let batch = SeriesBatch::new(values, width, None).unwrap();
        let n = values.len();
        let (mut b, mut l, mut f) = (vec![0.0; n], vec![0.0; n], vec![false; n]);
        rolling_batch(
            &check,
            &batch,
            window,
            RollingColumns {
                width,
                baseline: &mut b,
                level: &mut l,
                flag: &mut f,
            },
        )
        .unwrap();
        (b, l, f)
    }

    proptest::proptest! {
        /// Every step equals the scalar check of the slice ending there.
        #[test]
        fn each_step_equals_the_scalar_check_of_its_window(
            values in proptest::collection::vec(proptest::prop_oneof![0.0f64..1e6, 1e-300f64..1e-150, proptest::sample::select(vec![0.0, 1.0, 3.0])], 2..200),
            window in 1usize..40,
            method in 0usize..4,
        ) {
            let checks = [
                RollingCheck::Anomaly(SeriesCheck::spike(1.5, 0.0).unwrap()),
                RollingCheck::Anomaly(SeriesCheck::robust(Robust::Mad { z_threshold: 3.5, min_mad: 0.0 }, 0.0).unwrap()),
                RollingCheck::Anomaly(SeriesCheck::robust(Robust::Percentile { percentile: 0.9 }, 0.0).unwrap()),
                RollingCheck::Burn { hot_multiplier: 1.4 },
            ];
            let check = checks[method];
            let (baseline, level, flag) = run(check, &values, values.len(), window);
            let mut scratch = Vec::new();
            for t in 0..values.len() {
                if t < window {
                    proptest::prop_assert!(baseline[t].is_nan() && level[t].is_nan() && !flag[t]);
                    continue;
                }
                let slice = &values[t - window..=t];
                let (b, l, f) = match check {
                    RollingCheck::Anomaly(c) => { let a = c.apply(slice, &mut scratch); (a.baseline_mean, a.threshold, a.is_spike) }
                    RollingCheck::Burn { hot_multiplier } => { let b = burn(slice, hot_multiplier); (b.average_spend, b.burn_rate_ratio, b.is_hot) }
                };
                if matches!(method, 1 | 2) {
                    // Medians, MADs and percentiles come from the same order statistics.
                    proptest::prop_assert_eq!((baseline[t], level[t], flag[t]), (b, l, f), "at {}", t);
                }
                let close = |x: f64, y: f64| x == y || (x - y).abs() <= 1e-12 * y.abs().max(x.abs());
                proptest::prop_assert!(close(baseline[t], b), "baseline at {}: {} vs {}", t, baseline[t], b);
                proptest::prop_assert!(close(level[t], l), "level at {}: {} vs {}", t, level[t], l);
                // A flag may differ only where the figure sits on its threshold within rounding.
                let on_edge = close(values[t], l) || close(level[t], 1.4);
                proptest::prop_assert!(flag[t] == f || on_edge);
            }
        }
    }

    #[test]
    fn small_windows_after_large_values_keep_their_mean() {
        // A running sum that subtracts would give 0 for the last windows.
        let values = [48577.0, 999_999.4, 2.2e-159, 0.0, 0.0, 0.0];
        let (baseline, _, _) = run(
            RollingCheck::Burn {
                hot_multiplier: 1.4,
            },
            &values,
            6,
            3,
        );
        assert_eq!(baseline[5], 2.2e-159 / 3.0);
    }

    #[test]
    fn padding_and_short_history_hold_nan() {
        let nan = f64::NAN;
        let values = [nan, 1.0, 1.0, 9.0, /* row 1 */ 2.0, 2.0, 2.0, 2.0];
        let check = RollingCheck::Anomaly(SeriesCheck::spike(1.5, 0.0).unwrap());
        let (baseline, _, flag) = run(check, &values, 4, 2);
        assert!(baseline[0].is_nan() && baseline[1].is_nan() && baseline[2].is_nan());
        assert_eq!((baseline[3], flag[3]), (1.0, true));
        assert_eq!(flag[4..].iter().filter(|&&f| f).count(), 0);
        assert_eq!(baseline[6], 2.0);
        assert!(check_window(0).is_err());
    }
}
