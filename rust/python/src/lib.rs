//! PyO3 bindings for burnguard-core. Converts types and errors and releases the GIL for batch
//! work; all logic lives in the core crate.

use std::time::{SystemTime, UNIX_EPOCH};

use burnguard_core::slo::{self, Figures, Policy, Slo, SloSpec, Snapshot};
use burnguard_core::window::{check_timestamp, Counts};
use burnguard_core::Error;
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn value_error(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Wall time in seconds since the epoch, as `time.time()` gives it.
fn precise_wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The default clock. On Linux, the coarse realtime clock: it reads the kernel's last tick
/// (1-4 ms of resolution) instead of the TSC, at a tenth of the cost (3 ns against 33 ns here),
/// which matters on the recording path; the finest bucket is 16 ms with windows of 1 s and up.
#[cfg(target_os = "linux")]
fn wall_clock() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and CLOCK_REALTIME_COARSE exists on every
    // Linux since 2.6.32; on failure we fall back to the precise clock.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        precise_wall_clock()
    }
}

#[cfg(not(target_os = "linux"))]
fn wall_clock() -> f64 {
    precise_wall_clock()
}

/// `(window_seconds, total, failures, success_ratio, burn_rate)`
type FiguresTuple = (f64, u64, u64, f64, f64);
/// `(overall, remaining, consumed, samples, policies, time_to_exhaustion, dropped)`
type SnapshotTuple = (
    FiguresTuple,
    f64,
    f64,
    Vec<FiguresTuple>,
    Vec<(FiguresTuple, FiguresTuple, bool)>,
    Option<f64>,
    u64,
);

fn figures(f: &Figures) -> FiguresTuple {
    (
        f.window_seconds,
        f.total,
        f.failures,
        f.success_ratio,
        f.burn_rate,
    )
}

fn snapshot_tuple(s: &Snapshot, dropped: u64) -> SnapshotTuple {
    (
        figures(&s.overall),
        s.error_budget_remaining,
        s.error_budget_consumed,
        s.samples.iter().map(figures).collect(),
        s.policies
            .iter()
            .map(|p| (figures(&p.long), figures(&p.short), p.firing))
            .collect(),
        s.time_to_exhaustion,
        dropped,
    )
}

fn slice<'a, T: numpy::Element>(
    param: &str,
    array: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| PyValueError::new_err(format!("{param} must be a contiguous 1-D array")))
}

/// `(severity, long_window, short_window, threshold)`
type PolicyTuple = (String, f64, f64, f64);

fn spec(
    target: f64,
    window_seconds: f64,
    burn_windows: Vec<f64>,
    burn_threshold: f64,
    policies: Vec<PolicyTuple>,
    latency_threshold: Option<f64>,
) -> SloSpec {
    let policies = policies
        .into_iter()
        .map(|(severity, long_window, short_window, threshold)| Policy {
            severity,
            long_window,
            short_window,
            threshold,
        })
        .collect();
    SloSpec {
        target,
        window_seconds,
        burn_windows,
        burn_threshold,
        policies,
        latency_threshold,
    }
}

/// One SLO's bounded window and figures. The facade's `SLOTracker` wraps it.
#[pyclass(frozen, module = "burnguard._native")]
struct SloCore {
    slo: Slo,
    clock: Option<Py<PyAny>>,
}

impl SloCore {
    /// `at` if given, else the injected clock, else wall time.
    fn now(&self, py: Python<'_>, at: Option<f64>) -> PyResult<f64> {
        match (at, &self.clock) {
            (Some(ts), _) => Ok(ts),
            (None, None) => Ok(wall_clock()),
            (None, Some(clock)) => check_timestamp("clock()", clock.call0(py)?.extract::<f64>(py)?)
                .map_err(value_error),
        }
    }
}

