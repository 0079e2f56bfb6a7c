//! Bounded, lock-free, tiered time-bucket windows of good and bad event counts.
//!
//! # Layout
//!
//! A window is a stack of *tiers*. Tier 0 has the finest bucket width `w0`; each tier above has
//! buckets [`TIER_RATIO`] times wider. Every tier has the same number of buckets (by default
//! [`BUCKETS_PER_TIER`]), so tier `k` spans `n * w0 * 4^k` seconds and memory is fixed at
//! construction: `16 * n * tiers` bytes plus a two-word header, whatever the traffic.
//!
//! All state is one flat array of `u64` atomics addressed by offsets (no pointers), so the same
//! layout can later live in a shared-memory file:
//!
//! ```text
//! [dropped, expired, tier0 slot0 good, tier0 slot0 bad, tier0 slot1 good, ..., tierN ...]
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
//! holds its time. Counts carried past the last tier are added to `expired`; events whose
//! bucket holds newer data in every tier (too old to be held), or that overflow the last tier's
//! count, are added to `dropped`. So at any quiescent moment `recorded == live + expired +
//! dropped`, exactly. A reader that runs during a carry may momentarily miss the carried count
//! (never count it twice).
//!
//! Nothing global moves with an event: there is no "newest time" that a far-future timestamp
//! or a clock step could push ahead of the real time. Such an event takes its own bucket in
//! tier 0 and is counted at its time; events at the real time that share that bucket go one
//! tier up, and no event at the real time is dropped because of it.
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
use crate::words::Words;

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
const DROPPED: usize = 0;
const EXPIRED: usize = 1;
/// Every event recorded, good and bad, since the window was made: monotonic.
const TOTAL_GOOD: usize = 2;
const TOTAL_BAD: usize = 3;
const HEADER_WORDS: usize = 4;
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
    words: Words,
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
        let words = Words::zeroed(len);
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

    /// Identifies the layout of the window's words: windows built with the same resolution,
    /// ring size and span have the same, and only they may share words.
    pub fn geometry(&self) -> u64 {
        const LAYOUT: u64 = 2; // bump when the meaning of the words changes
        crate::words::geometry_of(&[
            LAYOUT,
            self.base_width.to_bits(),
            self.buckets,
            self.tiers.len() as u64,
            self.words.len() as u64,
        ])
    }

    /// Whether the window's words live in an arena.
    pub fn is_shared(&self) -> bool {
        self.words.is_shared()
    }

    /// How many words the window keeps.
    pub fn words_len(&self) -> usize {
        self.words.len()
    }

    /// Keeps this window's counts in `region` from now on: the words of every window of the
    /// same geometry that shares it. Call it before recording (this window's own counts are
    /// not carried over).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn share(&mut self, region: crate::arena::Region) {
        assert_eq!(
            region.words().len(),
            self.words.len(),
            "a region of another size"
        );
        self.words = Words::shared(region);
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

    /// The layout a fleet mirror of this window takes: `(base_width, buckets per tier, tiers)`.
    pub fn layout(&self) -> (f64, usize, usize) {
        (self.base_width, self.buckets as usize, self.tiers.len())
    }

    /// The tier-0 index of the bucket holding timestamp `ts` (a checked timestamp).
    pub fn finest_index(&self, ts: f64) -> u64 {
        self.index_of(ts)
    }

    /// Every tier-0 bucket the ring holds with an index of at least `oldest`, ascending, with
    /// its counts: what a fleet flush reads. A slot's good and bad words are read separately
    /// (each is its own bucket of its lap), so a bucket half rotated counts once in each.
    pub fn finest_buckets(&self, oldest: u64) -> Vec<(u64, Counts)> {
        let tier = &self.tiers[0];
        let words = &self.words[tier.offset..tier.offset + 2 * self.buckets as usize];
        let mut buckets: Vec<(u64, Counts)> = Vec::new();
        for (slot, pair) in words.chunks_exact(2).enumerate() {
            for (kind, word) in pair.iter().enumerate() {
                let (tag, count) = tier.tagged.read(word);
                let index = if tag == 0 {
                    continue;
                } else {
                    self.ring.bucket_of(slot, tag)
                };
                if count == 0 || index < oldest {
                    continue;
                }
                let mut counts = Counts::default();
                counts.add(kind, count);
                buckets.push((index, counts));
            }
        }
        buckets.sort_unstable_by_key(|&(index, _)| index);
        buckets.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                first.1.good += later.1.good;
                first.1.bad += later.1.bad;
            }
            same
        });
        buckets
    }

    fn index_of(&self, ts: f64) -> u64 {
        (ts * self.per_second) as u64
    }

    /// Records `n` events at tier-0 index `index0`. Nothing global moves: an event lands in the
    /// finest tier whose bucket for its time does not hold a newer lap, so an event far ahead
    /// of the rest (a skewed clock, a bad timestamp) takes one bucket per tier and displaces
    /// nothing, and events at the current time keep being counted (at worst one tier coarser
    /// where they share its bucket). An event every tier holds newer data for is dropped and
    /// counted.
    fn record_index(&self, index0: u64, good: bool, n: u64) {
        if n > 0 {
            self.words[TOTAL_GOOD + usize::from(!good)].fetch_add(n, Ordering::Relaxed);
            self.add(0, index0, usize::from(!good), n, Overflow::Dropped);
        }
    }

    /// Good and bad events recorded since the window was made, held or not: monotonic, for
    /// counters a scraper takes rates of.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.words[TOTAL_GOOD].load(Ordering::Relaxed),
            self.words[TOTAL_BAD].load(Ordering::Relaxed),
        )
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
                // The hot loop of every read: the count is masked out only where it is used.
                let word = word.load(Ordering::Relaxed);
                let held_tag = self.tagged.tag_of(word);
                let (level, count) = if held_tag == tag {
                    (&mut *current, self.tagged.count_of(word))
                } else if word == 0 || held_tag > tag {
                    continue; // empty, or newer than the query's end
                } else if held_tag + 1 == tag {
                    if !previous.reach(index - lap_length, self.edges, in_longest) {
                        continue;
                    }
                    (&mut *previous, self.tagged.count_of(word))
                } else {
                    let older = ((held_tag - 1) << self.bucket_bits) + slot as u64;
                    let reached = self.edges.partition_point(|&edge| edge <= older);
                    if reached > 0 {
                        in_longest[reached - 1].add(kind, self.tagged.count_of(word));
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
mod tests;
