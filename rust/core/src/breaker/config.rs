//! A breaker's configuration, in resilience4j's terms, and its checks.

use super::*;

/// Which calls the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlidingWindow {
    /// The last `n` calls.
    Count(u32),
    /// The calls of the last `n` seconds.
    Time(u32),
}

impl SlidingWindow {
    /// The window of `size` named `kind`: `count` (or resilience4j's `COUNT_BASED`) or `time`
    /// (`TIME_BASED`).
    pub fn named(kind: &str, size: u32) -> Result<Self, Error> {
        match kind {
            "count" | "COUNT_BASED" => Ok(SlidingWindow::Count(size)),
            "time" | "TIME_BASED" => Ok(SlidingWindow::Time(size)),
            other => Err(Error::bad(
                "sliding_window_type",
                "must be \"count\" or \"time\"",
                format_args!("{other:?}"),
            )),
        }
    }
}

/// A breaker's configuration, in resilience4j's terms. Durations are in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Open when at least this percentage of the window's calls failed; in (0, 100].
    pub failure_rate_threshold: f64,
    /// Open when at least this percentage of the window's calls were slow; in (0, 100].
    pub slow_call_rate_threshold: f64,
    /// A call taking at least this long is slow; `INFINITY` turns slow-call counting off.
    pub slow_call_duration_threshold: f64,
    /// The window the rates are computed over.
    pub sliding_window: SlidingWindow,
    /// Rates count only once the window holds this many calls (capped at a count window's
    /// size); >= 1.
    pub minimum_number_of_calls: u32,
    /// Also open after this many failures in a row, whatever the rates; 0 turns it off.
    pub consecutive_failure_threshold: u32,
    /// How long the breaker stays open the first time; >= 0.
    pub wait_duration_in_open_state: f64,
    /// Each reopening from HALF_OPEN multiplies the wait by this; >= 1 (1: no backoff).
    pub backoff_multiplier: f64,
    /// The wait never exceeds this; >= `wait_duration_in_open_state`.
    pub max_wait_duration_in_open_state: f64,
    /// The wait is scaled by a random factor in `[1 - jitter, 1 + jitter]`; in [0, 1).
    pub jitter: f64,
    /// Probe calls let through in HALF_OPEN; in [1, 1023].
    pub permitted_number_of_calls_in_half_open_state: u32,
    /// Reopen if HALF_OPEN lasts longer than this; 0 waits for the probes however long.
    pub max_wait_duration_in_half_open_state: f64,
    /// Move from OPEN to HALF_OPEN when the wait is over even if no call comes: any read of
    /// the state makes the move.
    pub automatic_transition_from_open_to_half_open: bool,
}

impl Default for Config {
    /// resilience4j's defaults; slow-call counting off.
    fn default() -> Self {
        Config {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: f64::INFINITY,
            sliding_window: SlidingWindow::Count(100),
            minimum_number_of_calls: 100,
            consecutive_failure_threshold: 0,
            wait_duration_in_open_state: 60.0,
            backoff_multiplier: 1.0,
            max_wait_duration_in_open_state: 60.0,
            jitter: 0.0,
            permitted_number_of_calls_in_half_open_state: 10,
            max_wait_duration_in_half_open_state: 0.0,
            automatic_transition_from_open_to_half_open: false,
        }
    }
}

/// Most probe calls a HALF_OPEN state can permit (the word holds 10 bits per probe count).
pub const MAX_HALF_OPEN_CALLS: u32 = (1 << PROBE_BITS) - 1;
/// Largest sliding window accepted, in calls or seconds.
pub const MAX_WINDOW: u32 = 1 << 20;

pub(super) fn percentage(param: &'static str, value: f64) -> Result<(), Error> {
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(Error::bad(param, "must be a percentage in (0, 100]", value))
    }
}

pub(super) fn duration(param: &'static str, value: f64) -> Result<(), Error> {
    if (0.0..1e12).contains(&value) {
        Ok(())
    } else {
        Err(Error::bad(
            param,
            "must be a finite number of seconds >= 0",
            value,
        ))
    }
}

impl Config {
    /// Every field as a number, in a fixed order: breakers that share state compare a hash of
    /// it, so two processes never run one state machine under different rules.
    pub fn identity(&self) -> [u64; 15] {
        let (kind, size) = match self.sliding_window {
            SlidingWindow::Count(n) => (1, n),
            SlidingWindow::Time(seconds) => (2, seconds),
        };
        [
            self.failure_rate_threshold.to_bits(),
            self.slow_call_rate_threshold.to_bits(),
            self.slow_call_duration_threshold.to_bits(),
            kind,
            u64::from(size),
            u64::from(self.minimum_number_of_calls),
            u64::from(self.consecutive_failure_threshold),
            self.wait_duration_in_open_state.to_bits(),
            self.backoff_multiplier.to_bits(),
            self.max_wait_duration_in_open_state.to_bits(),
            self.jitter.to_bits(),
            u64::from(self.permitted_number_of_calls_in_half_open_state),
            self.max_wait_duration_in_half_open_state.to_bits(),
            u64::from(self.automatic_transition_from_open_to_half_open),
            1, // the layout of the breaker's words
        ]
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        percentage("failure_rate_threshold", self.failure_rate_threshold)?;
        percentage("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if self.slow_call_duration_threshold.is_nan() || self.slow_call_duration_threshold <= 0.0 {
            return Err(Error::bad(
                "slow_call_duration_threshold",
                "must be a positive number of seconds",
                self.slow_call_duration_threshold,
            ));
        }
        let (SlidingWindow::Count(size) | SlidingWindow::Time(size)) = self.sliding_window;
        if size == 0 || size > MAX_WINDOW {
            return Err(Error::bad(
                "sliding_window_size",
                format!("must be in [1, {MAX_WINDOW}]"),
                size,
            ));
        }
        if self.minimum_number_of_calls == 0 {
            return Err(Error::bad("minimum_number_of_calls", "must be >= 1", 0));
        }
        duration(
            "wait_duration_in_open_state",
            self.wait_duration_in_open_state,
        )?;
        if !(self.backoff_multiplier >= 1.0 && self.backoff_multiplier < 1e6) {
            return Err(Error::bad(
                "backoff_multiplier",
                "must be >= 1",
                self.backoff_multiplier,
            ));
        }
        duration(
            "max_wait_duration_in_open_state",
            self.max_wait_duration_in_open_state,
        )?;
        if self.max_wait_duration_in_open_state < self.wait_duration_in_open_state {
            return Err(Error::bad(
                "max_wait_duration_in_open_state",
                format!(
                    "must be >= wait_duration_in_open_state ({})",
                    self.wait_duration_in_open_state
                ),
                self.max_wait_duration_in_open_state,
            ));
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(Error::bad("jitter", "must be in [0, 1)", self.jitter));
        }
        let probes = self.permitted_number_of_calls_in_half_open_state;
        if probes == 0 || probes > MAX_HALF_OPEN_CALLS {
            return Err(Error::bad(
                "permitted_number_of_calls_in_half_open_state",
                format!("must be in [1, {MAX_HALF_OPEN_CALLS}]"),
                probes,
            ));
        }
        duration(
            "max_wait_duration_in_half_open_state",
            self.max_wait_duration_in_half_open_state,
        )
    }
}
