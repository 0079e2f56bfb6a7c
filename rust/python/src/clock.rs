//! A Python callable as the core's injected time source.

use burnguard_core::clock::{Clock, TimeSource};
use burnguard_core::Error;
use pyo3::prelude::*;

/// `clock()` in seconds since the epoch; an exception it raises is raised as is.
struct PyClock(Py<PyAny>);

impl TimeSource for PyClock {
    fn now(&self) -> Result<f64, Error> {
        Python::attach(|py| self.0.call0(py)?.extract::<f64>(py))
            .map_err(|err| Error::callback("clock", err))
    }
}

/// The core clock for a facade's `clock=` argument: the wall clock when None.
pub(crate) fn clock_of(clock: Option<Py<PyAny>>) -> Clock {
    match clock {
        None => Clock::Wall,
        Some(clock) => Clock::injected(PyClock(clock)),
    }
}
