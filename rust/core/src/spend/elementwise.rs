//! Elementwise checks: budget, forecast, breaker and policy, for one value and over rows.

use super::*;

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
pub(super) fn budget(current_spend: f64, budget_limit: f64, warning_ratio: f64) -> Budget {
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
    check_lengths(
        rows,
        &[
            ("current_spend", current_spend.len()),
            ("budget_limit", budget_limit.len()),
        ],
    )?;
    // The first error in the peer's order, searched only once something is wrong.
    let first_error = || -> Result<(), Error> {
        first_bad(budget_limit, is_positive, |v| positive("budget_limit", v))?;
        check_warning_ratio(warning_ratio)?;
        first_bad(current_spend, is_non_negative, |v| {
            non_negative("current_spend", v)
        })
    };
    if check_warning_ratio(warning_ratio).is_err() || rows == 0 {
        return first_error(); // with no rows, only the one-value arguments are checked
    }
    // Each piece is validated and filled while it is in cache.
    let fill = |out: BudgetColumns<'_>, first: usize| {
        let rows = first..first + out.rows();
        let spend = piece(current_spend, rows.clone());
        let limits = piece(budget_limit, rows);
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

/// [`budget`]'s figures for rows of valid input; each input holds one value or one per row.
#[inline(always)]
pub(super) fn fill_budgets(
    spend: &[f64],
    limits: &[f64],
    warning_ratio: f64,
    out: BudgetColumns<'_>,
) {
    let rows = out.rows();
    let mut write = |k: usize, checked: Budget| {
        out.usage_ratio[k] = checked.usage_ratio;
        out.remaining_budget[k] = checked.remaining_budget;
        out.is_warning[k] = checked.is_warning;
        out.is_breached[k] = checked.is_breached;
    };
    // Loops the compiler vectorizes for the common shapes: one limit, or one value per row.
    match (spend, limits) {
        (_, [limit]) if spend.len() == rows => {
            for (k, &spend) in spend.iter().enumerate() {
                write(k, budget(spend, *limit, warning_ratio));
            }
        }
        _ if spend.len() == rows && limits.len() == rows => {
            for (k, (&spend, &limit)) in spend.iter().zip(limits).enumerate() {
                write(k, budget(spend, limit, warning_ratio));
            }
        }
        _ => {
            for k in 0..rows {
                write(k, budget(at(spend, k), at(limits, k), warning_ratio));
            }
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

pub(super) fn check_periods(periods_elapsed: i64, total_periods: i64) -> Result<(), Error> {
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
pub(super) fn forecast(
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
    let lengths = [
        ("current_spend", current_spend.len()),
        ("budget_limit", budget_limit.len()),
        ("periods_elapsed", periods_elapsed.len()),
        ("total_periods", total_periods.len()),
    ];
    check_lengths(rows, &lengths)?;
    let locate = |e: Error, i: usize| located_in(e, &lengths, i);
    if rows == 0 {
        // The one-value arguments are still checked (with valid stand-ins for the others).
        let elapsed = value(periods_elapsed, 0).unwrap_or(1);
        return forecast_budget_breach(
            value(current_spend, 0).unwrap_or(0.0),
            value(budget_limit, 0).unwrap_or(1.0),
            elapsed,
            value(total_periods, 0).unwrap_or(elapsed.max(1)),
        )
        .map(drop);
    }
    // The first bad row, each checked in the peer's order; searched only if a piece fails.
    let first_error = || -> Result<(), Error> {
        for i in 0..rows {
            non_negative("current_spend", at(current_spend, i))
                .and_then(|_| positive("budget_limit", at(budget_limit, i)))
                .and_then(|_| check_periods(at(periods_elapsed, i), at(total_periods, i)))
                .map_err(|e| locate(e, i))?;
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
    let lengths = [
        ("consecutive_failures", consecutive_failures.len()),
        ("failure_threshold", failure_threshold.len()),
        ("cooldown_steps_remaining", cooldown_steps_remaining.len()),
    ];
    check_lengths(rows, &lengths)?;
    let locate = |e: Error, i: usize| located_in(e, &lengths, i);
    let decision = |i: usize| {
        evaluate_circuit_breaker(
            at(consecutive_failures, i),
            at(failure_threshold, i),
            at(cooldown_steps_remaining, i),
        )
        .map_err(|e| locate(e, i))
    };
    if rows == 0 {
        // The one-value arguments are still checked (with valid stand-ins for the others).
        return evaluate_circuit_breaker(
            value(consecutive_failures, 0).unwrap_or(0),
            value(failure_threshold, 0).unwrap_or(1),
            value(cooldown_steps_remaining, 0).unwrap_or(0),
        )
        .map(drop);
    }
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
