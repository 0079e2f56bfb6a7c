//! A durable ledger: every operation that changes the state is appended to a write-ahead log
//! and synced to disk before it is answered, so an acknowledged operation survives a crash of
//! the process or the machine.
//!
//! A directory holds `snapshot-<g>.ledger` (the state before log `g`, in the save format) and
//! `log-<g>.wal`, whose records are `[u32 length][i64 time][u64 FNV-1a of the payload][payload]`
//! (little-endian), the payload an [`Entry`] in the token format. Operations are deterministic
//! given the state, the entry and its time, so replaying the log after the snapshot rebuilds
//! the state exactly; a record torn by a crash fails its checksum and is cut off (it was never
//! acknowledged). Time never goes back: an entry runs at the later of the caller's clock and
//! the last entry's time.
//!
//! Writes and syncs are shared (group commit): an operation appends its record to the log's
//! pending bytes under the ledger's lock, releases it, and returns once a sync covers the
//! record. One operation at a time leads: it takes every record pending (under the log's
//! lock, briefly), writes them (one `write`) and syncs them (one `fdatasync`) holding no lock,
//! so records reach the file in order while other operations go on. The operations that came
//! meanwhile wait on a condition variable; the leader's end wakes them all at once, and each
//! finds its record covered or leads the next group (one leader handing over to the next,
//! rather than each waiter waking the one after it, is what lets the groups follow each other
//! closely). When a log passes [`ROTATE_BYTES`], its leader writes the state as the next
//! snapshot (under the ledger's lock, so the snapshot holds exactly the records before it) and
//! a new log begins. Locks are taken in one order: the ledger's, then the log's; a lead ends
//! (and its waiters wake) however its sync ends, an error or a panic included. A failed write
//! or sync stops the ledger: every later operation is refused (`Shared`), so memory never
//! runs ahead of the disk unnoticed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::codec::{corrupt, In, Out};
use super::file::{create_private, decode, encode, sync_directory, with_path, write_atomically};
use super::fingerprint::fnv1a;
use super::*;

/// A log this long is folded into a snapshot.
pub const ROTATE_BYTES: u64 = 64 << 20;
const HEAD: usize = 4 + 8 + 8;
/// Bytes reserved for a group's records (they grow past it when a group is larger).
const PENDING_CAPACITY: usize = 64 << 10;

/// The log being written: under the ledger's lock.
pub(super) struct Writer {
    file: Arc<File>,
    generation: u64,
    /// Bytes written to this generation.
    written: u64,
    /// Bytes written to every generation since the ledger opened: where records end.
    total: u64,
    /// Records appended but not yet written to the file: the next sync's leader writes them.
    pending: Vec<u8>,
    last_time: i64,
}

/// A ledger's log directory.
pub(super) struct Wal {
    directory: PathBuf,
    pub(super) writer: Mutex<Writer>,
    /// Whether an operation leads a sync, and the buffer a leader writes its group from.
    leading: Mutex<Leading>,
    /// Notified when a leader is done: its waiters are covered, or one of them leads next.
    led: Condvar,
    /// Bytes of every generation so far known to be on disk (see [`Writer::total`]).
    synced: AtomicU64,
    failed: AtomicBool,
    /// A log this long is folded into a snapshot ([`ROTATE_BYTES`]; less in tests).
    pub(super) rotate_bytes: u64,
}

/// The state of the syncs, under [`Wal::leading`].
struct Leading {
    busy: bool,
    group: Vec<u8>,
}

/// A sync being led: hands the lead back (and wakes the waiters) however the sync ends.
struct Lead<'a> {
    wal: &'a Wal,
    group: Vec<u8>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut leading = self.wal.leading.lock().unwrap_or_else(|e| e.into_inner());
        leading.busy = false;
        self.group.clear();
        std::mem::swap(&mut leading.group, &mut self.group);
        drop(leading);
        self.wal.led.notify_all();
    }
}

/// Where a record ends, counted over every generation since the ledger opened.
#[derive(Debug, Clone, Copy)]
pub(super) struct Position(u64);

fn snapshot_path(directory: &Path, generation: u64) -> PathBuf {
    directory.join(format!("snapshot-{generation}.ledger"))
}

fn log_path(directory: &Path, generation: u64) -> PathBuf {
    directory.join(format!("log-{generation}.wal"))
}

/// The generations of the files named `prefix<g>suffix` in `directory`.
fn generations(directory: &Path, prefix: &str, suffix: &str) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(directory)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(g) = name
            .strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(suffix))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push(g);
        }
    }
    found.sort_unstable();
    Ok(found)
}

