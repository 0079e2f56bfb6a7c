//! A circuit breaker: an atomic state machine with resilience4j's states, triggers and
//! vocabulary.
//!
//! All state is plain fixed-size atomics (no pointers, no locks), so it could live in shared
//! memory. One 64-bit word holds the state, its epoch, the backoff level and the half-open
//! probe accounting; every transition is one compare-and-swap on that word, so concurrent
//! callers never apply a transition twice or lose one, and never take more half-open permits
//! than configured. A [`Permit`] remembers the epoch it was issued in: an outcome that arrives
//! after the breaker has moved on is not counted against the new state.
//!
//! Time is an input: every operation that needs the time takes it, in seconds.

use crate::clock::{self, Clock, Start};
use crate::error::Error;
use crate::names::named_enum;
use crate::sync::{AtomicI64, AtomicU64, AtomicU8, Ordering};

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

fn percentage(param: &'static str, value: f64) -> Result<(), Error> {
    if value > 0.0 && value <= 100.0 {
        Ok(())
    } else {
        Err(Error::bad(param, "must be a percentage in (0, 100]", value))
    }
}

fn duration(param: &'static str, value: f64) -> Result<(), Error> {
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

// The state word: state (3 bits), backoff level (5), epoch (16), then the HALF_OPEN probes
// issued, finished, failed and slow (10 bits each).
const LEVEL_SHIFT: u32 = 3;
const EPOCH_SHIFT: u32 = 8;
const PROBE_BITS: u32 = 10;
const ISSUED_SHIFT: u32 = 24;
const DONE_SHIFT: u32 = ISSUED_SHIFT + PROBE_BITS;
const FAILED_SHIFT: u32 = DONE_SHIFT + PROBE_BITS;
const SLOW_SHIFT: u32 = FAILED_SHIFT + PROBE_BITS;
const PROBE_MASK: u64 = (1 << PROBE_BITS) - 1;
const MAX_LEVEL: u64 = 31;

/// A decoded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn new(state: State, level: u64, epoch: u64) -> Word {
        Word(state.code() | level << LEVEL_SHIFT | (epoch & 0xFFFF) << EPOCH_SHIFT)
    }
    fn state(self) -> State {
        State::ALL[(self.0 & 0x7) as usize]
    }
    fn level(self) -> u64 {
        (self.0 >> LEVEL_SHIFT) & MAX_LEVEL
    }
    fn epoch(self) -> u16 {
        (self.0 >> EPOCH_SHIFT) as u16
    }
    fn probes(self, shift: u32) -> u64 {
        (self.0 >> shift) & PROBE_MASK
    }
    /// The first word of the next state.
    fn next(self, state: State, level: u64) -> Word {
        Word::new(state, level, u64::from(self.epoch()) + 1)
    }
}

/// The deadline word: the epoch it belongs to (16 bits) and a time in milliseconds (48 bits).
/// In OPEN, when probes may start; in HALF_OPEN, when the breaker gives up on its probes.
fn deadline_word(epoch: u16, at: f64) -> u64 {
    let ms = if at.is_finite() {
        ((at * 1000.0).ceil() as u64).min(MS_MASK)
    } else {
        MS_MASK
    };
    u64::from(epoch) << 48 | ms
}

const MS_MASK: u64 = (1 << 48) - 1;

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

const OCCUPIED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

fn outcome_bits(failed: bool, slow: bool) -> u8 {
    OCCUPIED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

/// The last `n` calls: a ring of outcome bytes and running totals. Each call swaps its slot
/// and moves the totals by the difference from the outcome it replaced, so the totals always
/// match the ring once in-flight calls land.
struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicU64,
    totals: [AtomicI64; 3],
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU64::new(0),
            totals: [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)],
        }
    }

    fn replace(&self, slot: usize, bits: u8) {
        let old = self.slots[slot].swap(bits, Ordering::AcqRel);
        if old != bits {
            for (k, total) in self.totals.iter().enumerate() {
                let delta = i64::from((bits >> k) & 1) - i64::from((old >> k) & 1);
                if delta != 0 {
                    total.fetch_add(delta, Ordering::AcqRel);
                }
            }
        }
    }

    fn record(&self, failed: bool, slow: bool) {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len() as u64;
        self.replace(slot as usize, outcome_bits(failed, slow));
    }

    fn counts(&self) -> Counts {
        let total = |k: usize| {
            let v = self.totals[k].load(Ordering::Acquire);
            v.clamp(0, self.slots.len() as i64) as u64
        };
        Counts {
            calls: total(0),
            failed: total(1),
            slow: total(2),
        }
    }

    fn clear(&self) {
        for slot in 0..self.slots.len() {
            self.replace(slot, 0);
        }
    }
}

