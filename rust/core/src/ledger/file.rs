//! Saving a ledger to a file and loading it back.
//!
//! The format is a stream of space-separated tokens after a version line: integers in decimal,
//! `-` for an absent value, and strings as `length:bytes`, so any string round-trips. A last
//! line `checksum <16 hex digits>` holds the 64-bit FNV-1a of everything before it: a file that
//! was cut short or altered does not load. Loading checks every value as the operations do
//! (the retention as `Ledger::new`, the budgets by `Ledger::audit`).
//!
//! A save writes a temporary file of its own (mode 0600 on Unix) next to the target, syncs it,
//! renames it over the target and syncs the directory, so concurrent saves all succeed, a
//! reader only ever sees a complete file, and a crash leaves either the old file or the new one.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fingerprint::fnv1a;

use super::codec::*;
use super::*;

const HEADER: &str = "burnguard-ledger 2\n";

/// The body of `text` (a file's whole text) without its checksum line, if the checksum holds.
fn checked<'a>(text: &'a str, body: &'a str) -> io::Result<&'a str> {
    let trailer = text.trim_end_matches('\n').rfind('\n').map(|i| i + 1);
    let Some(at) = trailer.filter(|&at| text[at..].starts_with("checksum ")) else {
        return Err(corrupt("no checksum (cut short?)"));
    };
    let stated = text[at + "checksum ".len()..].trim_end();
    let computed = format!("{:016x}", fnv1a(&text.as_bytes()[..at]));
    if stated != computed {
        return Err(corrupt("checksum mismatch (altered or damaged)"));
    }
    let end = body.len() - (text.len() - at);
    Ok(body[..end].trim_end_matches('\n'))
}

