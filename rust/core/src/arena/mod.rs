//! A named shared-memory arena: one fixed-size file a host's processes map, holding regions
//! of atomic words that every process sees.
//!
//! # Layout
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..4096 | [`Header`]: magic, format version, size, directory capacity, the bump pointer |
//! | 4096.. | the directory: `entries` × 128-byte [`directory::Entry`] |
//! | then | regions, 64-byte aligned, handed out by a bump pointer and never freed |
//!
//! # Crash safety
//!
//! Nothing a process does here can be torn by its death in a way that blocks another:
//!
//! * a file is made whole under a temporary name (space reserved with `posix_fallocate`, so a
//!   full `/dev/shm` is an error here and never a SIGBUS later, header written) and published
//!   with `link`, which fails if another process published first: a process that dies while
//!   creating leaves only its temporary file, which the next creator removes;
//! * space is taken with one compare-and-swap on the bump pointer: a death after it leaks the
//!   space, nothing else;
//! * a directory entry is claimed by one compare-and-swap that records the claimer's pid and
//!   published by one store; a process that finds an entry claimed by a dead pid takes the
//!   claim over (see [`directory`]). Regions are zero when published: every structure kept in
//!   an arena starts from all-zero words.
//!
//! # Safety of the mapping
//!
//! The file is mapped shared and read and written only through atomics, so other processes'
//! writes are data races only in the sense atomics allow. The mapping is never resized, and is
//! unmapped when the last [`Region`] and [`Arena`] referring to it are dropped.
#![allow(unsafe_code)]

mod directory;
mod file;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

pub use directory::Kind;
pub use file::{arena_file, check_name, default_directory};

use crate::Error;

/// The arena file's magic bytes.
const MAGIC: u64 = u64::from_le_bytes(*b"BGARENA\0");
/// The layout version; an arena of another version is refused.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_BYTES: u64 = 4096;
const ALIGN: u64 = 64;
/// The smallest arena: the header and a directory of 64 entries, with room for regions.
pub const MIN_SIZE: u64 = 1 << 20;
/// The largest arena (64 GiB).
pub const MAX_SIZE: u64 = 1 << 36;

/// How a new arena is made; an existing one keeps its own size and capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where arena files live (default: [`default_directory`]).
    pub directory: Option<PathBuf>,
    /// Bytes reserved for a new arena.
    pub size: u64,
    /// Directory entries (regions) a new arena can hold.
    pub entries: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            directory: None,
            size: 32 << 20,
            entries: 4096,
        }
    }
}

/// Why an arena could not be opened or a region placed.
#[derive(Debug)]
pub enum ArenaError {
    /// Bad input (a name with a path separator, a size out of range, another geometry).
    Bad(Error),
    /// A system call on `path` failed (permissions, a full file system, ...).
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done: "create", "reserve space for", ...
        doing: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The file exists but is not an arena this version can use, or is not the user's own.
    Refused {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The arena has no room left for a region (or no free directory entry).
    Full {
        /// The arena's file.
        path: PathBuf,
        /// What did not fit.
        needed: String,
    },
}

impl std::fmt::Display for ArenaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArenaError::Bad(e) => write!(f, "{e}"),
            ArenaError::Io {
                path,
                doing,
                source,
            } => write!(f, "could not {doing} {}: {source}", path.display()),
            ArenaError::Refused { path, reason } => {
                write!(f, "refusing {}: {reason}", path.display())
            }
            ArenaError::Full { path, needed } => write!(
                f,
                "the arena {} is full: no room for {needed}; remove the file (when no process \
                 uses it) or give a larger size",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ArenaError {}

/// The arena's first page.
#[repr(C)]
struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    entries: AtomicU32,
    size: AtomicU64,
    /// The offset of the first free byte for regions.
    next_free: AtomicU64,
}

/// A mapped arena file. Cheap to clone through [`Arena`]; regions keep it mapped.
struct Mapping {
    base: *mut u8,
    len: usize,
    path: PathBuf,
}

// The mapping is only ever accessed through atomics.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are the mapping made in `file::map`, unmapped once, here.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

impl Mapping {
    fn header(&self) -> &Header {
        // SAFETY: the mapping is at least HEADER_BYTES long (checked in `file::map`),
        // page-aligned, and Header is atomics only.
        unsafe { &*(self.base as *const Header) }
    }

    /// `count` atomic words from byte `offset` (64-byte aligned, within the mapping).
    fn words(&self, offset: u64, count: usize) -> &[AtomicU64] {
        assert!(offset % 8 == 0 && offset as usize + count * 8 <= self.len);
        // SAFETY: in bounds and aligned (asserted); AtomicU64 has u64's layout.
        unsafe { std::slice::from_raw_parts(self.base.add(offset as usize).cast(), count) }
    }
}

/// An open arena: a name's file, mapped. Clones share the mapping.
#[derive(Clone)]
pub struct Arena {
    map: Arc<Mapping>,
    name: String,
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("name", &self.name)
            .field("path", &self.map.path)
            .finish()
    }
}

impl Arena {
    /// Opens the arena `name`, creating it with `options` if no process has yet.
    pub fn open(name: &str, options: &Options) -> Result<Arena, ArenaError> {
        check_name(name)?;
        if !(MIN_SIZE..=MAX_SIZE).contains(&options.size) {
            return Err(ArenaError::Bad(Error::bad(
                "size",
                format!("must be in [{MIN_SIZE}, {MAX_SIZE}] bytes"),
                options.size,
            )));
        }
        let most = (options.size - HEADER_BYTES) / 2 / directory::ENTRY_BYTES;
        if !(1..=most.min(1 << 20)).contains(&u64::from(options.entries)) {
            return Err(ArenaError::Bad(Error::bad(
                "entries",
                format!(
                    "must be in [1, {}] for {} bytes",
                    most.min(1 << 20),
                    options.size
                ),
                options.entries,
            )));
        }
        let directory = match &options.directory {
            Some(d) => d.clone(),
            None => default_directory(),
        };
        let map = file::open_or_create(&directory, name, options)?;
        Ok(Arena {
            map: Arc::new(map),
            name: name.to_owned(),
        })
    }