/// The calls of the last `n` seconds, in at most [`TIME_BUCKETS`] buckets. Each count is one
/// word holding (bucket lap, count), updated by one compare-and-swap, so a bucket that comes
/// round again restarts from zero without losing a concurrent count.
struct TimeWindow {
    width: f64,
    words: Box<[AtomicU64]>,
}

/// Most buckets of a time window; longer windows get wider buckets.
pub const TIME_BUCKETS: u32 = 64;

impl TimeWindow {
    fn new(seconds: u32) -> Self {
        let buckets = seconds.min(TIME_BUCKETS);
        TimeWindow {
            width: f64::from(seconds) / f64::from(buckets),
            words: (0..3 * buckets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn buckets(&self) -> u64 {
        (self.words.len() / 3) as u64
    }

    fn index(&self, now: f64) -> u64 {
        (now.max(0.0) / self.width) as u64
    }

    fn record(&self, now: f64, failed: bool, slow: bool) {
        let index = self.index(now);
        let (slot, lap) = (
            (index % self.buckets()) as usize,
            index / self.buckets() + 1,
        );
        let bits = outcome_bits(failed, slow);
        for k in 0..3 {
            if bits >> k & 1 == 0 {
                continue;
            }
            let word = &self.words[3 * slot + k];
            let mut current = word.load(Ordering::Relaxed);
            loop {
                let next = match (current >> 32).cmp(&lap) {
                    std::cmp::Ordering::Equal => current + 1,
                    std::cmp::Ordering::Less => lap << 32 | 1,
                    std::cmp::Ordering::Greater => break, // older than the bucket's lap
                };
                match word.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(seen) => current = seen,
                }
            }
        }
    }

    fn counts(&self, now: f64) -> Counts {
        let newest = self.index(now);
        let n = self.buckets();
        let mut totals = [0u64; 3];
        for (i, word) in self.words.iter().enumerate() {
            let w = word.load(Ordering::Acquire);
            let lap = w >> 32;
            if lap == 0 {
                continue;
            }
            let index = (lap - 1) * n + (i / 3) as u64;
            if index <= newest && index + n > newest {
                totals[i % 3] += w & 0xFFFF_FFFF;
            }
        }
        Counts {
            calls: totals[0],
            failed: totals[1],
            slow: totals[2],
        }
    }

    fn clear(&self) {
        for word in self.words.iter() {
            word.store(0, Ordering::Release);
        }
    }
}

enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

/// The circuit breaker. See the module docs.
pub struct Breaker {
    config: Config,
    clock: Clock,
    word: AtomicU64,
    deadline: AtomicU64,
    window: Window,
    consecutive: AtomicU64,
    not_permitted: AtomicU64,
    transitions: AtomicU64,
    jitter_state: AtomicU64,
}

impl Breaker {
    /// A CLOSED breaker on the wall clock; `seed` drives the jitter.
    pub fn new(config: Config, seed: u64) -> Result<Self, Error> {
        Breaker::with_clock(config, seed, Clock::Wall)
    }

    /// As [`Breaker::new`], reading `clock` for the time.
    pub fn with_clock(config: Config, seed: u64, clock: Clock) -> Result<Self, Error> {
        config.validate()?;
        let window = match config.sliding_window {
            SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
            SlidingWindow::Time(seconds) => Window::Time(TimeWindow::new(seconds)),
        };
        Ok(Breaker {
            config,
            clock,
            word: AtomicU64::new(Word::new(State::Closed, 0, 0).0),
            deadline: AtomicU64::new(0),
            window,
            consecutive: AtomicU64::new(0),
            not_permitted: AtomicU64::new(0),
            transitions: AtomicU64::new(0),
            jitter_state: AtomicU64::new(seed),
        })
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
            let w = Word(self.word.load(Ordering::Acquire));
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
                    match self.open_wait_left(w, t) {
                        Some(left) if left > 0.0 => {
                            return (Err(self.reject(State::Open, Some(left))), caused)
                        }
                        None => {
                            let wait = self.config.wait_duration_in_open_state;
                            return (Err(self.reject(State::Open, Some(wait))), caused);
                        }
                        Some(_) => {
                            caused = self.transition(w, State::HalfOpen, w.level(), t).or(caused);
                        }
                    }
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
        self.not_permitted.fetch_add(1, Ordering::Relaxed);
        Rejection { state, retry_after }
    }

    /// Seconds left of the wait in OPEN word `w` at `now`, or None if its deadline is not yet
    /// published (the transition is still being made).
    fn open_wait_left(&self, w: Word, now: f64) -> Option<f64> {
        let d = self.deadline.load(Ordering::Acquire);
        ((d >> 48) as u16 == w.epoch()).then(|| (d & MS_MASK) as f64 / 1000.0 - now)
    }

    fn half_open_expired(&self, w: Word, now: f64) -> bool {
        self.config.max_wait_duration_in_half_open_state > 0.0
            && self.open_wait_left(w, now).is_some_and(|left| left <= 0.0)
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
        let w = Word(self.word.load(Ordering::Acquire));
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
            self.consecutive.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Release);
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
            w = Word(self.word.load(Ordering::Acquire));
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
        self.word
            .compare_exchange(from.0, to.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Moves from word `from` to `to` (at backoff `level`) if no one has moved it since.
    /// Entering CLOSED clears the window first; entering OPEN or HALF_OPEN publishes the
    /// deadline after.
    fn transition(&self, from: Word, to: State, level: u64, now: f64) -> Option<Transition> {
        if to == State::Closed {
            self.clear_counts();
        }
        let next = from.next(to, level);
        if !self.cas(from, next) {
            return None;
        }
        self.transitions.fetch_add(1, Ordering::Relaxed);
        match to {
            State::Open => {
                let at = now + self.open_wait(level);
                self.deadline
                    .store(deadline_word(next.epoch(), at), Ordering::Release);
            }
            State::HalfOpen => {
                let limit = self.config.max_wait_duration_in_half_open_state;
                let at = if limit > 0.0 {
                    now + limit
                } else {
                    f64::INFINITY
                };
                self.deadline
                    .store(deadline_word(next.epoch(), at), Ordering::Release);
            }
            _ => {}
        }
        Some(Transition {
            from: from.state(),
            to,
        })
    }

    fn clear_counts(&self) {
        match &self.window {
            Window::Count(window) => window.clear(),
            Window::Time(window) => window.clear(),
        }
        self.consecutive.store(0, Ordering::Release);
    }

    /// The wait in OPEN at backoff `level`: exponential, capped, with jitter.
    fn open_wait(&self, level: u64) -> f64 {
        let c = &self.config;
        let base = (c.wait_duration_in_open_state * c.backoff_multiplier.powi(level as i32))
            .min(c.max_wait_duration_in_open_state);
        if c.jitter == 0.0 {
            return base;
        }
        let u = splitmix64(
            self.jitter_state
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed),
        );
        let unit = (u >> 11) as f64 / (1u64 << 53) as f64;
        base * (1.0 + c.jitter * (2.0 * unit - 1.0))
    }

    /// Moves to `to` by hand, from any state: `Closed` and `HalfOpen` start afresh (a manual
    /// close also resets the backoff). Returns the transition, or None if already in `to`.
    pub fn transition_to(&self, to: State, now: f64) -> Option<Transition> {
        loop {
            let w = Word(self.word.load(Ordering::Acquire));
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
        self.not_permitted.store(0, Ordering::Release);
        transition
    }

    /// The state at `now`, making the automatic OPEN to HALF_OPEN move if it is due and
    /// configured (reported as the second value).
    pub fn state(&self, now: f64) -> (State, Option<Transition>) {
        let w = Word(self.word.load(Ordering::Acquire));
        if w.state() == State::Open
            && self.config.automatic_transition_from_open_to_half_open
            && self.open_wait_left(w, now).is_some_and(|left| left <= 0.0)
        {
            let caused = self.transition(w, State::HalfOpen, w.level(), now);
            return (Word(self.word.load(Ordering::Acquire)).state(), caused);
        }
        (w.state(), None)
    }

    /// Seconds until the breaker lets probes through, if it is OPEN (0 once the wait is over).
    pub fn open_wait_remaining(&self, now: f64) -> Option<f64> {
        let w = Word(self.word.load(Ordering::Acquire));
        (w.state() == State::Open).then(|| {
            self.open_wait_left(w, now)
                .unwrap_or(self.config.wait_duration_in_open_state)
                .max(0.0)
        })
    }

    /// The breaker at `now` (see [`Snapshot`]), after any automatic transition that is due.
    pub fn snapshot(&self, now: f64) -> (Snapshot, Option<Transition>) {
        let (_, caused) = self.state(now);
        let w = Word(self.word.load(Ordering::Acquire));
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
            not_permitted: self.not_permitted.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            retry_after,
            transitions: self.transitions.load(Ordering::Relaxed),
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn breaker(config: Config) -> Breaker {
        Breaker::new(config, 7).unwrap()
    }

    fn small() -> Config {
        Config {
            sliding_window: SlidingWindow::Count(4),
            minimum_number_of_calls: 4,
            wait_duration_in_open_state: 10.0,
            max_wait_duration_in_open_state: 10.0,
            permitted_number_of_calls_in_half_open_state: 2,
            ..Config::default()
        }
    }

    /// Acquires at `t` and records `outcome`; returns the transition recording caused.
    fn call(b: &Breaker, t: f64, outcome: Outcome) -> Option<Transition> {
        let permit = b.try_acquire(|| t).0.expect("permitted");
        b.record(permit, outcome, false, || t)
    }

    fn moved(from: State, to: State) -> Option<Transition> {
        Some(Transition { from, to })
    }

    #[test]
    fn failure_rate_opens_waits_probes_and_closes() {
        let b = breaker(small());
        assert_eq!(call(&b, 0.0, Outcome::Success), None);
        assert_eq!(call(&b, 0.0, Outcome::Failure), None);
        assert_eq!(call(&b, 0.0, Outcome::Success), None);
        assert_eq!(b.snapshot(0.0).0.failure_rate, -1.0, "below the minimum");
        assert_eq!(
            call(&b, 1.0, Outcome::Failure),
            moved(State::Closed, State::Open)
        );
        let (rejected, caused) = b.try_acquire(|| 4.0);
        assert_eq!(caused, None);
        assert_eq!(
            rejected.unwrap_err(),
            Rejection {
                state: State::Open,
                retry_after: Some(7.0)
            }
        );
        let snap = b.snapshot(4.0).0;
        assert_eq!((snap.failure_rate, snap.not_permitted), (50.0, 1));
        // The wait is over: the next call moves to HALF_OPEN and is the first of two probes.
        let (first, caused) = b.try_acquire(|| 11.0);
        assert_eq!(caused, moved(State::Open, State::HalfOpen));
        let second = b.try_acquire(|| 11.0).0.unwrap();
        let third = b.try_acquire(|| 11.0).0.unwrap_err();
        assert_eq!((third.state, third.retry_after), (State::HalfOpen, None));
        assert_eq!(
            b.record(first.unwrap(), Outcome::Success, false, || 12.0),
            None
        );
        assert_eq!(
            b.record(second, Outcome::Success, false, || 12.0),
            moved(State::HalfOpen, State::Closed)
        );
        let snap = b.snapshot(12.0).0;
        assert_eq!(
            (snap.state, snap.counts),
            (State::Closed, Counts::default())
        );
        assert_eq!(snap.transitions, 3);
    }

    #[test]
    fn a_failing_probe_reopens_with_exponential_backoff_up_to_the_cap() {
        let b = breaker(Config {
            permitted_number_of_calls_in_half_open_state: 1,
            backoff_multiplier: 2.0,
            max_wait_duration_in_open_state: 30.0,
            ..small()
        });
        for _ in 0..4 {
            call(&b, 0.0, Outcome::Failure);
        }
        let mut t = 0.0;
        for expected_wait in [10.0, 20.0, 30.0, 30.0] {
            assert_eq!(b.open_wait_remaining(t), Some(expected_wait));
            t += expected_wait;
            assert_eq!(
                call(&b, t, Outcome::Failure),
                moved(State::HalfOpen, State::Open)
            );
        }
        t += 30.0;
        assert_eq!(
            call(&b, t, Outcome::Success),
            moved(State::HalfOpen, State::Closed)
        );
        for _ in 0..4 {
            call(&b, t, Outcome::Failure);
        }
        assert_eq!(
            b.open_wait_remaining(t),
            Some(10.0),
            "a clean close resets the backoff"
        );
    }

    #[test]
    fn slow_calls_and_consecutive_failures_trip_too() {
        let b = breaker(Config {
            slow_call_rate_threshold: 50.0,
            ..small()
        });
        for slow in [true, false, false, true] {
            let permit = b.try_acquire(|| 0.0).0.unwrap();
            let caused = b.record(permit, Outcome::Success, slow, || 0.0);
            assert_eq!(
                caused.is_some(),
                slow && b.snapshot(0.0).0.counts.calls == 4
            );
        }
        assert_eq!(b.state(0.0).0, State::Open);

        let b = breaker(Config {
            consecutive_failure_threshold: 3,
            sliding_window: SlidingWindow::Count(100),
            ..Config::default()
        });
        call(&b, 0.0, Outcome::Failure);
        call(&b, 0.0, Outcome::Failure);
        call(&b, 0.0, Outcome::Success);
        assert_eq!(b.snapshot(0.0).0.consecutive_failures, 0);
        call(&b, 0.0, Outcome::Failure);
        call(&b, 0.0, Outcome::Failure);
        assert_eq!(
            call(&b, 0.0, Outcome::Failure),
            moved(State::Closed, State::Open)
        );
    }

    struct Manual(std::sync::atomic::AtomicU64);

    impl clock::TimeSource for Manual {
        fn now(&self) -> Result<f64, Error> {
            Ok(f64::from_bits(self.0.load(Ordering::Relaxed)))
        }
    }

    #[test]
    fn calls_on_the_breakers_clock_are_timed_by_it_and_judged_slow_by_the_rule() {
        let source = Arc::new(Manual(std::sync::atomic::AtomicU64::new(100f64.to_bits())));
        let config = Config {
            slow_call_duration_threshold: 2.0,
            slow_call_rate_threshold: 50.0,
            ..small()
        };
        let b = Breaker::with_clock(config, 7, Clock::Injected(source.clone())).unwrap();
        assert_eq!(b.now(), Ok(100.0));
        assert!(b.is_slow(2.0) && !b.is_slow(1.999));
        let set = |t: f64| source.0.store(t.to_bits(), Ordering::Relaxed);
        for i in 0..4 {
            let (call, _) = b.begin().unwrap();
            set(100.0 + f64::from(i) * 10.0 + 2.5); // every call takes 2.5 s
            b.end(call.unwrap(), Outcome::Success, None, false).unwrap();
            set(100.0 + f64::from(i + 1) * 10.0);
        }
        let (snapshot, _) = b.snapshot(b.now().unwrap());
        assert_eq!((snapshot.counts.calls, snapshot.counts.slow), (4, 4));
        assert_eq!(snapshot.state, State::Open, "every call was slow");
        // A given duration wins over the timing; a bad one records nothing.
        let b = Breaker::with_clock(config, 7, Clock::Injected(source.clone())).unwrap();
        let (call, _) = b.begin().unwrap();
        let call = call.unwrap();
        assert_eq!(
            b.end(call, Outcome::Success, Some(-1.0), false)
                .unwrap_err()
                .param,
            "duration"
        );
        b.end(call, Outcome::Success, Some(0.5), false).unwrap();
        b.end(call, Outcome::Success, Some(0.5), true).unwrap();
        let (snapshot, _) = b.snapshot(b.now().unwrap());
        assert_eq!((snapshot.counts.calls, snapshot.counts.slow), (2, 1));
        // An untimed breaker (no threshold) never calls a call slow unless told.
        let b = Breaker::with_clock(small(), 7, Clock::Injected(source)).unwrap();
        let (call, _) = b.begin().unwrap();
        assert!(call.unwrap().start.is_none());
    }

    #[test]
    fn time_window_counts_only_the_last_seconds() {
        let b = breaker(Config {
            sliding_window: SlidingWindow::Time(10),
            minimum_number_of_calls: 3,
            ..Config::default()
        });
        call(&b, 100.0, Outcome::Failure);
        call(&b, 100.5, Outcome::Failure);
        assert_eq!(b.snapshot(105.0).0.counts.calls, 2);
        // At 111 the calls of second 100 have left the 10-second window.
        assert_eq!(b.snapshot(111.0).0.counts, Counts::default());
        call(&b, 111.0, Outcome::Success);
        call(&b, 112.0, Outcome::Failure);
        assert_eq!(
            call(&b, 112.0, Outcome::Failure),
            moved(State::Closed, State::Open)
        );
        let snap = b.snapshot(112.0).0;
        assert_eq!(
            snap.counts,
            Counts {
                calls: 3,
                failed: 2,
                slow: 0
            }
        );
    }

    #[test]
    fn outcomes_of_an_earlier_state_do_not_count() {
        let b = breaker(small());
        let stale = b.try_acquire(|| 0.0).0.unwrap();
        assert_eq!(
            b.transition_to(State::ForcedOpen, 0.0),
            moved(State::Closed, State::ForcedOpen)
        );
        let rejected = b.try_acquire(|| 0.0).0.unwrap_err();
        assert_eq!(
            (rejected.state, rejected.retry_after),
            (State::ForcedOpen, None)
        );
        b.transition_to(State::Closed, 0.0);
        assert_eq!(b.record(stale, Outcome::Failure, false, || 0.0), None);
        assert_eq!(b.snapshot(0.0).0.counts.calls, 0);
    }

    #[test]
    fn manual_states() {
        let b = breaker(small());
        assert_eq!(b.transition_to(State::Closed, 0.0), None, "already closed");
        b.transition_to(State::Disabled, 0.0);
        for _ in 0..10 {
            call(&b, 0.0, Outcome::Failure);
        }
        assert_eq!(b.snapshot(0.0).0.counts.calls, 0, "disabled counts nothing");
        b.transition_to(State::MetricsOnly, 0.0);
        for _ in 0..10 {
            assert_eq!(call(&b, 0.0, Outcome::Failure), None);
        }
        let snap = b.snapshot(0.0).0;
        assert_eq!((snap.state, snap.failure_rate), (State::MetricsOnly, 100.0));
        b.transition_to(State::Open, 0.0);
        assert!(b.try_acquire(|| 0.0).0.is_err());
        assert_eq!(b.reset(0.0), moved(State::Open, State::Closed));
        let snap = b.snapshot(0.0).0;
        assert_eq!((snap.not_permitted, snap.counts.calls), (0, 0));
        assert!("HALF_OPEN".parse::<State>().is_ok());
        assert!("half".parse::<State>().is_err());
    }

    #[test]
    fn automatic_half_open_happens_on_a_read_once() {
        let b = breaker(Config {
            automatic_transition_from_open_to_half_open: true,
            ..small()
        });
        b.transition_to(State::Open, 0.0);
        assert_eq!(b.state(9.0), (State::Open, None));
        assert_eq!(
            b.state(10.0),
            (State::HalfOpen, moved(State::Open, State::HalfOpen))
        );
        assert_eq!(b.state(10.0), (State::HalfOpen, None));
    }

    #[test]
    fn half_open_gives_up_after_its_max_wait_and_ignored_probes_return_permits() {
        let b = breaker(Config {
            max_wait_duration_in_half_open_state: 5.0,
            ..small()
        });
        b.transition_to(State::HalfOpen, 0.0);
        let first = b.try_acquire(|| 0.0).0.unwrap();
        let _second = b.try_acquire(|| 0.0).0.unwrap();
        assert!(b.try_acquire(|| 1.0).0.is_err());
        assert_eq!(b.record(first, Outcome::Ignored, false, || 1.0), None);
        let third = b.try_acquire(|| 1.0).0;
        assert!(third.is_ok(), "an ignored probe gives its permit back");
        let (rejected, caused) = b.try_acquire(|| 5.0);
        assert_eq!(caused, moved(State::HalfOpen, State::Open));
        assert_eq!(rejected.unwrap_err().state, State::Open);
    }

    #[test]
    fn jitter_stays_in_bounds() {
        let b = breaker(Config {
            jitter: 0.5,
            ..small()
        });
        let waits: Vec<f64> = (0..200).map(|_| b.open_wait(0)).collect();
        assert!(waits.iter().all(|&w| (5.0..=15.0).contains(&w)));
        assert!(waits.iter().any(|&w| w < 9.0) && waits.iter().any(|&w| w > 11.0));
    }

    #[test]
    fn bad_configuration_names_the_parameter() {
        let bad = |c: Config| match Breaker::new(c, 0) {
            Err(Error { param, .. }) => param,
            _ => panic!("accepted"),
        };
        let d = Config::default();
        assert_eq!(
            bad(Config {
                failure_rate_threshold: 0.0,
                ..d
            }),
            "failure_rate_threshold"
        );
        assert_eq!(
            bad(Config {
                slow_call_rate_threshold: 101.0,
                ..d
            }),
            "slow_call_rate_threshold"
        );
        assert_eq!(
            bad(Config {
                sliding_window: SlidingWindow::Time(0),
                ..d
            }),
            "sliding_window_size"
        );
        assert_eq!(
            bad(Config {
                permitted_number_of_calls_in_half_open_state: 0,
                ..d
            }),
            "permitted_number_of_calls_in_half_open_state"
        );
        assert_eq!(
            bad(Config {
                wait_duration_in_open_state: f64::NAN,
                ..d
            }),
            "wait_duration_in_open_state"
        );
        assert_eq!(
            bad(Config {
                max_wait_duration_in_open_state: 1.0,
                ..d
            }),
            "max_wait_duration_in_open_state"
        );
        assert_eq!(bad(Config { jitter: 1.0, ..d }), "jitter");
        assert_eq!(
            bad(Config {
                backoff_multiplier: 0.5,
                ..d
            }),
            "backoff_multiplier"
        );
    }

    /// Threads hammer one breaker through many transitions (the clock moves on, probes fail
    /// or succeed at random): no HALF_OPEN epoch ever issues more permits than configured.
    #[test]
    fn stress_never_exceeds_half_open_permits() {
        let permitted = 3;
        let b = Arc::new(breaker(Config {
            sliding_window: SlidingWindow::Count(8),
            minimum_number_of_calls: 4,
            wait_duration_in_open_state: 0.001,
            max_wait_duration_in_open_state: 0.001,
            permitted_number_of_calls_in_half_open_state: permitted,
            ..Config::default()
        }));
        let clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|seed| {
                let (b, clock) = (b.clone(), clock.clone());
                std::thread::spawn(move || {
                    let mut probes = std::collections::HashMap::<u16, u32>::new();
                    let mut rng = seed as u64 + 1;
                    for _ in 0..10_000 {
                        rng = splitmix64(rng);
                        let now =
                            || clock.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0;
                        if rng % 16 == 0 {
                            clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        if let Ok(permit) = b.try_acquire(now).0 {
                            if permit.state() == State::HalfOpen {
                                *probes.entry(permit.epoch).or_default() += 1;
                            }
                            let outcome = if rng % 3 == 0 {
                                Outcome::Failure
                            } else {
                                Outcome::Success
                            };
                            b.record(permit, outcome, false, now);
                        }
                    }
                    probes
                })
            })
            .collect();
        let mut per_epoch = std::collections::HashMap::<u16, u32>::new();
        for t in threads {
            for (epoch, n) in t.join().unwrap() {
                *per_epoch.entry(epoch).or_default() += n;
            }
        }
        assert!(per_epoch.len() > 10, "the run went through HALF_OPEN often");
        assert!(per_epoch.values().all(|&n| n <= permitted), "{per_epoch:?}");
        let snap = b.snapshot(1e9).0;
        assert!(snap.transitions >= 2 * per_epoch.len() as u64 - 1);
    }

    /// Exact totals: concurrent records into a count window match the ring's contents, and
    /// into a time window sum to the number of calls.
    #[test]
    fn stress_counts_are_exact() {
        let window = Arc::new(CountWindow::new(1000));
        let time = Arc::new(TimeWindow::new(10));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (window, time) = (window.clone(), time.clone());
                std::thread::spawn(move || {
                    for k in 0..100_000u64 {
                        window.record((k + i) % 3 == 0, (k + i) % 5 == 0);
                        time.record(50.0 + (k % 10) as f64 * 0.5, k % 4 == 0, false);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let slots: Vec<u8> = window
            .slots
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        let count = |bit: u8| slots.iter().filter(|&&s| s & bit != 0).count() as u64;
        assert_eq!(
            window.counts(),
            Counts {
                calls: count(OCCUPIED),
                failed: count(FAILED),
                slow: count(SLOW)
            }
        );
        assert_eq!(window.counts().calls, 1000);
        window.clear();
        assert_eq!(window.counts(), Counts::default());
        assert_eq!(
            time.counts(54.9),
            Counts {
                calls: 800_000,
                failed: 200_000,
                slow: 0
            }
        );
    }
}
