//! What a fleet backend (Redis, reached from Python) needs of a window, without any I/O.
//!
//! Recording stays local: events go into the process's own [`BucketWindow`] at nanosecond
//! cost. A flusher then moves them to the fleet's store in batches:
//!
//! * [`Outbox`] says which of the window's finest buckets changed since the last batch, with
//!   their **absolute** counts (never deltas). The store keeps, per writer, the counts it has
//!   applied for each bucket and adds only the difference, so a batch applied twice (a retried
//!   flush) adds nothing the second time, and a batch lost in an outage is covered by the next
//!   one: totals stay exact without a queue of unacknowledged batches.
//! * [`FleetWindow`] is the local mirror of the fleet's buckets that the store's replies
//!   update, and that snapshots, alerts and exporters read. The store keeps every tier
//!   complete (each event is added to its bucket in every tier, with no carrying between
//!   them), so a window is counted on the finest tier that spans it.
//!
//! A bucket is flushed while it is one of the window's finest buckets: an event recorded
//! (with `at=`) older than that span, or whose bucket rotated out between two flushes, stays
//! local; [`Outbox::unshared`] counts them.

use std::collections::HashMap;

use crate::error::Error;
use crate::window::{check_timestamp, BucketWindow, Counts, TIER_RATIO};

const _: () = assert!(
    TIER_RATIO == 4,
    "the store's scripts index tiers by powers of 4"
);

/// The changed finest buckets of a window since the last batch, as absolute counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// `(tier-0 index, counts)` of every bucket whose counts changed, ascending.
    pub changed: Vec<(u64, Counts)>,
    /// Buckets an earlier batch carried that the window no longer holds as finest buckets:
    /// the store can forget this writer's counts for them.
    pub forgotten: Vec<u64>,
    /// Whether this batch carries every finest bucket (the first batch, or one after
    /// [`Outbox::resend_all`]).
    pub full: bool,
}

/// Which finest buckets of a window a flusher has handed to the store, and with what counts.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Counts the window held before this writer began (another writer's: the parent of a
    /// forked worker, say), never sent.
    base: HashMap<u64, Counts>,
    /// What the last batches carried of each bucket, net of `base`.
    sent: HashMap<u64, Counts>,
    /// Events carried by acknowledged batches since the outbox was made.
    shared: u64,
    /// Events carried by batches not yet acknowledged.
    pending: u64,
    /// The window's totals when the outbox was made: events recorded before are not flushed.
    baseline: (u64, u64),
    full: bool,
}

fn net(counts: Counts, base: Option<&Counts>) -> Counts {
    let base = base.copied().unwrap_or_default();
    Counts {
        good: counts.good.saturating_sub(base.good),
        bad: counts.bad.saturating_sub(base.bad),
    }
}

impl Outbox {
    /// An outbox for `window`: what it records from now on is flushed, what it holds already
    /// is not (the store has it from whoever recorded it).
    pub fn new(window: &BucketWindow) -> Self {
        let mut outbox = Outbox {
            baseline: window.totals(),
            ..Outbox::default()
        };
        outbox.rebase(window);
        outbox
    }

    /// An outbox for a window every process of a host shares, flushed by one of them at a
    /// time as the host's one writer: everything it holds is flushed (the store keeps what the
    /// host's writer applied, so a new flusher's first full batch counts nothing twice).
    pub fn unbased(window: &BucketWindow) -> Self {
        Outbox {
            baseline: window.totals(),
            full: true,
            ..Outbox::default()
        }
    }

    /// Starts this writer over on the store: what the window holds now is taken as already
    /// counted, and the next batch is full. For a store that lost this writer's counts while
    /// keeping the fleet's (its keys expired in a long partition): resending would count
    /// twice what was applied before, so what was not is lost, and shows in `unshared`.
    pub fn rebase(&mut self, window: &BucketWindow) {
        self.base = window.finest_buckets(0).into_iter().collect();
        self.sent.clear();
        self.pending = 0;
        self.full = true;
    }

    /// The store applied every batch so far (or had already: a retry).
    pub fn acknowledge(&mut self) {
        self.shared += std::mem::take(&mut self.pending);
    }

