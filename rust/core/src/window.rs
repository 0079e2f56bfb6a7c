//! Bounded, lock-free, tiered time-bucket windows of good and bad event counts.
//!
//! # Layout
//!
//! A window is a stack of *tiers*. Tier 0 has the finest bucket width `w0`; each tier above has
//! buckets [`TIER_RATIO`] times wider. Every tier has the same number of buckets (by default
//! [`BUCKETS_PER_TIER`]), so tier `k` spans `n * w0 * 4^k` seconds and memory is fixed at
//! construction: `16 * n * tiers` bytes plus a three-word header, whatever the traffic.
//!
//! All state is one flat array of `u64` atomics addressed by offsets (no pointers), so the same
//! layout can later live in a shared-memory file:
//!
//! ```text
//! [head, dropped, expired, tier0 slot0 good, tier0 slot0 bad, tier0 slot1 good, ..., tierN ...]
//! ```
//!
//! # One word, one count, its own epoch
//!
//! Each count word packs the bucket's *lap* (which turn of the ring it belongs to, plus one, so
//! zero means empty) in its high bits and the count in its low bits. A bucket is therefore
//! `(epoch, count)` read and written as one atomic word: rotation cannot tear a count.
//!
//! Recording an event at tier-0 index `i` does one compare-and-swap on its slot:
//! * same lap: add to the count;
//! * older lap (or empty): install `(my lap, n)` and carry the evicted count up to the tier above
//!   (the bucket there that covers the same time), which may cascade;
//! * newer lap: my bucket has already been carried up, so the event goes up a tier too.
//!
//! Every event therefore sits in exactly one bucket at any time, in the finest tier that still
//! holds its time. Counts carried past the last tier are added to `expired`; events too old to
//! be held at all (or overflowing the last tier's count) are added to `dropped`. So at any
//! quiescent moment `recorded == live + expired + dropped`, exactly. A reader that runs during a
//! carry may momentarily miss the carried count (never count it twice).
//!
//! # Resolution
//!
//! A query for the last `W` seconds sums every bucket that overlaps `[now - W, now]`, so its
//! old edge is extended by less than one bucket width *of the tier holding that age*. Data of
//! age `a` lives in tier 0 while `a < (n - 1) * w0`; beyond that, in the lowest tier `k` whose
//! retained span `(n - 1) * w0 * 4^k` covers `a`. The worst-case edge error of a window longer
//! than tier 0's span is therefore `4 / (n - 1)` of its length (1.6 % with `n = 256`), and at
//! most `w0` for shorter windows. Windows shorter than `w0` are answered at `w0` resolution.

use crate::error::Error;
use crate::ring::{Added, Ring, Tagged};
use crate::sync::{AtomicU64, Ordering};

/// Largest accepted timestamp, in seconds since the epoch (2^33 s, in the year 2242).
pub const MAX_TIMESTAMP: f64 = 8_589_934_592.0;
/// Buckets in every tier of a default window.
pub const BUCKETS_PER_TIER: usize = 256;
/// How many times wider a tier's buckets are than the tier below.
pub const TIER_RATIO: u64 = 4;
/// Finest bucket width accepted, in seconds.
pub const MIN_BUCKET_WIDTH: f64 = 1e-3;
/// Most tiers a window may have.
pub const MAX_TIERS: usize = 24;

const TIER_SHIFT: u32 = TIER_RATIO.trailing_zeros();
const HEAD: usize = 0;
const DROPPED: usize = 1;
const EXPIRED: usize = 2;
const HEADER_WORDS: usize = 3;
const MIN_COUNT_BITS: u32 = 20;

/// Good and bad event counts over some span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events that met the objective.
    pub good: u64,
    /// Events that did not.
    pub bad: u64,
}

impl Counts {
    fn add(&mut self, kind: usize, n: u64) {
        if kind == 0 {
            self.good += n;
        } else {
            self.bad += n;
        }
    }

