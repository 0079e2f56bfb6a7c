//! `shared=`: putting a core's state in an arena (Linux only, where arenas exist).

use burnguard_core::breaker::Breaker;
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
