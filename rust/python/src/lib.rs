//! PyO3 bindings for burnguard-core. Converts types and errors and releases the GIL for batch
//! work; all logic lives in the core crate.

use burnguard_core::slo::{
    self, AlertPoll, BurnPoll, Figures, Policy, PolicyStatus, Slo, SloSpec, Snapshot,
};
use burnguard_core::window::{check_timestamp, Counts};
use burnguard_core::Error;
use numpy::{BorrowError, PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyString, PyTuple, PyType};
use pyo3::{intern, IntoPyObjectExt};

use clock::clock_of;
use errors::py_err;

mod breaker;
mod clock;
mod cost;
mod errors;
mod ledger;
mod routes;
mod spend;

/// The facade's frozen dataclasses that results are built as, bound once at import by
/// `burnguard.slo.models`. Building them here (`object.__new__`, then the generic setattr per
/// field, as their own `__init__` does) skips both intermediate tuples and Python frames.
struct ResultClasses {
    snapshot: Py<PyAny>,
    sample: Py<PyAny>,
    burn_alert: Py<PyAny>,
    multi_alert: Py<PyAny>,
    transition: Py<PyAny>,
}

static RESULT_CLASSES: PyOnceLock<ResultClasses> = PyOnceLock::new();

impl ResultClasses {
    fn get(py: Python<'_>) -> PyResult<&ResultClasses> {
        RESULT_CLASSES.get(py).ok_or_else(|| {
            PyRuntimeError::new_err("import burnguard before using burnguard._native")
        })
    }

    fn build<'py>(
        &self,
        py: Python<'py>,
        class: &Py<PyAny>,
        fields: &[(&Bound<'py, PyString>, Bound<'py, PyAny>)],
    ) -> PyResult<Bound<'py, PyAny>> {
        build_frozen(class.bind(py), fields)
    }
}

/// An instance of a frozen dataclass of the facade, built as its own `__init__` would build it
/// (`object.__new__`, then the generic setattr per field) but without intermediate tuples or
/// Python frames.
pub(crate) fn build_frozen<'py>(
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

/// `value` as a Python object.
fn to_py<'py, T: IntoPyObjectExt<'py>>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>> {
    value.into_bound_py_any(py)
}

/// The definition's own objects, echoed into results unchanged (so an `int` window stays one).
struct Labels {
    name: Py<PyAny>,
    target: Py<PyAny>,
    window_seconds: Py<PyAny>,
    burn_windows: Vec<Py<PyAny>>,
    burn_threshold: Py<PyAny>,
    /// `(severity, long_window_seconds, short_window_seconds, threshold)` per policy.
    policies: Vec<[Py<PyAny>; 4]>,
}

/// The core spec and the labels of an `SLODefinition`.
fn read_definition(definition: &Bound<'_, PyAny>) -> PyResult<(SloSpec, Labels)> {
    let py = definition.py();
    let attr = |name: &str| definition.getattr(name);
    let burn_windows: Vec<Bound<'_, PyAny>> = attr("burn_rate_windows")?
        .try_iter()?
        .collect::<PyResult<_>>()?;
    let mut policies = Vec::new();
    let mut policy_labels = Vec::new();
    for policy in attr("policies")?.try_iter()? {
        let policy = policy?;
        let field = |name: &str| policy.getattr(name);
        let labels = [
            field("severity")?.unbind(),
            field("long_window_seconds")?.unbind(),
            field("short_window_seconds")?.unbind(),
            field("threshold")?.unbind(),
        ];
        policies.push(Policy {
            severity: labels[0].extract(py)?,
            long_window: labels[1].extract(py)?,
            short_window: labels[2].extract(py)?,
            threshold: labels[3].extract(py)?,
        });
        policy_labels.push(labels);
    }
    let spec = SloSpec {
        target: attr("target")?.extract()?,
        window_seconds: attr("window_seconds")?.extract()?,
        burn_windows: burn_windows
            .iter()
            .map(|w| w.extract())
            .collect::<PyResult<_>>()?,
        burn_threshold: attr("burn_rate_threshold")?.extract()?,
        policies,
        latency_threshold: attr("latency_threshold_seconds")?.extract()?,
    };
    let labels = Labels {
        name: attr("name")?.unbind(),
        target: attr("target")?.unbind(),
        window_seconds: attr("window_seconds")?.unbind(),
        burn_windows: burn_windows.into_iter().map(Bound::unbind).collect(),
        burn_threshold: attr("burn_rate_threshold")?.unbind(),
        policies: policy_labels,
    };
    Ok((spec, labels))
}

