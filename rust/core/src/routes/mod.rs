//! Per-route request windows: request, error and byte counts, total duration, the slowest
//! request and a latency sketch for every time bucket, so any window from a minute to the
//! retained span can be asked for its counts and latency quantiles.
//!
//! # Layout
//!
//! A route keeps several tiers of time buckets (*slots*), each tier a ring:
//!
//! | tier | bucket | slots | a window up to this long is answered from it |
//! | --- | --- | --- | --- |
//! | 0 | 1 min | 16 | 15 min |
//! | 1 | 5 min | 13 | 1 h |
//! | 2 | 30 min | 13 | 6 h |
//! | 3 | 2 h | 13 | 1 day |
//! | 4 | 1 day | retained days + 1 | the retained span |
//!
//! A request is recorded into the slot of its time in every tier, so a window is read from
//! one tier: the finest that still holds it. Its old edge is extended to that tier's bucket
//! boundary (by less than one bucket), and [`Summary::covered_seconds`] says how far back the
//! figures really go. Memory is fixed at construction: about 3.7 KB a slot, 330 KB a route
//! for 30 days.
//!
//! Besides the windows, a route keeps monotonic totals since it was created (requests by
//! status class, errors, bytes, duration, and a latency sketch of every request) for
//! Prometheus counters and histograms.
//!
//! All state is one flat array of atomic words (see [`Words`]), with no pointers, so a route
//! can live in a shared arena: cells and totals, the all-time sketch, a header per slot, then
//! the slots' sketch counts, two 32-bit counts to a word.
//!
//! # Concurrency
//!
//! A slot's header starts with a tag: the slot's *lap* (which turn of the ring it holds, plus
//! one), shifted left once. A recorder whose lap matches adds with relaxed atomic adds. One
//! that finds an older lap claims the slot by a compare-and-swap to a clearing tag naming its
//! process and the lap, clears it and publishes the tag; recorders that meet a slot being
//! cleared wait the few hundred nanoseconds that takes, or finish the clearing themselves if
//! the clearer died. A request older than
//! a tier's slot skips that tier. A reader reads a slot only if its tag is the lap it expects
//! before and after the read. A recorder whose slot is rotated between its claim and its adds
//! (one recording a request a whole ring older than another recorded at that moment: a thread
//! stalled mid-record for 16 minutes at least, or callers passing `at=` that far apart) may
//! add some of its figures after the clearing: they are not lost, only placed one ring later.
//! The loom model (`loom_tests.rs`) checks these races and a dead clearer's takeover.
//!
//! These windows keep the slot claim rather than the tag in every word that the SLO and
//! breaker windows use ([`crate::ring::Tagged`]): a tag leaves 40 bits of count, and a daily
//! bucket's byte and microsecond sums need all 64 (a route at 1,000 requests a second of
//! 100 ms sums 8.6e12 µs a day, beyond 2^40). The slots' geometry is the same [`Ring`]. A recorder killed mid-request leaves that request partly counted
//! (in some tiers and totals, not others): at most the one request it was recording.
//!
//! Modules: `table` (the bounded set of routes by key, per process or shared), `fleet` (a
//! route's changes for a fleet store, and the mirror of the fleet's figures).

use crate::clock::Clock;
use crate::error::Error;
use crate::ring::Ring;
use crate::sketch::{Geometry, Mapping};
use crate::sync::{AtomicU64, Ordering};
use crate::words::Words;

mod fleet;
#[cfg(all(test, loom))]
mod loom_tests;
mod table;
#[cfg(all(test, not(loom)))]
mod tests;

pub use fleet::RouteOutbox;
pub use table::*;

/// Tiers below the daily one: bucket width in seconds and slots.
const SHORT_TIERS: [(f64, usize); 4] = [(60.0, 16), (300.0, 13), (1800.0, 13), (7200.0, 13)];
const DAY: f64 = 86_400.0;
/// The longest request duration accepted: a year, so a bucket's total (in whole microseconds)
/// cannot wrap before billions of such requests, and saturates rather than wraps then.
const MAX_DURATION: f64 = 365.0 * DAY;

