//! Bindings for `burnguard_core::spend`: scalar checks return plain tuples (the facade wraps
//! them in cloudcircuit's dataclasses); batch checks take contiguous numpy arrays, run without
//! the GIL, and return one numpy array per result field.

use burnguard_core::spend::{
    self, defaults, AnomalyColumns, BreakerColumns, BudgetColumns, BurnColumns, ForecastColumns,
    Robust, RollingCheck, RollingColumns, SeriesBatch, SeriesCheck,
};
use burnguard_core::Error;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::convert::{slice, slice_mut, writable};
use crate::errors::py_err;
use crate::results::result;

type F64s<'py> = Bound<'py, PyArray1<f64>>;
type Bools<'py> = Bound<'py, PyArray1<bool>>;

fn series_check(
    method: &str,
    spike_multiplier: f64,
    z_threshold: f64,
    min_mad: f64,
    percentile: f64,
    min_baseline: f64,
) -> PyResult<SeriesCheck> {
    let check = match method {
        "mean" => SeriesCheck::spike(spike_multiplier, min_baseline),
        "mad" => SeriesCheck::robust(
            Robust::Mad {
                z_threshold,
                min_mad,
            },
            min_baseline,
        ),
        "percentile" => SeriesCheck::robust(Robust::Percentile { percentile }, min_baseline),
        other => {
            return Err(py_err(Error::bad(
                "method",
                "must be 'mad' or 'percentile'",
                format_args!("{other:?}"),
            )))
        }
    };
    check.map_err(py_err)
}

/// `(values, rows, width, lengths)`: the arguments of [`SeriesBatch::new`].
type SeriesSlices<'a> = (&'a [f64], usize, usize, Option<&'a [i64]>);

/// A 2-D batch of series as the slices [`SeriesBatch::new`] takes.
fn series_input<'a>(
    spend_series: &'a PyReadonlyArray2<'_, f64>,
    lengths: &'a Option<PyReadonlyArray1<'_, i64>>,
) -> PyResult<SeriesSlices<'a>> {
    let values = spend_series
        .as_slice()
        .map_err(|_| py_err(Error::invalid("spend_series", "must be C-contiguous")))?;
    let lengths = lengths.as_ref().map(|l| slice("lengths", l)).transpose()?;
    let shape = spend_series.shape();
    Ok((values, shape[0], shape[1], lengths))
}

/// The `BudgetCheckResult` for one value; it keeps the caller's own spend and limit objects.
#[pyfunction]
fn check_budget<'py>(
    current_spend: &Bound<'py, PyAny>,
    budget_limit: &Bound<'py, PyAny>,
    warning_ratio: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let py = current_spend.py();
    let b = spend::check_budget(
        current_spend.extract()?,
        budget_limit.extract()?,
        warning_ratio,
    )
    .map_err(py_err)?;
    result!(py, "BudgetCheckResult" {
        current_spend: current_spend,
        budget_limit: budget_limit,
        usage_ratio: b.usage_ratio,
        remaining_budget: b.remaining_budget,
        is_warning: b.is_warning,
        is_breached: b.is_breached,
    })
}

/// `check_budget` over rows, written into the output arrays; `budget_limit` holds one value or
/// one per row.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn check_budget_batch(
    py: Python<'_>,
    current_spend: PyReadonlyArray1<'_, f64>,
    budget_limit: PyReadonlyArray1<'_, f64>,
    warning_ratio: f64,
    usage_ratio: F64s<'_>,
    remaining_budget: F64s<'_>,
    is_warning: Bools<'_>,
    is_breached: Bools<'_>,
) -> PyResult<()> {
    let (spend, limit) = (
        slice("current_spend", &current_spend)?,
        slice("budget_limit", &budget_limit)?,
    );
    let (mut usage, mut remaining) = (
        writable("usage_ratio", &usage_ratio)?,
        writable("remaining_budget", &remaining_budget)?,
    );
    let (mut warning, mut breached) = (
        writable("is_warning", &is_warning)?,
        writable("is_breached", &is_breached)?,
    );
    let out = BudgetColumns {
        usage_ratio: slice_mut("usage_ratio", &mut usage)?,
        remaining_budget: slice_mut("remaining_budget", &mut remaining)?,
        is_warning: slice_mut("is_warning", &mut warning)?,
        is_breached: slice_mut("is_breached", &mut breached)?,
    };
    py.detach(|| spend::check_budget_batch(spend, limit, warning_ratio, out))
        .map_err(py_err)
}

