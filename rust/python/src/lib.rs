//! PyO3 bindings for burnguard-core: conversions of types and errors, and the GIL released for
//! batch work; all logic lives in the core crate.
//!
//! * [`errors`]: the one place core errors become Python exceptions;
//! * [`results`]: the facade's result classes, built natively by field name;
//! * [`convert`]: numpy arrays as slices; [`clock`]: a Python callable as a time source;
//! * one module per concern of the core: [`slo`], [`spend`], [`breaker`], [`ledger`],
//!   [`routes`], [`cost`], [`fleet`] (an SLO's link to a fleet store); [`serve`] starts the Cycles server (`burnguard-server`).

use pyo3::prelude::*;

#[cfg(target_os = "linux")]
mod arena;
mod asgi;
mod billing;
mod breaker;
mod clock;
mod convert;
mod cost;
mod errors;
mod fleet;
mod ledger;
mod ledger_fleet;
mod logs;
mod results;
mod routes;
mod serve;
mod settle;
mod shared;
mod slo;
mod spend;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    #[cfg(target_os = "linux")]
    arena::register(m)?;
    results::register(m)?;
    slo::register(m)?;
    fleet::register(m)?;
    spend::register(m)?;
    breaker::register(m)?;
    billing::register(m)?;
    ledger::register(m)?;
    logs::register(m)?;
    routes::register(m)?;
    settle::register(m)?;
    asgi::register(m)?;
    serve::register(m)?;
    cost::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
