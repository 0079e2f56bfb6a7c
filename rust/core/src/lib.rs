//! burnguard-core: the engine behind burnguard. Pure Rust, no Python.
//!
//! * [`arena`]: named shared-memory files whose regions of atomic words a host's processes share.
//! * [`clock`]: the wall clock and injected time sources every stateful type reads.
//! * `ring`: the lap-tagged ring of atomic counter words the time windows are built from.
//! * [`window`]: bounded, lock-free, tiered time-bucket windows of good/bad counts.
//! * [`fleet`]: what a fleet backend needs of a window: batches of changed buckets, a mirror.
//! * [`slo`]: SLO definitions, error budgets, burn rates and multiwindow alerts on those windows.
//! * [`billing`]: billing exports (AWS, GCP, Azure, FOCUS) to daily spend series per group.
//! * [`spend`]: spend safeguards (budget, spike, burn, forecast, breaker, policy), scalar and batch.
//! * [`breaker`]: an atomic circuit-breaker state machine (resilience4j's states and triggers).
//! * [`ledger`]: budget reservations (reserve, commit, release) with the Cycles protocol's semantics.
//! * [`sketch`]: quantiles with a bounded relative error from mergeable bucket counts.
//! * [`routes`]: per-route request windows (counts, bytes, latency quantiles) in a bounded table.
//! * [`cost`]: per-route monthly cost projections; [`pricing`]: bundled cloud price tables.
//! * [`words`]: a window's atomic words, owned or in an arena region.
//! * [`counter`]: monotonic atomic event counters (faults, rejections).
//! * [`simd`]: batch kernels dispatched at run time to AVX2 where the CPU has it.
// Unsafe code is denied everywhere but in the kernels `simd::widest!` defines (one call of
// their AVX2 copy, once the CPU is known to have AVX2), in `clock` (one libc call) and in
// `arena` (the shared mapping and the system calls that make it) and `process` (one libc call).
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_os = "linux")]
pub mod arena;
pub mod billing;
pub mod breaker;
pub mod clock;
pub mod cost;
pub mod counter;
pub mod error;
pub mod fleet;
mod fnv;
pub mod ledger;
pub mod logs;
mod names;
mod network;
pub mod pricing;
mod process;
mod ring;
pub mod routes;
pub mod simd;
pub mod sketch;
pub mod slo;
pub mod spend;
mod sync;
pub mod window;
pub mod words;

pub use error::Error;
