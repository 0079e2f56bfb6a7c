//! The one lap-tagged ring of atomic counters that time windows are built from.
//!
//! A timeline of buckets `0, 1, 2, ...` (a bucket is `width` seconds, say) lives in a ring of
//! `slots` slots: bucket `i` in slot `i % slots`, on *lap* `i / slots`. Each counter of a slot
//! is one atomic word holding the lap's *tag* (lap + 1, so 0 means empty) in its high bits and
//! the count in its low `count_bits`: `(epoch, count)` is read and written as one word, so a
//! rotation cannot tear a count, a writer that meets an older lap replaces it in the same
//! compare-and-swap that adds its own events, and nothing needs a lock or a clearing pass
//! that a stalled (or killed) writer could leave half done.
//!
//! The SLO window (`window.rs`, which carries evicted counts up to coarser tiers) and the
//! breaker's time window (`breaker/windows.rs`) are rings of these words. The model check in
//! `tests/loom.rs` and the tests below cover the word once for all of them.

use crate::sync::{AtomicU64, Ordering};

/// A ring's geometry: how many slots it has, and so where a timeline bucket lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ring {
    slots: u64,
    /// `log2(slots)` when `slots` is a power of two: slot and lap are then a mask and a shift.
    bits: Option<u32>,
}

impl Ring {
    /// A ring of `slots` slots (at least 1).
    pub(crate) fn new(slots: u64) -> Self {
        assert!(slots > 0, "a ring has slots");
        let bits = slots.is_power_of_two().then(|| slots.trailing_zeros());
        Ring { slots, bits }
    }

    /// Its slots.
    pub(crate) fn slots(self) -> u64 {
        self.slots
    }

    /// The slot and tag (lap + 1) of timeline bucket `index`.
    pub(crate) fn locate(self, index: u64) -> (usize, u64) {
        match self.bits {
            Some(bits) => ((index & (self.slots - 1)) as usize, (index >> bits) + 1),
            None => ((index % self.slots) as usize, index / self.slots + 1),
        }
    }

    /// The timeline bucket that `slot` holds when tagged `tag` (the inverse of `locate`).
    pub(crate) fn bucket_of(self, slot: usize, tag: u64) -> u64 {
        (tag - 1) * self.slots + slot as u64
    }
}

/// What [`Tagged::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Added to the count of the same lap.
    Counted,
    /// The word held an older lap (or nothing): it now holds the new lap and `n`; the older
    /// lap's `count` was evicted (0 if the word was empty).
    Replaced {
        /// The evicted lap's tag.
        tag: u64,
        /// Its count.
        count: u64,
    },
    /// The word holds a newer lap: the events are too old for this ring.
    Newer,
    /// The count would overflow its bits: nothing was added.
    Full,
}

/// The layout of a tagged counter word: the tag above the low `count_bits` bits of count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tagged {
    count_bits: u32,
    /// The count's bits (also the largest count), kept so reads do not recompute it.
    mask: u64,
}

impl Tagged {
    /// Words with `count_bits` bits of count (the rest tag), `1..=63`.
    pub(crate) const fn new(count_bits: u32) -> Self {
        assert!(count_bits > 0 && count_bits < 64);
        Tagged {
            count_bits,
            mask: (1 << count_bits) - 1,
        }
    }

    /// The largest count a word holds.
    pub(crate) fn max_count(self) -> u64 {
        self.mask
    }

    /// A word's `(tag, count)`.
    pub(crate) fn split(self, word: u64) -> (u64, u64) {
        (self.tag_of(word), self.count_of(word))
    }

    /// A word's tag.
    pub(crate) fn tag_of(self, word: u64) -> u64 {
        word >> self.count_bits
    }

    /// A word's count.
    pub(crate) fn count_of(self, word: u64) -> u64 {
        word & self.mask
    }

    /// Reads `word`: its `(tag, count)`.
    pub(crate) fn read(self, word: &AtomicU64) -> (u64, u64) {
        self.split(word.load(Ordering::Acquire))
    }

    /// Adds `n` events of lap `tag` to `word` in one compare-and-swap: to its count if it holds
    /// that lap, in place of its count if it holds an older one (see [`Added`]).
    pub(crate) fn add(self, word: &AtomicU64, tag: u64, n: u64) -> Added {
        self.add_reclaiming(word, tag, n, u64::MAX)
    }

