//! A ledger every process of a host shares, through a region of an arena.
//!
//! Each process keeps the whole state in its own memory, as a private ledger does, and the
//! region holds the journal of the operations that changed it, in order. Every operation
//! runs under one process-shared robust mutex: it first applies the entries other processes
//! appended since its last (so it acts on the host's state), then applies its own and appends
//! it. The operations are deterministic given the state, the entry and its time, so every
//! process reaches the same state. Times never go back in the journal: an entry's time is the
//! later of the caller's clock and the last entry's.
//!
//! # Layout (in 8-byte words)
//!
//! | words | what |
//! | --- | --- |
//! | 0 | the mutex's initialization: 0, `CLAIMED \| pid` while one process initializes it, `READY` |
//! | 8..16 | the `pthread_mutex_t` (process-shared, robust) |
//! | 16 | `generation << 32 \| journal bytes`: what is published |
//! | 17..23 | per snapshot buffer: its bytes, its time, and the journal bytes it follows |
//! | 24.. | the journal, then two snapshot buffers |
//!
//! An entry is `[bytes, time, text...]`, its text padded to whole words. When the next entry
//! does not fit, the state is first written to the snapshot buffer the next generation uses
//! (`generation & 1`), and the generation and an empty journal are published in one store; a
//! process that had applied the whole previous journal goes on without loading it.
//!
//! # Crash safety
//!
//! The mutex is robust: when its holder dies the kernel hands it to the next locker with
//! `EOWNERDEAD`, and that locker marks it consistent and goes on, because nothing a holder
//! writes is visible before its one publishing store: an entry beyond the published length, or
//! a snapshot in the buffer the published generation does not use, is ignored. A process
//! killed at any instruction loses at most its own operation in flight, and a killed
//! initializer of the mutex is replaced by the next opener.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::codec::In;
use super::entry::Entry;
use super::*;
use crate::arena::{Arena, ArenaError, Kind, Region};
use crate::process::alive;

const INIT: usize = 0;
const MUTEX: usize = 8;
const PUBLISHED: usize = 16;
const SNAPSHOT_HEADS: usize = 17;
const JOURNAL: usize = 24;
const CLAIMED: u64 = 1 << 62;
const READY: u64 = 1 << 63;
const PID: u64 = (1 << 32) - 1;
/// Changes whenever the entries' or snapshots' format does, so processes of two versions
/// never share a region.
const JOURNAL_FORMAT: u64 = 1;

const _: () = assert!(std::mem::size_of::<libc::pthread_mutex_t>() <= 64);

/// Serializes this process's initializations, so a claim naming this process while it holds
/// this lock and initializes nothing was left by a dead process with the same pid.
static INITIALIZING: Mutex<()> = Mutex::new(());

/// The shared part of a ledger: its region, and how it is cut.
pub(super) struct Journal {
    region: Region,
    name: String,
    journal_words: usize,
    snapshot_words: usize,
}

/// How far this process has applied the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    generation: u32,
    bytes: u64,
    time: i64,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor {
            generation: 0,
            bytes: 0,
            time: i64::MIN,
        }
    }
}

/// The shared mutex, held; released when dropped.
pub(super) struct Held<'a>(&'a Journal);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: the mutex was initialized and is held by this thread.
        unsafe {
            libc::pthread_mutex_unlock(self.0.mutex());
        }
    }
}

impl Journal {
    /// The journal of the ledger `name` in `arena`, placed if no process has, holding
    /// snapshots of up to `capacity` bytes (and a journal of half that).
    pub(super) fn open(
        arena: &Arena,
        name: &str,
        capacity: u64,
        retention: Retention,
    ) -> Result<Journal, ArenaError> {
        let snapshot_words = (capacity / 8) as usize;
        let journal_words = snapshot_words / 2;
        let geometry = crate::words::geometry_of(&[
            JOURNAL_FORMAT,
            capacity,
            retention.ms as u64,
            retention.max_retained as u64,
        ]);
        let words = JOURNAL + journal_words + 2 * snapshot_words;
        let region = arena.region(Kind::Ledger, name, geometry, words)?;
        let journal = Journal {
            region,
            name: name.to_string(),
            journal_words,
            snapshot_words,
        };
        journal.initialize();
        Ok(journal)
    }