impl Wal {
    fn fail(&self, what: &str, e: &io::Error) -> LedgerError {
        self.failed.store(true, Ordering::SeqCst);
        LedgerError::Shared {
            reason: format!(
                "the log in {} failed to {what}: {e}",
                self.directory.display()
            ),
        }
    }

    /// Refuses every operation once a write or sync has failed.
    pub(super) fn check(&self) -> Result<(), LedgerError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(LedgerError::Shared {
                reason: format!(
                    "the log in {} failed earlier; restart to recover",
                    self.directory.display()
                ),
            });
        }
        Ok(())
    }

    /// The time an operation asked for at `now_ms` runs at.
    pub(super) fn time(writer: &Writer, now_ms: i64) -> i64 {
        now_ms.max(writer.last_time)
    }

    /// Appends `entry` run at `time` to the pending records; where its record ends.
    pub(super) fn append(&self, writer: &mut Writer, time: i64, entry: &str) -> Position {
        let payload = entry.as_bytes();
        let record = &mut writer.pending;
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&time.to_le_bytes());
        record.extend_from_slice(&fnv1a(payload).to_le_bytes());
        record.extend_from_slice(payload);
        writer.written += (HEAD + payload.len()) as u64;
        writer.total += (HEAD + payload.len()) as u64;
        writer.last_time = time;
        Position(writer.total)
    }

    /// Writes `bytes` to `file`; a failure stops the ledger.
    fn write_all(&self, file: &File, bytes: &[u8]) -> Result<(), LedgerError> {
        let mut file = file;
        file.write_all(bytes).map_err(|e| self.fail("write", &e))
    }
}

impl Ledger {
    /// Returns once the log is on disk up to `position`: at once if a sync has covered it,
    /// else after leading one (see the module docs) or queueing behind the one that does.
    fn sync_logged(&self, wal: &Wal, position: Position) -> Result<(), LedgerError> {
        wal.check()?;
        if wal.synced.load(Ordering::Acquire) >= position.0 {
            return Ok(());
        }
        let mut leading = wal.leading.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            wal.check()?;
            if wal.synced.load(Ordering::Acquire) >= position.0 {
                return Ok(()); // a group led meanwhile covered the record
            }
            if !leading.busy {
                break;
            }
            leading = wal.led.wait(leading).unwrap_or_else(|e| e.into_inner());
        }
        leading.busy = true;
        let mut lead = Lead {
            wal,
            group: std::mem::take(&mut leading.group),
        };
        drop(leading);
        let (file, total, long) = {
            let mut writer = wal.writer.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut lead.group, &mut writer.pending);
            let long = writer.written >= wal.rotate_bytes;
            (writer.file.clone(), writer.total, long)
        };
        wal.write_all(&file, &lead.group)?;
        file.sync_data().map_err(|e| wal.fail("sync", &e))?;
        wal.synced.fetch_max(total, Ordering::AcqRel);
        if long {
            self.rotate(wal)?;
        }
        Ok(())
    }

    /// Writes the state as the next generation's snapshot and starts its log; by the leader
    /// of a sync, once the log is long.
    fn rotate(&self, wal: &Wal) -> Result<(), LedgerError> {
        let books = self.lock();
        let mut writer = wal.writer.lock().unwrap_or_else(|e| e.into_inner());
        let old = writer.generation;
        let next = old + 1;
        wal.write_all(&writer.file, &writer.pending)?;
        writer.pending.clear();
        writer.file.sync_data().map_err(|e| wal.fail("sync", &e))?;
        wal.synced.fetch_max(writer.total, Ordering::AcqRel);
        write_atomically(
            &snapshot_path(&wal.directory, next),
            &encode(&books.state, self.retention),
        )
        .map_err(|e| wal.fail("write a snapshot", &e))?;
        let file =
            open_log(&log_path(&wal.directory, next)).map_err(|e| wal.fail("start a log", &e))?;
        *writer = Writer {
            file: Arc::new(file),
            generation: next,
            written: 0,
            total: writer.total,
            pending: Vec::with_capacity(PENDING_CAPACITY),
            last_time: writer.last_time,
        };
        let _ = fs::remove_file(log_path(&wal.directory, old));
        let _ = fs::remove_file(snapshot_path(&wal.directory, old));
        Ok(())
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    let file = match create_private(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            OpenOptions::new().append(true).open(path)?
        }
        Err(e) => return Err(e),
    };
    sync_directory(path)?;
    Ok(file)
}