/// A spike check (`method` "mean", "mad" or "percentile") on one series.
#[pyfunction]
#[pyo3(signature = (spend_series, method, *, spike_multiplier = defaults::SPIKE_MULTIPLIER, z_threshold = defaults::Z_THRESHOLD, min_mad = defaults::MIN_MAD, percentile = defaults::PERCENTILE, min_baseline = defaults::MIN_BASELINE))]
#[allow(clippy::too_many_arguments)]
fn check_series<'py>(
    py: Python<'py>,
    spend_series: Vec<f64>,
    method: &str,
    spike_multiplier: f64,
    z_threshold: f64,
    min_mad: f64,
    percentile: f64,
    min_baseline: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = SeriesBatch::single(&spend_series);
    let check = series_check(
        method,
        spike_multiplier,
        z_threshold,
        min_mad,
        percentile,
        min_baseline,
    )?;
    let a = check.apply(batch.row(0).map_err(py_err)?, &mut Vec::new());
    result!(py, "AnomalyCheckResult" {
        latest_spend: a.latest_spend,
        baseline_mean: a.baseline_mean,
        threshold: a.threshold,
        is_spike: a.is_spike,
    })
}

/// A spike check over the rows of a 2-D array (series × points, newest last).
#[pyfunction]
#[pyo3(signature = (spend_series, lengths, method, *, spike_multiplier = defaults::SPIKE_MULTIPLIER, z_threshold = defaults::Z_THRESHOLD, min_mad = defaults::MIN_MAD, percentile = defaults::PERCENTILE, min_baseline = defaults::MIN_BASELINE))]
#[allow(clippy::too_many_arguments)]
fn check_series_batch<'py>(
    py: Python<'py>,
    spend_series: PyReadonlyArray2<'_, f64>,
    lengths: Option<PyReadonlyArray1<'_, i64>>,
    method: &str,
    spike_multiplier: f64,
    z_threshold: f64,
    min_mad: f64,
    percentile: f64,
    min_baseline: f64,
) -> PyResult<(F64s<'py>, F64s<'py>, F64s<'py>, Bools<'py>)> {
    let check = series_check(
        method,
        spike_multiplier,
        z_threshold,
        min_mad,
        percentile,
        min_baseline,
    )?;
    series_batch(py, &spend_series, &lengths, |batch, [l, m, t], s| {
        let out = AnomalyColumns {
            latest_spend: l,
            baseline_mean: m,
            threshold: t,
            is_spike: s,
        };
        spend::anomaly_batch(&check, batch, out)
    })
}

/// Runs a series kernel that fills three float columns and one bool column (one row per
/// series) without the GIL, and hands the columns to numpy.
fn series_batch<'py>(
    py: Python<'py>,
    spend_series: &PyReadonlyArray2<'_, f64>,
    lengths: &Option<PyReadonlyArray1<'_, i64>>,
    kernel: impl FnOnce(&SeriesBatch<'_>, [&mut [f64]; 3], &mut [bool]) -> Result<(), Error> + Send,
) -> PyResult<(F64s<'py>, F64s<'py>, F64s<'py>, Bools<'py>)> {
    let (values, rows, width, lengths) = series_input(spend_series, lengths)?;
    let (mut a, mut b, mut c, mut flag) = (
        vec![0.0; rows],
        vec![0.0; rows],
        vec![0.0; rows],
        vec![false; rows],
    );
    py.detach(|| {
        let batch = SeriesBatch::new(values, rows, width, lengths)?;
        kernel(&batch, [&mut a, &mut b, &mut c], &mut flag)
    })
    .map_err(py_err)?;
    Ok((
        a.into_pyarray(py),
        b.into_pyarray(py),
        c.into_pyarray(py),
        flag.into_pyarray(py),
    ))
}