pub(crate) fn slice<'a, T: numpy::Element>(
    param: &str,
    array: &'a PyReadonlyArray1<'_, T>,
) -> PyResult<&'a [T]> {
    array.as_slice().map_err(|_| {
        py_err(Error::invalid(
            param.to_string(),
            "must be a contiguous 1-D array",
        ))
    })
}

/// Borrows an output array for writing; it must be writeable and share no memory with the
/// call's inputs or other outputs.
pub(crate) fn writable<'py, T: numpy::Element>(
    param: &str,
    array: &Bound<'py, PyArray1<T>>,
) -> PyResult<PyReadwriteArray1<'py, T>> {
    array.try_readwrite().map_err(|err| {
        py_err(Error::invalid(
            param.to_string(),
            match err {
                BorrowError::NotWriteable => "must be writeable",
                _ => "must not share memory with the inputs or another output",
            },
        ))
    })
}

/// The elements of a borrowed output array.
pub(crate) fn slice_mut<'a, T: numpy::Element>(
    param: &str,
    array: &'a mut PyReadwriteArray1<'_, T>,
) -> PyResult<&'a mut [T]> {
    array.as_slice_mut().map_err(|_| {
        py_err(Error::invalid(
            param.to_string(),
            "must be a contiguous 1-D array",
        ))
    })
}

fn counts_of(pairs: Vec<(u64, u64)>) -> Vec<Counts> {
    pairs
        .into_iter()
        .map(|(good, bad)| Counts { good, bad })
        .collect()
}

/// `(alerts, started, recovered)` of a burn poll.
type BurnPollTuple<'py> = (Bound<'py, PyList>, Vec<usize>, Vec<usize>);

/// One SLO's bounded window and figures. The facade's `SLOTracker` wraps it.
#[pyclass(frozen, module = "burnguard._native")]
struct SloCore {
    slo: Slo,
    labels: Labels,
}

