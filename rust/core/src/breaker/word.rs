//! The state word: state, epoch, backoff level and half-open probe counts in one `u64`, so
//! every transition is one compare-and-swap.

use super::*;

// The state word: state (3 bits), backoff level (5), epoch (16), then the HALF_OPEN probes
// issued, finished, failed and slow (10 bits each).
pub(super) const LEVEL_SHIFT: u32 = 3;
pub(super) const EPOCH_SHIFT: u32 = 8;
pub(super) const PROBE_BITS: u32 = 10;
pub(super) const ISSUED_SHIFT: u32 = 24;
pub(super) const DONE_SHIFT: u32 = ISSUED_SHIFT + PROBE_BITS;
pub(super) const FAILED_SHIFT: u32 = DONE_SHIFT + PROBE_BITS;
pub(super) const SLOW_SHIFT: u32 = FAILED_SHIFT + PROBE_BITS;
pub(super) const PROBE_MASK: u64 = (1 << PROBE_BITS) - 1;
pub(super) const MAX_LEVEL: u64 = 31;

/// A decoded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    pub(super) fn new(state: State, level: u64, epoch: u64) -> Word {
        Word(state.code() | level << LEVEL_SHIFT | (epoch & 0xFFFF) << EPOCH_SHIFT)
    }
    pub(super) fn state(self) -> State {
        State::ALL[(self.0 & 0x7) as usize]
    }
    pub(super) fn level(self) -> u64 {
        (self.0 >> LEVEL_SHIFT) & MAX_LEVEL
    }
    pub(super) fn epoch(self) -> u16 {
        (self.0 >> EPOCH_SHIFT) as u16
    }
    pub(super) fn probes(self, shift: u32) -> u64 {
        (self.0 >> shift) & PROBE_MASK
    }
    /// The first word of the next state.
    pub(super) fn next(self, state: State, level: u64) -> Word {
        Word::new(state, level, u64::from(self.epoch()) + 1)
    }
}

/// The deadline word: the epoch it belongs to (16 bits) and a time in milliseconds (48 bits).
/// In OPEN, when probes may start; in HALF_OPEN, when the breaker gives up on its probes.
pub(super) fn deadline_word(epoch: u16, at: f64) -> u64 {
    let ms = if at.is_finite() {
        ((at * 1000.0).ceil() as u64).min(MS_MASK)
    } else {
        MS_MASK
    };
    u64::from(epoch) << 48 | ms
}

pub(super) const MS_MASK: u64 = (1 << 48) - 1;