/// `(latest_spend, average_spend, burn_rate_ratio, is_hot)` for one series.
#[pyfunction]
fn check_burn_rate(
    py: Python<'_>,
    spend_series: Vec<f64>,
    hot_multiplier: f64,
) -> PyResult<Bound<'_, PyAny>> {
    let batch = SeriesBatch::single(&spend_series);
    let hot = spend::check_hot_multiplier(hot_multiplier).map_err(py_err)?;
    let b = spend::burn(batch.row(0).map_err(py_err)?, hot);
    result!(py, "BurnRateResult" {
        latest_spend: b.latest_spend,
        average_spend: b.average_spend,
        burn_rate_ratio: b.burn_rate_ratio,
        is_hot: b.is_hot,
    })
}

/// `check_burn_rate` over the rows of a 2-D array.
#[pyfunction]
fn check_burn_rate_batch<'py>(
    py: Python<'py>,
    spend_series: PyReadonlyArray2<'_, f64>,
    lengths: Option<PyReadonlyArray1<'_, i64>>,
    hot_multiplier: f64,
) -> PyResult<(F64s<'py>, F64s<'py>, F64s<'py>, Bools<'py>)> {
    let hot = spend::check_hot_multiplier(hot_multiplier).map_err(py_err)?;
    series_batch(py, &spend_series, &lengths, |batch, [l, a, r], h| {
        let out = BurnColumns {
            latest_spend: l,
            average_spend: a,
            burn_rate_ratio: r,
            is_hot: h,
        };
        spend::burn_batch(batch, hot, out)
    })
}

/// `(projected_total_spend, projected_overrun, will_breach)` for one value.
#[pyfunction]
fn forecast_budget_breach<'py>(
    current_spend: &Bound<'py, PyAny>,
    budget_limit: &Bound<'py, PyAny>,
    periods_elapsed: &Bound<'py, PyAny>,
    total_periods: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = current_spend.py();
    let f = spend::forecast_budget_breach(
        current_spend.extract()?,
        budget_limit.extract()?,
        whole(periods_elapsed)?,
        whole(total_periods)?,
    )
    .map_err(py_err)?;
    result!(py, "ForecastResult" {
        current_spend: current_spend,
        budget_limit: budget_limit,
        periods_elapsed: periods_elapsed,
        total_periods: total_periods,
        projected_total_spend: f.projected_total_spend,
        projected_overrun: f.projected_overrun,
        will_breach: f.will_breach,
    })
}

/// An int, or a float holding a whole number (the facade has checked that it does).
fn whole(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    value
        .extract::<i64>()
        .or_else(|_| Ok(value.extract::<f64>()? as i64))
}

/// `forecast_budget_breach` over rows, written into the output arrays; each input holds one
/// value or one per row.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn forecast_budget_breach_batch(
    py: Python<'_>,
    current_spend: PyReadonlyArray1<'_, f64>,
    budget_limit: PyReadonlyArray1<'_, f64>,
    periods_elapsed: PyReadonlyArray1<'_, i64>,
    total_periods: PyReadonlyArray1<'_, i64>,
    projected_total_spend: F64s<'_>,
    projected_overrun: F64s<'_>,
    will_breach: Bools<'_>,
) -> PyResult<()> {
    let (spend, limit) = (
        slice("current_spend", &current_spend)?,
        slice("budget_limit", &budget_limit)?,
    );
    let (elapsed, total) = (
        slice("periods_elapsed", &periods_elapsed)?,
        slice("total_periods", &total_periods)?,
    );
    let (mut projected, mut overrun, mut breach) = (
        writable("projected_total_spend", &projected_total_spend)?,
        writable("projected_overrun", &projected_overrun)?,
        writable("will_breach", &will_breach)?,
    );
    let out = ForecastColumns {
        projected_total_spend: slice_mut("projected_total_spend", &mut projected)?,
        projected_overrun: slice_mut("projected_overrun", &mut overrun)?,
        will_breach: slice_mut("will_breach", &mut breach)?,
    };
    py.detach(|| spend::forecast_batch(spend, limit, elapsed, total, out))
        .map_err(py_err)
}

