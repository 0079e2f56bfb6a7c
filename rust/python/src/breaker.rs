//! Bindings for the circuit breaker: configuration in, guarded calls, permits and snapshots out.
//! The state machine is `burnguard_core::breaker`; this module runs the guarded call (so the
//! decorator and `call()` add no Python frame), classifies its outcome with the facade's
//! options, and reports transitions and rejections to the facade.

use std::sync::atomic::{AtomicBool, Ordering};

use burnguard_core::breaker::{
    Breaker, Call, Config, Outcome, Rejection, SlidingWindow, State, Transition,
};
use burnguard_core::Error;
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{intern, IntoPyObjectExt};

use crate::clock::{callable_expected, clock_of};
use crate::errors::py_err;
use crate::results::result;

/// `burnguard.CircuitOpenError`, bound once at import by the facade.
static OPEN_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Binds the exception rejected calls raise.
#[pyfunction]
fn bind_breaker_error(py: Python<'_>, error: Py<PyType>) {
    let _ = OPEN_ERROR.set(py, error);
}

fn count(param: &'static str, value: i64) -> PyResult<u32> {
    u32::try_from(value).map_err(|_| {
        py_err(Error::bad(
            param,
            format!("must be in [0, {}]", u32::MAX),
            value,
        ))
    })
}

/// The native half of `burnguard.CircuitBreaker` (which subclasses it).
#[pyclass(frozen, subclass, module = "burnguard._native")]
pub struct BreakerCore {
    core: Breaker,
    name: Py<PyAny>,
    record_exceptions: Py<PyAny>,
    ignore_exceptions: Py<PyAny>,
    exception_classifier: Option<Py<PyAny>>,
    result_classifier: Option<Py<PyAny>>,
    fallback: Option<Py<PyAny>>,
    /// Whether the facade wants to hear of rejected calls.
    report_rejections: AtomicBool,
    /// A `contextvars.ContextVar` holding the permits of `with breaker:` blocks open in the
    /// current thread or task, as nested `(permit, outer)` pairs.
    active: Py<PyAny>,
}

impl BreakerCore {
    /// The time now by the breaker's clock.
    fn now(&self) -> PyResult<f64> {
        self.core.now().map_err(py_err)
    }

    /// Tells the facade about a transition (listeners, timers).
    fn announce(slf: &Bound<'_, Self>, transition: Option<Transition>) -> PyResult<()> {
        match transition {
            Some(t) => slf
                .call_method1(
                    intern!(slf.py(), "_on_transition"),
                    (t.from.as_str(), t.to.as_str()),
                )
                .map(drop),
            None => Ok(()),
        }
    }

    /// A call, or the rejection (after telling the facade).
    fn begin(slf: &Bound<'_, Self>) -> PyResult<Result<Call, Rejection>> {
        let this = slf.get();
        let (acquired, transition) = this.core.begin().map_err(py_err)?;
        Self::announce(slf, transition)?;
        if let Err(rejection) = &acquired {
            if this.report_rejections.load(Ordering::Relaxed) {
                slf.call_method1(
                    intern!(slf.py(), "_on_rejected"),
                    (rejection.state.as_str(), rejection.retry_after),
                )?;
            }
        }
        Ok(acquired)
    }

    fn open_error(&self, py: Python<'_>, rejection: Rejection) -> PyErr {
        match OPEN_ERROR.get(py) {
            Some(class) => PyErr::from_type(
                class.bind(py).clone(),
                (
                    self.name.clone_ref(py),
                    rejection.state.as_str(),
                    rejection.retry_after,
                ),
            ),
            None => PyRuntimeError::new_err("import burnguard before using burnguard._native"),
        }
    }