#[pymethods]
impl SloCore {
    #[new]
    #[pyo3(signature = (*, target, window_seconds, burn_rate_windows, burn_rate_threshold, alert_policies,
                        latency_threshold_seconds = None, clock = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        target: f64,
        window_seconds: f64,
        burn_rate_windows: Vec<f64>,
        burn_rate_threshold: f64,
        alert_policies: Vec<PolicyTuple>,
        latency_threshold_seconds: Option<f64>,
        clock: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let spec = spec(
            target,
            window_seconds,
            burn_rate_windows,
            burn_rate_threshold,
            alert_policies,
            latency_threshold_seconds,
        );
        Ok(SloCore {
            slo: Slo::new(spec).map_err(value_error)?,
            clock,
        })
    }

    #[pyo3(signature = (success, *, at = None))]
    fn record(&self, py: Python<'_>, success: bool, at: Option<f64>) -> PyResult<()> {
        self.slo
            .record(self.now(py, at)?, success)
            .map_err(value_error)
    }

    #[pyo3(signature = (*, at = None))]
    fn record_success(&self, py: Python<'_>, at: Option<f64>) -> PyResult<()> {
        self.slo
            .record(self.now(py, at)?, true)
            .map_err(value_error)
    }

    #[pyo3(signature = (*, at = None))]
    fn record_failure(&self, py: Python<'_>, at: Option<f64>) -> PyResult<()> {
        self.slo
            .record(self.now(py, at)?, false)
            .map_err(value_error)
    }

    #[pyo3(signature = (seconds, *, at = None))]
    fn record_latency(&self, py: Python<'_>, seconds: f64, at: Option<f64>) -> PyResult<()> {
        self.slo
            .record_latency(self.now(py, at)?, seconds)
            .map_err(value_error)
    }

    fn record_many(
        &self,
        py: Python<'_>,
        ok: PyReadonlyArray1<'_, bool>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (ok, at) = (slice("ok", &ok)?, slice("at", &at)?);
        py.detach(|| self.slo.record_many(ok, at))
            .map_err(value_error)
    }

    fn record_latency_many(
        &self,
        py: Python<'_>,
        seconds: PyReadonlyArray1<'_, f64>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (seconds, at) = (slice("seconds", &seconds)?, slice("at", &at)?);
        py.detach(|| self.slo.record_latency_many(seconds, at))
            .map_err(value_error)
    }

    fn latency_is_good(&self, seconds: f64) -> PyResult<bool> {
        self.slo.latency_is_good(seconds).map_err(value_error)
    }

    #[pyo3(signature = (*, at = None))]
    fn snapshot(&self, py: Python<'_>, at: Option<f64>) -> PyResult<SnapshotTuple> {
        let snapshot = self.slo.snapshot(self.now(py, at)?).map_err(value_error)?;
        Ok(snapshot_tuple(&snapshot, self.slo.dropped()))
    }

    #[pyo3(signature = (*, at = None))]
    fn burn_samples(&self, py: Python<'_>, at: Option<f64>) -> PyResult<Vec<FiguresTuple>> {
        let samples = self
            .slo
            .burn_samples(self.now(py, at)?)
            .map_err(value_error)?;
        Ok(samples.iter().map(figures).collect())
    }

    /// `(snapshot, started_mask, resolved_mask)`
    #[pyo3(signature = (*, at = None))]
    fn poll_alerts(&self, py: Python<'_>, at: Option<f64>) -> PyResult<(SnapshotTuple, u64, u64)> {
        let poll = self
            .slo
            .poll_alerts(self.now(py, at)?)
            .map_err(value_error)?;
        Ok((
            snapshot_tuple(&poll.snapshot, self.slo.dropped()),
            poll.started,
            poll.resolved,
        ))
    }

    /// The snapshot for `(good, bad)` counts over each of `query_windows`, for custom stores.
    fn evaluate(&self, counts: Vec<(u64, u64)>) -> PyResult<SnapshotTuple> {
        let windows = self.slo.spec().query_windows().len();
        if counts.len() != windows {
            return Err(PyValueError::new_err(format!(
                "counts must hold {windows} pairs; got {}",
                counts.len()
            )));
        }
        let counts: Vec<Counts> = counts
            .into_iter()
            .map(|(good, bad)| Counts { good, bad })
            .collect();
        Ok(snapshot_tuple(&self.slo.spec().evaluate(&counts), 0))
    }

    /// As `evaluate`, and which policies started or stopped firing since the last poll.
    fn poll_counts(&self, counts: Vec<(u64, u64)>) -> PyResult<(SnapshotTuple, u64, u64)> {
        let snapshot = self.evaluate(counts)?;
        let firing = snapshot
            .4
            .iter()
            .enumerate()
            .filter(|(_, p)| p.2)
            .fold(0u64, |m, (i, _)| m | 1 << i);
        let (started, resolved) = self.slo.swap_firing(firing);
        Ok((snapshot, started, resolved))
    }

    /// `(window_seconds, total, failures, success_ratio, burn_rate)` for counts over a window.
    fn figures(&self, window_seconds: f64, good: u64, bad: u64) -> FiguresTuple {
        figures(
            &self
                .slo
                .spec()
                .figures(window_seconds, Counts { good, bad }),
        )
    }

    #[getter]
    fn query_windows(&self) -> Vec<f64> {
        self.slo.spec().query_windows()
    }

    #[getter]
    fn dropped(&self) -> u64 {
        self.slo.dropped()
    }

    #[getter]
    fn memory_bytes(&self) -> usize {
        self.slo.memory_bytes()
    }

    /// `[(width_seconds, span_seconds)]` for each tier, finest first.
    #[getter]
    fn resolution(&self) -> Vec<(f64, f64)> {
        self.slo
            .resolution()
            .iter()
            .map(|t| (t.width_seconds, t.span_seconds))
            .collect()
    }
}

/// Checks an SLO spec without building it, naming the first bad parameter.
#[pyfunction]
#[pyo3(signature = (*, target, window_seconds, burn_rate_windows, burn_rate_threshold, alert_policies,
                    latency_threshold_seconds = None))]
fn validate_slo(
    target: f64,
    window_seconds: f64,
    burn_rate_windows: Vec<f64>,
    burn_rate_threshold: f64,
    alert_policies: Vec<PolicyTuple>,
    latency_threshold_seconds: Option<f64>,
) -> PyResult<()> {
    spec(
        target,
        window_seconds,
        burn_rate_windows,
        burn_rate_threshold,
        alert_policies,
        latency_threshold_seconds,
    )
    .validate()
    .map_err(value_error)
}

/// The SRE Workbook's four alert policies scaled to `window_seconds`:
/// `[(severity, long_window, short_window, threshold)]`.
#[pyfunction]
fn workbook_policies(window_seconds: f64) -> Vec<PolicyTuple> {
    slo::workbook_policies(window_seconds)
        .into_iter()
        .map(|p| (p.severity, p.long_window, p.short_window, p.threshold))
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SloCore>()?;
    m.add_function(wrap_pyfunction!(workbook_policies, m)?)?;
    m.add_function(wrap_pyfunction!(validate_slo, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
