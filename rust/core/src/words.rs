//! The atomic words a window keeps its counts in: its own, or a region of a shared arena.

use crate::sync::AtomicU64;
use std::ops::Deref;

/// A window's words: owned by this process, or shared through an arena region.
#[derive(Debug)]
pub enum Words {
    /// Words of this process alone.
    Owned(Box<[AtomicU64]>),
    /// Words of an arena region, shared with every process that placed it.
    #[cfg(all(target_os = "linux", not(loom)))]
    Shared(crate::arena::Region),
}

impl Words {
    /// `len` words of this process, all zero.
    pub fn zeroed(len: usize) -> Words {
        Words::Owned((0..len).map(|_| AtomicU64::new(0)).collect())
    }

    /// Whether the words live in an arena.
    pub fn is_shared(&self) -> bool {
        !matches!(self, Words::Owned(_))
    }
}

impl Deref for Words {
    type Target = [AtomicU64];

    #[inline]
    fn deref(&self) -> &[AtomicU64] {
        match self {
            Words::Owned(words) => words,
            #[cfg(all(target_os = "linux", not(loom)))]
            Words::Shared(region) => region.words(),
        }
    }
}

/// A 64-bit identity for a layout described by `parts` (FNV-1a over their bytes): processes
/// that share words compare it before they read them.
pub fn geometry_of(parts: &[u64]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