    /// How an exception raised by the guarded call counts.
    fn classify_error(&self, py: Python<'_>, error: &PyErr) -> PyResult<Outcome> {
        let value = error.value(py);
        if value.is_instance(self.ignore_exceptions.bind(py))? {
            return Ok(Outcome::Ignored);
        }
        if let Some(classifier) = &self.exception_classifier {
            // A classifier that raises raises from the call's own exception.
            let chained = |raised: PyErr| {
                raised.set_cause(py, Some(error.clone_ref(py)));
                raised
            };
            let verdict = classifier.bind(py).call1((value,)).map_err(chained)?;
            let failed = verdict.is_truthy().map_err(chained)?;
            return Ok(if failed {
                Outcome::Failure
            } else {
                Outcome::Success
            });
        }
        Ok(if value.is_instance(self.record_exceptions.bind(py))? {
            Outcome::Failure
        } else if value.is_instance_of::<PyException>() {
            Outcome::Success
        } else {
            // KeyboardInterrupt, CancelledError and the like say nothing about the service.
            Outcome::Ignored
        })
    }

    /// How a returned value counts.
    fn classify_result(&self, result: &Bound<'_, PyAny>) -> PyResult<Outcome> {
        match &self.result_classifier {
            Some(classifier) if classifier.bind(result.py()).call1((result,))?.is_truthy()? => {
                Ok(Outcome::Failure)
            }
            _ => Ok(Outcome::Success),
        }
    }

    /// Ends `call` with `outcome` and tells the facade of any transition.
    fn end(
        slf: &Bound<'_, Self>,
        call: Call,
        outcome: Outcome,
        duration: Option<f64>,
        force_slow: bool,
    ) -> PyResult<()> {
        let this = slf.get();
        let transition = this
            .core
            .end(call, outcome, duration, force_slow)
            .map_err(py_err)?;
        Self::announce(slf, transition)
    }

    /// Runs `func(*args, **kwargs)` under the breaker.
    pub(crate) fn guarded_call(
        slf: &Bound<'_, Self>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let call = match Self::begin(slf)? {
            Ok(call) => call,
            Err(rejection) => {
                return match &this.fallback {
                    Some(fallback) => Ok(fallback.bind(py).call(args, kwargs)?.unbind()),
                    None => Err(this.open_error(py, rejection)),
                }
            }
        };
        let result = func.call(args, kwargs);
        let (outcome, output) = match result {
            Ok(value) => (this.classify_result(&value), Ok(value.unbind())),
            Err(error) => (this.classify_error(py, &error), Err(error)),
        };
        // A classifier that raised counts the call as failed, and its error is raised.
        let counted = *outcome.as_ref().unwrap_or(&Outcome::Failure);
        Self::end(slf, call, counted, None, false)?;
        outcome?;
        output
    }
}