    /// All events.
    pub fn total(&self) -> u64 {
        self.good + self.bad
    }
}

/// Where a count that falls off the top of the tiers is accounted.
#[derive(Clone, Copy)]
enum Overflow {
    /// A new event that no tier can hold.
    Dropped,
    /// An old bucket carried past the last tier.
    Expired,
}

/// One tier's fixed geometry.
#[derive(Debug, Clone, Copy)]
struct Tier {
    /// Right shift from a tier-0 index to this tier's index.
    shift: u32,
    /// The layout of its words: the lap tag above the count.
    tagged: Tagged,
    /// Offset of this tier's first word in the storage.
    offset: usize,
}

/// Width and retained span of one tier, as reported by [`BucketWindow::tiers`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierInfo {
    /// Bucket width in seconds.
    pub width_seconds: f64,
    /// How far back this tier is guaranteed to reach, in seconds: `(buckets - 1) * width`.
    pub span_seconds: f64,
}

/// A bounded, lock-free window of good/bad counts in tiered time buckets. See the module docs.
#[derive(Debug)]
pub struct BucketWindow {
    base_width: f64,
    /// `1 / base_width`: indexing multiplies rather than divides on the recording path.
    per_second: f64,
    buckets: u64,
    /// `log2(buckets)`: buckets are a power of two, so slot and lap are a mask and a shift.
    bucket_bits: u32,
    /// Every tier's ring of buckets.
    ring: Ring,
    tiers: Vec<Tier>,
    words: Box<[AtomicU64]>,
}

/// Checks that `ts` is a usable timestamp and returns it.
pub fn check_timestamp(param: &'static str, ts: f64) -> Result<f64, Error> {
    if ts.is_finite() && (0.0..MAX_TIMESTAMP).contains(&ts) {
        Ok(ts)
    } else {
        Err(Error::bad(
            param,
            format!("must be a finite timestamp in [0, {MAX_TIMESTAMP}) seconds since the epoch"),
            ts,
        ))
    }
}

impl BucketWindow {
    /// A window whose finest buckets are `base_width` seconds wide and that retains at least
    /// `retain_seconds` of history, with [`BUCKETS_PER_TIER`] buckets per tier.
    pub fn new(base_width: f64, retain_seconds: f64) -> Result<Self, Error> {
        Self::with_buckets(base_width, retain_seconds, BUCKETS_PER_TIER)
    }

    /// As [`BucketWindow::new`] with `buckets` buckets per tier (a power of two, at least 2).
    pub fn with_buckets(
        base_width: f64,
        retain_seconds: f64,
        buckets: usize,
    ) -> Result<Self, Error> {
        if !(base_width.is_finite() && base_width >= MIN_BUCKET_WIDTH) {
            return Err(Error::bad(
                "base_width",
                format!("must be a finite number of seconds >= {MIN_BUCKET_WIDTH}"),
                base_width,
            ));
        }
        if !(retain_seconds.is_finite() && retain_seconds > 0.0 && retain_seconds < MAX_TIMESTAMP) {
            return Err(Error::bad(
                "retain_seconds",
                format!("must be a positive number of seconds below {MAX_TIMESTAMP}"),
                retain_seconds,
            ));
        }
        if buckets < 2 || !buckets.is_power_of_two() {
            return Err(Error::bad(
                "buckets",
                "must be a power of two >= 2",
                buckets,
            ));
        }
        let n = buckets as u64;
        let per_second = 1.0 / base_width;
        let max_index0 = (MAX_TIMESTAMP * per_second) as u64;
        let mut tiers = Vec::new();
        loop {
            let k = tiers.len() as u32;
            let shift = k * TIER_SHIFT;
            let max_tag = (max_index0 >> shift) / n + 1;
            let tag_bits = 64 - max_tag.leading_zeros();
            let count_bits = 64 - tag_bits;
            if count_bits < MIN_COUNT_BITS {
                return Err(Error::invalid(
                    "base_width",
                    format!("{base_width} is too fine to tag"),
                ));
            }
            tiers.push(Tier {
                shift,
                tagged: Tagged::new(count_bits),
                offset: HEADER_WORDS + 2 * buckets * k as usize,
            });
            let span = (n - 1) as f64 * base_width * (1u64 << shift) as f64;
            if span >= retain_seconds {
                break;
            }
            if tiers.len() == MAX_TIERS {
                return Err(Error::invalid(
                    "retain_seconds",
                    format!("{retain_seconds} needs more than {MAX_TIERS} tiers at base width {base_width}"),
                ));
            }
        }
        let len = HEADER_WORDS + 2 * buckets * tiers.len();
        let words = (0..len).map(|_| AtomicU64::new(0)).collect();
        Ok(BucketWindow {
            base_width,
            per_second,
            buckets: n,
            bucket_bits: n.trailing_zeros(),
            ring: Ring::new(n),
            tiers,
            words,
        })
    }

