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
use std::sync::Mutex;

use super::fingerprint::fnv1a;

use super::*;
use crate::clock::Clock;

const HEADER: &str = "burnguard-ledger 2\n";

#[derive(Default)]
struct Out(String);

impl Out {
    fn token(&mut self, t: &str) {
        self.0.push_str(t);
        self.0.push(' ');
    }
    fn int(&mut self, v: i64) {
        self.token(&v.to_string());
    }
    fn uint(&mut self, v: u64) {
        self.token(&v.to_string());
    }
    fn str(&mut self, s: &str) {
        self.0.push_str(&s.len().to_string());
        self.0.push(':');
        self.0.push_str(s);
        self.0.push(' ');
    }
    fn opt<T>(&mut self, v: Option<T>, mut write: impl FnMut(&mut Self, T)) {
        match v {
            Some(v) => {
                self.token("+");
                write(self, v);
            }
            None => self.token("-"),
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.uint(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
    fn caps(&mut self, caps: Option<&Caps>) {
        self.opt(caps, |o, c| {
            o.opt(c.max_tokens, Out::uint);
            o.opt(c.max_steps_remaining, Out::uint);
            o.opt(c.cooldown_ms, Out::uint);
            o.opt(c.tool_allowlist.as_deref(), Out::strs);
            o.opt(c.tool_denylist.as_deref(), Out::strs);
        });
    }
}

struct In<'a> {
    text: &'a str,
    at: usize,
}

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
fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A new file only this user can read and write (mode 0600 on Unix); fails if it exists.
fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes a rename in `path`'s directory durable (a no-op where directories cannot be opened).
fn sync_directory(path: &Path) -> io::Result<()> {
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

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt ledger file: {what}"),
    )
}

impl<'a> In<'a> {
    fn token(&mut self) -> io::Result<&'a str> {
        let rest = &self.text[self.at..];
        let end = rest.find(' ').ok_or_else(|| corrupt("truncated"))?;
        self.at += end + 1;
        Ok(&rest[..end])
    }
    fn int(&mut self) -> io::Result<i64> {
        self.token()?.parse().map_err(|_| corrupt("bad integer"))
    }
    fn uint(&mut self) -> io::Result<u64> {
        self.token()?.parse().map_err(|_| corrupt("bad integer"))
    }
    fn str(&mut self) -> io::Result<String> {
        let rest = &self.text[self.at..];
        let colon = rest.find(':').ok_or_else(|| corrupt("bad string"))?;
        let len: usize = rest[..colon].parse().map_err(|_| corrupt("bad string"))?;
        let start = colon + 1;
        let s = rest
            .get(start..start + len)
            .ok_or_else(|| corrupt("bad string"))?;
        if rest.as_bytes().get(start + len) != Some(&b' ') {
            return Err(corrupt("bad string"));
        }
        self.at += start + len + 1;
        Ok(s.to_string())
    }
    fn opt<T>(
        &mut self,
        mut read: impl FnMut(&mut Self) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        match self.token()? {
            "+" => Ok(Some(read(self)?)),
            "-" => Ok(None),
            _ => Err(corrupt("bad optional value")),
        }
    }
    fn strs(&mut self) -> io::Result<Vec<String>> {
        let n = self.uint()?;
        (0..n).map(|_| self.str()).collect()
    }
    fn caps(&mut self) -> io::Result<Option<Caps>> {
        self.opt(|i| {
            Ok(Caps {
                max_tokens: i.opt(In::uint)?,
                max_steps_remaining: i.opt(In::uint)?,
                cooldown_ms: i.opt(In::uint)?,
                tool_allowlist: i.opt(In::strs)?,
                tool_denylist: i.opt(In::strs)?,
            })
        })
    }
    fn named<T: Copy>(&mut self, all: &[T], name: impl Fn(T) -> &'static str) -> io::Result<T> {
        let token = self.token()?;
        all.iter()
            .copied()
            .find(|&v| name(v) == token)
            .ok_or_else(|| corrupt("unknown name"))
    }
}

fn write_verdict(o: &mut Out, v: &Verdict) {
    o.token(v.decision.as_str());
    o.opt(v.reservation_id.as_deref(), Out::str);
    o.strs(&v.affected_scopes);
    o.str(&v.scope_path);
    o.int(v.reserved);
    o.opt(v.expires_at_ms, Out::int);
    o.caps(v.caps.as_ref());
    o.opt(v.reason_code(), Out::str);
    o.opt(v.denied_scope(), Out::str);
}

fn read_verdict(i: &mut In<'_>) -> io::Result<Verdict> {
    let decision = i.named(Decision::ALL, Decision::as_str)?;
    let reservation_id = i.opt(In::str)?;
    let affected_scopes = i.strs()?;
    let scope_path = i.str()?;
    let reserved = i.int()?;
    let expires_at_ms = i.opt(In::int)?;
    let caps = i.caps()?;
    let reason_code = i.opt(In::str)?;
    let scope = i.opt(In::str)?;
    let denial = match (reason_code.as_deref(), scope) {
        (None, None) => None,
        (Some("BUDGET_NOT_FOUND"), None) => Some(LedgerError::BudgetNotFound {
            scope_path: scope_path.clone(),
        }),
        (Some("OVERDRAFT_LIMIT_EXCEEDED"), Some(scope)) => {
            Some(LedgerError::OverdraftLimitExceeded { scope })
        }
        (Some("DEBT_OUTSTANDING"), Some(scope)) => Some(LedgerError::DebtOutstanding { scope }),
        (Some("BUDGET_EXCEEDED"), Some(scope)) => Some(LedgerError::BudgetExceeded { scope }),
        _ => return Err(corrupt("unknown denial")),
    };
    Ok(Verdict {
        decision,
        reservation_id,
        affected_scopes,
        scope_path,
        reserved,
        expires_at_ms,
        caps,
        denial,
    })
}

