//! The one clock of the core: wall time read in Rust, or a time source the caller injects.
//!
//! Every stateful type holds a [`Clock`] and every operation takes an optional timestamp
//! `at`: an explicit `at` wins, else the injected source, else the wall clock. Records read the
//! coarse wall clock ([`coarse_wall`], a tenth of the cost, 1-4 ms of resolution, never ahead
//! of the precise one); reads and decisions read the precise one ([`wall`]). Injected readings
//! are checked like timestamps: finite, in `[0, MAX_TIMESTAMP)` seconds since the epoch.
// The coarse clock is the one libc call of the core; its `unsafe` block is below.
#![allow(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::window::check_timestamp;

/// A time source a caller injects: seconds since the epoch, or the error its reading raised
/// (an [`Error`] whose `source` is the callback's own error).
pub trait TimeSource: Send + Sync {
    /// The time now.
    fn now(&self) -> Result<f64, Error>;
}

/// Wall time in seconds since the epoch, as Python's `time.time()` gives it.
pub fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The coarse wall clock. On Linux, `CLOCK_REALTIME_COARSE`: the kernel's last tick (1-4 ms of
/// resolution) instead of the TSC, about 3 ns against 33 ns, which matters on the recording
/// path (the finest bucket of any window is 16 ms). It never runs ahead of [`wall`], so a read
/// never precedes an earlier record.
#[cfg(target_os = "linux")]
pub fn coarse_wall() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and CLOCK_REALTIME_COARSE exists on every
    // Linux since 2.6.32; on failure we fall back to the precise clock.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    } else {
        wall()
    }
}

/// The coarse wall clock (the precise one where no coarse clock exists).
#[cfg(not(target_os = "linux"))]
pub fn coarse_wall() -> f64 {
    wall()
}

/// Where a stateful type gets the time it is not given.
#[derive(Clone, Default)]
pub enum Clock {
    /// Wall time, read in Rust.
    #[default]
    Wall,
    /// A caller's time source (tests, simulations, replays).
    Injected(Arc<dyn TimeSource>),
    /// Wall time corrected by an offset a fleet backend measures against its server's clock,
    /// so that the hosts of a fleet agree on buckets whatever their own clocks' skew.
    Offset(Arc<ClockOffset>),
}

/// Seconds to add to this host's wall clock to read the fleet's clock, shared by every type
/// that records for the fleet and set as the backend measures it.
#[derive(Debug, Default)]
pub struct ClockOffset(std::sync::atomic::AtomicU64);

impl ClockOffset {
    /// An offset of 0.
    pub fn new() -> Self {
        ClockOffset::default()
    }

    /// The offset, in seconds.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Sets the offset to `seconds` (a finite number, else it is ignored and false returned).
    pub fn set(&self, seconds: f64) -> bool {
        if seconds.is_finite() {
            self.0
                .store(seconds.to_bits(), std::sync::atomic::Ordering::Relaxed);
        }
        seconds.is_finite()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Clock::Wall => "Clock::Wall",
            Clock::Injected(_) => "Clock::Injected",
            Clock::Offset(_) => "Clock::Offset",
        })
    }
}

/// When a timed call started: a monotonic instant on the wall clock, a reading of an injected
/// clock.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// A wall-clock call, timed by the monotonic clock (a wall-clock step does not skew it).
    Monotonic(Instant),
    /// An injected-clock call, timed by the clock's own readings.
    Injected(f64),
}

impl Clock {
    /// A clock reading `source`.
    pub fn injected(source: impl TimeSource + 'static) -> Self {
        Clock::Injected(Arc::new(source))
    }

    /// Whether this is the wall clock.
    pub fn is_wall(&self) -> bool {
        matches!(self, Clock::Wall)
    }

    /// `at` if given (checked), else the time now: the time of a read or a decision.
    pub fn read(&self, at: Option<f64>) -> Result<f64, Error> {
        self.read_with(at, wall)
    }

    /// `at` if given (checked), else the time now by the coarse wall clock: the time of a
    /// record.
    pub fn read_coarse(&self, at: Option<f64>) -> Result<f64, Error> {
        self.read_with(at, coarse_wall)
    }