    /// Width and guaranteed span of each tier, finest first.
    pub fn tiers(&self) -> Vec<TierInfo> {
        self.tiers
            .iter()
            .map(|t| {
                let width = self.base_width * (1u64 << t.shift) as f64;
                TierInfo {
                    width_seconds: width,
                    span_seconds: (self.buckets - 1) as f64 * width,
                }
            })
            .collect()
    }

    /// How far back the window is guaranteed to reach from its newest event, in seconds.
    pub fn retained_seconds(&self) -> f64 {
        self.tiers().last().map_or(0.0, |t| t.span_seconds)
    }

    /// Bytes this window occupies, header and storage included.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.tiers.len() * std::mem::size_of::<Tier>()
            + self.words.len() * std::mem::size_of::<AtomicU64>()
    }

    /// Events that arrived too old to be held (or overflowed the last tier), never counted.
    pub fn dropped(&self) -> u64 {
        self.words[DROPPED].load(Ordering::Relaxed)
    }

    /// Events that aged out past the last tier.
    pub fn expired(&self) -> u64 {
        self.words[EXPIRED].load(Ordering::Relaxed)
    }

    /// Records `n` events of one kind (`good` or not) at timestamp `ts`.
    pub fn record(&self, ts: f64, good: bool, n: u64) -> Result<(), Error> {
        let ts = check_timestamp("at", ts)?;
        self.record_index(self.index_of(ts), good, n);
        Ok(())
    }

    /// Records events at validated timestamps, one per element of `good` and `ts`, adding runs
    /// that fall into the same bucket in one step. Nothing is recorded if any input is bad.
    pub fn record_many(&self, good: &[bool], ts: &[f64]) -> Result<(), Error> {
        if good.len() != ts.len() {
            return Err(Error::bad(
                "at",
                format!("must have the same length as ok ({})", good.len()),
                ts.len(),
            ));
        }
        if let Some((i, &bad)) = ts
            .iter()
            .enumerate()
            .find(|(_, &t)| check_timestamp("at", t).is_err())
        {
            return Err(check_timestamp("at", bad).unwrap_err().at(i));
        }
        let mut run: Option<(u64, bool, u64)> = None;
        for (&g, &t) in good.iter().zip(ts) {
            let index = self.index_of(t);
            run = match run {
                Some((i, k, n)) if i == index && k == g => Some((i, k, n + 1)),
                Some((i, k, n)) => {
                    self.record_index(i, k, n);
                    Some((index, g, 1))
                }
                None => Some((index, g, 1)),
            };
        }
        if let Some((i, k, n)) = run {
            self.record_index(i, k, n);
        }
        Ok(())
    }

    /// Counts in the buckets that overlap the `seconds` before `now` (and `now` itself).
    pub fn count(&self, now: f64, seconds: f64) -> Result<Counts, Error> {
        Ok(self.count_many(now, &[seconds])?[0])
    }

    /// [`BucketWindow::count`] for several windows ending at `now`, in one pass over the
    /// buckets: each tier is walked once from its newest bucket back to the longest window's
    /// edge, and each bucket is credited to the windows that reach it.
    pub fn count_many(&self, now: f64, windows: &[f64]) -> Result<Vec<Counts>, Error> {
        let now = check_timestamp("at", now)?;
        if let Some(bad) = windows.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
            return Err(Error::bad("seconds", "must be a finite duration >= 0", bad));
        }
        // Longest window first, so the old edges ascend.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by(|&a, &b| windows[b].total_cmp(&windows[a]));
        let edges0: Vec<u64> = order
            .iter()
            .map(|&w| self.index_of((now - windows[w]).max(0.0)))
            .collect();
        let hi0 = self.index_of(now);
        // in_longest[m - 1]: counts of the buckets reached by exactly the m longest windows.
        let mut in_longest = vec![Counts::default(); windows.len()];
        let mut edges = vec![0u64; windows.len()];
        for tier in &self.tiers {
            let Some(&oldest) = edges0.first() else { break };
            for (edge, &edge0) in edges.iter_mut().zip(&edges0) {
                *edge = edge0 >> tier.shift;
            }
            let hi = hi0 >> tier.shift;
            let walk = TierWalk {
                pairs: &self.words[tier.offset..tier.offset + 2 * self.buckets as usize],
                tagged: tier.tagged,
                bucket_bits: self.bucket_bits,
                first: (oldest >> tier.shift).max((hi + 1).saturating_sub(self.buckets)),
                edges: &edges,
            };
            // Newest first: the slots of hi's lap from hi's slot down, then the previous lap's.
            let (lap, split) = (
                hi >> self.bucket_bits,
                (hi & (self.buckets - 1)) as usize + 1,
            );
            let mut current = Level::new(edges.len());
            let mut previous = Level::new(edges.len());
            walk.segment(0, split, lap, &mut current, &mut previous, &mut in_longest);
            if lap > 0 {
                let end = self.buckets as usize;
                walk.segment(
                    split,
                    end,
                    lap - 1,
                    &mut current,
                    &mut previous,
                    &mut in_longest,
                );
            }
            current.flush(&mut in_longest);
            previous.flush(&mut in_longest);
        }
        let mut counts = vec![Counts::default(); windows.len()];
        let mut running = Counts::default();
        for m in (0..windows.len()).rev() {
            running.good += in_longest[m].good;
            running.bad += in_longest[m].bad;
            counts[order[m]] = running;
        }
        Ok(counts)
    }

    /// Every count still held in any bucket, whatever its time.
    pub fn live_counts(&self) -> Counts {
        let mut counts = Counts::default();
        for tier in &self.tiers {
            let words = &self.words[tier.offset..tier.offset + 2 * self.buckets as usize];
            for pair in words.chunks_exact(2) {
                counts.good += tier.tagged.read(&pair[0]).1;
                counts.bad += tier.tagged.read(&pair[1]).1;
            }
        }
        counts
    }

    fn index_of(&self, ts: f64) -> u64 {
        (ts * self.per_second) as u64
    }

    fn record_index(&self, index0: u64, good: bool, n: u64) {
        if n == 0 {
            return;
        }
        let head = &self.words[HEAD];
        let newest = head.load(Ordering::Relaxed);
        if index0 >= newest {
            head.fetch_max(index0 + 1, Ordering::Relaxed);
        } else {
            let last = self.tiers[self.tiers.len() - 1].shift;
            if (index0 >> last) + self.buckets <= (newest - 1) >> last {
                self.words[DROPPED].fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
        self.add(0, index0, usize::from(!good), n, Overflow::Dropped);
    }

    /// Adds `n` to the bucket holding tier-0 index `index0` in tier `from` or, if that bucket has
    /// been carried up or would overflow, in the first tier above that can take it.
    fn add(&self, from: usize, index0: u64, kind: usize, n: u64, overflow: Overflow) {
        let mut overflowed = false;
        for (k, tier) in self.tiers.iter().enumerate().skip(from) {
            let (slot, tag) = self.ring.locate(index0 >> tier.shift);
            let word = &self.words[tier.offset + 2 * slot + kind];
            match tier.tagged.add(word, tag, n) {
                Added::Counted => return,
                Added::Replaced { tag, count } => {
                    if count > 0 {
                        self.carry_up(k, slot, tag, kind, count);
                    }
                    return;
                }
                // This bucket was carried up already: so must the event be.
                Added::Newer => overflowed = false,
                Added::Full => overflowed = true,
            }
        }
        let sink = match (overflowed, overflow) {
            (false, Overflow::Expired) => EXPIRED,
            _ => DROPPED,
        };
        self.words[sink].fetch_add(n, Ordering::Relaxed);
    }

    /// Moves `count` evicted from tier `k`'s `slot` (lap tag `tag`) into the tier above.
    fn carry_up(&self, k: usize, slot: usize, tag: u64, kind: usize, count: u64) {
        let index0 = self.ring.bucket_of(slot, tag) << self.tiers[k].shift;
        self.add(k + 1, index0, kind, count, Overflow::Expired);
    }
}

/// Counts credited to the `level` longest windows, held in registers until the level drops.
struct Level {
    level: usize,
    good: u64,
    bad: u64,
}

impl Level {
    fn new(windows: usize) -> Self {
        Level {
            level: windows,
            good: 0,
            bad: 0,
        }
    }

    /// Drops to the windows that reach `index` (indices only descend); false if none does.
    fn reach(&mut self, index: u64, edges: &[u64], in_longest: &mut [Counts]) -> bool {
        while self.level > 0 && edges[self.level - 1] > index {
            self.flush(in_longest);
            self.level -= 1;
        }
        self.level > 0
    }

    fn flush(&mut self, in_longest: &mut [Counts]) {
        if self.level > 0 {
            in_longest[self.level - 1].good += std::mem::take(&mut self.good);
            in_longest[self.level - 1].bad += std::mem::take(&mut self.bad);
        }
    }
}

/// One tier's share of [`BucketWindow::count_many`].
struct TierWalk<'a> {
    /// The tier's words, a (good, bad) pair per slot.
    pairs: &'a [AtomicU64],
    tagged: Tagged,
    bucket_bits: u32,
    /// The oldest index the walk visits.
    first: u64,
    /// Each window's old edge in this tier's indices, ascending.
    edges: &'a [u64],
}

