//! The sliding windows outcomes are counted in: the last `n` calls, or the last `n` seconds.

use super::*;
use crate::ring::{Ring, Tagged};
use crate::sync::{AtomicI64, AtomicU8};

pub(super) const OCCUPIED: u8 = 1;
pub(super) const FAILED: u8 = 2;
pub(super) const SLOW: u8 = 4;

pub(super) fn outcome_bits(failed: bool, slow: bool) -> u8 {
    OCCUPIED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

/// The last `n` calls: a ring of outcome bytes and running totals. Each call swaps its slot
/// and moves the totals by the difference from the outcome it replaced, so the totals always
/// match the ring once in-flight calls land.
pub(super) struct CountWindow {
    pub(super) slots: Box<[AtomicU8]>,
    pub(super) next: AtomicU64,
    pub(super) totals: [AtomicI64; 3],
}

impl CountWindow {
    pub(super) fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU64::new(0),
            totals: [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)],
        }
    }

    pub(super) fn replace(&self, slot: usize, bits: u8) {
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

    pub(super) fn record(&self, failed: bool, slow: bool) {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len() as u64;
        self.replace(slot as usize, outcome_bits(failed, slow));
    }

    pub(super) fn counts(&self) -> Counts {
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

    pub(super) fn clear(&self) {
        for slot in 0..self.slots.len() {
            self.replace(slot, 0);
        }
    }
}

/// The calls of the last `n` seconds, in at most [`TIME_BUCKETS`] buckets: a ring of tagged
/// counter words (see `ring.rs`), three per bucket (calls, failed, slow), so a bucket that comes
/// round again restarts from zero in the same compare-and-swap that counts the new call.
pub(super) struct TimeWindow {
    pub(super) width: f64,
    pub(super) ring: Ring,
    pub(super) words: Box<[AtomicU64]>,
}

/// Most buckets of a time window; longer windows get wider buckets.
pub const TIME_BUCKETS: u32 = 64;

/// Time-window words: a 32-bit lap tag above a 32-bit count.
const TAGGED: Tagged = Tagged::new(32);

impl TimeWindow {
    pub(super) fn new(seconds: u32) -> Self {
        let buckets = seconds.min(TIME_BUCKETS);
        TimeWindow {
            width: f64::from(seconds) / f64::from(buckets),
            ring: Ring::new(u64::from(buckets)),
            words: (0..3 * buckets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(super) fn index(&self, now: f64) -> u64 {
        (now.max(0.0) / self.width) as u64
    }

    pub(super) fn record(&self, now: f64, failed: bool, slow: bool) {
        let (slot, tag) = self.ring.locate(self.index(now));
        let bits = outcome_bits(failed, slow);
        for k in 0..3 {
            if bits >> k & 1 == 1 {
                // Calls are recorded at the clock's time, so a bucket more than a lap (a whole
                // window) ahead holds calls from before the clock stepped back: it is reclaimed,
                // and no clock step stops later calls from counting. A call one lap behind its
                // bucket is outside every window still read, and is not counted.
                let _ = TAGGED.add_reclaiming(&self.words[3 * slot + k], tag, 1, 1);
            }
        }
    }

    pub(super) fn counts(&self, now: f64) -> Counts {
        let newest = self.index(now);
        let n = self.ring.slots();
        let mut totals = [0u64; 3];
        for (i, word) in self.words.iter().enumerate() {
            let (tag, count) = TAGGED.read(word);
            if tag == 0 {
                continue;
            }
            let index = self.ring.bucket_of(i / 3, tag);
            if index <= newest && index + n > newest {
                totals[i % 3] += count;
            }
        }
        Counts {
            calls: totals[0],
            failed: totals[1],
            slow: totals[2],
        }
    }

    pub(super) fn clear(&self) {
        for word in self.words.iter() {
            word.store(0, Ordering::Release);
        }
    }
}

pub(super) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}