impl Ledger {
    /// The durable ledger kept in `directory` (created, mode 0700, if missing): its last
    /// snapshot and log are replayed, and every later change is logged and synced before it
    /// is answered. `retention` applies to a new directory; an existing one keeps its own.
    /// Errors name the file.
    pub fn durable(directory: &Path, retention: Retention) -> io::Result<Ledger> {
        retention
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        private_directory(directory)?;
        let generation = generations(directory, "snapshot-", ".ledger")?
            .last()
            .copied()
            .unwrap_or(0);
        let (state, retention) = match fs::read_to_string(snapshot_path(directory, generation)) {
            Ok(text) => {
                decode(&text).map_err(|e| with_path(e, &snapshot_path(directory, generation)))?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (State::default(), retention),
            Err(e) => return Err(with_path(e, &snapshot_path(directory, generation))),
        };
        let ledger = Ledger::of(state, retention);
        let path = log_path(directory, generation);
        let (kept, last_time) = ledger.replay(&path)?;
        let file = open_log(&path).map_err(|e| with_path(e, &path))?;
        file.set_len(kept).map_err(|e| with_path(e, &path))?; // cuts a torn last record off
        for stale in generations(directory, "log-", ".wal")?
            .into_iter()
            .filter(|&g| g < generation)
        {
            let _ = fs::remove_file(log_path(directory, stale));
        }
        let wal = Wal {
            directory: directory.to_path_buf(),
            writer: Mutex::new(Writer {
                file: Arc::new(file),
                generation,
                written: kept,
                total: 0,
                pending: Vec::with_capacity(PENDING_CAPACITY),
                last_time,
            }),
            leading: Mutex::new(Leading {
                busy: false,
                group: Vec::with_capacity(PENDING_CAPACITY),
            }),
            led: Condvar::new(),
            synced: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            rotate_bytes: ROTATE_BYTES,
        };
        Ok(Ledger {
            wal: Some(Box::new(wal)),
            ..ledger
        })
    }

    /// Applies the log at `path` (if any) to the state; how many bytes of it are whole
    /// records, and the last one's time.
    fn replay(&self, path: &Path) -> io::Result<(u64, i64)> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => f.read_to_end(&mut bytes).map_err(|e| with_path(e, path))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(with_path(e, path)),
        };
        let (mut at, mut last_time) = (0usize, 0i64);
        let mut books = self.lock();
        while at + HEAD <= bytes.len() {
            let length =
                u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
            let time = i64::from_le_bytes(bytes[at + 4..at + 12].try_into().expect("8 bytes"));
            let sum = u64::from_le_bytes(bytes[at + 12..at + 20].try_into().expect("8 bytes"));
            let Some(payload) = bytes.get(at + HEAD..at + HEAD + length) else {
                break;
            };
            if fnv1a(payload) != sum {
                break;
            }
            let text = std::str::from_utf8(payload)
                .map_err(|_| with_path(corrupt("a record is not UTF-8"), path))?;
            let entry = Entry::read(&mut In { text, at: 0 }).map_err(|e| with_path(e, path))?;
            // The answer was given when it first ran; here only its effect counts.
            let _ = self.apply(&mut books.state, time, entry);
            at += HEAD + length;
            last_time = time;
        }
        Ok((at as u64, last_time))
    }

    /// [`Ledger::run_then`] for a durable ledger.
    pub(super) fn run_logged<T>(
        &self,
        wal: &Wal,
        now_ms: Option<i64>,
        entry: Entry,
        then: impl FnOnce(&State, Outcome) -> T,
    ) -> Result<T, LedgerError> {
        wal.check()?;
        let mut books = self.lock();
        let mut writer = wal.writer.lock().unwrap_or_else(|e| e.into_inner());
        let time = Wal::time(&writer, now_ms.unwrap_or(i64::MIN));
        let mut text = Out(String::with_capacity(256));
        entry.write(&mut text);
        let changes = entry.changes();
        let state = &mut books.state;
        let (outcome, expired) = self.apply(state, time, entry);
        let position = if expired || (changes && outcome.is_ok()) {
            Some(wal.append(&mut writer, time, &text.0))
        } else {
            None
        };
        let answer = outcome.map(|o| then(state, o));
        drop(writer);
        drop(books);
        if let Some(position) = position {
            self.sync_logged(wal, position)?;
        }
        answer
    }
}

/// Creates `directory` (0700) if missing; refuses one another user owns.
fn private_directory(directory: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(directory)
        .map_err(|e| with_path(e, directory))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(directory).map_err(|e| with_path(e, directory))?;
        let me = fs::metadata("/proc/self")?.uid(); // the process's own user
        if meta.uid() != me {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} belongs to another user", directory.display()),
            ));
        }
    }
    Ok(())
}
