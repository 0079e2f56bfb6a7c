//! Bindings for per-route request windows (`burnguard_core::routes`).

use std::sync::Arc;

use burnguard_core::counter;
use burnguard_core::routes::{
    Rejection, RouteOutbox, RouteTable, RouteWindow, Summary, STATUS_CLASSES, SUMMARY_QUANTILES,
};
use burnguard_core::Error;
use pyo3::prelude::*;

use crate::clock::clock_of;
use crate::errors::py_err;
use crate::results::result;

/// A bounded table of routes; the facade's `RouteTable` wraps it.
#[pyclass(frozen, module = "burnguard._native")]
struct RouteTableCore {
    table: RouteTable,
}

#[pymethods]
impl RouteTableCore {
    #[new]
    #[pyo3(signature = (max_routes, retain_seconds, overflow_key, *, clock = None, shared = None, name = "routes"))]
    fn new(
        max_routes: usize,
        retain_seconds: f64,
        overflow_key: &str,
        clock: Option<Py<PyAny>>,
        shared: Option<Bound<'_, PyAny>>,
        name: &str,
    ) -> PyResult<Self> {
        let table = RouteTable::new(max_routes, retain_seconds, overflow_key).map_err(py_err)?;
        let mut table = table.with_clock(clock_of(clock)?);
        if let Some(arena) = shared {
            crate::shared::share_routes(&mut table, &arena, name)?;
        }
        Ok(RouteTableCore { table })
    }

    /// `(held_key, route)`: the route of `key`, created on first sight, or the overflow route
    /// once the table is full.
    fn route(&self, key: &str) -> PyResult<(String, RouteCore)> {
        let (held, window) = self.table.route(key).map_err(crate::arena::arena_err)?;
        Ok((held.to_owned(), RouteCore { window }))
    }

    /// Whether the table's routes live in a shared arena.
    #[getter]
    fn shared(&self) -> bool {
        self.table.is_shared()
    }

    /// The time now by the table's clock.
    fn now(&self) -> PyResult<f64> {
        self.table.now().map_err(py_err)
    }

    /// Every route as `(key, route)`, sorted by key.
    fn routes(&self) -> Vec<(String, RouteCore)> {
        self.table
            .routes()
            .into_iter()
            .map(|(key, window)| (key, RouteCore { window }))
            .collect()
    }
}

/// One route's window.
#[pyclass(frozen, module = "burnguard._native")]
pub(crate) struct RouteCore {
    pub(crate) window: Arc<RouteWindow>,
}

#[pymethods]
impl RouteCore {
    /// Records a request that took `duration` seconds, ended `at` (default: now) and was
    /// answered with `status` (0: none).
    #[pyo3(signature = (duration, error = false, bytes = 0, at = None, status = 0))]
    fn record(
        &self,
        duration: f64,
        error: bool,
        bytes: i64,
        at: Option<f64>,
        status: i64,
    ) -> PyResult<()> {
        let bytes =
            u64::try_from(bytes).map_err(|_| py_err(Error::bad("bytes", "must be >= 0", bytes)))?;
        let status = u16::try_from(status)
            .map_err(|_| py_err(Error::bad("status", "must be in [0, 65535]", status)))?;
        self.window
            .record(at, duration, error, bytes, status)
            .map_err(py_err)
    }

    /// The totals since the route was created: `(requests by status class (none, 1xx .. 5xx),
    /// errors, bytes, duration_seconds)`.
    #[getter]
    fn totals(&self) -> ([u64; STATUS_CLASSES], u64, u64, f64) {
        let t = self.window.totals();
        (t.by_class, t.errors, t.bytes, t.duration_seconds)
    }

    /// For each bound (seconds, ascending), the requests since creation that took at most
    /// that long.
    fn histogram(&self, bounds: Vec<f64>) -> PyResult<Vec<u64>> {
        self.window.histogram(&bounds).map_err(py_err)
    }