fn write_reservation(o: &mut Out, r: &Reservation, affected_scopes: &[String]) {
    o.str(&r.id);
    o.token(r.status.as_str());
    for level in &r.subject.levels {
        o.opt(level.as_deref(), Out::str);
    }
    o.uint(r.subject.dimensions.len() as u64);
    for (k, v) in &r.subject.dimensions {
        o.str(k);
        o.str(v);
    }
    o.str(&r.action.kind);
    o.str(&r.action.name);
    o.strs(&r.action.tags);
    o.token(r.unit.as_str());
    o.int(r.reserved);
    o.int(r.created_at_ms);
    o.int(r.expires_at_ms);
    o.int(r.grace_period_ms);
    o.token(r.overage.as_str());
    o.strs(affected_scopes);
    o.opt(r.idempotency_key.as_deref(), Out::str);
    o.opt(r.committed, Out::int);
    o.opt(r.finalized_at_ms, Out::int);
}

/// A reservation and the scopes it draws on.
fn read_reservation(i: &mut In<'_>) -> io::Result<(Reservation, Vec<String>)> {
    let id = i.str()?;
    let status = i.named(Status::ALL, Status::as_str)?;
    let mut levels: [Option<String>; 6] = Default::default();
    for level in &mut levels {
        *level = i.opt(In::str)?;
    }
    let n = i.uint()?;
    let dimensions = (0..n)
        .map(|_| Ok((i.str()?, i.str()?)))
        .collect::<io::Result<_>>()?;
    let action = Action {
        kind: i.str()?,
        name: i.str()?,
        tags: i.strs()?,
    };
    let unit = i.named(Unit::ALL, Unit::as_str)?;
    let (reserved, created_at_ms, expires_at_ms, grace_period_ms) =
        (i.int()?, i.int()?, i.int()?, i.int()?);
    let overage = i.named(Overage::ALL, Overage::as_str)?;
    let affected_scopes = i.strs()?;
    let reservation = Reservation {
        id,
        status,
        subject: Subject { levels, dimensions },
        action,
        unit,
        reserved,
        created_at_ms,
        expires_at_ms,
        grace_period_ms,
        overage,
        idempotency_key: i.opt(In::str)?,
        committed: i.opt(In::int)?,
        finalized_at_ms: i.opt(In::int)?,
        slots: Vec::new(),
    };
    Ok((reservation, affected_scopes))
}

fn write_answer(o: &mut Out, a: &Answer) {
    match a {
        Answer::Verdict(v) => {
            o.token("verdict");
            write_verdict(o, v);
        }
        Answer::Committed(c) => {
            o.token("committed");
            o.int(c.charged);
            o.int(c.released);
            o.int(c.debt_incurred);
        }
        Answer::Released(n) => {
            o.token("released");
            o.int(*n);
        }
        Answer::Extended(at) => {
            o.token("extended");
            o.int(*at);
        }
        Answer::Debited(d) => {
            o.token("debited");
            o.str(&d.event_id);
            o.int(d.charged);
            o.int(d.debt_incurred);
            o.strs(&d.affected_scopes);
        }
    }
}

fn read_answer(i: &mut In<'_>) -> io::Result<Answer> {
    Ok(match i.token()? {
        "verdict" => Answer::Verdict(Box::new(read_verdict(i)?)),
        "committed" => Answer::Committed(Committed {
            charged: i.int()?,
            released: i.int()?,
            debt_incurred: i.int()?,
        }),
        "released" => Answer::Released(i.int()?),
        "extended" => Answer::Extended(i.int()?),
        "debited" => Answer::Debited(Debited {
            event_id: i.str()?,
            charged: i.int()?,
            debt_incurred: i.int()?,
            affected_scopes: i.strs()?,
        }),
        _ => return Err(corrupt("unknown answer")),
    })
}

impl Ledger {
    /// The whole ledger in the file format.
    fn encode(&self) -> String {
        let state = self.lock();
        let mut o = Out(HEADER.to_string());
        o.token("retention");
        o.int(self.retention.ms);
        o.uint(self.retention.max_retained as u64);
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
        let mut reservations: Vec<_> = state.reservations.values().collect();
        reservations.sort_by(|a, b| a.id.cmp(&b.id));
        for r in reservations {
            o.token("reservation");
            write_reservation(&mut o, r, &state.paths(&r.slots));
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

    /// The ledger a file's text describes.
    fn decode(text: &str) -> io::Result<Ledger> {
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
        let ledger = Ledger {
            state: Mutex::new(state),
            retention,
            clock: Clock::Wall,
        };
        ledger
            .audit()
            .map_err(|violation| corrupt(&format!("inconsistent budget {violation}")))?;
        Ok(ledger)
    }

    /// Writes the whole ledger to `path` atomically (see the module docs); errors name it.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let text = self.encode();
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

    /// The ledger saved at `path`; a missing file is `NotFound`, a corrupt one `InvalidData`,
    /// each naming the file.
    pub fn load(path: &Path) -> io::Result<Ledger> {
        fs::read_to_string(path)
            .and_then(|text| Ledger::decode(&text))
            .map_err(|e| with_path(e, path))
    }
}

/// The ledgers' states, compared in tests.
#[cfg(all(test, not(loom)))]
pub(super) fn same_state(a: &Ledger, b: &Ledger) -> bool {
    let (a, b) = (a.lock(), b.lock());
    *a == *b
}