impl TierWalk<'_> {
    /// Credits slots `start..end` of lap `lap`, newest first, to the windows reaching them.
    /// A slot may still hold the lap before (a coarser tier is emptied lazily, so it keeps
    /// old buckets where the finer tier covers the recent past): those are credited through
    /// `previous`, whose indices descend in step. Anything older is placed by search.
    fn segment(
        &self,
        start: usize,
        end: usize,
        lap: u64,
        current: &mut Level,
        previous: &mut Level,
        in_longest: &mut [Counts],
    ) {
        let tag = lap + 1;
        let base = lap << self.bucket_bits;
        let lap_length = 1u64 << self.bucket_bits;
        let slots = self.pairs[2 * start..2 * end]
            .chunks_exact(2)
            .enumerate()
            .rev();
        for (offset, pair) in slots {
            let slot = start + offset;
            let index = base + slot as u64;
            if index < self.first {
                break;
            }
            current.reach(index, self.edges, in_longest);
            for (kind, word) in pair.iter().enumerate() {
                let (held_tag, held) = self.tagged.read(word);
                let (level, count) = if held_tag == tag {
                    (&mut *current, held)
                } else if held_tag == 0 || held_tag > tag {
                    continue; // empty, or newer than the query's end
                } else if held_tag + 1 == tag {
                    if !previous.reach(index - lap_length, self.edges, in_longest) {
                        continue;
                    }
                    (&mut *previous, held)
                } else {
                    let older = ((held_tag - 1) << self.bucket_bits) + slot as u64;
                    let reached = self.edges.partition_point(|&edge| edge <= older);
                    if reached > 0 {
                        in_longest[reached - 1].add(kind, held);
                    }
                    continue;
                };
                if kind == 0 {
                    level.good += count;
                } else {
                    level.bad += count;
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn total_of(w: &BucketWindow) -> u64 {
        w.live_counts().total() + w.expired() + w.dropped()
    }

    #[test]
    fn counts_events_in_window() {
        let w = BucketWindow::new(1.0, 3600.0).unwrap();
        w.record(100.0, true, 3).unwrap();
        w.record(100.5, false, 1).unwrap();
        w.record(50.0, false, 2).unwrap();
        assert_eq!(w.count(100.9, 10.0).unwrap(), Counts { good: 3, bad: 1 });
        assert_eq!(w.count(100.9, 60.0).unwrap(), Counts { good: 3, bad: 3 });
        // Upper edge: events after `now` are not in a window ending at `now`.
        assert_eq!(w.count(60.0, 60.0).unwrap(), Counts { good: 0, bad: 2 });
    }

    #[test]
    fn default_geometry_fits_in_64_kib_for_30_days() {
        let w = BucketWindow::new(5.0, 30.0 * 86400.0).unwrap();
        assert!(w.memory_bytes() <= 64 * 1024, "{}", w.memory_bytes());
        let tiers = w.tiers();
        assert_eq!(tiers[0].width_seconds, 5.0);
        assert!(w.retained_seconds() >= 30.0 * 86400.0);
        for pair in tiers.windows(2) {
            assert_eq!(pair[1].width_seconds, 4.0 * pair[0].width_seconds);
        }
    }

    #[test]
    fn old_buckets_roll_up_without_loss() {
        let w = BucketWindow::with_buckets(1.0, 1000.0, 8).unwrap();
        for t in 0..500u32 {
            w.record(t as f64, t % 3 != 0, 1).unwrap();
        }
        assert_eq!(total_of(&w), 500);
        assert_eq!(w.dropped(), 0);
        // Everything still retained is counted exactly once over the whole span.
        let c = w.count(499.0, 499.0).unwrap();
        assert_eq!(c.total() + w.expired(), 500);
    }

    #[test]
    fn window_edge_error_is_bounded_by_the_tier_width() {
        let w = BucketWindow::with_buckets(1.0, 100_000.0, 16).unwrap();
        let end = 20_000u32;
        for t in 0..end {
            w.record(t as f64 + 0.5, true, 1).unwrap();
        }
        let now = end as f64 - 0.5;
        for seconds in [1.0, 7.0, 15.0, 100.0, 1000.0, 5000.0, 12345.0] {
            let got = w.count(now, seconds).unwrap().total() as f64;
            let exact = seconds.floor() + 1.0;
            let width = w
                .tiers()
                .iter()
                .find(|t| t.span_seconds >= seconds)
                .map(|t| t.width_seconds)
                .unwrap();
            assert!(
                got >= exact && got <= exact + width,
                "{seconds}: got {got}, exact {exact}, width {width}"
            );
        }
    }

    #[test]
    fn count_many_equals_one_window_at_a_time() {
        let w = BucketWindow::with_buckets(1.0, 50_000.0, 8).unwrap();
        // Bursts with gaps leave lagging tiers and stale laps behind.
        for t in (0..20_000u32).filter(|t| (t / 700) % 3 != 1) {
            w.record(t as f64 * 1.7, t % 11 == 0, 1 + u64::from(t % 3))
                .unwrap();
        }
        let windows = [
            0.0, 1.0, 7.5, 30.0, 100.0, 999.0, 5000.0, 20_000.0, 40_000.0, 7.5,
        ];
        for now in [10_000.0, 25_000.0, 33_999.0, 40_000.0] {
            let many = w.count_many(now, &windows).unwrap();
            for (i, &s) in windows.iter().enumerate() {
                assert_eq!(many[i], w.count_one_by_one(now, s), "now {now}, window {s}");
            }
        }
    }

    impl BucketWindow {
        /// The obvious per-bucket count, as a reference for `count_many`.
        fn count_one_by_one(&self, now: f64, seconds: f64) -> Counts {
            let (hi0, lo0) = (self.index_of(now), self.index_of((now - seconds).max(0.0)));
            let mut counts = Counts::default();
            for tier in &self.tiers {
                let (lo, hi) = (lo0 >> tier.shift, hi0 >> tier.shift);
                for slot in 0..self.buckets as usize {
                    for kind in 0..2 {
                        let word = &self.words[tier.offset + 2 * slot + kind];
                        let (tag, count) = tier.tagged.read(word);
                        if tag > 0 && (lo..=hi).contains(&self.ring.bucket_of(slot, tag)) {
                            counts.add(kind, count);
                        }
                    }
                }
            }
            counts
        }
    }

    #[test]
    fn out_of_order_events_land_in_the_finest_tier_still_holding_them() {
        let w = BucketWindow::with_buckets(1.0, 1000.0, 4).unwrap();
        w.record(100.0, true, 1).unwrap();
        w.record(90.0, false, 1).unwrap(); // tier-0 slot of 90 is free: tier 0
        w.record(20.0, false, 1).unwrap(); // far behind: a coarser tier
        assert_eq!(w.count(100.0, 100.0).unwrap(), Counts { good: 1, bad: 2 });
        assert_eq!(total_of(&w), 3);
    }

    #[test]
    fn too_old_events_are_dropped_and_counted() {
        let w = BucketWindow::with_buckets(1.0, 100.0, 4).unwrap();
        let retained = w.retained_seconds();
        w.record(10_000.0, true, 1).unwrap();
        w.record(10_000.0 - 2.0 * retained - 64.0, false, 5)
            .unwrap();
        assert_eq!(w.dropped(), 5);
        assert_eq!(
            w.count(10_000.0, 10_000.0).unwrap(),
            Counts { good: 1, bad: 0 }
        );
    }

    #[test]
    fn count_overflow_spills_to_a_coarser_tier() {
        let w = BucketWindow::with_buckets(1.0, 1000.0, 4).unwrap();
        let mask0 = w.tiers[0].tagged.max_count();
        w.record(5.0, true, mask0).unwrap();
        w.record(5.0, true, 7).unwrap();
        assert_eq!(w.count(5.0, 0.0).unwrap().good, mask0 + 7);
        assert_eq!(w.dropped(), 0);
    }

    #[test]
    fn record_many_matches_single_records_and_rejects_bad_input() {
        let a = BucketWindow::with_buckets(0.5, 500.0, 8).unwrap();
        let b = BucketWindow::with_buckets(0.5, 500.0, 8).unwrap();
        let ts: Vec<f64> = (0..300).map(|i| (i / 3) as f64 * 0.7).collect();
        let ok: Vec<bool> = (0..300).map(|i| i % 4 != 0).collect();
        a.record_many(&ok, &ts).unwrap();
        for (&g, &t) in ok.iter().zip(&ts) {
            b.record(t, g, 1).unwrap();
        }
        for s in [1.0, 10.0, 100.0, 300.0] {
            assert_eq!(a.count(210.0, s).unwrap(), b.count(210.0, s).unwrap());
        }
        let err = a
            .record_many(&[true, true, true], &[1.0, f64::NAN, -1.0])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "at[1] must be a finite timestamp in [0, 8589934592) seconds since the epoch; got NaN"
        );
        assert!(a.record_many(&[true], &[1.0, 2.0]).is_err());
    }

    #[test]
    fn rejects_bad_timestamps_and_geometry() {
        let w = BucketWindow::new(1.0, 100.0).unwrap();
        for ts in [f64::NAN, f64::INFINITY, -1.0, MAX_TIMESTAMP] {
            let err = w.record(ts, true, 1).unwrap_err();
            assert!(err.to_string().starts_with("at must be"), "{err}");
        }
        assert!(BucketWindow::new(0.0, 100.0).is_err());
        assert!(BucketWindow::new(1.0, f64::NAN).is_err());
        assert!(BucketWindow::with_buckets(1.0, 100.0, 1).is_err());
        assert!(BucketWindow::with_buckets(1.0, 100.0, 12).is_err());
        assert!(w.count(10.0, -1.0).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Any stream, in any order: every event is accounted for, multi-window counts equal
        /// per-bucket reference counts, and each window holds every event it should plus at
        /// most those within one bucket width of the tier holding its old edge.
        #[test]
        fn counts_are_conserved_and_windows_bounded(
            events in proptest::collection::vec((0.0f64..5_000.0, proptest::bool::ANY, 1u64..4), 1..400),
            windows in proptest::collection::vec(0.0f64..6_000.0, 1..8),
            now_offset in 0.0f64..500.0,
        ) {
            let w = BucketWindow::with_buckets(0.5, 20_000.0, 16).unwrap();
            for &(ts, good, n) in &events {
                w.record(1_000_000.0 + ts, good, n).unwrap();
            }
            let sent: u64 = events.iter().map(|e| e.2).sum();
            proptest::prop_assert_eq!(total_of(&w), sent);
            proptest::prop_assert_eq!(w.dropped(), 0); // the stream spans less than is retained
            let newest = events.iter().map(|e| e.0).fold(0.0, f64::max);
            let now = 1_000_000.0 + newest + now_offset;
            let many = w.count_many(now, &windows).unwrap();
            for (&seconds, got) in windows.iter().zip(&many) {
                proptest::prop_assert_eq!(*got, w.count_one_by_one(now, seconds));
                // Out-of-order events may sit a tier coarser than their age suggests, so bound
                // by the widest bucket that can hold data of this age: the last tier's.
                let slack = w.tiers().last().unwrap().width_seconds;
                let within = |limit: f64| -> u64 {
                    events.iter().filter(|e| now - (1_000_000.0 + e.0) <= limit).map(|e| e.2).sum()
                };
                proptest::prop_assert!(within(seconds) <= got.total());
                proptest::prop_assert!(got.total() <= within(seconds + slack));
            }
        }
    }

    /// Four threads record 200k events each, walking time forward with jitter so that tier-0
    /// slots rotate constantly and late events hit buckets that were just carried up.
    fn hammer(w: &std::sync::Arc<BucketWindow>) -> Counts {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let w = std::sync::Arc::clone(w);
                std::thread::spawn(move || {
                    let mut counts = Counts::default();
                    for i in 0..200_000u64 {
                        let ts = i as f64 * 0.003 + ((i * 7 + t) % 13) as f64 * 0.004;
                        let ok = (i + t) % 5 != 0;
                        if ok {
                            counts.good += 1;
                        } else {
                            counts.bad += 1;
                        }
                        w.record(ts, ok, 1).unwrap();
                    }
                    counts
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(Counts::default(), |a, c| Counts {
                good: a.good + c.good,
                bad: a.bad + c.bad,
            })
    }

    #[test]
    fn concurrent_writers_count_exactly_while_buckets_rotate() {
        let w = std::sync::Arc::new(BucketWindow::with_buckets(0.01, 1000.0, 4).unwrap());
        let sent = hammer(&w);
        assert_eq!((w.dropped(), w.expired()), (0, 0));
        assert_eq!(w.live_counts(), sent);
        assert_eq!(w.count(700.0, 700.0).unwrap(), sent);
    }

    #[test]
    fn concurrent_writers_account_for_every_event_when_history_expires() {
        let w = std::sync::Arc::new(BucketWindow::with_buckets(0.01, 5.0, 4).unwrap());
        let sent = hammer(&w);
        assert!(w.expired() > 0);
        assert_eq!(
            w.live_counts().total() + w.expired() + w.dropped(),
            sent.total()
        );
    }
}
