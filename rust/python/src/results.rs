//! Results: the facade's frozen dataclasses, built natively by field name in one way.
//!
//! The facade binds its result classes once at import ([`bind_results`], by class name).
//! [`result!`] builds an instance from `field: value` pairs, as the class's own `__init__`
//! would (`object.__new__`, then the generic setattr per field) but without a Python frame:
//! the field names are interned once per call site and the class is looked up once per call
//! site. A field the class does not declare raises (the classes have slots), and
//! `tests/test_results.py` checks that every class the binding builds gets every field.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};

/// Every result class the binding builds; [`bind_results`] must be given each once.
pub(crate) const RESULT_CLASSES: &[&str] = &[
    "SLOSnapshot",
    "BurnRateSample",
    "BurnRateAlert",
    "MultiWindowAlert",
    "AlertTransition",
    "BreakerSnapshot",
    "RouteSummary",
    "BudgetCheckResult",
    "AnomalyCheckResult",
    "BurnRateResult",
    "ForecastResult",
    "CircuitBreakerDecision",
    "ReservationResult",
    "DryRunResult",
    "DecisionResult",
    "CommitResult",
    "ReleaseResult",
    "ExtendResult",
    "EventResult",
    "Balance",
    "Caps",
    "ReservationDetail",
    "Subject",
    "Action",
    "Amount",
];

static CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// Binds result classes by name (each module of the facade binds its own).
#[pyfunction]
fn bind_results(py: Python<'_>, classes: &Bound<'_, PyDict>) -> PyResult<()> {
    let bound = CLASSES
        .get_or_init(py, || PyDict::new(py).unbind())
        .bind(py);
    for (name, class) in classes.iter() {
        let name: String = name.extract()?;
        if !RESULT_CLASSES.contains(&name.as_str()) {
            return Err(PyRuntimeError::new_err(format!(
                "{name} is not a result class the binding builds"
            )));
        }
        class.cast::<PyType>()?;
        // A second import (importlib.reload, say) keeps the first binding.
        if !bound.contains(&name)? {
            bound.set_item(name, class)?;
        }
    }
    Ok(())
}

/// The bound class named `name`.
pub(crate) fn class(py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
    CLASSES
        .get(py)
        .and_then(|classes| classes.bind(py).get_item(name).ok().flatten())
        .map(Bound::unbind)
        .ok_or_else(|| PyRuntimeError::new_err("import burnguard before using burnguard._native"))
}

/// An instance of `class` with `fields` set: what `result!` expands to.
pub(crate) fn build<'py>(
    class: &Bound<'py, PyAny>,
    fields: &[(&Bound<'py, PyString>, Bound<'py, PyAny>)],
) -> PyResult<Bound<'py, PyAny>> {
    let py = class.py();
    let class = class.cast::<PyType>()?;
    // SAFETY: `class` is a live type object (a plain Python class whose instances hold no C
    // state), and allocating an instance through its own `tp_alloc` is what `object.__new__`
    // does for it; the new reference is owned by the returned Bound.
    let object = unsafe {
        let ty = class.as_type_ptr();
        let alloc = (*ty).tp_alloc.unwrap_or(pyo3::ffi::PyType_GenericAlloc);
        Bound::from_owned_ptr_or_err(py, alloc(ty, 0))?
    };
    for (name, value) in fields {
        // SAFETY: all three are live objects owned by bound references while the GIL is
        // held. This is `object.__setattr__(object, name, value)` minus the call protocol.
        let status = unsafe {
            pyo3::ffi::PyObject_GenericSetAttr(object.as_ptr(), name.as_ptr(), value.as_ptr())
        };
        if status != 0 {
            return Err(PyErr::fetch(py));
        }
    }
    Ok(object)
}

/// `result!(py, "Class" { field: value, ... })`: an instance of the facade's result class
/// `Class`, its fields set by name; each value is anything that converts to Python.
macro_rules! result {
    ($py:expr, $class:literal { $($field:ident: $value:expr),+ $(,)? }) => {{
        static CLASS: pyo3::sync::PyOnceLock<pyo3::Py<pyo3::PyAny>> =
            pyo3::sync::PyOnceLock::new();
        let py: pyo3::Python<'_> = $py;
        (|| -> pyo3::PyResult<pyo3::Bound<'_, pyo3::PyAny>> {
            let class = CLASS.get_or_try_init(py, || $crate::results::class(py, $class))?;
            $crate::results::build(
                class.bind(py),
                &[$((
                    pyo3::intern!(py, stringify!($field)),
                    pyo3::IntoPyObjectExt::into_bound_py_any($value, py)?,
                )),+],
            )
        })()
    }};
}

pub(crate) use result;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bind_results, m)?)?;
    m.add("RESULT_CLASSES", RESULT_CLASSES.to_vec())?;
    Ok(())
}
