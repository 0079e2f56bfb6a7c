//! Bindings for access-log counts (`burnguard_core::logs`): the `burnguard backtest` command
//! feeds a log's bytes to [`LogCountsCore`] chunk by chunk.

use std::sync::Mutex;

use burnguard_core::logs::{json_preset, Layout, LogCounts, LogOptions};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::py_err;

/// Per-step good and bad event counts of an access log.
#[pyclass(module = "burnguard._native", frozen)]
pub(crate) struct LogCountsCore {
    counts: Mutex<LogCounts>,
}

impl LogCountsCore {
    fn counts(&self) -> std::sync::MutexGuard<'_, LogCounts> {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl LogCountsCore {
    #[new]
    #[pyo3(signature = (
        layout, step_seconds, *, latency_threshold = None, error_status = 500, strict = false,
        timestamp_column = None, status_column = None, ok_column = None, latency_column = None,
        preset = None, latency_unit = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        layout: &str,
        step_seconds: f64,
        latency_threshold: Option<f64>,
        error_status: u16,
        strict: bool,
        timestamp_column: Option<String>,
        status_column: Option<String>,
        ok_column: Option<String>,
        latency_column: Option<String>,
        preset: Option<&str>,
        latency_unit: Option<f64>,
    ) -> PyResult<Self> {
        let layout = match layout {
            "csv" => Layout::Csv {
                timestamp: timestamp_column,
                status: status_column,
                ok: ok_column,
                latency: latency_column,
            },
            "json" => Layout::Json {
                preset: preset.map(json_preset).transpose().map_err(py_err)?,
                timestamp: timestamp_column,
                status: status_column,
                ok: ok_column,
                latency: latency_column,
            },
            "combined" => Layout::Combined,
            other => {
                return Err(PyValueError::new_err(format!(
                    "layout must be 'csv', 'json' or 'combined'; got {other:?}"
                )))
            }
        };
        let options = LogOptions {
            step_seconds,
            latency_threshold,
            error_status,
            strict,
            latency_unit,
        };
        let counts = LogCounts::new(layout, options).map_err(py_err)?;
        Ok(LogCountsCore {
            counts: Mutex::new(counts),
        })
    }

    /// Counts the lines in the next `chunk` of the log (a line may continue in the next one).
    fn feed(&self, py: Python<'_>, chunk: &[u8]) -> PyResult<()> {
        py.detach(|| self.counts().feed(chunk)).map_err(py_err)
    }

    /// Counts the last line, if the log did not end with a newline.
    fn finish(&self) -> PyResult<()> {
        self.counts().finish().map_err(py_err)
    }

    /// Lines counted.
    #[getter]
    fn lines(&self) -> u64 {
        self.counts().lines()
    }

    /// Lines skipped as malformed.
    #[getter]
    fn malformed(&self) -> u64 {
        self.counts().malformed()
    }

    /// The first malformed lines: `[(line number, text)]`.
    #[getter]
    fn examples(&self) -> Vec<(u64, String)> {
        self.counts().examples().to_vec()
    }

    /// `(start of the first step, bad events per step, all events per step)`.
    #[allow(clippy::type_complexity)]
    fn steps<'py>(
        &self,
        py: Python<'py>,
    ) -> (f64, Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u64>>) {
        let counts = self.counts();
        let (start, bad, total) = counts.counts();
        (
            start,
            bad.to_vec().into_pyarray(py),
            total.to_vec().into_pyarray(py),
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LogCountsCore>()
}