    /// The `RouteSummary` of the last `window_seconds` before `at` (default: now) for route
    /// `key`, leaving out buckets that begin within `warmup_seconds` of its first request.
    #[pyo3(signature = (key, window_seconds, at = None, warmup_seconds = 0.0))]
    fn summary<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        window_seconds: f64,
        at: Option<f64>,
        warmup_seconds: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s: Summary = py
            .detach(|| {
                self.window
                    .summary(at, window_seconds, warmup_seconds, &SUMMARY_QUANTILES)
            })
            .map_err(py_err)?;
        result!(py, "RouteSummary" {
            route: key,
            window_seconds: window_seconds,
            covered_seconds: s.covered_seconds,
            requests: s.requests,
            errors: s.errors,
            bytes: s.bytes,
            duration_seconds: s.duration_seconds,
            p50: s.quantile(0),
            p90: s.quantile(1),
            p95: s.quantile(2),
            p99: s.quantile(3),
            max: s.slowest(),
        })
    }

    /// When the route's earliest request ended (seconds since the epoch), if any.
    #[getter]
    fn first_seen(&self) -> Option<f64> {
        self.window.first_seen()
    }

    /// Counts a request answered 503 because the route's breaker was open.
    fn reject_circuit_open(&self) {
        self.window.reject(Rejection::CircuitOpen);
    }

    /// Counts a request answered 429 because the route's budget denied it.
    fn reject_budget_denied(&self) {
        self.window.reject(Rejection::BudgetDenied);
    }

    /// Requests answered 503 while the route's breaker was open.
    #[getter]
    fn circuit_open(&self) -> u64 {
        self.window.rejected(Rejection::CircuitOpen)
    }

    /// Requests answered 429 because the route's budget denied them.
    #[getter]
    fn budget_denied(&self) -> u64 {
        self.window.rejected(Rejection::BudgetDenied)
    }

    /// Requests too old to be recorded.
    #[getter]
    fn dropped(&self) -> u64 {
        self.window.dropped()
    }

    /// The longest window that can be asked for.
    #[getter]
    fn retained_seconds(&self) -> f64 {
        self.window.retained_seconds()
    }

    /// Bytes the window holds (fixed).
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.window.memory_bytes()
    }

    /// Slots of every tier (each a fleet store key).
    #[getter]
    fn fleet_slots(&self) -> usize {
        self.window.fleet_slots()
    }

    /// `(slot lines, totals line or None)`: what changed since `outbox` last sent (see
    /// `burnguard_core::routes::fleet`).
    fn _fleet_batch(&self, outbox: &RouteOutboxCore) -> (Vec<String>, Option<String>) {
        self.window.fleet_batch(&outbox.0)
    }

    /// Writes the fleet's figures of one slot into this mirror route.
    fn _fleet_set_slot(&self, line: &str) -> PyResult<()> {
        self.window.set_fleet_slot(line).map_err(py_err)
    }

    /// Writes the fleet's totals into this mirror route.
    fn _fleet_set_totals(&self, line: &str) -> PyResult<()> {
        self.window.set_fleet_totals(line).map_err(py_err)
    }
}

/// What a process last sent of one route to the fleet's store.
#[pyclass(frozen, module = "burnguard._native")]
#[derive(Default)]
struct RouteOutboxCore(RouteOutbox);

#[pymethods]
impl RouteOutboxCore {
    #[new]
    fn new() -> Self {
        RouteOutboxCore::default()
    }

    /// Forgets what was sent: the next batch sends every figure.
    fn resend_all(&self) {
        self.0.resend_all();
    }
}

/// A monotonic event counter (faults, say), one atomic word shared by every thread.
#[pyclass(frozen, module = "burnguard._native")]
#[derive(Default)]
struct Counter(counter::Counter);

#[pymethods]
impl Counter {
    /// A counter of this process, or, with `shared` (an `ArenaCore`), the one named `name`
    /// there, which every process that asks for it counts into.
    #[new]
    #[pyo3(signature = (*, shared = None, name = ""))]
    fn new(shared: Option<Bound<'_, PyAny>>, name: &str) -> PyResult<Self> {
        match shared {
            None => Ok(Counter::default()),
            Some(arena) => crate::shared::shared_counter(&arena, name).map(Counter),
        }
    }

    /// Whether the counter lives in a shared arena.
    #[getter]
    fn shared(&self) -> bool {
        self.0.is_shared()
    }

    /// Counts one more event.
    fn inc(&self) {
        self.0.add(1);
    }

    /// The events counted so far.
    #[getter]
    fn value(&self) -> u64 {
        self.0.get()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RouteTableCore>()?;
    m.add_class::<RouteCore>()?;
    m.add_class::<RouteOutboxCore>()?;
    m.add_class::<Counter>()?;
    Ok(())
}
