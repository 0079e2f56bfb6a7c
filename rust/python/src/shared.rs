//! `shared=`: putting a core's state in an arena (Linux only, where arenas exist).

use burnguard_core::breaker::Breaker;
use burnguard_core::counter::Counter;
use burnguard_core::ledger::{Ledger, Retention};
use burnguard_core::routes::RouteTable;
use burnguard_core::slo::Slo;
use pyo3::prelude::*;

/// Shares `slo` under `name` in the arena `shared` (an `ArenaCore`).
#[cfg(target_os = "linux")]
pub(crate) fn share_slo(slo: &mut Slo, shared: &Bound<'_, PyAny>, name: &str) -> PyResult<()> {
    let arena = shared.cast::<crate::arena::ArenaCore>()?;
    slo.share(&arena.get().arena, name)
        .map_err(crate::arena::arena_err)
}

/// Shares `breaker` under `name` in the arena `shared` (an `ArenaCore`).
#[cfg(target_os = "linux")]
pub(crate) fn share_breaker(
    breaker: &mut Breaker,
    shared: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<()> {
    let arena = shared.cast::<crate::arena::ArenaCore>()?;
    breaker
        .share(&arena.get().arena, name)
        .map_err(crate::arena::arena_err)
}

/// Shares the route table `table` under `name` in the arena `shared` (an `ArenaCore`).
#[cfg(target_os = "linux")]
pub(crate) fn share_routes(
    table: &mut RouteTable,
    shared: &Bound<'_, PyAny>,
    name: &str,
) -> PyResult<()> {
    let arena = shared.cast::<crate::arena::ArenaCore>()?;
    table
        .share(&arena.get().arena, name)
        .map_err(crate::arena::arena_err)
}

/// The ledger `name` of the arena `shared` (an `ArenaCore`).
#[cfg(target_os = "linux")]
pub(crate) fn shared_ledger(
    shared: &Bound<'_, PyAny>,
    name: &str,
    capacity: u64,
    retention: Retention,
) -> PyResult<Ledger> {
    let arena = shared.cast::<crate::arena::ArenaCore>()?;
    Ledger::shared(&arena.get().arena, name, capacity, retention).map_err(crate::arena::arena_err)
}

/// Shared arenas need Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn shared_ledger(
    _: &Bound<'_, PyAny>,
    _: &str,
    _: u64,
    _: Retention,
) -> PyResult<Ledger> {
    Err(needs_linux())
}

/// The counter named `name` in the arena `shared` (an `ArenaCore`).
#[cfg(target_os = "linux")]
pub(crate) fn shared_counter(shared: &Bound<'_, PyAny>, name: &str) -> PyResult<Counter> {
    if name.is_empty() {
        return Err(crate::errors::py_err(burnguard_core::Error::invalid(
            "name",
            "a shared counter needs a name",
        )));
    }
    let arena = shared.cast::<crate::arena::ArenaCore>()?;
    Counter::shared(&arena.get().arena, name).map_err(crate::arena::arena_err)
}

/// Shared arenas need Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn shared_counter(_: &Bound<'_, PyAny>, _: &str) -> PyResult<Counter> {
    Err(needs_linux())
}

/// Shared arenas need Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn share_routes(_: &mut RouteTable, _: &Bound<'_, PyAny>, _: &str) -> PyResult<()> {
    Err(needs_linux())
}

/// Shared arenas need Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn share_slo(_: &mut Slo, _: &Bound<'_, PyAny>, _: &str) -> PyResult<()> {
    Err(needs_linux())
}

/// Shared arenas need Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn share_breaker(_: &mut Breaker, _: &Bound<'_, PyAny>, _: &str) -> PyResult<()> {
    Err(needs_linux())
}

#[cfg(not(target_os = "linux"))]
fn needs_linux() -> PyErr {
    pyo3::exceptions::PyValueError::new_err(
        "shared arenas need Linux (its shared memory and posix_fallocate)",
    )
}