    /// As [`Tagged::add`], but a word holding a lap more than `ahead` laps newer than `tag` is
    /// treated as stale and replaced: for rings written at the time of a clock that only
    /// steps back when it is corrected, whose data from "the future" is from before the step.
    pub(crate) fn add_reclaiming(self, word: &AtomicU64, tag: u64, n: u64, ahead: u64) -> Added {
        let mut current = word.load(Ordering::Relaxed);
        loop {
            let (held_tag, held) = self.split(current);
            if held_tag > tag && held_tag - tag <= ahead {
                return Added::Newer;
            }
            let base = if held_tag == tag { held } else { 0 };
            // (Here the word holds this lap, an older one, or one too far ahead to be kept.)
            if n > self.max_count() - base {
                return Added::Full;
            }
            let next = (tag << self.count_bits) | (base + n);
            match word.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) if held_tag == tag => return Added::Counted,
                Ok(_) => {
                    return Added::Replaced {
                        tag: held_tag,
                        count: held,
                    }
                }
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    #[test]
    fn a_word_adds_within_its_lap_and_replaces_older_laps() {
        let t = Tagged::new(8);
        let w = AtomicU64::new(0);
        assert_eq!(t.add(&w, 3, 5), Added::Replaced { tag: 0, count: 0 });
        assert_eq!(t.add(&w, 3, 2), Added::Counted);
        assert_eq!(t.read(&w), (3, 7));
        assert_eq!(t.add(&w, 2, 1), Added::Newer);
        assert_eq!(
            t.add(&w, 3, 249),
            Added::Full,
            "255 is the most 8 bits hold"
        );
        assert_eq!(t.add(&w, 3, 248), Added::Counted);
        assert_eq!(t.add(&w, 4, 1), Added::Replaced { tag: 3, count: 255 });
        assert_eq!(t.read(&w), (4, 1));
    }

    #[test]
    fn laps_too_far_ahead_can_be_reclaimed() {
        let t = Tagged::new(8);
        let w = AtomicU64::new(0);
        t.add(&w, 9, 4);
        assert_eq!(
            t.add_reclaiming(&w, 8, 1, 1),
            Added::Newer,
            "one lap ahead is kept"
        );
        assert_eq!(
            t.add_reclaiming(&w, 7, 1, 1),
            Added::Replaced { tag: 9, count: 4 }
        );
        assert_eq!(t.read(&w), (7, 1));
        assert_eq!(t.add(&w, 3, 1), Added::Newer, "add never reclaims");
    }

    #[test]
    fn slots_and_laps_round_trip() {
        for ring in [Ring::new(16), Ring::new(13), Ring::new(1)] {
            for index in [0u64, 1, 12, 13, 15, 16, 17, 1_000_003] {
                let (slot, tag) = ring.locate(index);
                assert!((slot as u64) < ring.slots() && tag >= 1);
                assert_eq!(ring.bucket_of(slot, tag), index);
            }
        }
        assert_eq!(Ring::new(16).locate(35), (3, 3));
        assert_eq!(Ring::new(13).locate(27), (1, 3));
    }

    /// Writers adding to every lap of one word in turn: every event is either in the word at
    /// the end or was evicted exactly once (counted by whoever evicted it), or was refused.
    #[test]
    fn concurrent_writers_account_for_every_event() {
        let t = Tagged::new(40);
        let word = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|k| {
                let word = word.clone();
                std::thread::spawn(move || {
                    let (mut evicted, mut refused) = (0u64, 0u64);
                    for i in 0..50_000u64 {
                        match t.add(&word, 1 + (i + k) / 5_000, 1) {
                            Added::Counted => {}
                            Added::Replaced { count, .. } => evicted += count,
                            Added::Newer | Added::Full => refused += 1,
                        }
                    }
                    (evicted, refused)
                })
            })
            .collect();
        let (mut evicted, mut refused) = (0, 0);
        for th in threads {
            let (e, r) = th.join().unwrap();
            evicted += e;
            refused += r;
        }
        let (_, held) = t.read(&word);
        assert_eq!(held + evicted + refused, 200_000);
    }

    proptest! {
        /// Any sequence of adds leaves the word with the newest lap it accepted and exactly the
        /// events of that lap accepted since it was installed.
        #[test]
        fn the_word_holds_exactly_the_newest_laps_events(adds in proptest::collection::vec((1u64..6, 1u64..4), 1..40)) {
            let t = Tagged::new(6);
            let w = AtomicU64::new(0);
            let (mut tag, mut count) = (0u64, 0u64);
            for (lap, n) in adds {
                let result = t.add(&w, lap, n);
                if lap > tag {
                    prop_assert_eq!(result, Added::Replaced { tag, count });
                    (tag, count) = (lap, n);
                } else if lap < tag {
                    prop_assert_eq!(result, Added::Newer);
                } else if count + n > 63 {
                    prop_assert_eq!(result, Added::Full);
                } else {
                    prop_assert_eq!(result, Added::Counted);
                    count += n;
                }
                prop_assert_eq!(t.read(&w), (tag, count));
            }
        }
    }
}

/// Loom explores every interleaving of two writers adding to one word across a lap boundary:
/// each event ends up held or evicted exactly once.
#[cfg(all(test, loom))]
mod model {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    #[test]
    fn a_rotation_racing_an_add_neither_loses_nor_double_counts() {
        loom::model(|| {
            let t = Tagged::new(8);
            let word = Arc::new(AtomicU64::new(0));
            let other = Arc::clone(&word);
            let writer = thread::spawn(move || {
                let first = t.add(&other, 1, 1);
                let second = t.add(&other, 2, 1);
                [first, second]
            });
            let mine = [t.add(&word, 1, 1), t.add(&word, 1, 1)];
            let theirs = writer.join().unwrap();
            let evicted: u64 = mine
                .iter()
                .chain(&theirs)
                .map(|a| match a {
                    Added::Replaced { count, .. } => *count,
                    _ => 0,
                })
                .sum();
            let refused = mine
                .iter()
                .chain(&theirs)
                .filter(|a| matches!(a, Added::Newer))
                .count() as u64;
            assert_eq!(t.read(&word).1 + evicted + refused, 4);
            assert_eq!(t.read(&word).0, 2, "the newest lap wins");
        });
    }
}