// The route's cells: requests dropped, the first request's end (bitwise not of its
// microseconds, so all-zero words mean none), the newest request's end, the guard's
// rejections by reason, then the totals since creation: errors, bytes, microseconds, and
// requests by status class (none, 1xx .. 5xx).
const DROPPED: usize = 0;
const FIRST_INVERTED: usize = 1;
const LAST: usize = 2;
const REJECTED: usize = 3;
const ERRORS_TOTAL: usize = 5;
const BYTES_TOTAL: usize = 6;
const MICROS_TOTAL: usize = 7;
const CLASSES: usize = 8;
/// Status classes counted: no status (the app raised first), then 1xx to 5xx.
pub const STATUS_CLASSES: usize = 6;
const CELLS: usize = 16;
/// Where the all-time sketch starts in a route's words.
const HISTOGRAM: usize = CELLS;

const TAG: usize = 0;
const REQUESTS: usize = 1;
const ERRORS: usize = 2;
const BYTES: usize = 3;
const MICROS: usize = 4;
const MAX_BITS: usize = 5;
const HEADER_WORDS: usize = 6;
// The tag word while a slot is cleared: the flag, the clearing process, the lap it clears for.
const CLEARING: u64 = 1 << 63;
const LAP_BITS: u32 = 31;
const LAP_MASK: u64 = (1 << LAP_BITS) - 1;
const PID_MASK: u64 = (1 << 32) - 1;

fn clearing(pid: u64, lap: u64) -> u64 {
    debug_assert!(lap <= LAP_MASK && pid <= PID_MASK);
    CLEARING | pid << LAP_BITS | lap
}

#[derive(Debug, Clone, Copy)]
struct Tier {
    width: f64,
    per_second: f64,
    ring: Ring,
    first_slot: usize,
}

impl Tier {
    /// How far back this tier always reaches.
    fn span(&self) -> f64 {
        (self.ring.slots() - 1) as f64 * self.width
    }

    /// The slot and lap (from 1) of this tier's bucket number `index` (seconds / width).
    fn locate(&self, index: u64) -> (usize, u64) {
        let (slot, lap) = self.ring.locate(index);
        (self.first_slot + slot, lap)
    }
}

fn check_retain(retain_seconds: f64) -> Result<(), Error> {
    if retain_seconds.is_finite() && retain_seconds > 0.0 && retain_seconds <= 3660.0 * DAY {
        Ok(())
    } else {
        Err(Error::bad(
            "retain_seconds",
            "must be in (0, 10 years]",
            retain_seconds,
        ))
    }
}

/// The latency quantiles a route's summary reports (p50, p90, p95, p99).
pub const SUMMARY_QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

/// One route's figures over a window, as returned by [`RouteWindow::summary`].
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Requests that ended in the window.
    pub requests: u64,
    /// Of those, the ones classified as errors.
    pub errors: u64,
    /// Response bytes sent.
    pub bytes: u64,
    /// Total duration of the requests, in seconds (kept in whole microseconds).
    pub duration_seconds: f64,
    /// The slowest request, in seconds (0 with no requests).
    pub max_seconds: f64,
    /// The requested latency quantiles in seconds, within 1 % relative error; None with no
    /// requests.
    pub quantiles: Option<Vec<f64>>,
    /// How far back the figures go: to the window's start, extended to its tier's bucket
    /// boundary, or the route's first request or end of warm-up if later. 0 with none.
    pub covered_seconds: f64,
}

impl Summary {
    /// The `i`th quantile asked for, NaN with no requests.
    pub fn quantile(&self, i: usize) -> f64 {
        self.quantiles.as_ref().map_or(f64::NAN, |q| q[i])
    }

    /// The slowest request, NaN with no requests.
    pub fn slowest(&self) -> f64 {
        if self.requests > 0 {
            self.max_seconds
        } else {
            f64::NAN
        }
    }
}

/// Why the guard answered a request itself instead of passing it to the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 503: the route's breaker was open.
    CircuitOpen,
    /// 429: the route's budget denied it.
    BudgetDenied,
}

/// A route's totals since it was created: monotonic, for Prometheus counters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Requests by status class: no status, then 1xx to 5xx.
    pub by_class: [u64; STATUS_CLASSES],
    /// Requests classified as errors.
    pub errors: u64,
    /// Response bytes sent.
    pub bytes: u64,
    /// Total duration, in seconds (kept in whole microseconds).
    pub duration_seconds: f64,
}

