//! The sliding windows outcomes are counted in: the last `n` calls, or the last `n` seconds.

use super::*;
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

/// The calls of the last `n` seconds, in at most [`TIME_BUCKETS`] buckets. Each count is one
/// word holding (bucket lap, count), updated by one compare-and-swap, so a bucket that comes
/// round again restarts from zero without losing a concurrent count.
pub(super) struct TimeWindow {
    pub(super) width: f64,
    pub(super) words: Box<[AtomicU64]>,
}

/// Most buckets of a time window; longer windows get wider buckets.
pub const TIME_BUCKETS: u32 = 64;

impl TimeWindow {
    pub(super) fn new(seconds: u32) -> Self {
        let buckets = seconds.min(TIME_BUCKETS);
        TimeWindow {
            width: f64::from(seconds) / f64::from(buckets),
            words: (0..3 * buckets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(super) fn buckets(&self) -> u64 {
        (self.words.len() / 3) as u64
    }

    pub(super) fn index(&self, now: f64) -> u64 {
        (now.max(0.0) / self.width) as u64
    }

    pub(super) fn record(&self, now: f64, failed: bool, slow: bool) {
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

    pub(super) fn counts(&self, now: f64) -> Counts {
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
