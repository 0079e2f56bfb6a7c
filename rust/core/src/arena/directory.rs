//! The arena's directory: which region each (kind, key) has, placed once for every process.
//!
//! The directory is an open-addressing table of 128-byte entries probed from the key's hash.
//! An entry's `state` word is the only one a process waits on:
//!
//! * `0`: empty. A process placing a region claims it with one compare-and-swap to
//!   `CLAIMED | pid`, fills the other fields and the region's space, and publishes it with one
//!   store of `READY` (release): readers that see `READY` see every field.
//! * `CLAIMED | pid`: being filled. Others wait while `pid` lives; if it died (SIGKILL between
//!   the claim and the publish), the first to notice takes the claim over with a
//!   compare-and-swap to its own pid and fills the entry itself, with fresh space (the dead
//!   claimer's, if it took any, is leaked: at most one region per death). A claim naming this
//!   very process while it places nothing was left by a dead process with the same pid.
//! * `READY`: published, never changed again.
//!
//! A key is compared by kind, length, 64-bit hash and its first 80 bytes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::{Arena, ArenaError, HEADER_BYTES};
use crate::process::alive;
use crate::Error;

/// Bytes per directory entry.
pub(super) const ENTRY_BYTES: u64 = 128;
const KEY_WORDS: usize = 10;
const CLAIMED: u64 = 1 << 62;
const READY: u64 = 1 << 63;
const PID: u64 = (1 << 32) - 1;

/// Placements this process is making now. A claim that names this process while it makes
/// none was left by an earlier process that had the same pid (pids are reused): it is stale.
static PLACING: AtomicUsize = AtomicUsize::new(0);

/// What a region holds; part of its identity, so an SLO and a breaker may share a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// An SLO's window and alert state.
    Slo = 1,
    /// A circuit breaker's state machine and window.
    Breaker = 2,
    /// A route table.
    Routes = 3,
    /// A ledger's tables.
    Ledger = 4,
    /// A monotonic counter.
    Counter = 5,
    /// Regions placed by tests.
    Test = 99,
}

#[repr(C)]
struct Entry {
    state: AtomicU64,
    hash: AtomicU64,
    kind_len: AtomicU64,
    geometry: AtomicU64,
    offset: AtomicU64,
    words: AtomicU64,
    key: [AtomicU64; KEY_WORDS],
}

const _: () = assert!(std::mem::size_of::<Entry>() as u64 == ENTRY_BYTES);

/// The key's identity as stored: (kind and length, hash, first 80 bytes).
struct Identity {
    kind_len: u64,
    hash: u64,
    key: [u64; KEY_WORDS],
}

impl Identity {
    fn of(kind: Kind, key: &str) -> Identity {
        let mut hash = crate::fnv::Fnv::new(); // over the kind and the key
        hash.write(&(kind as u32).to_le_bytes());
        hash.write(key.as_bytes());
        let hash = hash.finish();
        let mut words = [0u64; KEY_WORDS];
        for (i, chunk) in key.as_bytes().chunks(8).take(KEY_WORDS).enumerate() {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            words[i] = u64::from_le_bytes(bytes);
        }
        Identity {
            kind_len: u64::from(kind as u32) << 32 | key.len() as u64,
            hash,
            key: words,
        }
    }

    fn is(&self, entry: &Entry) -> bool {
        entry.kind_len.load(Ordering::Relaxed) == self.kind_len
            && entry.hash.load(Ordering::Relaxed) == self.hash
            && entry
                .key
                .iter()
                .zip(&self.key)
                .all(|(stored, mine)| stored.load(Ordering::Relaxed) == *mine)
    }
}

fn entries(arena: &Arena) -> &[Entry] {
    let count = arena.map.header().entries.load(Ordering::Relaxed) as usize;
    let bytes = HEADER_BYTES as usize + count * ENTRY_BYTES as usize;
    assert!(bytes <= arena.map.len);
    // SAFETY: the directory lies within the mapping (checked when it was opened, asserted
    // here), is 64-byte aligned, and Entry is atomics only.
    unsafe {
        std::slice::from_raw_parts(
            arena.map.base.add(HEADER_BYTES as usize).cast::<Entry>(),
            count,
        )
    }
}

/// The offset of the region of (`kind`, `key`) if some process has published it: None if
/// none has (or its placer died before publishing; placing it takes the claim over).
pub(super) fn find(
    arena: &Arena,
    kind: Kind,
    key: &str,
    geometry: u64,
    words: usize,
) -> Result<Option<u64>, ArenaError> {
    let id = Identity::of(kind, key);
    let table = entries(arena);
    let me = u64::from(std::process::id());
    for probe in 0..table.len() {
        let entry = &table[(id.hash as usize).wrapping_add(probe) % table.len()];
        let mut waited = 0u32;
        loop {
            let state = entry.state.load(Ordering::Acquire);
            if state == READY {
                if !id.is(entry) {
                    break;
                }
                return check_geometry(arena, entry, kind, key, geometry, words).map(Some);
            }
            let claimer = state & PID;
            if state == 0 || claimer == me || !alive(claimer) {
                return Ok(None);
            }
            wait(&mut waited); // a live placer, perhaps of this very key
        }
    }
    Ok(None)
}

