//! A circuit breaker: an atomic state machine with resilience4j's states, triggers and
//! vocabulary.
//!
//! All state is plain fixed-size atomic words (no pointers, no locks), kept by the breaker or
//! in a shared arena ([`Breaker::share`]), where every process of a host runs the same state
//! machine. One 64-bit word holds the state, its epoch, the backoff level and the half-open
//! probe accounting; every transition is one compare-and-swap on that word, so concurrent
//! callers never apply a transition twice or lose one, and never take more half-open permits
//! than configured. A [`Permit`] remembers the epoch it was issued in: an outcome that arrives
//! after the breaker has moved on is not counted against the new state. The deadline of an
//! OPEN or HALF_OPEN epoch is a second word, published after the transition by its maker or,
//! if that process died in between, by the next caller that needs it; so no death at any
//! instruction leaves a breaker without a way out of OPEN.
//!
//! Time is an input: the state machine's operations take it, in seconds; [`Breaker::begin`] and
//! [`Breaker::end`] read the breaker's clock and time the call for the slow-call rule.
//!
//! Modules: `config` ([`Config`] and its checks), `word` (the packed state word), `windows`
//! (the count and time sliding windows).

use crate::clock::{self, Clock, Start};
use crate::error::Error;
use crate::names::named_enum;
use crate::sync::Ordering;
use crate::words::Words;

mod config;
mod fleet;
#[cfg(all(test, not(loom)))]
mod tests;
mod windows;
mod word;

pub use config::*;
use windows::*;
use word::*;

/// The breaker's states (resilience4j's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls pass; outcomes are counted and may open the breaker.
    Closed,
    /// Calls are rejected until the wait is over.
    Open,
    /// A limited number of probe calls pass; their outcomes close or reopen the breaker.
    HalfOpen,
    /// Calls pass and nothing is counted (set by hand).
    Disabled,
    /// Calls are rejected until a manual transition (set by hand).
    ForcedOpen,
    /// Calls pass and outcomes are counted, but the breaker never opens (set by hand).
    MetricsOnly,
}

named_enum!(State, "state", {
    Closed => "CLOSED",
    Open => "OPEN",
    HalfOpen => "HALF_OPEN",
    Disabled => "DISABLED",
    ForcedOpen => "FORCED_OPEN",
    MetricsOnly => "METRICS_ONLY",
});

impl State {
    fn code(self) -> u64 {
        State::ALL.iter().position(|&s| s == self).expect("listed") as u64
    }
}

/// Permission to make one call, from [`Breaker::try_acquire`]. Hand it back with the call's
/// outcome to [`Breaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    epoch: u16,
    state: State,
}

impl Permit {
    /// The state the call was permitted in.
    pub fn state(&self) -> State {
        self.state
    }
}

/// A permitted call under way: its permit, and when it started if calls are timed (a
/// slow-call threshold is set). From [`Breaker::begin`], for [`Breaker::end`].
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The permit.
    pub permit: Permit,
    start: Option<Start>,
}

/// The time for one decision: the injected clock's reading (taken up front, since reading
/// it may fail), or the wall clock, read only if the decision needs the time.
#[derive(Clone, Copy)]
enum Moment {
    Wall,
    At(f64),
}

impl Moment {
    fn get(self) -> f64 {
        match self {
            Moment::Wall => clock::wall(),
            Moment::At(t) => t,
        }
    }
}

/// A call the breaker did not permit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejection {
    /// The state that rejected it: OPEN, FORCED_OPEN or HALF_OPEN (all probes taken).
    pub state: State,
    /// Seconds until the breaker lets probes through, when that is known (OPEN).
    pub retry_after: Option<f64>,
}

/// A state transition, reported to whoever caused it (exactly once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
}

/// What became of a permitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
    /// It does not count either way (an ignored exception): the permit is given back.
    Ignored,
}