    /// The arena's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arena's file.
    pub fn path(&self) -> &Path {
        &self.map.path
    }

    /// The arena's size in bytes.
    pub fn size(&self) -> u64 {
        self.map.header().size.load(Ordering::Relaxed)
    }

    /// Bytes taken by the header, the directory and the regions placed so far.
    pub fn used(&self) -> u64 {
        self.map.header().next_free.load(Ordering::Relaxed)
    }

    /// The region of `kind` named `key`, of `words` atomic words: the one every process that
    /// asks for the same kind and key gets. `geometry` identifies the layout of what is kept in
    /// it (a hash of a window's tiers, a breaker's configuration): asking for an existing
    /// region with another geometry or size is an error, never a misread.
    pub fn region(
        &self,
        kind: Kind,
        key: &str,
        geometry: u64,
        words: usize,
    ) -> Result<Region, ArenaError> {
        Ok(self.place(kind, key, geometry, words)?.0)
    }

    /// As [`Arena::region`], also telling whether this call placed the region (true) or found
    /// it placed by some process (false).
    pub fn place(
        &self,
        kind: Kind,
        key: &str,
        geometry: u64,
        words: usize,
    ) -> Result<(Region, bool), ArenaError> {
        let (offset, placed) = directory::find_or_place(self, kind, key, geometry, words)?;
        Ok((self.region_at(offset, words), placed))
    }

    /// The region of `kind` named `key` if some process placed it, without placing it.
    pub fn find(
        &self,
        kind: Kind,
        key: &str,
        geometry: u64,
        words: usize,
    ) -> Result<Option<Region>, ArenaError> {
        let found = directory::find(self, kind, key, geometry, words)?;
        Ok(found.map(|offset| self.region_at(offset, words)))
    }

    /// Every region of `kind` placed with `geometry` and `words`, by any process.
    pub fn regions_of(&self, kind: Kind, geometry: u64, words: usize) -> Vec<Region> {
        directory::published_of(self, kind, geometry, words)
            .into_iter()
            .map(|offset| self.region_at(offset, words))
            .collect()
    }

    fn region_at(&self, offset: u64, words: usize) -> Region {
        let start = self.map.words(offset, words).as_ptr();
        Region {
            map: Arc::clone(&self.map),
            start,
            offset,
            words,
        }
    }

    /// Takes `bytes` (rounded up to 64) from the free space: the offset, or None if full.
    fn take(&self, bytes: u64) -> Option<u64> {
        let next = &self.map.header().next_free;
        let mut current = next.load(Ordering::Relaxed);
        loop {
            let start = current.div_ceil(ALIGN) * ALIGN;
            let end = start.checked_add(bytes.div_ceil(ALIGN) * ALIGN)?;
            if end > self.map.len as u64 {
                return None;
            }
            match next.compare_exchange_weak(current, end, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(start),
                Err(seen) => current = seen,
            }
        }
    }
}

/// A region of an arena: atomic words shared by every process that placed the same region.
/// Keeps the arena mapped.
#[derive(Clone)]
pub struct Region {
    map: Arc<Mapping>,
    /// The first word (checked in bounds when the region was placed).
    start: *const AtomicU64,
    offset: u64,
    words: usize,
}

// The words are atomics in a mapping the region keeps alive.
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("path", &self.map.path)
            .field("offset", &self.offset)
            .field("words", &self.words)
            .finish()
    }
}

impl Region {
    /// The region's words (all zero when it was placed).
    #[inline]
    pub fn words(&self) -> &[AtomicU64] {
        // SAFETY: `start..start + words` was checked to lie in the mapping, which `map` keeps.
        unsafe { std::slice::from_raw_parts(self.start, self.words) }
    }

    /// The first `words` words and the rest, as two regions.
    pub fn split_at(self, words: usize) -> (Region, Region) {
        assert!(words <= self.words, "a split past the region's end");
        let rest = Region {
            map: Arc::clone(&self.map),
            // SAFETY: `words` is within the region (asserted).
            start: unsafe { self.start.add(words) },
            offset: self.offset + 8 * words as u64,
            words: self.words - words,
        };
        (Region { words, ..self }, rest)
    }

    /// Where the region starts in the arena file, in bytes.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// An arena of `size` bytes in a directory of its own under the temp directory, for the tests
/// of what keeps state in arenas; the directory is removed when it is dropped.
#[cfg(all(test, not(loom)))]
pub(crate) struct TestArena {
    arena: Arena,
    directory: PathBuf,
}

#[cfg(all(test, not(loom)))]
impl TestArena {
    pub(crate) fn new(tag: &str, size: u64) -> TestArena {
        let directory =
            std::env::temp_dir().join(format!("burnguard-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let options = Options {
            directory: Some(directory.clone()),
            size,
            entries: 64,
        };
        let arena = Arena::open("svc", &options).expect("a test arena");
        TestArena { arena, directory }
    }
}

#[cfg(all(test, not(loom)))]
impl std::ops::Deref for TestArena {
    type Target = Arena;

    fn deref(&self) -> &Arena {
        &self.arena
    }
}

#[cfg(all(test, not(loom)))]
impl Drop for TestArena {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