    /// The buckets of `window` that changed since the last batch, at time `now` (by the
    /// window's clock): the finest buckets from `now` back one finest span.
    pub fn batch(&mut self, window: &BucketWindow, now: f64) -> Result<Batch, Error> {
        let now = check_timestamp("at", now)?;
        let (_, buckets, _) = window.layout();
        let oldest = window.finest_index(now).saturating_sub(buckets as u64 - 1);
        let live: Vec<(u64, Counts)> = window
            .finest_buckets(oldest)
            .into_iter()
            .map(|(index, counts)| (index, net(counts, self.base.get(&index))))
            .filter(|(index, counts)| counts.total() > 0 || self.sent.contains_key(index))
            .collect();
        let full = std::mem::take(&mut self.full);
        let changed: Vec<(u64, Counts)> = live
            .iter()
            .filter(|(index, counts)| full || self.sent.get(index) != Some(counts))
            .copied()
            .collect();
        let mut forgotten: Vec<u64> = self
            .sent
            .keys()
            .filter(|&&index| live.binary_search_by_key(&index, |&(i, _)| i).is_err())
            .copied()
            .collect();
        forgotten.sort_unstable();
        for (index, counts) in &changed {
            let before = self.sent.insert(*index, *counts).unwrap_or_default();
            self.pending += counts.total() - before.total().min(counts.total());
        }
        for index in &forgotten {
            self.sent.remove(index);
        }
        self.base.retain(|&index, _| index >= oldest);
        Ok(Batch {
            changed,
            forgotten,
            full,
        })
    }

    /// Makes the next batch carry every finest bucket again: after a flush that may not have
    /// been applied, or for a store that lost everything (a Redis restarted empty), which the
    /// absolute counts then fill again. What the store has applied is not added twice.
    pub fn resend_all(&mut self) {
        self.full = true;
    }

    /// Events recorded into `window` since the outbox was made that no acknowledged batch
    /// carried: not flushed yet, older than the finest span when recorded, rotated out between
    /// two flushes, or dropped by a rebase.
    pub fn unshared(&self, window: &BucketWindow) -> u64 {
        let (good, bad) = window.totals();
        let recorded = (good - self.baseline.0) + (bad - self.baseline.1);
        recorded.saturating_sub(self.shared)
    }
}

/// The local mirror of a fleet's buckets: every tier complete, each bucket `(tag, good, bad)`
/// in a ring of `buckets` slots, as the store keeps them.
#[derive(Debug, Clone)]
pub struct FleetWindow {
    base_width: f64,
    per_second: f64,
    buckets: u64,
    /// `[tag, good, bad]` per slot, tier after tier.
    slots: Vec<[u64; 3]>,
    tiers: usize,
}

impl FleetWindow {
    /// A mirror of the fleet's buckets for windows laid out as `layout` (see
    /// [`BucketWindow::layout`]), empty.
    pub fn new(layout: (f64, usize, usize)) -> Self {
        let (base_width, buckets, tiers) = layout;
        FleetWindow {
            base_width,
            per_second: 1.0 / base_width,
            buckets: buckets as u64,
            slots: vec![[0; 3]; buckets * tiers],
            tiers,
        }
    }

    /// Forgets every bucket (before a full copy of the store).
    pub fn clear(&mut self) {
        self.slots.fill([0; 3]);
    }

    /// Sets `slot` of `tier` to the bucket of lap `tag` with `good` and `bad` events.
    pub fn set(
        &mut self,
        tier: usize,
        slot: usize,
        tag: u64,
        good: u64,
        bad: u64,
    ) -> Result<(), Error> {
        if tier >= self.tiers {
            return Err(Error::bad(
                "tier",
                format!("must be below {}", self.tiers),
                tier,
            ));
        }
        if slot as u64 >= self.buckets {
            return Err(Error::bad(
                "slot",
                format!("must be below {}", self.buckets),
                slot,
            ));
        }
        self.slots[tier * self.buckets as usize + slot] = [tag, good, bad];
        Ok(())
    }

    /// Counts over each of `windows` (seconds) ending at `now`: each on the finest tier that
    /// spans it, from the bucket holding `now - seconds` to the one holding `now`.
    pub fn count_many(&self, now: f64, windows: &[f64]) -> Result<Vec<Counts>, Error> {
        let now = check_timestamp("at", now)?;
        windows
            .iter()
            .map(|&seconds| {
                if !(seconds.is_finite() && seconds >= 0.0) {
                    return Err(Error::bad(
                        "seconds",
                        "must be a finite duration >= 0",
                        seconds,
                    ));
                }
                Ok(self.count(now, seconds))
            })
            .collect()
    }

    fn count(&self, now: f64, seconds: f64) -> Counts {
        let n = self.buckets;
        let tier = (0..self.tiers)
            .find(|&k| (n - 1) as f64 * self.width(k) >= seconds)
            .unwrap_or(self.tiers.saturating_sub(1));
        let shift = 2 * tier as u32; // TIER_RATIO is 4
        let index = |ts: f64| ((ts * self.per_second) as u64) >> shift; // as the window indexes
        let hi = index(now);
        let lo = index((now - seconds).max(0.0)).max((hi + 1).saturating_sub(n));
        let ring = &self.slots[tier * n as usize..(tier + 1) * n as usize];
        let mut counts = Counts::default();
        for index in lo..=hi {
            let [tag, good, bad] = ring[(index % n) as usize];
            if tag == index / n + 1 {
                counts.good += good;
                counts.bad += bad;
            }
        }
        counts
    }

    fn width(&self, tier: usize) -> f64 {
        self.base_width * TIER_RATIO.pow(tier as u32) as f64
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
