//! Bindings for a fleet backend's view of an SLO (`burnguard_core::fleet`): the batches a
//! flusher sends, the mirror its replies update, and the clock offset it measures.

use std::sync::{Arc, Mutex, MutexGuard};

use burnguard_core::clock::ClockOffset;
use burnguard_core::fleet::{FleetWindow, Outbox};
use pyo3::prelude::*;

use crate::errors::py_err;
use crate::slo::SloCore;

/// Seconds to add to this host's wall clock to read the fleet's: SLOs built with it as their
/// `clock=` record and read on the fleet's time.
#[pyclass(frozen, module = "burnguard._native")]
pub(crate) struct FleetClock {
    pub(crate) offset: Arc<ClockOffset>,
}

#[pymethods]
impl FleetClock {
    #[new]
    fn new() -> Self {
        FleetClock {
            offset: Arc::new(ClockOffset::new()),
        }
    }

    /// The offset, in seconds.
    #[getter]
    fn offset(&self) -> f64 {
        self.offset.get()
    }

    /// Sets the offset; a non-finite one is ignored (and False returned).
    fn set_offset(&self, seconds: f64) -> bool {
        self.offset.set(seconds)
    }
}

/// One SLO's link to a fleet store: its outbox of changed buckets and its mirror of the
/// fleet's.
#[pyclass(frozen, module = "burnguard._native")]
pub(crate) struct SloFleet {
    core: Py<SloCore>,
    outbox: Mutex<Outbox>,
    mirror: Mutex<FleetWindow>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these; a poisoned lock still holds consistent data.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `(changed: [(index, good, bad)], forgotten: [index], full)` of a batch.
type BatchTuple = (Vec<(u64, u64, u64)>, Vec<u64>, bool);

#[pymethods]
impl SloFleet {
    /// The link of `core`; with `host`, of a window every process of the host shares, flushed
    /// whole by one of them at a time (see `Outbox::unbased`).
    #[new]
    #[pyo3(signature = (core, *, host = false))]
    fn new(core: Py<SloCore>, host: bool) -> Self {
        let window = core.get().slo.window();
        let outbox = if host {
            Outbox::unbased(window)
        } else {
            Outbox::new(window)
        };
        SloFleet {
            outbox: Mutex::new(outbox),
            mirror: Mutex::new(FleetWindow::new(window.layout())),
            core,
        }
    }

    /// `(base_width, buckets per tier, tiers)` of the SLO's window and its mirror.
    #[getter]
    fn layout(&self) -> (f64, usize, usize) {
        self.core.get().slo.window().layout()
    }

    /// The finest buckets that changed since the last batch, at `now`, with absolute counts.
    fn batch(&self, py: Python<'_>, now: f64) -> PyResult<BatchTuple> {
        let window = self.core.get().slo.window();
        let batch = py
            .detach(|| lock(&self.outbox).batch(window, now))
            .map_err(py_err)?;
        let changed = batch
            .changed
            .iter()
            .map(|(index, c)| (*index, c.good, c.bad))
            .collect();
        Ok((changed, batch.forgotten, batch.full))
    }

    /// Makes the next batch carry every finest bucket again.
    fn resend_all(&self) {
        lock(&self.outbox).resend_all();
    }

    /// The store applied every batch so far.
    fn acknowledge(&self) {
        lock(&self.outbox).acknowledge();
    }

    /// Takes what the window holds now as counted: for a store that lost this writer's counts
    /// but kept the fleet's.
    fn rebase(&self) {
        lock(&self.outbox).rebase(self.core.get().slo.window());
    }

    /// Events recorded here that no batch carried (too old for the finest span).
    #[getter]
    fn unshared(&self) -> u64 {
        lock(&self.outbox).unshared(self.core.get().slo.window())
    }

    /// Sets mirror slots from `(tier, slot, tag, good, bad)` entries, after forgetting every
    /// bucket when `clear` (a full copy of the store).
    #[pyo3(signature = (entries, *, clear = false))]
    fn apply(&self, entries: Vec<(usize, usize, u64, u64, u64)>, clear: bool) -> PyResult<()> {
        // Applied to a copy, so that a bad entry leaves the mirror as it was.
        let mut mirror = lock(&self.mirror);
        let mut next = mirror.clone();
        if clear {
            next.clear();
        }
        for (tier, slot, tag, good, bad) in entries {
            next.set(tier, slot, tag, good, bad).map_err(py_err)?;
        }
        *mirror = next;
        Ok(())
    }

    /// `(good, bad)` in the fleet's buckets over each of `windows` ending at `now`.
    fn counts(&self, now: f64, windows: Vec<f64>) -> PyResult<Vec<(u64, u64)>> {
        let counts = lock(&self.mirror)
            .count_many(now, &windows)
            .map_err(py_err)?;
        Ok(counts.into_iter().map(|c| (c.good, c.bad)).collect())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FleetClock>()?;
    m.add_class::<SloFleet>()?;
    Ok(())
}
