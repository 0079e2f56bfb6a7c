//! One native call that settles a request the web adapters finished: its route's window, its
//! SLOs and its breaker permit, so the middleware makes one call into the core, not four.

use std::sync::Arc;

use burnguard_core::breaker::Outcome;
use burnguard_core::routes::RouteWindow;
use burnguard_core::Error;
use pyo3::prelude::*;

use crate::breaker::BreakerPermit;
use crate::errors::py_err;
use crate::routes::RouteCore;
use crate::slo::SloCore;

/// What a finished request of one route is recorded into; the facade's `RoutePlan` holds it.
#[pyclass(frozen, module = "burnguard._native")]
struct Settlement {
    route: Arc<RouteWindow>,
    availability: Option<Py<SloCore>>,
    latency: Option<Py<SloCore>>,
}

#[pymethods]
impl Settlement {
    #[new]
    #[pyo3(signature = (route, availability = None, latency = None))]
    fn new(
        route: PyRef<'_, RouteCore>,
        availability: Option<Py<SloCore>>,
        latency: Option<Py<SloCore>>,
    ) -> Self {
        Settlement {
            route: route.window.clone(),
            availability,
            latency,
        }
    }

    /// Records a request that took `duration` seconds, sent `sent` bytes and was answered with
    /// `status`, good if `ok`: into the route, the availability SLO, the latency SLO (its
    /// duration if good, a failure if not), and completes the breaker `permit` if given.
    #[pyo3(signature = (ok, duration, sent, status, permit = None))]
    fn settle(
        &self,
        py: Python<'_>,
        ok: bool,
        duration: f64,
        sent: u64,
        status: u16,
        permit: Option<PyRef<'_, BreakerPermit>>,
    ) -> PyResult<()> {
        self.route
            .record(None, duration, !ok, sent, status)
            .map_err(py_err)?;
        if let Some(slo) = &self.availability {
            slo.get().slo.record(None, ok).map_err(py_err)?;
        }
        if let Some(slo) = &self.latency {
            let slo = &slo.get().slo;
            let recorded: Result<(), Error> = if ok {
                slo.record_latency(None, duration)
            } else {
                slo.record(None, false)
            };
            recorded.map_err(py_err)?;
        }
        if let Some(permit) = permit {
            let outcome = if ok {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            permit.complete(py, outcome, Some(duration), false)?;
        }
        Ok(())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Settlement>()
}
