//! The sliding windows outcomes are counted in: the last `n` calls, or the last `n` seconds.
//! Both keep everything in [`Words`], so a breaker's window can live in a shared arena.

use super::*;
use crate::ring::{Ring, Tagged};
use crate::words::Words;

pub(super) const OCCUPIED: u8 = 1;
pub(super) const FAILED: u8 = 2;
pub(super) const SLOW: u8 = 4;

pub(super) fn outcome_bits(failed: bool, slow: bool) -> u8 {
    OCCUPIED | if failed { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

/// Count-window words: the next call's number, the three running totals, then the slots'
/// outcome bytes, eight to a word.
const NEXT: usize = 0;
const TOTALS: usize = 1;
const SLOTS: usize = 4;

/// The last `n` calls: a ring of outcome bytes and running totals. Each call swaps its slot
/// and moves the totals by the difference from the outcome it replaced, so the totals always
/// match the ring once in-flight calls land. The totals are recounted from zero when the
/// window is cleared (the breaker closes or is reset): a process killed between a slot and the
/// totals leaves them at most one call off until then.
pub(super) struct CountWindow {
    size: u64,
    pub(super) words: Words,
}

impl CountWindow {
    /// Words a window of `size` calls needs.
    pub(super) fn words_for(size: u32) -> usize {
        SLOTS + (size as usize).div_ceil(8)
    }

    pub(super) fn new(size: u32) -> Self {
        CountWindow {
            size: u64::from(size),
            words: Words::zeroed(Self::words_for(size)),
        }
    }

    /// The outcome byte in `slot`.
    #[cfg(all(test, not(loom)))]
    pub(super) fn slot(&self, slot: u64) -> u8 {
        let word = self.words[SLOTS + (slot / 8) as usize].load(Ordering::Acquire);
        (word >> (slot % 8 * 8)) as u8
    }

    fn replace(&self, slot: u64, bits: u8) {
        let word = &self.words[SLOTS + (slot / 8) as usize];
        let shift = slot % 8 * 8;
        let mut seen = word.load(Ordering::Acquire);
        loop {
            let next = seen & !(0xFF << shift) | u64::from(bits) << shift;
            match word.compare_exchange_weak(seen, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        let old = (seen >> shift) as u8;
        if old != bits {
            for k in 0..3 {
                let delta = i64::from((bits >> k) & 1) - i64::from((old >> k) & 1);
                if delta != 0 {
                    self.words[TOTALS + k].fetch_add(delta as u64, Ordering::AcqRel);
                }
            }
        }
    }

    pub(super) fn record(&self, failed: bool, slow: bool) {
        let slot = self.words[NEXT].fetch_add(1, Ordering::Relaxed) % self.size;
        self.replace(slot, outcome_bits(failed, slow));
    }

    pub(super) fn counts(&self) -> Counts {
        let total = |k: usize| {
            let v = self.words[TOTALS + k].load(Ordering::Acquire) as i64;
            v.clamp(0, self.size as i64) as u64
        };
        Counts {
            calls: total(0),
            failed: total(1),
            slow: total(2),
        }
    }

    pub(super) fn clear(&self) {
        for word in &self.words[SLOTS..] {
            word.store(0, Ordering::Release);
        }
        for total in &self.words[TOTALS..SLOTS] {
            total.store(0, Ordering::Release);
        }
    }
}

/// The calls of the last `n` seconds, in at most [`TIME_BUCKETS`] buckets: a ring of tagged
/// counter words (see `ring.rs`), three per bucket (calls, failed, slow), so a bucket that comes
/// round again restarts from zero in the same compare-and-swap that counts the new call.
pub(super) struct TimeWindow {
    pub(super) width: f64,
    pub(super) ring: Ring,
    pub(super) words: Words,
}

/// Most buckets of a time window; longer windows get wider buckets.
pub const TIME_BUCKETS: u32 = 64;

/// Time-window words: a 32-bit lap tag above a 32-bit count.
const TAGGED: Tagged = Tagged::new(32);

impl TimeWindow {
    /// Words a window of `seconds` needs.
    pub(super) fn words_for(seconds: u32) -> usize {
        3 * seconds.min(TIME_BUCKETS) as usize
    }

    pub(super) fn new(seconds: u32) -> Self {
        let buckets = seconds.min(TIME_BUCKETS);
        TimeWindow {
            width: f64::from(seconds) / f64::from(buckets),
            ring: Ring::new(u64::from(buckets)),
            words: Words::zeroed(Self::words_for(seconds)),
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

impl Window {
    pub(super) fn new(sliding_window: SlidingWindow) -> Window {
        match sliding_window {
            SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
            SlidingWindow::Time(seconds) => Window::Time(TimeWindow::new(seconds)),
        }
    }

    /// Words a window of this kind and size needs.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(super) fn words_for(sliding_window: SlidingWindow) -> usize {
        match sliding_window {
            SlidingWindow::Count(n) => CountWindow::words_for(n),
            SlidingWindow::Time(seconds) => TimeWindow::words_for(seconds),
        }
    }

    /// Keeps the window in `words` from now on (all zero, or another process's).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub(super) fn keep_in(&mut self, words: Words) {
        match self {
            Window::Count(window) => window.words = words,
            Window::Time(window) => window.words = words,
        }
    }

    pub(super) fn clear(&self) {
        match self {
            Window::Count(window) => window.clear(),
            Window::Time(window) => window.clear(),
        }
    }
}