/// Calls, failures and slow calls in the sliding window (or among the HALF_OPEN probes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Calls counted.
    pub calls: u64,
    /// Of which failed.
    pub failed: u64,
    /// Of which were slow (failed or not).
    pub slow: u64,
}

impl Counts {
    fn rate(part: u64, calls: u64) -> f64 {
        part as f64 * 100.0 / calls as f64
    }
}

/// A readable picture of a breaker at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// The current state.
    pub state: State,
    /// Failure percentage in the window, or -1 while it holds fewer than the minimum number of
    /// calls (resilience4j's convention). In HALF_OPEN, over the probes finished so far.
    pub failure_rate: f64,
    /// Slow-call percentage, as `failure_rate`.
    pub slow_call_rate: f64,
    /// The counts the rates come from.
    pub counts: Counts,
    /// Calls rejected since the breaker was made (or reset).
    pub not_permitted: u64,
    /// Failures in a row.
    pub consecutive_failures: u64,
    /// Seconds until probes are let through (OPEN), 0 when calls pass now, None when unknown
    /// (FORCED_OPEN, or HALF_OPEN with every probe taken).
    pub retry_after: Option<f64>,
    /// Transitions since the breaker was made.
    pub transitions: u64,
}

/// The breaker's own words, in [`Breaker::cells`]: the state word, the deadline word, the run
/// of consecutive failures, the rejected calls, the transitions, and the jitter draws.
const WORD: usize = 0;
const DEADLINE: usize = 1;
const CONSECUTIVE: usize = 2;
const NOT_PERMITTED: usize = 3;
const TRANSITIONS: usize = 4;
const JITTER_DRAWS: usize = 5;
const CELLS: usize = 6;

/// How long a shared breaker's HALF_OPEN probes are leased when
/// `max_wait_duration_in_half_open_state` is 0 (wait forever): a process killed while holding
/// a probe cannot keep the breaker HALF_OPEN longer than this.
pub const SHARED_PROBE_LEASE: f64 = 60.0;

/// The circuit breaker. See the module docs.
pub struct Breaker {
    config: Config,
    clock: Clock,
    seed: u64,
    /// Seconds HALF_OPEN waits for its probes before reopening (0: forever).
    half_open_limit: f64,
    cells: Words,
    window: Window,
    /// Fleet mode (see `fleet.rs`): moves to HALF_OPEN made here wait for a probe lease.
    gated: std::sync::atomic::AtomicBool,
}

impl Breaker {
    /// A CLOSED breaker on the wall clock; `seed` drives the jitter.
    pub fn new(config: Config, seed: u64) -> Result<Self, Error> {
        Breaker::with_clock(config, seed, Clock::Wall)
    }