/// Every published region of `kind` with `geometry` and `words`: their offsets.
pub(super) fn published_of(arena: &Arena, kind: Kind, geometry: u64, words: usize) -> Vec<u64> {
    entries(arena)
        .iter()
        .filter(|e| {
            e.state.load(Ordering::Acquire) == READY
                && e.kind_len.load(Ordering::Relaxed) >> 32 == u64::from(kind as u32)
                && e.geometry.load(Ordering::Relaxed) == geometry
                && e.words.load(Ordering::Relaxed) == words as u64
        })
        .map(|e| e.offset.load(Ordering::Relaxed))
        .collect()
}

/// The offset of the region of (`kind`, `key`), placing it if no process has yet; and
/// whether this call placed it.
pub(super) fn find_or_place(
    arena: &Arena,
    kind: Kind,
    key: &str,
    geometry: u64,
    words: usize,
) -> Result<(u64, bool), ArenaError> {
    let me = u64::from(std::process::id());
    let id = Identity::of(kind, key);
    let table = entries(arena);
    for probe in 0..table.len() {
        let entry = &table[(id.hash as usize).wrapping_add(probe) % table.len()];
        let mut waited = 0u32;
        loop {
            let state = entry.state.load(Ordering::Acquire);
            if state == READY {
                if !id.is(entry) {
                    break; // another key's: probe on
                }
                return check_geometry(arena, entry, kind, key, geometry, words)
                    .map(|offset| (offset, false));
            }
            let claimer = state & PID;
            let stale = state != 0
                && if claimer == me {
                    PLACING.load(Ordering::Acquire) == 0
                } else {
                    !alive(claimer)
                };
            if state != 0 && !stale {
                wait(&mut waited);
                continue;
            }
            // Empty, or claimed by a process that died before publishing: ours to fill.
            PLACING.fetch_add(1, Ordering::AcqRel);
            let claim = entry.state.compare_exchange(
                state,
                CLAIMED | me,
                Ordering::Acquire,
                Ordering::Relaxed,
            );
            let placed = claim
                .is_ok()
                .then(|| fill(arena, entry, &id, geometry, words, key));
            PLACING.fetch_sub(1, Ordering::AcqRel);
            if let Some(placed) = placed {
                return placed.map(|offset| (offset, true));
            }
        }
    }
    Err(ArenaError::Full {
        path: arena.path().to_path_buf(),
        needed: format!("another region ({key:?}): every directory entry is taken"),
    })
}

/// Waits for a live claimer to publish: it has only a few stores left to do.
fn wait(waited: &mut u32) {
    *waited += 1;
    if *waited < 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Fills a claimed entry and publishes it.
fn fill(
    arena: &Arena,
    entry: &Entry,
    id: &Identity,
    geometry: u64,
    words: usize,
    key: &str,
) -> Result<u64, ArenaError> {
    let Some(offset) = arena.take(words as u64 * 8) else {
        entry.state.store(0, Ordering::Release); // let another try once there is room
        return Err(ArenaError::Full {
            path: arena.path().to_path_buf(),
            needed: format!("{} bytes for {key:?}", words * 8),
        });
    };
    entry.hash.store(id.hash, Ordering::Relaxed);
    entry.kind_len.store(id.kind_len, Ordering::Relaxed);
    for (stored, word) in entry.key.iter().zip(&id.key) {
        stored.store(*word, Ordering::Relaxed);
    }
    entry.geometry.store(geometry, Ordering::Relaxed);
    entry.words.store(words as u64, Ordering::Relaxed);
    entry.offset.store(offset, Ordering::Relaxed);
    entry.state.store(READY, Ordering::Release);
    Ok(offset)
}

fn check_geometry(
    arena: &Arena,
    entry: &Entry,
    kind: Kind,
    key: &str,
    geometry: u64,
    words: usize,
) -> Result<u64, ArenaError> {
    let (theirs, their_words) = (
        entry.geometry.load(Ordering::Relaxed),
        entry.words.load(Ordering::Relaxed),
    );
    if theirs != geometry || their_words != words as u64 {
        return Err(ArenaError::Bad(Error::bad(
            "shared",
            format!(
                "holds {kind:?} {key:?} with another configuration (another window, breaker or \
                 capacity); give it the same configuration in every process, or use another \
                 arena name"
            ),
            arena.name(),
        )));
    }
    Ok(entry.offset.load(Ordering::Relaxed))
}

/// Claims the entry `(kind, key)` would take and returns without publishing it, as a process
/// killed between the claim and the publish would leave it.
#[cfg(test)]
pub(super) fn claim_only(arena: &Arena, kind: Kind, key: &str) {
    let id = Identity::of(kind, key);
    let table = entries(arena);
    let entry = &table[id.hash as usize % table.len()];
    let me = u64::from(std::process::id());
    entry
        .state
        .compare_exchange(0, CLAIMED | me, Ordering::Acquire, Ordering::Relaxed)
        .expect("the entry is free");
}

/// How many entries are published.
#[cfg(test)]
pub(super) fn published(arena: &Arena) -> usize {
    let table = entries(arena);
    table
        .iter()
        .filter(|e| e.state.load(Ordering::Acquire) == READY)
        .count()
}