/// `(is_open, allow_operation, retry_after_steps)` for one set of counters.
#[pyfunction]
fn evaluate_circuit_breaker(
    py: Python<'_>,
    consecutive_failures: i64,
    failure_threshold: i64,
    cooldown_steps_remaining: i64,
) -> PyResult<Bound<'_, PyAny>> {
    let b = spend::evaluate_circuit_breaker(
        consecutive_failures,
        failure_threshold,
        cooldown_steps_remaining,
    )
    .map_err(py_err)?;
    result!(py, "CircuitBreakerDecision" {
        is_open: b.is_open,
        allow_operation: b.allow_operation,
        retry_after_steps: b.retry_after_steps,
    })
}

/// `evaluate_circuit_breaker` over rows, written into the output arrays; each input holds one
/// value or one per row.
#[pyfunction]
fn evaluate_circuit_breaker_batch(
    py: Python<'_>,
    consecutive_failures: PyReadonlyArray1<'_, i64>,
    failure_threshold: PyReadonlyArray1<'_, i64>,
    cooldown_steps_remaining: PyReadonlyArray1<'_, i64>,
    is_open: Bools<'_>,
    allow_operation: Bools<'_>,
    retry_after_steps: Bound<'_, PyArray1<i64>>,
) -> PyResult<()> {
    let failures = slice("consecutive_failures", &consecutive_failures)?;
    let threshold = slice("failure_threshold", &failure_threshold)?;
    let cooldown = slice("cooldown_steps_remaining", &cooldown_steps_remaining)?;
    let (mut open, mut allow, mut retry) = (
        writable("is_open", &is_open)?,
        writable("allow_operation", &allow_operation)?,
        writable("retry_after_steps", &retry_after_steps)?,
    );
    let out = BreakerColumns {
        is_open: slice_mut("is_open", &mut open)?,
        allow_operation: slice_mut("allow_operation", &mut allow)?,
        retry_after_steps: slice_mut("retry_after_steps", &mut retry)?,
    };
    py.detach(|| spend::breaker_batch(failures, threshold, cooldown, out))
        .map_err(py_err)
}

/// Whether batch kernels run their AVX2 copies.
#[pyfunction]
fn uses_avx2() -> bool {
    burnguard_core::simd::uses_avx2()
}

/// Policy action codes (0 allow, 1 throttle, 2 block) over rows of the four flags.
#[pyfunction]
fn decide_batch<'py>(
    py: Python<'py>,
    is_breached: PyReadonlyArray1<'_, bool>,
    is_open: PyReadonlyArray1<'_, bool>,
    is_warning: PyReadonlyArray1<'_, bool>,
    is_spike: PyReadonlyArray1<'_, bool>,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let (breached, open) = (
        slice("is_breached", &is_breached)?,
        slice("is_open", &is_open)?,
    );
    let (warning, spike) = (
        slice("is_warning", &is_warning)?,
        slice("is_spike", &is_spike)?,
    );
    let codes = py
        .detach(|| spend::decide_batch(breached, open, warning, spike))
        .map_err(py_err)?;
    Ok(codes.into_pyarray(py))
}

/// The policy action code for one row, with its name, severity and reason.
#[pyfunction]
fn decide(
    is_breached: bool,
    is_open: bool,
    is_warning: bool,
    is_spike: bool,
) -> (u8, &'static str, &'static str, &'static str) {
    let action = spend::decide(is_breached, is_open, is_warning, is_spike);
    (
        action as u8,
        action.as_str(),
        action.severity(),
        action.reason(),
    )
}