    /// As [`Breaker::new`], reading `clock` for the time.
    pub fn with_clock(config: Config, seed: u64, clock: Clock) -> Result<Self, Error> {
        config.validate()?;
        // All-zero words are a fresh CLOSED breaker, as a new arena region is.
        debug_assert_eq!(Word::new(State::Closed, 0, 0).0, 0);
        Ok(Breaker {
            half_open_limit: config.max_wait_duration_in_half_open_state,
            window: Window::new(config.sliding_window),
            config,
            clock,
            seed,
            cells: Words::zeroed(CELLS),
            gated: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Keeps the breaker's state and window in `arena`, under `name`: every process that
    /// shares the breaker of that name there sees one state machine. Its configuration must be
    /// the same in each, else this is an error. Call it before use. HALF_OPEN probes are then
    /// leased: for `max_wait_duration_in_half_open_state`, or [`SHARED_PROBE_LEASE`] if that
    /// is 0, after which the breaker reopens.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn share(
        &mut self,
        arena: &crate::arena::Arena,
        name: &str,
    ) -> Result<(), crate::arena::ArenaError> {
        let geometry = crate::words::geometry_of(&self.config.identity());
        let window = Window::words_for(self.config.sliding_window);
        let region = arena.region(crate::arena::Kind::Breaker, name, geometry, CELLS + window)?;
        let (cells, window) = region.split_at(CELLS);
        self.cells = Words::shared(cells);
        self.window.keep_in(Words::shared(window));
        if self.half_open_limit == 0.0 {
            self.half_open_limit = SHARED_PROBE_LEASE;
        }
        Ok(())
    }

    /// Whether the breaker's state lives in an arena.
    pub fn is_shared(&self) -> bool {
        self.cells.is_shared()
    }

    fn load(&self) -> Word {
        Word(self.cells[WORD].load(Ordering::Acquire))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The time now by the breaker's clock.
    pub fn now(&self) -> Result<f64, Error> {
        self.clock.read(None)
    }

    fn moment(&self) -> Result<Moment, Error> {
        Ok(match &self.clock {
            Clock::Wall => Moment::Wall,
            clock => Moment::At(clock.read(None)?),
        })
    }

    /// The slow-call rule: a call is slow when it took at least the slow-call threshold.
    pub fn is_slow(&self, duration: f64) -> bool {
        duration >= self.config.slow_call_duration_threshold
    }

    /// Asks to make a call now, by the breaker's clock: the call (timed if a slow-call
    /// threshold is set) or the rejection, and the transition the request caused, if any.
    #[allow(clippy::type_complexity)]
    pub fn begin(&self) -> Result<(Result<Call, Rejection>, Option<Transition>), Error> {
        let moment = self.moment()?;
        let (acquired, transition) = self.try_acquire(|| moment.get());
        let timed = self.config.slow_call_duration_threshold.is_finite();
        let start = match (timed, moment) {
            (false, _) => None,
            (true, Moment::At(t)) => Some(Start::Injected(t)),
            (true, Moment::Wall) => Some(self.clock.start()?),
        };
        Ok((acquired.map(|permit| Call { permit, start }), transition))
    }

    /// Ends `call` with `outcome`, now by the breaker's clock. It was slow if `force_slow`, or
    /// if it took at least the slow-call threshold: `duration` seconds when given, else as
    /// timed since [`Breaker::begin`]. Reports the transition it caused, if any.
    pub fn end(
        &self,
        call: Call,
        outcome: Outcome,
        duration: Option<f64>,
        force_slow: bool,
    ) -> Result<Option<Transition>, Error> {
        if let Some(d) = duration {
            if !(d.is_finite() && d >= 0.0) {
                return Err(Error::bad("duration", "must be finite seconds >= 0", d));
            }
        }
        let moment = self.moment()?;
        let took = match (duration, call.start, moment) {
            (Some(d), _, _) => Some(d),
            (None, Some(Start::Injected(t0)), Moment::At(t)) => Some((t - t0).max(0.0)),
            (None, Some(start), _) => Some(self.clock.elapsed(start)?),
            (None, None, _) => None,
        };
        let slow = force_slow || took.is_some_and(|d| self.is_slow(d));
        Ok(self.record(call.permit, outcome, slow, || moment.get()))
    }

    /// Asks to make a call at time `now()` (read only when the state needs it). Also reports
    /// the transition the request caused, if any (OPEN to HALF_OPEN when the wait is over,
    /// HALF_OPEN to OPEN when its probes took too long).
    pub fn try_acquire(
        &self,
        now: impl Fn() -> f64,
    ) -> (Result<Permit, Rejection>, Option<Transition>) {
        let mut caused = None;
        loop {
            let w = self.load();
            let permit = Permit {
                epoch: w.epoch(),
                state: w.state(),
            };
            match w.state() {
                State::Closed | State::Disabled | State::MetricsOnly => {
                    return (Ok(permit), caused)
                }
                State::ForcedOpen => return (Err(self.reject(w.state(), None)), caused),
                State::Open => {
                    let t = now();
                    let left = self.deadline(w, t) - t;
                    if left > 0.0 {
                        return (Err(self.reject(State::Open, Some(left))), caused);
                    }
                    caused = self.transition(w, State::HalfOpen, w.level(), t).or(caused);
                }
                State::HalfOpen => {
                    let issued = w.probes(ISSUED_SHIFT);
                    if issued < u64::from(self.config.permitted_number_of_calls_in_half_open_state)
                    {
                        let taken = Word(w.0 + (1 << ISSUED_SHIFT));
                        if self.cas(w, taken) {
                            return (Ok(permit), caused);
                        }
                    } else {
                        let t = now();
                        if self.half_open_expired(w, t) {
                            caused = self.open_after(w, t).or(caused);
                        } else {
                            return (Err(self.reject(State::HalfOpen, None)), caused);
                        }
                    }
                }
            }
        }
    }

    fn reject(&self, state: State, retry_after: Option<f64>) -> Rejection {
        self.cells[NOT_PERMITTED].fetch_add(1, Ordering::Relaxed);
        Rejection { state, retry_after }
    }

    /// The deadline of OPEN or HALF_OPEN word `w`, in seconds: when probes may start, or when
    /// HALF_OPEN gives up on its probes. A transition publishes its deadline just after its
    /// compare-and-swap; if it is not there yet (its maker is between the two, or died there),
    /// the first process to need it publishes one from `now`, so no death can leave a breaker
    /// without a deadline. Only a word still current is given one.
    fn deadline(&self, w: Word, now: f64) -> f64 {
        let cell = &self.cells[DEADLINE];
        let mut seen = cell.load(Ordering::Acquire);
        let mut ours = None;
        loop {
            if (seen >> 48) as u16 == w.epoch() {
                return (seen & MS_MASK) as f64 / 1000.0;
            }
            let at = *ours.get_or_insert_with(|| self.deadline_from(w, now));
            if self.load().epoch() != w.epoch() {
                // The breaker moved on: `w`'s deadline no longer matters to anyone.
                return at;
            }
            match cell.compare_exchange(
                seen,
                deadline_word(w.epoch(), at),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => seen = deadline_word(w.epoch(), at),
                Err(now_seen) => seen = now_seen,
            }
        }
    }

    /// The deadline a transition into `w`'s state at `now` sets.
    fn deadline_from(&self, w: Word, now: f64) -> f64 {
        match w.state() {
            State::Open => now + self.open_wait(w.level()),
            _ if self.half_open_limit > 0.0 => now + self.half_open_limit,
            _ => f64::INFINITY,
        }
    }

    fn half_open_expired(&self, w: Word, now: f64) -> bool {
        self.half_open_limit > 0.0 && self.deadline(w, now) <= now
    }

    /// Records the outcome of a permitted call at `now()` (read only when needed); `slow` if
    /// it took at least the slow-call threshold. Reports the transition it caused, if any.
    /// Outcomes of permits from an earlier state are not counted.
    pub fn record(
        &self,
        permit: Permit,
        outcome: Outcome,
        slow: bool,
        now: impl Fn() -> f64,
    ) -> Option<Transition> {
        let w = self.load();
        if w.epoch() != permit.epoch {
            return None;
        }
        let failed = outcome == Outcome::Failure;
        match w.state() {
            State::Closed | State::MetricsOnly => {
                if outcome == Outcome::Ignored {
                    return None;
                }
                let counts = match &self.window {
                    Window::Count(window) => {
                        window.record(failed, slow);
                        window.counts()
                    }
                    Window::Time(window) => {
                        let t = now();
                        window.record(t, failed, slow);
                        window.counts(t)
                    }
                };
                let streak = self.count_streak(failed);
                let trip = self.rates_exceeded(counts)
                    || (self.config.consecutive_failure_threshold > 0
                        && streak >= u64::from(self.config.consecutive_failure_threshold));
                if w.state() == State::Closed && trip {
                    self.transition(w, State::Open, 0, now())
                } else {
                    None
                }
            }
            State::HalfOpen => self.record_probe(w, outcome, slow, now),
            State::Open | State::Disabled | State::ForcedOpen => None,
        }
    }

    /// Updates the run of consecutive failures; returns its length.
    fn count_streak(&self, failed: bool) -> u64 {
        if failed {
            self.cells[CONSECUTIVE].fetch_add(1, Ordering::AcqRel) + 1
        } else {
            let consecutive = &self.cells[CONSECUTIVE];
            if consecutive.load(Ordering::Relaxed) != 0 {
                consecutive.store(0, Ordering::Release);
            }
            0
        }
    }

    fn minimum_calls(&self) -> u64 {
        let minimum = u64::from(self.config.minimum_number_of_calls);
        match self.config.sliding_window {
            SlidingWindow::Count(n) => minimum.min(u64::from(n)),
            SlidingWindow::Time(_) => minimum,
        }
    }

    fn rates_exceeded(&self, c: Counts) -> bool {
        c.calls > 0
            && c.calls >= self.minimum_calls()
            && (Counts::rate(c.failed, c.calls) >= self.config.failure_rate_threshold
                || Counts::rate(c.slow, c.calls) >= self.config.slow_call_rate_threshold)
    }

    fn record_probe(
        &self,
        mut w: Word,
        outcome: Outcome,
        slow: bool,
        now: impl Fn() -> f64,
    ) -> Option<Transition> {
        loop {
            let next = match outcome {
                Outcome::Ignored => Word(w.0 - (1 << ISSUED_SHIFT)),
                _ => Word(
                    w.0 + (1 << DONE_SHIFT)
                        + (u64::from(outcome == Outcome::Failure) << FAILED_SHIFT)
                        + (u64::from(slow) << SLOW_SHIFT),
                ),
            };
            if self.cas(w, next) {
                w = next;
                break;
            }
            w = self.load();
            if w.state() != State::HalfOpen {
                return None;
            }
        }
        let done = w.probes(DONE_SHIFT);
        if outcome == Outcome::Ignored
            || done < u64::from(self.config.permitted_number_of_calls_in_half_open_state)
        {
            return None;
        }
        let probes = Counts {
            calls: done,
            failed: w.probes(FAILED_SHIFT),
            slow: w.probes(SLOW_SHIFT),
        };
        let failing = Counts::rate(probes.failed, done) >= self.config.failure_rate_threshold
            || Counts::rate(probes.slow, done) >= self.config.slow_call_rate_threshold;
        if failing {
            self.open_after(w, now())
        } else {
            self.transition(w, State::Closed, 0, now())
        }
    }

    /// Reopens from HALF_OPEN word `w`, one backoff level up.
    fn open_after(&self, w: Word, now: f64) -> Option<Transition> {
        self.transition(w, State::Open, (w.level() + 1).min(MAX_LEVEL), now)
    }

    fn cas(&self, from: Word, to: Word) -> bool {
        self.cells[WORD]
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Moves from word `from` to `to` (at backoff `level`) if no one has moved it since.
    /// Entering CLOSED clears the window first; entering OPEN or HALF_OPEN publishes the
    /// deadline after (see [`Breaker::deadline`] for a death in between).
    fn transition(&self, from: Word, to: State, level: u64, now: f64) -> Option<Transition> {
        if to == State::Closed {
            self.clear_counts();
        }
        let mut next = from.next(to, level);
        if to == State::HalfOpen && self.is_gated() {
            let permitted = u64::from(self.config.permitted_number_of_calls_in_half_open_state);
            next = Word(next.0 | permitted << ISSUED_SHIFT);
        }
        if !self.cas(from, next) {
            return None;
        }
        self.cells[TRANSITIONS].fetch_add(1, Ordering::Relaxed);
        if matches!(to, State::Open | State::HalfOpen) {
            self.deadline(next, now);
        }
        Some(Transition {
            from: from.state(),
            to,
        })
    }

    fn clear_counts(&self) {
        self.window.clear();
        self.cells[CONSECUTIVE].store(0, Ordering::Release);
    }

    /// The wait in OPEN at backoff `level`: exponential, capped, with jitter.
    fn open_wait(&self, level: u64) -> f64 {
        let c = &self.config;
        let base = (c.wait_duration_in_open_state * c.backoff_multiplier.powi(level as i32))
            .min(c.max_wait_duration_in_open_state);
        if c.jitter == 0.0 {
            return base;
        }
        let draw = self.cells[JITTER_DRAWS].fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        let u = splitmix64(draw.wrapping_add(self.seed));
        let unit = (u >> 11) as f64 / (1u64 << 53) as f64;
        base * (1.0 + c.jitter * (2.0 * unit - 1.0))
    }

    /// Moves to `to` by hand, from any state: `Closed` and `HalfOpen` start afresh (a manual
    /// close also resets the backoff). Returns the transition, or None if already in `to`.
    pub fn transition_to(&self, to: State, now: f64) -> Option<Transition> {
        loop {
            let w = self.load();
            if w.state() == to {
                return None;
            }
            let level = if to == State::Closed { 0 } else { w.level() };
            if let Some(t) = self.transition(w, to, level, now) {
                return Some(t);
            }
        }
    }

    /// Back to a fresh CLOSED breaker: counts, backoff and the rejected count cleared.
    /// Reports the transition if the state changed.
    pub fn reset(&self, now: f64) -> Option<Transition> {
        let transition = self.transition_to(State::Closed, now);
        self.clear_counts();
        self.cells[NOT_PERMITTED].store(0, Ordering::Release);
        transition
    }

    /// The state at `now`, making the automatic OPEN to HALF_OPEN move if it is due and
    /// configured (reported as the second value).
    pub fn state(&self, now: f64) -> (State, Option<Transition>) {
        let w = self.load();
        if w.state() == State::Open
            && self.config.automatic_transition_from_open_to_half_open
            && self.deadline(w, now) <= now
        {
            let caused = self.transition(w, State::HalfOpen, w.level(), now);
            return (self.load().state(), caused);
        }
        (w.state(), None)
    }

    /// Seconds until the breaker lets probes through, if it is OPEN (0 once the wait is over).
    pub fn open_wait_remaining(&self, now: f64) -> Option<f64> {
        let w = self.load();
        (w.state() == State::Open).then(|| (self.deadline(w, now) - now).max(0.0))
    }

    /// The breaker at `now` (see [`Snapshot`]), after any automatic transition that is due.
    pub fn snapshot(&self, now: f64) -> (Snapshot, Option<Transition>) {
        let (_, caused) = self.state(now);
        let w = self.load();
        let state = w.state();
        let (counts, enough) = if state == State::HalfOpen {
            let c = Counts {
                calls: w.probes(DONE_SHIFT),
                failed: w.probes(FAILED_SHIFT),
                slow: w.probes(SLOW_SHIFT),
            };
            (c, c.calls > 0)
        } else {
            let c = match &self.window {
                Window::Count(window) => window.counts(),
                Window::Time(window) => window.counts(now),
            };
            (c, c.calls > 0 && c.calls >= self.minimum_calls())
        };
        let rate = |part| {
            if enough {
                Counts::rate(part, counts.calls)
            } else {
                -1.0
            }
        };
        let retry_after = match state {
            State::Open => self.open_wait_remaining(now),
            State::ForcedOpen => None,
            State::HalfOpen
                if w.probes(ISSUED_SHIFT)
                    >= u64::from(self.config.permitted_number_of_calls_in_half_open_state) =>
            {
                None
            }
            _ => Some(0.0),
        };
        let snapshot = Snapshot {
            state,
            failure_rate: rate(counts.failed),
            slow_call_rate: rate(counts.slow),
            counts,
            not_permitted: self.cells[NOT_PERMITTED].load(Ordering::Relaxed),
            consecutive_failures: self.cells[CONSECUTIVE].load(Ordering::Relaxed),
            retry_after,
            transitions: self.cells[TRANSITIONS].load(Ordering::Relaxed),
        };
        (snapshot, caused)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