    /// The time now in milliseconds, rounded (the ledger's unit).
    pub fn now_ms(&self) -> Result<i64, Error> {
        Ok((self.read(None)? * 1000.0).round() as i64)
    }

    fn read_with(&self, at: Option<f64>, wall: fn() -> f64) -> Result<f64, Error> {
        match (at, self) {
            (Some(at), _) => check_timestamp("at", at),
            (None, Clock::Wall) => Ok(wall()),
            (None, Clock::Injected(source)) => check_timestamp("clock()", source.now()?),
            (None, Clock::Offset(offset)) => check_timestamp("clock()", wall() + offset.get()),
        }
    }

    /// The start of a call to be timed.
    pub fn start(&self) -> Result<Start, Error> {
        Ok(match self {
            Clock::Wall | Clock::Offset(_) => Start::Monotonic(Instant::now()),
            Clock::Injected(source) => Start::Injected(check_timestamp("clock()", source.now()?)?),
        })
    }

    /// Seconds since `start` (0 if an injected clock went back).
    pub fn elapsed(&self, start: Start) -> Result<f64, Error> {
        Ok(match (start, self) {
            (Start::Monotonic(t0), _) => t0.elapsed().as_secs_f64(),
            (Start::Injected(t0), clock) => (clock.read(None)? - t0).max(0.0),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Manual(AtomicU64);

    impl TimeSource for Manual {
        fn now(&self) -> Result<f64, Error> {
            Ok(f64::from_bits(self.0.load(Ordering::Relaxed)))
        }
    }

    fn manual(t: f64) -> (Arc<Manual>, Clock) {
        let source = Arc::new(Manual(AtomicU64::new(t.to_bits())));
        (source.clone(), Clock::Injected(source))
    }

    #[test]
    fn an_explicit_time_wins_then_the_injected_clock_then_the_wall() {
        let (source, clock) = manual(100.0);
        assert_eq!(clock.read(Some(5.0)), Ok(5.0));
        assert_eq!(clock.read(None), Ok(100.0));
        assert_eq!(clock.read_coarse(None), Ok(100.0));
        source.0.store(250.5f64.to_bits(), Ordering::Relaxed);
        assert_eq!(clock.now_ms(), Ok(250_500));
        let before = wall();
        let read = Clock::Wall.read(None).unwrap();
        assert!(read >= before && read < before + 60.0);
        let coarse = Clock::Wall.read_coarse(None).unwrap();
        assert!(coarse <= wall() && coarse > before - 1.0);
    }

    #[test]
    fn bad_times_name_where_they_came_from() {
        let (source, clock) = manual(f64::NAN);
        assert_eq!(clock.read(None).unwrap_err().param, "clock()");
        assert_eq!(clock.read(Some(-1.0)).unwrap_err().param, "at");
        assert_eq!(
            Clock::Wall.read(Some(f64::INFINITY)).unwrap_err().param,
            "at"
        );
        source.0.store(10.0f64.to_bits(), Ordering::Relaxed);
        assert!(clock.read(None).is_ok());
    }

    #[test]
    fn calls_are_timed_by_the_clock_they_run_on() {
        let (source, clock) = manual(10.0);
        let start = clock.start().unwrap();
        source.0.store(12.5f64.to_bits(), Ordering::Relaxed);
        assert_eq!(clock.elapsed(start), Ok(2.5));
        source.0.store(9.0f64.to_bits(), Ordering::Relaxed);
        assert_eq!(
            clock.elapsed(start),
            Ok(0.0),
            "a clock that went back times 0"
        );
        let offset = Arc::new(ClockOffset::new());
        assert!(offset.set(-3600.0) && !offset.set(f64::NAN));
        let skewed = Clock::Offset(offset.clone()).read(None).unwrap();
        assert!(
            (skewed - (wall() - 3600.0)).abs() < 60.0,
            "read on the wall clock, offset"
        );
        assert_eq!(offset.get(), -3600.0);
        let wall_start = Clock::Wall.start().unwrap();
        assert!(Clock::Wall.elapsed(wall_start).unwrap() >= 0.0);
    }
}
