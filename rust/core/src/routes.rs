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
//! figures really go. Memory is fixed at construction: about 3.7 KB a slot, 340 KB a route
//! for 30 days.
//!
//! All state is two flat arrays of atomics (a header per slot and the sketch counts), with no
//! pointers, so it could later live in shared memory.
//!
//! # Concurrency
//!
//! A slot's header starts with a tag: the slot's *lap* (which turn of the ring it holds, plus
//! one), shifted left once, with the low bit set while the slot is being cleared. A recorder
//! whose lap matches adds with relaxed atomic adds. One that finds an older lap claims the
//! slot by a compare-and-swap to `lap | 1`, clears it and publishes the tag; recorders that
//! meet a slot being cleared wait the few hundred nanoseconds that takes. A request older than
//! a tier's slot skips that tier. A reader reads a slot only if its tag is the lap it expects
//! before and after the read. A recorder stalled between reading the tag and adding, for as
//! long as a whole ring (16 minutes at least), would add to the next lap: the count is not
//! lost, only placed later.

use crate::clock::Clock;
use crate::counter::Counter;
use crate::error::Error;
use crate::ring::Ring;
use crate::sketch::{Geometry, Mapping};
use crate::sync::{AtomicU32, AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Tiers below the daily one: bucket width in seconds and slots.
const SHORT_TIERS: [(f64, usize); 4] = [(60.0, 16), (300.0, 13), (1800.0, 13), (7200.0, 13)];
const DAY: f64 = 86_400.0;
/// The longest request duration accepted: a year, so a bucket's total (in whole microseconds)
/// cannot wrap before billions of such requests, and saturates rather than wraps then.
const MAX_DURATION: f64 = 365.0 * DAY;

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

/// One route's bounded, lock-free request window. See the module docs.
#[derive(Debug)]
pub struct RouteWindow {
    mapping: Mapping,
    tiers: Vec<Tier>,
    headers: Box<[AtomicU64]>,
    counts: Box<[AtomicU32]>,
    /// Requests too old for every tier.
    dropped: AtomicU64,
    /// The earliest request's end, in whole microseconds since the epoch (`u64::MAX`: none).
    first_micros: AtomicU64,
    last_micros: AtomicU64,
    /// Requests answered by the guard, by [`Rejection`].
    rejected: [Counter; 2],
    clock: Clock,
}

impl RouteWindow {
    /// A window on the wall clock retaining `retain_seconds` (at least a day is always kept).
    pub fn new(retain_seconds: f64) -> Result<Self, Error> {
        RouteWindow::with_clock(retain_seconds, Clock::Wall)
    }

    /// As [`RouteWindow::new`], reading `clock` when an operation is not given a time.
    pub fn with_clock(retain_seconds: f64, clock: Clock) -> Result<Self, Error> {
        check_retain(retain_seconds)?;
        let days = (retain_seconds / DAY).ceil() as usize + 1;
        let mut tiers = Vec::with_capacity(SHORT_TIERS.len() + 1);
        let mut first_slot = 0;
        for (width, slots) in SHORT_TIERS.into_iter().chain([(DAY, days.max(2))]) {
            // Every lap up to the last timestamp fits the tag word's clearing form.
            debug_assert!(crate::window::MAX_TIMESTAMP / (width * slots as f64) < LAP_MASK as f64);
            tiers.push(Tier {
                width,
                per_second: 1.0 / width,
                ring: Ring::new(slots as u64),
                first_slot,
            });
            first_slot += slots;
        }
        let mapping = Mapping::new(Geometry::LATENCY)?;
        Ok(RouteWindow {
            mapping,
            tiers,
            headers: (0..first_slot * HEADER_WORDS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            counts: (0..first_slot * mapping.buckets())
                .map(|_| AtomicU32::new(0))
                .collect(),
            dropped: AtomicU64::new(0),
            first_micros: AtomicU64::new(u64::MAX),
            last_micros: AtomicU64::new(0),
            rejected: Default::default(),
            clock,
        })
    }

    /// The longest window that can be asked for, in seconds.
    pub fn retained_seconds(&self) -> f64 {
        self.tiers.last().expect("tiers").span()
    }

    /// Bytes held, fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.headers.len() * 8 + self.counts.len() * 4
    }

    /// Counts a request the guard answered itself.
    pub fn reject(&self, why: Rejection) {
        self.rejected[why as usize].add(1);
    }

    /// Requests the guard answered itself for `why`, since the route was created.
    pub fn rejected(&self, why: Rejection) -> u64 {
        self.rejected[why as usize].get()
    }

    /// Requests too old to be recorded in any tier.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records a request that ended at `at` (seconds since the epoch; default: now) after
    /// `seconds`. A request stamped more than a minute (the finest bucket) ahead of the clock
    /// is not recorded, and is counted in [`RouteWindow::dropped`]: it would hold its buckets
    /// against the requests of the real time.
    pub fn record(
        &self,
        at: Option<f64>,
        seconds: f64,
        error: bool,
        bytes: u64,
    ) -> Result<(), Error> {
        let ts = self.clock.read_coarse(at)?;
        if !(0.0..=MAX_DURATION).contains(&seconds) {
            return Err(Error::bad(
                "duration",
                format!("must be a number of seconds in [0, {MAX_DURATION}] (a year)"),
                seconds,
            ));
        }
        if at.is_some() && ts > self.clock.read_coarse(None)? + self.tiers[0].width {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let bucket = self.mapping.bucket(seconds);
        let micros = (seconds * 1e6).round() as u64;
        let at_micros = (ts * 1e6) as u64;
        let mut recorded = false;
        for tier in &self.tiers {
            let (slot, lap) = tier.locate((ts * tier.per_second) as u64);
            if !self.claim(slot, lap) {
                continue;
            }
            recorded = true;
            let header = &self.headers[slot * HEADER_WORDS..(slot + 1) * HEADER_WORDS];
            header[REQUESTS].fetch_add(1, Ordering::Relaxed);
            if error {
                header[ERRORS].fetch_add(1, Ordering::Relaxed);
            }
            header[BYTES].fetch_add(bytes, Ordering::Relaxed);
            let _ = header[MICROS].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total.saturating_add(micros))
            });
            header[MAX_BITS].fetch_max(seconds.to_bits(), Ordering::Relaxed);
            let count = &self.counts[slot * self.mapping.buckets() + bucket];
            // Saturates rather than wraps: one band of one bucket holding 4 billion requests.
            let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
        }
        if recorded {
            self.note_first_seen(at_micros);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Makes `slot` hold `lap`, clearing it if it held an older one; false if it holds a newer
    /// lap (the request is too old for this tier). While a recorder clears a slot, its tag word
    /// names the recorder's process: others wait while it lives, and finish the clearing
    /// themselves if it died (nothing else writes to a slot being cleared), so a recorder
    /// killed at any instruction cannot hold a slot forever.
    fn claim(&self, slot: usize, lap: u64) -> bool {
        let tag = &self.headers[slot * HEADER_WORDS + TAG];
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

    /// Zeroes a slot this process claimed for `lap`, then marks it as holding `lap`.
    fn clear(&self, slot: usize, lap: u64) {
        let header = &self.headers[slot * HEADER_WORDS..(slot + 1) * HEADER_WORDS];
        for word in &header[TAG + 1..] {
            word.store(0, Ordering::Relaxed);
        }
        let buckets = self.mapping.buckets();
        for count in &self.counts[slot * buckets..(slot + 1) * buckets] {
            count.store(0, Ordering::Relaxed);
        }
        header[TAG].store(lap << 1, Ordering::Release);
    }

    /// Moves `first_seen` back to a request ending at `micros`, if that is within the retained
    /// span of the newest request; forward to it, if it follows the newest by more than the
    /// retained span (the route starts over, so one stray old request cannot disable warm-up).
    fn note_first_seen(&self, micros: u64) {
        let span = (self.retained_seconds() * 1e6) as u64;
        let newest = self.last_micros.fetch_max(micros, Ordering::Relaxed);
        if self.first_micros.load(Ordering::Relaxed) == u64::MAX {
            self.first_micros.fetch_min(micros, Ordering::Relaxed);
        } else if micros > newest.saturating_add(span) {
            self.first_micros.store(micros, Ordering::Relaxed);
        } else if micros.saturating_add(span) >= newest {
            self.first_micros.fetch_min(micros, Ordering::Relaxed);
        }
    }

    /// When the earliest request of the route's current run ended (seconds since the epoch),
    /// if any: requests older than the retained span before the newest do not count.
    pub fn first_seen(&self) -> Option<f64> {
        match self.first_micros.load(Ordering::Relaxed) {
            u64::MAX => None,
            micros => Some(micros as f64 / 1e6),
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
        let mut slot_counts = vec![0u32; buckets];
        let mut totals = [0u64; HEADER_WORDS];
        let mut max_bits = 0;
        for index in first..=last {
            let (slot, lap) = tier.locate(index);
            let header = &self.headers[slot * HEADER_WORDS..(slot + 1) * HEADER_WORDS];
            if header[TAG].load(Ordering::Acquire) != lap << 1 {
                continue;
            }
            let mut words = [0u64; HEADER_WORDS];
            for (w, word) in words.iter_mut().zip(header).skip(1) {
                *w = word.load(Ordering::Relaxed);
            }
            for (n, count) in slot_counts
                .iter_mut()
                .zip(&self.counts[slot * buckets..(slot + 1) * buckets])
            {
                *n = count.load(Ordering::Relaxed);
            }
            // Acquire on the re-read keeps the loads above from moving after it.
            if header[TAG].fetch_add(0, Ordering::AcqRel) != lap << 1 {
                continue; // recycled while read: its requests have left the window
            }
            for word in REQUESTS..MAX_BITS {
                totals[word] += words[word];
            }
            max_bits = max_bits.max(words[MAX_BITS]);
            for (total, &n) in counts.iter_mut().zip(&slot_counts) {
                *total += u64::from(n);
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

/// A bounded set of routes by key ("GET /users/{id}"): past `max_routes` distinct keys, new
/// keys share one overflow route, so memory stays bounded whatever the traffic.
#[derive(Debug)]
pub struct RouteTable {
    max_routes: usize,
    retain_seconds: f64,
    overflow_key: String,
    routes: RwLock<HashMap<String, Arc<RouteWindow>>>,
    clock: Clock,
}

impl RouteTable {
    /// A table of at most `max_routes` routes (plus the overflow route, keyed `overflow_key`),
    /// each retaining `retain_seconds`.
    pub fn new(max_routes: usize, retain_seconds: f64, overflow_key: &str) -> Result<Self, Error> {
        if max_routes == 0 {
            return Err(Error::bad("max_routes", "must be >= 1", 0));
        }
        if overflow_key.is_empty() {
            return Err(Error::invalid("overflow_label", "must be non-empty"));
        }
        check_retain(retain_seconds)?;
        Ok(RouteTable {
            max_routes,
            retain_seconds,
            overflow_key: overflow_key.to_owned(),
            routes: RwLock::new(HashMap::new()),
            clock: Clock::Wall,
        })
    }

    /// The same table, its routes reading `clock` when an operation is not given a time.
    pub fn with_clock(self, clock: Clock) -> Self {
        RouteTable { clock, ..self }
    }

    /// The route of `key` and the key it is held under: `key` itself, created on first sight,
    /// or the overflow key once the table is full.
    pub fn route<'k>(&'k self, key: &'k str) -> (&'k str, Arc<RouteWindow>) {
        if let Some(route) = self.read().get(key) {
            return (key, route.clone());
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let distinct = routes.len() - usize::from(routes.contains_key(&self.overflow_key));
        let key = if distinct < self.max_routes || routes.contains_key(key) {
            key
        } else {
            &self.overflow_key
        };
        let window = || {
            let window = RouteWindow::with_clock(self.retain_seconds, self.clock.clone());
            Arc::new(window.expect("checked in new"))
        };
        (
            key,
            routes.entry(key.to_owned()).or_insert_with(window).clone(),
        )
    }

    /// The time now by the table's clock.
    pub fn now(&self) -> Result<f64, Error> {
        self.clock.read(None)
    }

    /// Every route, sorted by key.
    pub fn routes(&self) -> Vec<(String, Arc<RouteWindow>)> {
        let mut all: Vec<_> = self
            .read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<RouteWindow>>> {
        self.routes.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const T0: f64 = 1_767_225_600.0; // 2026-01-01, a day boundary

    #[test]
    fn counts_quantiles_and_windows() {
        let w = RouteWindow::new(30.0 * DAY).unwrap();
        assert_eq!(w.retained_seconds(), 30.0 * DAY);
        // 100 requests a minute for an hour: 10 ms to 1 s, one error in ten, 1 KB each.
        for minute in 0..60 {
            for i in 0..100u32 {
                let at = T0 + f64::from(minute) * 60.0 + f64::from(i) * 0.5;
                w.record(Some(at), f64::from(i + 1) * 0.01, i % 10 == 0, 1024)
                    .unwrap();
            }
        }
        let now = T0 + 3600.0;
        let qs = [0.5, 0.9, 0.99, 1.0];
        let last_minute = w.summary(Some(now), 60.0, 0.0, &qs).unwrap();
        assert_eq!(last_minute.requests, 100);
        assert_eq!(last_minute.errors, 10);
        assert_eq!(last_minute.bytes, 102_400);
        assert_eq!(last_minute.covered_seconds, 60.0);
        let reaching_back = w.summary(Some(now - 1.0), 60.0, 0.0, &qs).unwrap();
        assert_eq!(
            reaching_back.requests, 200,
            "the buckets the window overlaps"
        );
        assert_eq!(reaching_back.covered_seconds, 119.0);
        assert!((last_minute.duration_seconds - 50.5).abs() < 1e-9);
        assert_eq!(last_minute.max_seconds, 1.0);
        let q = last_minute.quantiles.unwrap();
        for (got, want) in q.iter().zip([0.5, 0.9, 0.99, 1.0]) {
            assert!((got - want).abs() <= 0.01 * want, "{got} vs {want}");
        }
        let hour = w.summary(Some(now), 3600.0, 0.0, &qs).unwrap();
        assert_eq!((hour.requests, hour.errors), (6000, 600));
        let month = w.summary(Some(now), 30.0 * DAY, 0.0, &qs).unwrap();
        assert_eq!(month.requests, 6000);
        // A day later the minute and hour windows are empty; the month still has them all.
        let later = now + DAY;
        assert_eq!(
            w.summary(Some(later), 3600.0, 0.0, &qs).unwrap().requests,
            0
        );
        assert_eq!(
            w.summary(Some(later), 3600.0, 0.0, &qs).unwrap().quantiles,
            None
        );
        assert_eq!(
            w.summary(Some(later), 7.0 * DAY, 0.0, &qs)
                .unwrap()
                .requests,
            6000
        );
    }

    #[test]
    fn slots_are_reused_each_lap_and_old_requests_are_dropped() {
        let w = RouteWindow::new(DAY).unwrap();
        w.record(Some(T0), 0.1, false, 0).unwrap();
        // Sixteen minutes on, tier 0's slot is reused: the old minute is gone from it.
        w.record(Some(T0 + 16.0 * 60.0), 0.2, true, 0).unwrap();
        let s = w
            .summary(Some(T0 + 16.0 * 60.0 + 1.0), 60.0, 0.0, &[1.0])
            .unwrap();
        assert_eq!((s.requests, s.errors), (1, 1));
        // Once every slot holds a later time, an old request is dropped, not misplaced.
        for minute in 0..2880 {
            w.record(Some(T0 + DAY + f64::from(minute) * 60.0), 0.1, false, 0)
                .unwrap();
        }
        assert_eq!(w.dropped(), 0);
        w.record(Some(T0), 0.1, false, 0).unwrap();
        assert_eq!(w.dropped(), 1);
    }

    #[test]
    fn one_stray_old_request_does_not_hold_first_seen_in_the_past() {
        let w = RouteWindow::new(DAY).unwrap();
        w.record(Some(1.0), 0.1, false, 0).unwrap();
        assert_eq!(w.first_seen(), Some(1.0));
        w.record(Some(T0), 0.1, false, 0).unwrap();
        assert_eq!(
            w.first_seen(),
            Some(T0),
            "the route starts over after a gap past its span"
        );
        w.record(Some(2.0), 0.1, false, 0).unwrap();
        assert_eq!(
            w.first_seen(),
            Some(T0),
            "and a stray old one does not move it back"
        );
        w.record(Some(T0 - 600.0), 0.1, false, 0).unwrap();
        assert_eq!(
            w.first_seen(),
            Some(T0 - 600.0),
            "an earlier request within the span does"
        );
        assert_eq!(w.dropped(), 0, "all of them are kept");
    }

    #[test]
    fn warm_up_leaves_out_the_first_buckets_and_coverage_starts_at_the_first_request() {
        let w = RouteWindow::new(DAY).unwrap();
        assert_eq!(w.first_seen(), None);
        // One request a second from T0 + 30 s to T0 + 300 s, the first ten slow.
        for i in 30..300u32 {
            let slow = if i < 40 { 2.0 } else { 0.1 };
            w.record(Some(T0 + f64::from(i)), slow, false, 0).unwrap();
        }
        assert_eq!(w.first_seen(), Some(T0 + 30.0));
        let now = T0 + 300.0;
        let all = w.summary(Some(now), 600.0, 0.0, &[1.0]).unwrap();
        assert_eq!((all.requests, all.covered_seconds), (270, 270.0));
        // Warm-up ends at T0 + 60 s: the minute buckets from T0 + 60 s on are kept.
        let settled = w.summary(Some(now), 600.0, 30.0, &[1.0]).unwrap();
        assert_eq!((settled.requests, settled.covered_seconds), (240, 240.0));
        assert_eq!(settled.max_seconds, 0.1);
        // Ending at T0 + 61 s, it leaves out the whole bucket it ends in.
        let late = w.summary(Some(now), 600.0, 31.0, &[1.0]).unwrap();
        assert_eq!((late.requests, late.covered_seconds), (180, 180.0));
        let none = w.summary(Some(now), 600.0, 600.0, &[1.0]).unwrap();
        assert_eq!(
            (none.requests, none.covered_seconds, none.quantiles),
            (0, 0.0, None)
        );
        let err = w
            .summary(Some(now), 600.0, -1.0, &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("warmup_seconds "), "{err}");
    }

    #[test]
    fn bad_input_names_the_parameter() {
        let w = RouteWindow::new(DAY).unwrap();
        let err = |e: Error| e.to_string();
        assert!(err(w.record(Some(T0), -1.0, false, 0).unwrap_err()).starts_with("duration "));
        assert!(err(w.record(Some(f64::NAN), 1.0, false, 0).unwrap_err()).starts_with("at "));
        assert!(err(w.summary(Some(T0), 0.0, 0.0, &[]).unwrap_err()).starts_with("window_seconds "));
        assert!(err(w.summary(Some(T0), 3.0 * DAY, 0.0, &[]).unwrap_err())
            .starts_with("window_seconds "));
        assert!(err(w.summary(Some(T0), 60.0, 0.0, &[2.0]).unwrap_err()).starts_with("quantiles "));
        assert!(RouteWindow::new(0.0).is_err());
        assert!(RouteTable::new(0, DAY, "other").is_err());
    }

    #[test]
    fn a_request_far_ahead_of_the_clock_is_counted_not_held() {
        let w = RouteWindow::new(DAY).unwrap();
        let now = crate::clock::wall();
        w.record(Some(now + 365.0 * DAY), 0.1, false, 0).unwrap();
        for i in 0..100 {
            w.record(Some(now + f64::from(i) * 0.1), 0.1, false, 0)
                .unwrap();
        }
        assert_eq!(w.dropped(), 1);
        assert_eq!(
            w.summary(Some(now + 10.0), 60.0, 0.0, &[])
                .unwrap()
                .requests,
            100
        );
        assert!(
            w.first_seen().unwrap() <= now + 1.0,
            "the request ahead moved nothing"
        );
        // A minute ahead is within the clock's tolerance (hosts' clocks differ).
        w.record(Some(now + 30.0), 0.1, false, 0).unwrap();
        assert_eq!(w.dropped(), 1);
    }

    #[test]
    fn rejections_are_counted_per_reason() {
        let w = RouteWindow::new(DAY).unwrap();
        w.reject(Rejection::CircuitOpen);
        w.reject(Rejection::BudgetDenied);
        w.reject(Rejection::BudgetDenied);
        assert_eq!(w.rejected(Rejection::CircuitOpen), 1);
        assert_eq!(w.rejected(Rejection::BudgetDenied), 2);
    }

    #[test]
    fn the_table_caps_distinct_routes() {
        let table = RouteTable::new(2, DAY, "OTHER").unwrap();
        let (_, a) = table.route("GET /a");
        assert!(Arc::ptr_eq(&a, &table.route("GET /a").1));
        table.route("GET /b");
        let (key, c) = table.route("GET /c");
        assert_eq!(key, "OTHER");
        assert!(Arc::ptr_eq(&c, &table.route("GET /d").1), "both overflow");
        assert!(Arc::ptr_eq(&c, &table.route("OTHER").1));
        let keys: Vec<String> = table.routes().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["GET /a", "GET /b", "OTHER"]);
    }

    #[test]
    fn concurrent_records_across_rotations_are_all_counted() {
        let w = Arc::new(RouteWindow::new(DAY).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    // 40 minutes of time: every tier-0 slot is claimed and reused concurrently.
                    for i in 0..100_000u32 {
                        let at = T0 + f64::from(i) * 0.024;
                        w.record(Some(at), 0.001 * f64::from(t + 1), i % 3 == 0, 10)
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = w
            .summary(Some(T0 + 2400.0), 6.0 * 3600.0, 0.0, &[0.0, 1.0])
            .unwrap();
        assert_eq!(s.requests, 400_000);
        assert_eq!(s.errors, 4 * 33_334);
        assert_eq!(s.bytes, 4_000_000);
        assert_eq!(w.dropped(), 0);
        let q = s.quantiles.unwrap();
        assert!((q[0] - 0.001).abs() <= 1e-5 && (q[1] - 0.004).abs() <= 4e-5);
    }

    #[test]
    fn a_slot_left_half_cleared_by_a_dead_recorder_is_finished_not_waited_on() {
        let w = RouteWindow::new(DAY).unwrap();
        let at = T0 + 30.0;
        let (slot, lap) = w.tiers[0].locate((at * w.tiers[0].per_second) as u64);
        // What a recorder killed mid-clear leaves: the slot claimed by its pid, half zeroed.
        let dead = u64::from(i32::MAX as u32);
        w.headers[slot * HEADER_WORDS + TAG].store(clearing(dead, lap), Ordering::Release);
        w.headers[slot * HEADER_WORDS + REQUESTS].store(999, Ordering::Relaxed);
        w.record(Some(at), 0.1, false, 0).unwrap();
        let s = w.summary(Some(at + 1.0), 60.0, 0.0, &[0.5]).unwrap();
        assert_eq!((s.requests, w.dropped()), (1, 0), "cleared, then counted");
    }
}