#[pymethods]
impl BreakerCore {
    #[new]
    #[pyo3(signature = (
        name, failure_rate_threshold, slow_call_rate_threshold, slow_call_duration_threshold,
        sliding_window_type, sliding_window_size, minimum_number_of_calls,
        consecutive_failure_threshold, wait_duration_in_open_state, backoff_multiplier,
        max_wait_duration_in_open_state, jitter, permitted_number_of_calls_in_half_open_state,
        max_wait_duration_in_half_open_state, automatic_transition_from_open_to_half_open,
        record_exceptions, ignore_exceptions, exception_classifier, result_classifier, fallback,
        clock, seed, shared = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: Py<PyAny>,
        failure_rate_threshold: f64,
        slow_call_rate_threshold: f64,
        slow_call_duration_threshold: Option<f64>,
        sliding_window_type: &str,
        sliding_window_size: i64,
        minimum_number_of_calls: i64,
        consecutive_failure_threshold: i64,
        wait_duration_in_open_state: f64,
        backoff_multiplier: f64,
        max_wait_duration_in_open_state: Option<f64>,
        jitter: f64,
        permitted_number_of_calls_in_half_open_state: i64,
        max_wait_duration_in_half_open_state: f64,
        automatic_transition_from_open_to_half_open: bool,
        record_exceptions: Py<PyAny>,
        ignore_exceptions: Py<PyAny>,
        exception_classifier: Option<Py<PyAny>>,
        result_classifier: Option<Py<PyAny>>,
        fallback: Option<Py<PyAny>>,
        clock: Option<Py<PyAny>>,
        seed: u64,
        shared: Option<Bound<'_, PyAny>>,
        py: Python<'_>,
    ) -> PyResult<Self> {
        let size = count("sliding_window_size", sliding_window_size)?;
        let sliding_window = match sliding_window_type {
            "count" | "COUNT_BASED" => SlidingWindow::Count(size),
            "time" | "TIME_BASED" => SlidingWindow::Time(size),
            other => {
                return Err(py_err(Error::bad(
                    "sliding_window_type",
                    "must be \"count\" or \"time\"",
                    format_args!("{:?}", other),
                )))
            }
        };
        let config = Config {
            failure_rate_threshold,
            slow_call_rate_threshold,
            slow_call_duration_threshold: slow_call_duration_threshold.unwrap_or(f64::INFINITY),
            sliding_window,
            minimum_number_of_calls: count("minimum_number_of_calls", minimum_number_of_calls)?,
            consecutive_failure_threshold: count(
                "consecutive_failure_threshold",
                consecutive_failure_threshold,
            )?,
            wait_duration_in_open_state,
            backoff_multiplier,
            max_wait_duration_in_open_state: max_wait_duration_in_open_state
                .unwrap_or(wait_duration_in_open_state),
            jitter,
            permitted_number_of_calls_in_half_open_state: count(
                "permitted_number_of_calls_in_half_open_state",
                permitted_number_of_calls_in_half_open_state,
            )?,
            max_wait_duration_in_half_open_state,
            automatic_transition_from_open_to_half_open,
        };
        for (param, callback) in [
            ("exception_classifier", &exception_classifier),
            ("result_classifier", &result_classifier),
            ("fallback", &fallback),
        ] {
            if let Some(callback) = callback.as_ref().map(|c| c.bind(py)) {
                if !callback.is_callable() {
                    return Err(callable_expected(param, callback));
                }
            }
        }
        let mut core = Breaker::with_clock(config, seed, clock_of(clock)?).map_err(py_err)?;
        if let Some(arena) = shared {
            let key: String = name.bind(py).extract()?;
            crate::shared::share_breaker(&mut core, &arena, &key)?;
        }
        let active = py
            .import(intern!(py, "contextvars"))?
            .getattr(intern!(py, "ContextVar"))?
            .call1((format!("burnguard.breaker.{}", name.bind(py).str()?),))?
            .unbind();
        Ok(BreakerCore {
            core,
            name,
            record_exceptions,
            ignore_exceptions,
            exception_classifier,
            result_classifier,
            fallback,
            report_rejections: AtomicBool::new(false),
            active,
        })
    }

    /// `with breaker:` takes a permit (raising `CircuitOpenError` if there is none) ...
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<BreakerPermit>> {
        let py = slf.py();
        let permit = Py::new(py, Self::acquire(slf)?)?;
        let active = slf.get().active.bind(py);
        let outer = active.call_method1(intern!(py, "get"), (py.None(),))?;
        active.call_method1(intern!(py, "set"), ((permit.clone_ref(py), outer),))?;
        Ok(permit)
    }

    /// ... and completes it with the block's outcome, unless the block completed it.
    fn __exit__(
        slf: &Bound<'_, Self>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let py = slf.py();
        let active = slf.get().active.bind(py);
        let top = active.call_method1(intern!(py, "get"), (py.None(),))?;
        if top.is_none() {
            return Err(PyRuntimeError::new_err(
                "__exit__ without a matching __enter__",
            ));
        }
        let (permit, outer): (Bound<'_, BreakerPermit>, Bound<'_, PyAny>) = top.extract()?;
        active.call_method1(intern!(py, "set"), (outer,))?;
        let permit = permit.get();
        if !permit.done.load(Ordering::Acquire) {
            permit.complete_with(py, exc, None)?;
        }
        Ok(false)
    }

    /// `func(*args, **kwargs)` under the breaker: raises `CircuitOpenError` (or returns the
    /// fallback's result) when the call is not permitted; otherwise records its outcome.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call(
        slf: &Bound<'_, Self>,
        func: &Bound<'_, PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        Self::guarded_call(slf, func, args, kwargs)
    }

    /// A permit for one call, to be completed with its outcome; raises `CircuitOpenError`.
    fn acquire(slf: &Bound<'_, Self>) -> PyResult<BreakerPermit> {
        match Self::begin(slf)? {
            Ok(call) => Ok(BreakerPermit {
                breaker: slf.clone().unbind(),
                call,
                done: AtomicBool::new(false),
            }),
            Err(rejection) => Err(slf.get().open_error(slf.py(), rejection)),
        }
    }

    /// A native callable running `func` under the breaker (what `@breaker` returns).
    fn _guard(slf: &Bound<'_, Self>, func: Py<PyAny>) -> Guarded {
        Guarded {
            breaker: slf.clone().unbind(),
            func,
        }
    }

    /// The current state's name (making a due automatic OPEN to HALF_OPEN move).
    #[getter]
    fn state(slf: &Bound<'_, Self>) -> PyResult<&'static str> {
        let this = slf.get();
        let now = this.now()?;
        let (state, transition) = this.core.state(now);
        Self::announce(slf, transition)?;
        Ok(state.as_str())
    }

    /// Moves to the named state by hand; returns whether the state changed.
    fn _transition_to(slf: &Bound<'_, Self>, state: &str) -> PyResult<bool> {
        let this = slf.get();
        let to = state.parse::<State>().map_err(py_err)?;
        let now = this.now()?;
        let transition = this.core.transition_to(to, now);
        Self::announce(slf, transition)?;
        Ok(transition.is_some())
    }

    /// Back to a fresh CLOSED breaker.
    fn reset(slf: &Bound<'_, Self>) -> PyResult<()> {
        let this = slf.get();
        let now = this.now()?;
        let transition = this.core.reset(now);
        Self::announce(slf, transition)
    }

    /// The `BreakerSnapshot` now (making a due automatic OPEN to HALF_OPEN move).
    fn _snapshot<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let (s, transition) = this.core.snapshot(this.now()?);
        Self::announce(slf, transition)?;
        result!(py, "BreakerSnapshot" {
            name: this.name.bind(py),
            state: s.state.as_str(),
            failure_rate: s.failure_rate,
            slow_call_rate: s.slow_call_rate,
            calls: s.counts.calls,
            failed_calls: s.counts.failed,
            slow_calls: s.counts.slow,
            not_permitted_calls: s.not_permitted,
            consecutive_failures: s.consecutive_failures,
            retry_after: s.retry_after,
            transitions: s.transitions,
        })
    }

    /// For a fleet backend's sync: `(state, epoch, level, calls, failed, slow, holds_probes)`
    /// of the local state word and window.
    fn _fleet_report(&self) -> PyResult<(&'static str, u16, u64, u64, u64, u64, bool)> {
        let (s, _) = self.core.snapshot(self.now()?);
        let (epoch, level) = self.core.epoch_and_level();
        let c = s.counts;
        let holds = self.core.holds_probes();
        Ok((
            s.state.as_str(),
            epoch,
            level,
            c.calls,
            c.failed,
            c.slow,
            holds,
        ))
    }

    /// Installs the state a fleet's store decided: OPEN for `remaining` more seconds,
    /// HALF_OPEN with this host's probes if `probes`. Returns whether the state changed.
    #[pyo3(signature = (state, level, remaining, probes))]
    fn _fleet_adopt(
        slf: &Bound<'_, Self>,
        state: &str,
        level: u64,
        remaining: Option<f64>,
        probes: bool,
    ) -> PyResult<bool> {
        let this = slf.get();
        let to = state.parse::<State>().map_err(py_err)?;
        let now = this.now()?;
        let deadline = remaining.map(|r| now + r.max(0.0));
        let transition = this.core.adopt(to, level, deadline, probes, now);
        Self::announce(slf, transition)?;
        Ok(transition.is_some())
    }

    /// Fleet mode: moves to HALF_OPEN made here wait for the fleet's probe lease.
    fn _fleet_gate(&self, gated: bool) {
        self.core.set_gated(gated);
    }

    /// Whether rejected calls are reported to the facade's `_on_rejected`.
    fn _report_rejections(&self, on: bool) {
        self.report_rejections.store(on, Ordering::Relaxed);
    }

    /// The breaker's name.
    /// Whether the breaker's state lives in a shared arena.
    #[getter]
    fn shared(&self) -> bool {
        self.core.is_shared()
    }

    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyAny> {
        self.name.clone_ref(py)
    }
}

