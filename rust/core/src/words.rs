//! The atomic words a window keeps its counts in: its own, or a region of a shared arena.
#![allow(unsafe_code)]

use crate::sync::AtomicU64;
use std::ops::Deref;

/// A window's words: owned by this process, or shared through an arena region. Reading them
/// is one slice from a pointer kept at construction, with no branch on where they live.
pub struct Words {
    start: *const AtomicU64,
    len: usize,
    owner: Owner,
}

enum Owner {
    Owned(#[allow(dead_code)] Box<[AtomicU64]>), // kept alive for `start`
    #[cfg(all(target_os = "linux", not(loom)))]
    Shared(#[allow(dead_code)] crate::arena::Region),
}

// The words are atomics, owned here or in a mapping the region keeps alive.
unsafe impl Send for Words {}
unsafe impl Sync for Words {}

impl std::fmt::Debug for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Words")
            .field("len", &self.len)
            .field("shared", &self.is_shared())
            .finish()
    }
}

impl Words {
    /// `len` words of this process, all zero.
    pub fn zeroed(len: usize) -> Words {
        let owned: Box<[AtomicU64]> = (0..len).map(|_| AtomicU64::new(0)).collect();
        Words {
            start: owned.as_ptr(),
            len,
            owner: Owner::Owned(owned),
        }
    }

    /// The words of an arena region.
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn shared(region: crate::arena::Region) -> Words {
        let words = region.words();
        Words {
            start: words.as_ptr(),
            len: words.len(),
            owner: Owner::Shared(region),
        }
    }

    /// Whether the words live in an arena.
    pub fn is_shared(&self) -> bool {
        !matches!(self.owner, Owner::Owned(_))
    }
}

impl Deref for Words {
    type Target = [AtomicU64];

    #[inline]
    fn deref(&self) -> &[AtomicU64] {
        // SAFETY: `start..start + len` are the words `owner` keeps alive (a boxed slice does
        // not move when the box does; a region's mapping stays until it is dropped).
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

/// A 64-bit identity for a layout described by `parts` (FNV-1a over their bytes): processes
/// that share words compare it before they read them.
pub fn geometry_of(parts: &[u64]) -> u64 {
    let mut hash = crate::fnv::Fnv::new();
    for part in parts {
        hash.write(&part.to_le_bytes());
    }
    hash.finish()
}