impl SloCore {
    fn sample<'py>(
        &self,
        py: Python<'py>,
        c: &ResultClasses,
        window: &Py<PyAny>,
        f: &Figures,
    ) -> PyResult<Bound<'py, PyAny>> {
        c.build(
            py,
            &c.sample,
            &[
                (intern!(py, "window_seconds"), window.bind(py).clone()),
                (intern!(py, "burn_rate"), to_py(py, f.burn_rate)?),
                (intern!(py, "success_ratio"), to_py(py, f.success_ratio)?),
                (intern!(py, "sample_count"), to_py(py, f.total)?),
            ],
        )
    }

    fn multi_alert<'py>(
        &self,
        py: Python<'py>,
        c: &ResultClasses,
        policy: &[Py<PyAny>; 4],
        status: &PolicyStatus,
    ) -> PyResult<Bound<'py, PyAny>> {
        let [severity, long, short, threshold] = policy;
        c.build(
            py,
            &c.multi_alert,
            &[
                (intern!(py, "slo_name"), self.labels.name.bind(py).clone()),
                (intern!(py, "severity"), severity.bind(py).clone()),
                (intern!(py, "threshold"), threshold.bind(py).clone()),
                (intern!(py, "long_window_seconds"), long.bind(py).clone()),
                (intern!(py, "short_window_seconds"), short.bind(py).clone()),
                (
                    intern!(py, "long_burn_rate"),
                    to_py(py, status.long.burn_rate)?,
                ),
                (
                    intern!(py, "short_burn_rate"),
                    to_py(py, status.short.burn_rate)?,
                ),
                (
                    intern!(py, "long_sample_count"),
                    to_py(py, status.long.total)?,
                ),
                (
                    intern!(py, "short_sample_count"),
                    to_py(py, status.short.total)?,
                ),
                (intern!(py, "firing"), to_py(py, status.firing)?),
            ],
        )
    }

    fn snapshot_object<'py>(
        &self,
        py: Python<'py>,
        s: &Snapshot,
        dropped: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let c = ResultClasses::get(py)?;
        let samples = self
            .labels
            .burn_windows
            .iter()
            .zip(&s.samples)
            .map(|(window, f)| self.sample(py, c, window, f))
            .collect::<PyResult<Vec<_>>>()?;
        let alerts = self
            .labels
            .policies
            .iter()
            .zip(&s.policies)
            .filter(|(_, status)| status.firing)
            .map(|(policy, status)| self.multi_alert(py, c, policy, status))
            .collect::<PyResult<Vec<_>>>()?;
        let l = &self.labels;
        c.build(
            py,
            &c.snapshot,
            &[
                (intern!(py, "name"), l.name.bind(py).clone()),
                (intern!(py, "target"), l.target.bind(py).clone()),
                (
                    intern!(py, "window_seconds"),
                    l.window_seconds.bind(py).clone(),
                ),
                (intern!(py, "total"), to_py(py, s.overall.total)?),
                (intern!(py, "failures"), to_py(py, s.overall.failures)?),
                (
                    intern!(py, "success_ratio"),
                    to_py(py, s.overall.success_ratio)?,
                ),
                (
                    intern!(py, "error_budget_remaining"),
                    to_py(py, s.error_budget_remaining)?,
                ),
                (intern!(py, "burn_rate"), to_py(py, s.overall.burn_rate)?),
                (
                    intern!(py, "burn_rate_samples"),
                    PyTuple::new(py, samples)?.into_any(),
                ),
                (
                    intern!(py, "error_budget_consumed"),
                    to_py(py, s.error_budget_consumed)?,
                ),
                (
                    intern!(py, "time_to_exhaustion_seconds"),
                    to_py(py, s.time_to_exhaustion)?,
                ),
                (intern!(py, "alerts"), PyTuple::new(py, alerts)?.into_any()),
                (intern!(py, "dropped"), to_py(py, dropped)?),
            ],
        )
    }

    fn burn_alerts<'py>(
        &self,
        py: Python<'py>,
        samples: &[Figures],
    ) -> PyResult<Bound<'py, PyList>> {
        let c = ResultClasses::get(py)?;
        let spec = self.slo.spec();
        let alerts = self
            .labels
            .burn_windows
            .iter()
            .zip(samples)
            .filter(|(_, f)| spec.burn_alerting(f))
            .map(|(window, f)| {
                c.build(
                    py,
                    &c.burn_alert,
                    &[
                        (intern!(py, "slo_name"), self.labels.name.bind(py).clone()),
                        (intern!(py, "window_seconds"), window.bind(py).clone()),
                        (intern!(py, "burn_rate"), to_py(py, f.burn_rate)?),
                        (
                            intern!(py, "threshold"),
                            self.labels.burn_threshold.bind(py).clone(),
                        ),
                        (intern!(py, "success_ratio"), to_py(py, f.success_ratio)?),
                        (intern!(py, "sample_count"), to_py(py, f.total)?),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, alerts)
    }

    fn burn_poll<'py>(&self, py: Python<'py>, poll: &BurnPoll) -> PyResult<BurnPollTuple<'py>> {
        Ok((
            self.burn_alerts(py, &poll.samples)?,
            poll.started_windows(),
            poll.recovered_windows(),
        ))
    }

    fn all_policies<'py>(&self, py: Python<'py>, s: &Snapshot) -> PyResult<Bound<'py, PyList>> {
        let c = ResultClasses::get(py)?;
        let alerts = self
            .labels
            .policies
            .iter()
            .zip(&s.policies)
            .map(|(policy, status)| self.multi_alert(py, c, policy, status))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, alerts)
    }

    fn transitions<'py>(&self, py: Python<'py>, poll: &AlertPoll) -> PyResult<Bound<'py, PyList>> {
        let c = ResultClasses::get(py)?;
        let mut transitions = Vec::new();
        for (i, state) in poll.transitions() {
            let alert =
                self.multi_alert(py, c, &self.labels.policies[i], &poll.snapshot.policies[i])?;
            transitions.push(c.build(
                py,
                &c.transition,
                &[
                    (
                        intern!(py, "state"),
                        PyString::intern(py, state.as_str()).into_any(),
                    ),
                    (intern!(py, "alert"), alert),
                ],
            )?);
        }
        PyList::new(py, transitions)
    }
}

