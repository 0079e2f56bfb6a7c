//! Bindings for billing exports (`burnguard_core::billing`): the `burnguard spend` command
//! feeds an export's bytes to [`DailySpendCore`] chunk by chunk.

use std::sync::Mutex;

use burnguard_core::billing::{preset, ColumnChoice, DailySpend};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::py_err;

/// Daily spend per group of a billing export.
#[pyclass(module = "burnguard._native", frozen)]
pub(crate) struct DailySpendCore {
    spend: Mutex<DailySpend>,
}

impl DailySpendCore {
    fn spend(&self) -> std::sync::MutexGuard<'_, DailySpend> {
        self.spend
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[pymethods]
impl DailySpendCore {
    #[new]
    #[pyo3(signature = (*, by = None, preset_name = None, date_column = None, cost_column = None, strict = false))]
    fn new(
        by: Option<Vec<String>>,
        preset_name: Option<&str>,
        date_column: Option<String>,
        cost_column: Option<String>,
        strict: bool,
    ) -> PyResult<Self> {
        let choice = ColumnChoice {
            preset: preset_name.map(preset).transpose().map_err(py_err)?,
            date: date_column,
            cost: cost_column,
            by,
        };
        Ok(DailySpendCore {
            spend: Mutex::new(DailySpend::new(choice, strict)),
        })
    }

    /// Reads the rows in the next `chunk` of the export (a row may continue in the next one).
    fn feed(&self, py: Python<'_>, chunk: &[u8]) -> PyResult<()> {
        py.detach(|| self.spend().feed(chunk)).map_err(py_err)
    }

    /// Reads the last row, if the export did not end with a newline.
    fn finish(&self) -> PyResult<()> {
        self.spend().finish().map_err(py_err)
    }

    /// Rows added.
    #[getter]
    fn rows(&self) -> u64 {
        self.spend().rows()
    }

    /// Rows skipped as malformed.
    #[getter]
    fn malformed(&self) -> u64 {
        self.spend().malformed()
    }

    /// The first malformed rows: `[(line number, text)]`.
    #[getter]
    fn examples(&self) -> Vec<(u64, String)> {
        self.spend().examples().to_vec()
    }

    /// The columns read, once the header is: `{"preset", "date", "cost", "by"}` (names as the
    /// header writes them), or None.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let spend = self.spend();
        let Some(resolved) = spend.resolved() else {
            return Ok(None);
        };
        let columns = PyDict::new(py);
        columns.set_item("preset", resolved.preset)?;
        columns.set_item("date", &resolved.date.1)?;
        columns.set_item("cost", &resolved.cost.1)?;
        let by: Vec<&str> = resolved.by.iter().map(|(_, name)| name.as_str()).collect();
        columns.set_item("by", by)?;
        Ok(Some(columns))
    }

    /// `(first day as days since 1970-01-01, group keys, spend per group and day)`: the keys
    /// are tuples with a part per grouping column; the spend is a (groups, days) array, NaN
    /// before a group's first row.
    #[allow(clippy::type_complexity)]
    fn series<'py>(&self, py: Python<'py>) -> PyResult<(i64, Vec<Vec<String>>, Bound<'py, PyAny>)> {
        let spend = self.spend();
        let (first, days) = spend.span();
        let keys = spend.keys();
        let rows = keys.len();
        let matrix = PyArray1::from_vec(py, spend.matrix()).reshape([rows, days])?;
        Ok((first, keys, matrix.into_any()))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<DailySpendCore>()
}