impl Totals {
    /// Every request recorded.
    pub fn requests(&self) -> u64 {
        self.by_class.iter().sum()
    }
}

/// The status class a response status counts under (0: none, or not a valid status).
pub fn status_class(status: u16) -> usize {
    match status / 100 {
        class @ 1..=5 => usize::from(class),
        _ => 0,
    }
}

/// Adds `n` to `word` in one read-modify-write, leaving `u64::MAX` if that overflowed (a sum
/// of microseconds: 584,000 years of requests), so it saturates rather than wraps.
fn add_saturating(word: &AtomicU64, n: u64) {
    if word
        .fetch_add(n, Ordering::Relaxed)
        .checked_add(n)
        .is_none()
    {
        word.store(u64::MAX, Ordering::Relaxed);
    }
}

/// One route's bounded, lock-free request window. See the module docs.
#[derive(Debug)]
pub struct RouteWindow {
    mapping: Mapping,
    tiers: Vec<Tier>,
    slots: usize,
    /// Words of sketch counts per slot (two counts a word).
    count_words: usize,
    words: Words,
    clock: Clock,
}

impl RouteWindow {
    /// A window on the wall clock retaining `retain_seconds` (at least a day is always kept).
    pub fn new(retain_seconds: f64) -> Result<Self, Error> {
        RouteWindow::with_clock(retain_seconds, Clock::Wall)
    }

    /// As [`RouteWindow::new`], reading `clock` when an operation is not given a time.
    pub fn with_clock(retain_seconds: f64, clock: Clock) -> Result<Self, Error> {
        let mut window = RouteWindow::layout(retain_seconds, clock)?;
        window.words = Words::zeroed(window.words_len());
        Ok(window)
    }

    /// The window's layout, with no words yet.
    fn layout(retain_seconds: f64, clock: Clock) -> Result<Self, Error> {
        check_retain(retain_seconds)?;
        let days = (retain_seconds / DAY).ceil() as usize + 1;
        let tiers: Vec<_> = SHORT_TIERS
            .into_iter()
            .chain([(DAY, days.max(2))])
            .collect();
        RouteWindow::layout_of(&tiers, Geometry::LATENCY, clock)
    }

    /// The layout of `tiers` (bucket width in seconds and slots, finest first) with sketches
    /// of `geometry`: the routes' own, or a small one for model checks.
    fn layout_of(tiers: &[(f64, usize)], geometry: Geometry, clock: Clock) -> Result<Self, Error> {
        let mut first_slot = 0;
        let tiers = tiers.iter().map(|&(width, slots)| {
            // Every lap up to the last timestamp fits the tag word's clearing form.
            debug_assert!(crate::window::MAX_TIMESTAMP / (width * slots as f64) < LAP_MASK as f64);
            let tier = Tier {
                width,
                per_second: 1.0 / width,
                ring: Ring::new(slots as u64),
                first_slot,
            };
            first_slot += slots;
            tier
        });
        let tiers = tiers.collect();
        let mapping = Mapping::new(geometry)?;
        Ok(RouteWindow {
            mapping,
            tiers,
            slots: first_slot,
            count_words: mapping.buckets().div_ceil(2),
            words: Words::zeroed(0),
            clock,
        })
    }

    /// Words a window of this layout needs.
    fn words_len(&self) -> usize {
        self.counts_start() + self.slots * self.count_words
    }

    fn headers_start(&self) -> usize {
        HISTOGRAM + self.mapping.buckets()
    }

    fn counts_start(&self) -> usize {
        self.headers_start() + self.slots * HEADER_WORDS
    }