/// A rolling spike (`method` "mean", "mad", "percentile") or burn (`method` "burn") check at
/// every point of every row of a 2-D array: `(baseline, threshold or ratio, flag)`, each
/// rows × points.
#[pyfunction]
#[pyo3(signature = (spend_series, lengths, window, method, *, spike_multiplier = defaults::SPIKE_MULTIPLIER, z_threshold = defaults::Z_THRESHOLD,
                    min_mad = defaults::MIN_MAD, percentile = defaults::PERCENTILE, min_baseline = defaults::MIN_BASELINE, hot_multiplier = defaults::HOT_MULTIPLIER))]
#[allow(clippy::too_many_arguments)]
fn rolling_batch<'py>(
    py: Python<'py>,
    spend_series: PyReadonlyArray2<'_, f64>,
    lengths: Option<PyReadonlyArray1<'_, i64>>,
    window: i64,
    method: &str,
    spike_multiplier: f64,
    z_threshold: f64,
    min_mad: f64,
    percentile: f64,
    min_baseline: f64,
    hot_multiplier: f64,
) -> PyResult<(F64s<'py>, F64s<'py>, Bools<'py>)> {
    let window = spend::check_window(window).map_err(py_err)?;
    let check = if method == "burn" {
        RollingCheck::Burn {
            hot_multiplier: spend::check_hot_multiplier(hot_multiplier).map_err(py_err)?,
        }
    } else {
        RollingCheck::Anomaly(series_check(
            method,
            spike_multiplier,
            z_threshold,
            min_mad,
            percentile,
            min_baseline,
        )?)
    };
    let (values, rows, width, lengths) = series_input(&spend_series, &lengths)?;
    let n = values.len();
    let (mut baseline, mut level, mut flag) = (vec![0.0; n], vec![0.0; n], vec![false; n]);
    py.detach(|| {
        let batch = SeriesBatch::new(values, rows, width, lengths)?;
        let out = RollingColumns {
            width,
            baseline: &mut baseline,
            level: &mut level,
            flag: &mut flag,
        };
        spend::rolling_batch(&check, &batch, window, out)
    })
    .map_err(py_err)?;
    Ok((
        baseline.into_pyarray(py),
        level.into_pyarray(py),
        flag.into_pyarray(py),
    ))
}

/// Adds this module's functions to `_native`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_budget, m)?)?;
    m.add_function(wrap_pyfunction!(check_budget_batch, m)?)?;
    m.add_function(wrap_pyfunction!(check_series, m)?)?;
    m.add_function(wrap_pyfunction!(check_series_batch, m)?)?;
    m.add_function(wrap_pyfunction!(check_burn_rate, m)?)?;
    m.add_function(wrap_pyfunction!(check_burn_rate_batch, m)?)?;
    m.add_function(wrap_pyfunction!(forecast_budget_breach, m)?)?;
    m.add_function(wrap_pyfunction!(forecast_budget_breach_batch, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_circuit_breaker, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_circuit_breaker_batch, m)?)?;
    m.add_function(wrap_pyfunction!(uses_avx2, m)?)?;
    m.add_function(wrap_pyfunction!(decide, m)?)?;
    m.add_function(wrap_pyfunction!(decide_batch, m)?)?;
    m.add_function(wrap_pyfunction!(rolling_batch, m)?)?;
    m.add(
        "SPEND_DEFAULTS",
        defaults::ALL
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    )?;
    // The policy's action, severity and reason by `decide_batch` code, from the core's table.
    let actions = spend::Action::ALL;
    m.add(
        "POLICY_ACTIONS",
        actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    )?;
    m.add(
        "POLICY_SEVERITIES",
        actions.iter().map(|a| a.severity()).collect::<Vec<_>>(),
    )?;
    m.add(
        "POLICY_REASONS",
        actions.iter().map(|a| a.reason()).collect::<Vec<_>>(),
    )?;
    Ok(())
}