#[pymethods]
impl SloCore {
    #[new]
    #[pyo3(signature = (definition, *, clock = None))]
    fn new(definition: &Bound<'_, PyAny>, clock: Option<Py<PyAny>>) -> PyResult<Self> {
        let (spec, labels) = read_definition(definition)?;
        Ok(SloCore {
            slo: Slo::with_clock(spec, clock_of(clock)).map_err(py_err)?,
            labels,
        })
    }

    /// Record one event, good when `success`, at `at` (default: now).
    #[pyo3(signature = (success, *, at = None))]
    fn record(&self, success: bool, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, success).map_err(py_err)
    }

    /// Record one good event at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn record_success(&self, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, true).map_err(py_err)
    }

    /// Record one bad event at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn record_failure(&self, at: Option<f64>) -> PyResult<()> {
        self.slo.record(at, false).map_err(py_err)
    }

    /// Record one request that took `seconds`: good when within the latency threshold.
    #[pyo3(signature = (seconds, *, at = None))]
    fn record_latency(&self, seconds: f64, at: Option<f64>) -> PyResult<()> {
        self.slo.record_latency(at, seconds).map_err(py_err)
    }

    /// Record one event per element of `ok` at timestamps `at`, without the GIL.
    fn record_many(
        &self,
        py: Python<'_>,
        ok: PyReadonlyArray1<'_, bool>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (ok, at) = (slice("ok", &ok)?, slice("at", &at)?);
        py.detach(|| self.slo.record_many(ok, at)).map_err(py_err)
    }

    /// Record one request per element of `seconds` at timestamps `at`, without the GIL.
    fn record_latency_many(
        &self,
        py: Python<'_>,
        seconds: PyReadonlyArray1<'_, f64>,
        at: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<()> {
        let (seconds, at) = (slice("seconds", &seconds)?, slice("at", &at)?);
        py.detach(|| self.slo.record_latency_many(seconds, at))
            .map_err(py_err)
    }

    /// Whether a request that took `seconds` meets the latency objective.
    fn latency_is_good(&self, seconds: f64) -> PyResult<bool> {
        self.slo.latency_is_good(seconds).map_err(py_err)
    }

    /// The `SLOSnapshot` at `at` (default: now).
    #[pyo3(signature = (*, at = None))]
    fn snapshot<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.slo.snapshot(at).map_err(py_err)?;
        self.snapshot_object(py, &snapshot, self.slo.dropped())
    }

    /// `BurnRateAlert`s for the burn windows at or above the threshold.
    #[pyo3(signature = (*, at = None))]
    fn check_burn_rate<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let samples = self.slo.burn_samples(at).map_err(py_err)?;
        self.burn_alerts(py, &samples)
    }

    /// `(alerts, started, recovered)`: `check_burn_rate`'s alerts, and the indices of the burn
    /// windows that started and stopped alerting since the last such poll.
    #[pyo3(signature = (*, at = None))]
    fn poll_burn_rate<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<BurnPollTuple<'py>> {
        let poll = self.slo.poll_burn(at).map_err(py_err)?;
        self.burn_poll(py, &poll)
    }

    /// As `poll_burn_rate`, from `(good, bad)` counts over each burn window.
    fn poll_burn_rate_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<BurnPollTuple<'py>> {
        let spec = self.slo.spec();
        let samples = spec.burn_samples(&counts_of(counts)).map_err(py_err)?;
        self.burn_poll(py, &self.slo.poll_burn_samples(samples))
    }

    /// A `MultiWindowAlert` for every policy, firing or not.
    #[pyo3(signature = (*, at = None))]
    fn alert_status<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.slo.snapshot(at).map_err(py_err)?;
        self.all_policies(py, &snapshot)
    }

    /// As `alert_status`, from `(good, bad)` counts over each of `query_windows`.
    fn alert_status_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.all_policies(py, &snapshot)
    }

    /// `AlertTransition`s since the previous poll.
    #[pyo3(signature = (*, at = None))]
    fn poll_alerts<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let poll = self.slo.poll_alerts(at).map_err(py_err)?;
        self.transitions(py, &poll)
    }

    /// The `SLOSnapshot` for `(good, bad)` counts over each of `query_windows` (custom stores).
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.snapshot_object(py, &snapshot, 0)
    }

    /// As `poll_alerts`, from `(good, bad)` counts over each of `query_windows`.
    fn poll_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let snapshot = self.evaluate_counts(counts)?;
        self.transitions(py, &self.slo.poll(snapshot))
    }

    /// As `check_burn_rate`, from `(good, bad)` counts over each burn window.
    fn check_burn_rate_counts<'py>(
        &self,
        py: Python<'py>,
        counts: Vec<(u64, u64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let samples = self
            .slo
            .spec()
            .burn_samples(&counts_of(counts))
            .map_err(py_err)?;
        self.burn_alerts(py, &samples)
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

impl SloCore {
    fn evaluate_counts(&self, counts: Vec<(u64, u64)>) -> PyResult<Snapshot> {
        self.slo.spec().evaluate(&counts_of(counts)).map_err(py_err)
    }
}

/// `value` if it is a usable timestamp, else `ValueError` naming `param`.
#[pyfunction]
#[pyo3(signature = (value, param = "at"))]
fn checked_timestamp(value: f64, param: &str) -> PyResult<f64> {
    check_timestamp("timestamp", value).map_err(|e| {
        py_err(Error {
            param: param.to_string().into(),
            ..e
        })
    })
}

/// Checks an `SLODefinition` without building its window, naming the first bad parameter.
#[pyfunction]
fn validate_slo(definition: &Bound<'_, PyAny>) -> PyResult<()> {
    read_definition(definition)?.0.validate().map_err(py_err)
}

/// Binds the facade's result dataclasses, which every read builds.
#[pyfunction]
fn bind_result_classes(
    py: Python<'_>,
    snapshot: Py<PyAny>,
    sample: Py<PyAny>,
    burn_alert: Py<PyAny>,
    multi_alert: Py<PyAny>,
    transition: Py<PyAny>,
) -> PyResult<()> {
    let classes = ResultClasses {
        snapshot,
        sample,
        burn_alert,
        multi_alert,
        transition,
    };
    // A second import (importlib.reload, say) keeps the first binding.
    let _ = RESULT_CLASSES.set(py, classes);
    Ok(())
}

/// The SRE Workbook's four alert policies scaled to `window_seconds`:
/// `[(severity, long_window, short_window, threshold)]`.
#[pyfunction]
fn workbook_policies(window_seconds: f64) -> Vec<(String, f64, f64, f64)> {
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
    m.add_function(wrap_pyfunction!(checked_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(bind_result_classes, m)?)?;
    spend::register(m)?;
    errors::register(m)?;
    breaker::register(m)?;
    ledger::register(m)?;
    routes::register(m)?;
    cost::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