/// Permission for one call, from `CircuitBreaker.acquire()`. Complete it exactly once.
#[pyclass(frozen, module = "burnguard._native")]
pub struct BreakerPermit {
    breaker: Py<BreakerCore>,
    call: Call,
    done: AtomicBool,
}

impl BreakerPermit {
    pub(crate) fn complete(
        &self,
        py: Python<'_>,
        outcome: Outcome,
        duration: Option<f64>,
        force_slow: bool,
    ) -> PyResult<()> {
        if self.done.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err("this permit is already completed"));
        }
        let breaker = self.breaker.bind(py);
        let ended = breaker
            .get()
            .core
            .end(self.call, outcome, duration, force_slow);
        // On an error nothing was recorded (a bad duration or clock): the permit stays open.
        let transition = ended.map_err(|e| {
            self.done.store(false, Ordering::Release);
            py_err(e)
        })?;
        BreakerCore::announce(breaker, transition)
    }
}

#[pymethods]
impl BreakerPermit {
    /// The call succeeded (taking `duration` seconds, measured if not given).
    #[pyo3(signature = (duration=None))]
    fn success(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<()> {
        self.complete(py, Outcome::Success, duration, false)
    }

    /// The call failed.
    #[pyo3(signature = (duration=None))]
    fn failure(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<()> {
        self.complete(py, Outcome::Failure, duration, false)
    }

    /// The call succeeded but was slow, whatever its duration.
    #[pyo3(signature = (duration=None))]
    fn slow(&self, py: Python<'_>, duration: Option<f64>) -> PyResult<()> {
        self.complete(py, Outcome::Success, duration, true)
    }

    /// The call does not count (the permit is given back).
    fn ignore(&self, py: Python<'_>) -> PyResult<()> {
        self.complete(py, Outcome::Ignored, None, false)
    }

    /// Completes with the outcome the breaker's options give `error` (an exception raised by
    /// the call) or, if None, `result` (its return value).
    #[pyo3(signature = (error=None, result=None))]
    fn complete_with(
        &self,
        py: Python<'_>,
        error: Option<Bound<'_, PyAny>>,
        result: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let breaker = self.breaker.bind(py).get();
        let outcome = match (error, result) {
            (Some(error), _) => breaker.classify_error(py, &PyErr::from_value(error)),
            (None, Some(result)) => breaker.classify_result(&result),
            (None, None) => Ok(Outcome::Success),
        };
        self.complete(
            py,
            *outcome.as_ref().unwrap_or(&Outcome::Failure),
            None,
            false,
        )?;
        outcome.map(drop)
    }

    /// The state the call was permitted in.
    #[getter]
    fn state(&self) -> &'static str {
        self.call.permit.state().as_str()
    }

    /// Whether the permit has been completed.
    #[getter]
    fn completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// A function guarded by a breaker: what `@breaker` returns for a sync function.
#[pyclass(frozen, dict, module = "burnguard._native")]
pub struct Guarded {
    breaker: Py<BreakerCore>,
    func: Py<PyAny>,
}

#[pymethods]
impl Guarded {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        BreakerCore::guarded_call(self.breaker.bind(py), self.func.bind(py), args, kwargs)
    }

    /// Binds like a function, so a guarded method receives `self`.
    fn __get__(
        slf: &Bound<'_, Self>,
        instance: Option<&Bound<'_, PyAny>>,
        _owner: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        match instance {
            None => slf.clone().into_py_any(py),
            Some(instance) => {
                static METHOD_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                let method_type = METHOD_TYPE.get_or_try_init(py, || {
                    Ok::<_, PyErr>(py.import("types")?.getattr("MethodType")?.unbind())
                })?;
                method_type.bind(py).call1((slf, instance))?.into_py_any(py)
            }
        }
    }

    /// The breaker guarding the function.
    #[getter]
    fn breaker(&self, py: Python<'_>) -> Py<BreakerCore> {
        self.breaker.clone_ref(py)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BreakerCore>()?;
    m.add_class::<BreakerPermit>()?;
    m.add_class::<Guarded>()?;
    m.add_function(wrap_pyfunction!(bind_breaker_error, m)?)?;
    Ok(())
}