    fn words(&self) -> &[AtomicU64] {
        self.region.words()
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.words()[MUTEX].as_ptr().cast()
    }

    /// Makes the mutex once for every process (see the module docs).
    fn initialize(&self) {
        let init = &self.words()[INIT];
        let me = u64::from(std::process::id());
        let _serial = INITIALIZING.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let seen = init.load(Ordering::Acquire);
            if seen == READY {
                return;
            }
            let stale = seen & CLAIMED != 0 && (seen & PID == me || !alive(seen & PID));
            if (seen == 0 || stale)
                && init
                    .compare_exchange(seen, CLAIMED | me, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                // SAFETY: the words are this region's, zero or a dead initializer's, and no
                // process uses the mutex before READY is published.
                unsafe { make_robust_mutex(self.mutex()) };
                init.store(READY, Ordering::Release);
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Takes the shared mutex, waiting for it; a dead holder's is taken over.
    pub(super) fn lock(&self) -> Result<Held<'_>, LedgerError> {
        // SAFETY: the mutex was initialized (READY) and lives as long as the region.
        match unsafe { libc::pthread_mutex_lock(self.mutex()) } {
            0 => Ok(Held(self)),
            libc::EOWNERDEAD => {
                // Nothing the dead holder wrote was published: the journal is consistent.
                // SAFETY: this thread holds the mutex.
                unsafe { libc::pthread_mutex_consistent(self.mutex()) };
                Ok(Held(self))
            }
            e => Err(self.failed(&format!(
                "its lock failed: {}",
                std::io::Error::from_raw_os_error(e)
            ))),
        }
    }

    fn failed(&self, reason: &str) -> LedgerError {
        LedgerError::Shared {
            reason: format!("shared ledger {:?}: {reason}", self.name),
        }
    }

    /// The published generation: how many snapshots were taken.
    #[cfg(all(test, not(loom)))]
    pub(super) fn generation(&self) -> u32 {
        self.published().0
    }

    fn published(&self) -> (u32, u64) {
        let word = self.words()[PUBLISHED].load(Ordering::Acquire);
        ((word >> 32) as u32, word & PID)
    }

    /// Brings `state` up to the journal: loads the snapshot of a newer generation, then
    /// applies the entries after `cursor`. Called with the mutex held.
    pub(super) fn catch_up(
        &self,
        _held: &Held<'_>,
        ledger: &Ledger,
        state: &mut State,
        cursor: &mut Cursor,
    ) -> Result<(), LedgerError> {
        let (generation, bytes) = self.published();
        if generation != cursor.generation {
            let buffer = (generation & 1) as usize;
            let head = SNAPSHOT_HEADS + 3 * buffer;
            let length = self.words()[head].load(Ordering::Relaxed);
            let time = self.words()[head + 1].load(Ordering::Relaxed) as i64;
            let after = self.words()[head + 2].load(Ordering::Relaxed);
            // A process that had applied the whole previous journal holds the snapshot's
            // state already; others load it.
            if generation != cursor.generation.wrapping_add(1) || cursor.bytes != after {
                let start = JOURNAL + self.journal_words + buffer * self.snapshot_words;
                let text = self.text(start, length)?;
                *state = file::decode(&text)
                    .map_err(|e| self.failed(&format!("its snapshot does not load: {e}")))?
                    .0;
            }
            *cursor = Cursor {
                generation,
                bytes: 0,
                time,
            };
        }
        while cursor.bytes < bytes {
            let at = JOURNAL + (cursor.bytes / 8) as usize;
            let length = self.words()[at].load(Ordering::Relaxed);
            let time = self.words()[at + 1].load(Ordering::Relaxed) as i64;
            let text = self.text(at + 2, length)?;
            let entry = Entry::read(&mut In { text: &text, at: 0 })
                .map_err(|e| self.failed(&format!("its journal does not read: {e}")))?;
            // The entry's answer was its writer's; here only its effect counts.
            let _ = ledger.apply(state, time, entry);
            cursor.bytes += 8 * (2 + length.div_ceil(8));
            cursor.time = time;
        }
        Ok(())
    }

    /// The time an operation asked for at `now_ms` runs at: never before the last entry's.
    pub(super) fn time(cursor: &Cursor, now_ms: i64) -> i64 {
        now_ms.max(cursor.time)
    }

    /// Makes room for an entry of `length` bytes: when the journal has too little left,
    /// publishes a snapshot of `state` with an empty journal. Called with the mutex held and
    /// `state` caught up, before the entry is applied, so a full ledger changes nothing.
    pub(super) fn make_room(
        &self,
        _held: &Held<'_>,
        state: &State,
        retention: Retention,
        cursor: &mut Cursor,
        length: usize,
    ) -> Result<(), LedgerError> {
        let words = 2 + length.div_ceil(8);
        if (cursor.bytes / 8) as usize + words <= self.journal_words {
            return Ok(());
        }
        let text = file::encode(state, retention);
        let needed = text.len().max(8 * words);
        if text.len().div_ceil(8) > self.snapshot_words || words > self.journal_words {
            return Err(LedgerError::Full {
                reason: format!(
                    "shared ledger {:?} is full: its budgets, reservations and records take \
                     {needed} bytes, it holds {} (open it with a larger capacity)",
                    self.name,
                    8 * self.snapshot_words
                ),
            });
        }
        let generation = match cursor.generation.wrapping_add(1) {
            0 => 1,
            g => g,
        };
        let buffer = (generation & 1) as usize;
        let head = SNAPSHOT_HEADS + 3 * buffer;
        self.words()[head].store(text.len() as u64, Ordering::Relaxed);
        self.words()[head + 1].store(cursor.time as u64, Ordering::Relaxed);
        self.words()[head + 2].store(cursor.bytes, Ordering::Relaxed);
        self.write(
            JOURNAL + self.journal_words + buffer * self.snapshot_words,
            text.as_bytes(),
        );
        *cursor = Cursor {
            generation,
            bytes: 0,
            time: cursor.time,
        };
        self.publish(cursor);
        Ok(())
    }

    /// Appends the entry `text`, applied at `time`, and publishes it. Called with the mutex
    /// held, after [`Journal::make_room`] for it.
    pub(super) fn append(&self, _held: &Held<'_>, cursor: &mut Cursor, time: i64, text: &str) {
        let at = JOURNAL + (cursor.bytes / 8) as usize;
        self.words()[at].store(text.len() as u64, Ordering::Relaxed);
        self.words()[at + 1].store(time as u64, Ordering::Relaxed);
        self.write(at + 2, text.as_bytes());
        cursor.bytes += 8 * (2 + text.len().div_ceil(8)) as u64;
        cursor.time = time;
        self.publish(cursor);
    }

    fn publish(&self, cursor: &Cursor) {
        let word = u64::from(cursor.generation) << 32 | cursor.bytes;
        self.words()[PUBLISHED].store(word, Ordering::Release);
    }

    fn write(&self, start: usize, bytes: &[u8]) {
        for (word, chunk) in self.words()[start..].iter().zip(bytes.chunks(8)) {
            let mut padded = [0u8; 8];
            padded[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_le_bytes(padded), Ordering::Relaxed);
        }
    }

    fn text(&self, start: usize, length: u64) -> Result<String, LedgerError> {
        let words = length.div_ceil(8) as usize;
        let Some(stored) = self.words().get(start..start + words) else {
            return Err(self.failed("an entry runs past its region"));
        };
        let mut bytes = Vec::with_capacity(8 * words);
        for word in stored {
            bytes.extend_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        bytes.truncate(length as usize);
        String::from_utf8(bytes).map_err(|_| self.failed("an entry is not text"))
    }
}

/// Initializes a process-shared robust mutex at `mutex`.
///
/// # Safety
/// `mutex` must point to 64 writable bytes no thread uses as a mutex yet.
unsafe fn make_robust_mutex(mutex: *mut libc::pthread_mutex_t) {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
    libc::pthread_mutexattr_init(attr.as_mut_ptr());
    libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
    libc::pthread_mutexattr_setrobust(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ROBUST);
    libc::pthread_mutex_init(mutex, attr.as_ptr());
    libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
}
