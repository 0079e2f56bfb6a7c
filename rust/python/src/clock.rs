//! A Python callable as the core's injected time source.

use burnguard_core::clock::{Clock, TimeSource};
use burnguard_core::Error;
use pyo3::prelude::*;

use crate::errors::py_err;
use crate::fleet::FleetClock;

/// `clock()` in seconds since the epoch; an exception it raises is raised as is.
struct PyClock(Py<PyAny>);

impl TimeSource for PyClock {
    fn now(&self) -> Result<f64, Error> {
        Python::attach(|py| self.0.call0(py)?.extract::<f64>(py))
            .map_err(|err| Error::callback("clock", err))
    }
}

/// The core clock for a facade's `clock=` argument: the wall clock when None, the wall clock
/// offset to a fleet's when a `FleetClock`; anything but a callable is a `TypeError` naming
/// `clock`.
pub(crate) fn clock_of(clock: Option<Py<PyAny>>) -> PyResult<Clock> {
    Python::attach(|py| match clock {
        None => Ok(Clock::Wall),
        Some(clock) if clock.bind(py).is_instance_of::<FleetClock>() => {
            let fleet = clock.bind(py).cast::<FleetClock>()?.get();
            Ok(Clock::Offset(fleet.offset.clone()))
        }
        Some(clock) if clock.bind(py).is_callable() => Ok(Clock::injected(PyClock(clock))),
        Some(clock) => Err(callable_expected("clock", clock.bind(py))),
    })
}

/// The `TypeError` for `value`, given for `param`, which must be callable.
pub(crate) fn callable_expected(param: &'static str, value: &Bound<'_, PyAny>) -> PyErr {
    let kind = value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    py_err(Error::wrong_type(param, "must be callable", kind))
}