/// `e` with `path` in its message.
pub(super) fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A new file only this user can read and write (mode 0600 on Unix); fails if it exists.
pub(super) fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a rename in `path`'s directory durable (a no-op where directories cannot be opened).
pub(super) fn sync_directory(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `state` and `retention` in the file format.
pub(super) fn encode(state: &State, retention: Retention) -> String {
    // About what a reservation and a record take, so the text is not copied as it grows.
    let records = state.reservations.len() + state.replays.len() + state.slots.len();
    let mut o = Out(String::with_capacity(HEADER.len() + 256 * records));
    o.0.push_str(HEADER);
    o.token("retention");
    o.int(retention.ms);
    o.uint(retention.max_retained as u64);
    o.token("next");
    o.uint(state.next_id);
    let mut budgets: Vec<_> = state.slots.iter().collect();
    budgets.sort_by(|a, b| (&a.path, a.unit.as_str()).cmp(&(&b.path, b.unit.as_str())));
    for Slot {
        path,
        unit,
        budget: b,
    } in budgets
    {
        o.token("budget");
        o.str(path);
        o.token(unit.as_str());
        for v in [b.allocated, b.reserved, b.spent, b.debt, b.overdraft_limit] {
            o.int(v);
        }
        o.token(if b.capped { "capped" } else { "-" });
        o.caps(b.caps.as_ref());
    }
    // By number, which orders the ids (fixed-width hex).
    let mut reservations: Vec<_> = state.reservations.iter().collect();
    reservations.sort_unstable_by_key(|(&number, _)| number);
    for (_, r) in reservations {
        o.token("reservation");
        write_reservation(&mut o, r, state);
    }
    let mut replays: Vec<_> = state.replays.iter().collect();
    replays.sort_by(|a, b| a.0.cmp(b.0));
    for ((op, key), r) in replays {
        o.token("replay");
        o.token(op.as_str());
        o.str(key);
        o.uint(r.payload);
        o.int(r.at_ms);
        write_answer(&mut o, &r.answer);
    }
    o.token("end");
    let mut text = o.0;
    text.push('\n');
    let sum = fnv1a(text.as_bytes());
    text.push_str(&format!("checksum {sum:016x}\n"));
    text
}

/// The state and retention a file's text describes.
pub(super) fn decode(text: &str) -> io::Result<(State, Retention)> {
    if text.starts_with("burnguard-ledger 1\n") {
        return Err(corrupt(
            "version 1 (a development build's, whose idempotency fingerprints were not \
             stable across builds) is not supported; save it again with this version",
        ));
    }
    let body = text
        .strip_prefix(HEADER)
        .ok_or_else(|| corrupt("not a burnguard ledger file"))?;
    let body = checked(text, body)?;
    let mut i = In { text: body, at: 0 };
    let mut state = State::default();
    let mut retention = Retention {
        ms: 300_000,
        max_retained: 100_000,
    };
    loop {
        match i.token()? {
            "retention" => {
                retention.ms = i.int()?;
                retention.max_retained = i.uint()? as usize;
            }
            "next" => state.next_id = i.uint()?,
            "budget" => {
                let path = i.str()?;
                let unit = i.named(Unit::ALL, Unit::as_str)?;
                let budget = Budget {
                    allocated: i.int()?,
                    reserved: i.int()?,
                    spent: i.int()?,
                    debt: i.int()?,
                    overdraft_limit: i.int()?,
                    capped: i.token()? == "capped",
                    caps: i.caps()?,
                };
                let slot = state.slot_or_new(&path, unit);
                *state.budget_mut(slot) = budget;
            }
            "reservation" => {
                let (mut r, affected_scopes) = read_reservation(&mut i)?;
                r.slots = affected_scopes
                    .iter()
                    .map(|scope| state.slot_of(scope, r.unit))
                    .collect::<Option<_>>()
                    .ok_or_else(|| corrupt("a reservation draws on an unknown budget"))?;
                let number =
                    reservation_number(&r.id).ok_or_else(|| corrupt("bad reservation id"))?;
                match r.finalized_at_ms {
                    Some(at) => state.finalized.insert((at, number)),
                    None => state
                        .deadlines
                        .insert((r.expires_at_ms.saturating_add(r.grace_period_ms), number)),
                };
                state.reservations.insert(number, Box::new(r));
            }
            "replay" => {
                let op = i.named(Op::ALL, Op::as_str)?;
                let key = i.str()?;
                let payload = i.uint()?;
                let at_ms = i.int()?;
                let answer = read_answer(&mut i)?;
                state.replay_times.insert((at_ms, op, key.clone()));
                state.replays.insert(
                    (op, key),
                    Replay {
                        payload,
                        answer,
                        at_ms,
                    },
                );
            }
            "end" => break,
            _ => return Err(corrupt("unknown record")),
        }
    }
    retention
        .validate()
        .map_err(|e| corrupt(&format!("retention {e}")))?;
    audit_state(&state)
        .map_err(|violation| corrupt(&format!("inconsistent budget {violation}")))?;
    Ok((state, retention))
}

impl Ledger {
    /// Writes the whole ledger to `path` atomically (see the module docs); errors name it.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = self
            .current(|state| encode(state, self.retention))
            .map_err(|e| io::Error::other(e.to_string()))?;
        write_atomically(path, &text)
    }

    /// The ledger saved at `path`; a missing file is `NotFound`, a corrupt one `InvalidData`,
    /// each naming the file.
    pub fn load(path: &Path) -> io::Result<Ledger> {
        fs::read_to_string(path)
            .and_then(|text| decode(&text))
            .map(|(state, retention)| Ledger::of(state, retention))
            .map_err(|e| with_path(e, path))
    }
}

/// Writes `text` to `path` through a synced temporary file renamed over it, then syncs the
/// directory: a crash leaves the old file or the new one. Errors name the file.
pub(super) fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = path.as_os_str().to_owned();
    let save = SAVES.fetch_add(1, Ordering::Relaxed);
    tmp_name.push(format!(".tmp-{}-{save}", std::process::id()));
    let tmp = Path::new(&tmp_name);
    let written = create_private(tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(tmp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(tmp);
    }
    renamed.map_err(|e| with_path(e, path))?;
    sync_directory(path).map_err(|e| with_path(e, path))
}

/// The ledgers' states, compared in tests.
#[cfg(all(test, not(loom)))]
pub(super) fn same_state(a: &Ledger, b: &Ledger) -> bool {
    let (a, b) = (a.lock(), b.lock());
    a.state == b.state
}
