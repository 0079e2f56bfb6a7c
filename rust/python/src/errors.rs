//! The one place core errors become Python exceptions.
//!
//! Bad input ([`Error`]) raises the facade's `InvalidArgumentError` (a `ValueError`) or
//! `InvalidTypeError` (a `TypeError`), carrying the error's fields as attributes; a ledger
//! error raises the facade's class for its kind. The classes are bound once at import by
//! `burnguard.errors`; before that (the native module used on its own) plain `ValueError` and
//! `TypeError` carry the same messages.

use burnguard_core::error::ErrorKind;
use burnguard_core::ledger::LedgerError;
use burnguard_core::Error;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple};

struct ErrorClasses {
    invalid_argument: Py<PyAny>,
    invalid_type: Py<PyAny>,
    /// The ledger's error classes by [`LedgerError::kind`].
    ledger: Py<PyDict>,
}

static CLASSES: PyOnceLock<ErrorClasses> = PyOnceLock::new();

/// Binds the facade's exception classes; `ledger` maps every ledger error kind to its class.
#[pyfunction]
fn bind_error_classes(
    py: Python<'_>,
    invalid_argument: Py<PyAny>,
    invalid_type: Py<PyAny>,
    ledger: Bound<'_, PyDict>,
) -> PyResult<()> {
    for kind in LedgerError::KINDS.into_iter().skip(1) {
        if !ledger.contains(kind)? {
            return Err(PyValueError::new_err(format!(
                "ledger error classes lack {kind}"
            )));
        }
    }
    let classes = ErrorClasses {
        invalid_argument,
        invalid_type,
        ledger: ledger.unbind(),
    };
    // A second import (importlib.reload, say) keeps the first binding.
    let _ = CLASSES.set(py, classes);
    Ok(())
}

/// Whether `err` is of the facade's class for ledger errors of `kind` (or a subclass).
pub(crate) fn is_ledger_error(py: Python<'_>, err: &PyErr, kind: &str) -> bool {
    CLASSES
        .get(py)
        .and_then(|c| c.ledger.bind(py).get_item(kind).ok().flatten())
        .is_some_and(|class| err.value(py).is_instance(&class).unwrap_or(false))
}

/// The exception for bad input: `cls(message, param, index, value, requirement)`.
pub(crate) fn py_err(e: Error) -> PyErr {
    Python::attach(|py| {
        if let Some(raised) = e.source.as_deref().and_then(|s| s.downcast_ref::<PyErr>()) {
            return raised.clone_ref(py); // a Python callback's own exception
        }
        let message = e.to_string();
        let Some(classes) = CLASSES.get(py) else {
            return match e.kind {
                ErrorKind::Type => PyTypeError::new_err(message),
                ErrorKind::Value | ErrorKind::Callback => PyValueError::new_err(message),
            };
        };
        let class = match e.kind {
            ErrorKind::Type => &classes.invalid_type,
            ErrorKind::Value | ErrorKind::Callback => &classes.invalid_argument,
        };
        let built = PyTuple::new(py, &e.index).and_then(|index| {
            class
                .bind(py)
                .call1((message, e.param.as_ref(), index, e.value, e.requirement))
        });
        match built {
            Ok(error) => PyErr::from_value(error),
            Err(err) => err,
        }
    })
}

/// The exception for a ledger error: bad input as [`py_err`], else the facade's class for its
/// kind, `cls(message, error_code, scope, reservation_id)`.
pub(crate) fn ledger_err(e: LedgerError) -> PyErr {
    if let LedgerError::Invalid(e) = e {
        return py_err(e);
    }
    Python::attach(|py| {
        let class = CLASSES
            .get(py)
            .ok_or_else(|| {
                PyRuntimeError::new_err("import burnguard before using burnguard._native")
            })
            .and_then(|c| {
                c.ledger
                    .bind(py)
                    .get_item(e.kind())?
                    .ok_or_else(|| PyRuntimeError::new_err("unbound ledger error class"))
            });
        let built = class.and_then(|class| {
            class.call1((e.to_string(), e.code(), e.scope(), e.reservation_id()))
        });
        match built {
            Ok(error) => PyErr::from_value(error),
            Err(err) => err,
        }
    })
}

/// The exception for a failed save or load: `FileNotFoundError`, `PermissionError`, else
/// `OSError` (a corrupt file too, as before); each names the file.
pub(crate) fn io_err(e: std::io::Error) -> PyErr {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => PyFileNotFoundError::new_err(e.to_string()),
        ErrorKind::PermissionDenied => PyPermissionError::new_err(e.to_string()),
        _ => PyOSError::new_err(e.to_string()),
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bind_error_classes, m)?)?;
    m.add("LEDGER_ERROR_KINDS", LedgerError::KINDS.to_vec())?;
    Ok(())
}