    /// The layout's identity: routes share words only with routes of the same one.
    #[cfg(all(target_os = "linux", not(loom)))]
    fn geometry(&self) -> u64 {
        let mut parts = vec![2, self.words_len() as u64, self.mapping.buckets() as u64];
        for tier in &self.tiers {
            parts.extend([tier.width.to_bits(), tier.ring.slots()]);
        }
        crate::words::geometry_of(&parts)
    }

    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.words[i]
    }

    fn header(&self, slot: usize) -> &[AtomicU64] {
        let start = self.headers_start() + slot * HEADER_WORDS;
        &self.words[start..start + HEADER_WORDS]
    }

    /// The words holding `slot`'s sketch counts, two to a word (the low half first).
    fn slot_counts(&self, slot: usize) -> &[AtomicU64] {
        let start = self.counts_start() + slot * self.count_words;
        &self.words[start..start + self.count_words]
    }

    /// The longest window that can be asked for, in seconds.
    pub fn retained_seconds(&self) -> f64 {
        self.tiers.last().expect("tiers").span()
    }

    /// Bytes held, fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.words.len() * 8
    }

    /// Whether the route's words live in a shared arena.
    pub fn is_shared(&self) -> bool {
        self.words.is_shared()
    }

    /// Counts a request the guard answered itself.
    pub fn reject(&self, why: Rejection) {
        self.cell(REJECTED + why as usize)
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Requests the guard answered itself for `why`, since the route was created.
    pub fn rejected(&self, why: Rejection) -> u64 {
        self.cell(REJECTED + why as usize).load(Ordering::Relaxed)
    }

    /// Requests too old to be recorded in any tier.
    pub fn dropped(&self) -> u64 {
        self.cell(DROPPED).load(Ordering::Relaxed)
    }

    /// The route's totals since it was created.
    pub fn totals(&self) -> Totals {
        let mut by_class = [0; STATUS_CLASSES];
        for (class, total) in by_class.iter_mut().enumerate() {
            *total = self.cell(CLASSES + class).load(Ordering::Relaxed);
        }
        Totals {
            by_class,
            errors: self.cell(ERRORS_TOTAL).load(Ordering::Relaxed),
            bytes: self.cell(BYTES_TOTAL).load(Ordering::Relaxed),
            duration_seconds: self.cell(MICROS_TOTAL).load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// For each of `bounds` (seconds, ascending), the requests since creation that took at
    /// most that long, from the all-time sketch: a request within the sketch's 1 % relative
    /// accuracy above a bound may count under it. Bounds from 1,000 s (the sketch's range)
    /// up count every request.
    pub fn histogram(&self, bounds: &[f64]) -> Result<Vec<u64>, Error> {
        if let Some(i) = bounds.iter().position(|b| !(b.is_finite() && *b > 0.0)) {
            return Err(Error::bad("bounds", "must be finite seconds > 0", bounds[i]).at(i));
        }
        if let Some(i) = bounds.windows(2).position(|pair| pair[0] >= pair[1]) {
            let bad = Error::bad("bounds", "must be ascending", bounds[i + 1]);
            return Err(bad.at(i + 1));
        }
        let buckets = self.mapping.buckets();
        let counts: Vec<u64> = self.words[HISTOGRAM..HISTOGRAM + buckets]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Ok(bounds
            .iter()
            .map(|&bound| {
                let through = if bound >= self.mapping.geometry().max_value {
                    buckets - 1
                } else {
                    self.mapping.bucket(bound)
                };
                counts[..=through].iter().sum()
            })
            .collect())
    }

    /// Records a request that ended at `at` (seconds since the epoch; default: now) after
    /// `seconds`, answered with `status` (0: none). A request stamped more than a minute (the
    /// finest bucket) ahead of the clock is left out of the windows, and counted in
    /// [`RouteWindow::dropped`]: it would hold its buckets against the requests of the real
    /// time. Every request counts in the totals.
    pub fn record(
        &self,
        at: Option<f64>,
        seconds: f64,
        error: bool,
        bytes: u64,
        status: u16,
    ) -> Result<(), Error> {
        let ts = self.clock.read_coarse(at)?;
        if !(0.0..=MAX_DURATION).contains(&seconds) {
            return Err(Error::bad(
                "duration",
                format!("must be a number of seconds in [0, {MAX_DURATION}] (a year)"),
                seconds,
            ));
        }
        let ahead = at.is_some() && ts > self.clock.read_coarse(None)? + self.tiers[0].width;
        let bucket = self.mapping.bucket(seconds);
        let micros = (seconds * 1e6).round() as u64;
        self.count_total(bucket, micros, error, bytes, status);
        if ahead {
            self.cell(DROPPED).fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let at_micros = (ts * 1e6) as u64;
        let mut recorded = false;
        for tier in &self.tiers {
            let (slot, lap) = tier.locate((ts * tier.per_second) as u64);
            if !self.claim(slot, lap) {
                continue;
            }
            recorded = true;
            let header = self.header(slot);
            header[REQUESTS].fetch_add(1, Ordering::Relaxed);
            if error {
                header[ERRORS].fetch_add(1, Ordering::Relaxed);
            }
            if bytes != 0 {
                header[BYTES].fetch_add(bytes, Ordering::Relaxed);
            }
            add_saturating(&header[MICROS], micros);
            // Most requests are not the slowest: a load spares them the read-modify-write.
            if seconds.to_bits() > header[MAX_BITS].load(Ordering::Relaxed) {
                header[MAX_BITS].fetch_max(seconds.to_bits(), Ordering::Relaxed);
            }
            let shift = bucket % 2 * 32;
            // Saturates rather than wraps: one band of one bucket holding 4 billion requests.
            let _ = self.slot_counts(slot)[bucket / 2].fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |pair| {
                    (pair >> shift & u64::from(u32::MAX) != u64::from(u32::MAX))
                        .then(|| pair + (1 << shift))
                },
            );
        }
        if recorded {
            self.note_first_seen(at_micros);
        } else {
            self.cell(DROPPED).fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn count_total(&self, bucket: usize, micros: u64, error: bool, bytes: u64, status: u16) {
        self.cell(CLASSES + status_class(status))
            .fetch_add(1, Ordering::Relaxed);
        if error {
            self.cell(ERRORS_TOTAL).fetch_add(1, Ordering::Relaxed);
        }
        if bytes != 0 {
            self.cell(BYTES_TOTAL).fetch_add(bytes, Ordering::Relaxed);
        }
        add_saturating(self.cell(MICROS_TOTAL), micros);
        self.words[HISTOGRAM + bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Makes `slot` hold `lap`, clearing it if it held an older one; false if it holds a newer
    /// lap (the request is too old for this tier). While a recorder clears a slot, its tag word
    /// names the recorder's process: others wait while it lives, and finish the clearing
    /// themselves if it died (nothing else writes to a slot being cleared), so a recorder
    /// killed at any instruction cannot hold a slot forever.
    fn claim(&self, slot: usize, lap: u64) -> bool {
        let tag = &self.header(slot)[TAG];
        if tag.load(Ordering::Acquire) == lap << 1 {
            return true; // the common case, before asking for the pid (a system call)
        }
        let me = u64::from(std::process::id());
        loop {
            let current = tag.load(Ordering::Acquire);
            if current == lap << 1 {
                return true;
            }
            if current & CLEARING != 0 {
                let (clearer, clearing_lap) = (current >> LAP_BITS & PID_MASK, current & LAP_MASK);
                if crate::process::alive(clearer) {
                    crate::sync::yield_now(); // another recorder is clearing the slot
                } else if tag
                    .compare_exchange(
                        current,
                        clearing(me, clearing_lap),
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    self.clear(slot, clearing_lap); // the dead recorder's clearing, finished
                }
                continue;
            }
            if current >> 1 > lap {
                return false;
            }
            let claimed = tag
                .compare_exchange(
                    current,
                    clearing(me, lap),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok();
            if claimed {
                self.clear(slot, lap);
                return true;
            }
        }
    }

    /// Zeroes a slot this process claimed for `lap`, then marks it as holding `lap`. The words
    /// are swapped rather than stored: a late recorder may still be adding to them (see the
    /// module docs), and read-modify-writes on both sides keep each word's history one plain
    /// sequence, which is also what the loom model (`loom_tests.rs`) explores soundly. A few
    /// hundred swaps once a rotation cost nothing measurable.
    fn clear(&self, slot: usize, lap: u64) {
        let header = self.header(slot);
        for word in &header[TAG + 1..] {
            word.swap(0, Ordering::Relaxed);
        }
        for count in self.slot_counts(slot) {
            count.swap(0, Ordering::Relaxed);
        }
        header[TAG].store(lap << 1, Ordering::Release);
    }

    /// Moves `first_seen` back to a request ending at `micros`, if that is within the retained
    /// span of the newest request; forward to it, if it follows the newest by more than the
    /// retained span (the route starts over, so one stray old request cannot disable warm-up).
    fn note_first_seen(&self, micros: u64) {
        let span = (self.retained_seconds() * 1e6) as u64;
        let newest = self.cell(LAST).fetch_max(micros, Ordering::Relaxed);
        // Kept inverted: the earliest end is the largest word, and 0 is none.
        let first = self.cell(FIRST_INVERTED);
        if first.load(Ordering::Relaxed) == 0 {
            first.fetch_max(!micros, Ordering::Relaxed);
        } else if micros > newest.saturating_add(span) {
            first.store(!micros, Ordering::Relaxed);
        } else if micros.saturating_add(span) >= newest {
            first.fetch_max(!micros, Ordering::Relaxed);
        }
    }

    /// When the earliest request of the route's current run ended (seconds since the epoch),
    /// if any: requests older than the retained span before the newest do not count.
    pub fn first_seen(&self) -> Option<f64> {
        match self.cell(FIRST_INVERTED).load(Ordering::Relaxed) {
            0 => None,
            inverted => Some(!inverted as f64 / 1e6),
        }
    }

    /// The figures of the requests that ended in the last `window_seconds` before `at`
    /// (default: now),
    /// with latency quantiles `qs` (each in [0, 1]). With `warmup_seconds > 0`, buckets that
    /// begin before the route's first request plus the warm-up are left out.
    pub fn summary(
        &self,
        at: Option<f64>,
        window_seconds: f64,
        warmup_seconds: f64,
        qs: &[f64],
    ) -> Result<Summary, Error> {
        let now = self.clock.read(at)?;
        let retained = self.retained_seconds();
        if !(window_seconds > 0.0 && window_seconds <= retained) {
            return Err(Error::bad(
                "window_seconds",
                format!("must be in (0, {retained}] (the retained span)"),
                window_seconds,
            ));
        }
        if !(warmup_seconds.is_finite() && warmup_seconds >= 0.0) {
            return Err(Error::bad(
                "warmup_seconds",
                "must be a finite number of seconds >= 0",
                warmup_seconds,
            ));
        }
        let tier = *self
            .tiers
            .iter()
            .find(|t| t.span() >= window_seconds)
            .expect("the last tier spans the retained window");
        let last = (now * tier.per_second) as u64;
        let mut first = ((now - window_seconds).max(0.0) * tier.per_second) as u64;
        let first_seen = self.first_seen().unwrap_or(now);
        if warmup_seconds > 0.0 {
            let settled = ((first_seen + warmup_seconds) * tier.per_second).ceil() as u64;
            first = first.max(settled);
        }
        let covered_seconds = (now - (first as f64 * tier.width).max(first_seen)).max(0.0);
        let buckets = self.mapping.buckets();
        let mut counts = vec![0u64; buckets];
        let mut slot_counts = vec![0u64; self.count_words];
        let mut totals = [0u64; HEADER_WORDS];
        let mut max_bits = 0;
        for index in first..=last {
            let (slot, lap) = tier.locate(index);
            let header = self.header(slot);
            if header[TAG].load(Ordering::Acquire) != lap << 1 {
                continue;
            }
            let mut words = [0u64; HEADER_WORDS];
            for (w, word) in words.iter_mut().zip(header).skip(1) {
                *w = word.load(Ordering::Relaxed);
            }
            for (pair, count) in slot_counts.iter_mut().zip(self.slot_counts(slot)) {
                *pair = count.load(Ordering::Relaxed);
            }
            // Acquire on the re-read keeps the loads above from moving after it.
            if header[TAG].fetch_add(0, Ordering::AcqRel) != lap << 1 {
                continue; // recycled while read: its requests have left the window
            }
            for word in REQUESTS..MAX_BITS {
                totals[word] += words[word];
            }
            max_bits = max_bits.max(words[MAX_BITS]);
            for (i, total) in counts.iter_mut().enumerate() {
                *total += slot_counts[i / 2] >> (i % 2 * 32) & u64::from(u32::MAX);
            }
        }
        let max_seconds = f64::from_bits(max_bits);
        Ok(Summary {
            requests: totals[REQUESTS],
            errors: totals[ERRORS],
            bytes: totals[BYTES],
            duration_seconds: totals[MICROS] as f64 / 1e6,
            max_seconds,
            quantiles: self.mapping.quantiles(&counts, max_seconds, qs)?,
            covered_seconds,
        })
    }
}
