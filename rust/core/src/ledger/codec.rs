//! The token format the ledger's files, snapshots and journal entries are written in:
//! space-separated tokens, integers in decimal, `-` for an absent value and `+` before a
//! present one, and strings as `length:bytes`, so any string round-trips.

use std::io;

use super::*;

#[derive(Default)]
pub(super) struct Out(pub(super) String);

impl Out {
    pub(super) fn token(&mut self, t: &str) {
        self.0.push_str(t);
        self.0.push(' ');
    }
    pub(super) fn int(&mut self, v: i64) {
        if v < 0 {
            self.0.push('-');
        }
        self.digits(v.unsigned_abs());
        self.0.push(' ');
    }
    pub(super) fn uint(&mut self, v: u64) {
        self.digits(v);
        self.0.push(' ');
    }
    /// `v` in decimal (without `fmt`, which costs several times more per journal entry).
    fn digits(&mut self, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.0
            .push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
    }
    pub(super) fn str(&mut self, s: &str) {
        self.digits(s.len() as u64);
        self.0.push(':');
        self.0.push_str(s);
        self.0.push(' ');
    }
    pub(super) fn opt<T>(&mut self, v: Option<T>, mut write: impl FnMut(&mut Self, T)) {
        match v {
            Some(v) => {
                self.token("+");
                write(self, v);
            }
            None => self.token("-"),
        }
    }
    pub(super) fn strs(&mut self, v: &[String]) {
        self.uint(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
    pub(super) fn subject(&mut self, subject: &Subject) {
        for level in &subject.levels {
            self.opt(level.as_deref(), Out::str);
        }
        self.uint(subject.dimensions.len() as u64);
        for (k, v) in &subject.dimensions {
            self.str(k);
            self.str(v);
        }
    }
    pub(super) fn action(&mut self, action: &Action) {
        self.str(&action.kind);
        self.str(&action.name);
        self.strs(&action.tags);
    }
    pub(super) fn caps(&mut self, caps: Option<&Caps>) {
        self.opt(caps, |o, c| {
            o.opt(c.max_tokens, Out::uint);
            o.opt(c.max_steps_remaining, Out::uint);
            o.opt(c.cooldown_ms, Out::uint);
            o.opt(c.tool_allowlist.as_deref(), Out::strs);
            o.opt(c.tool_denylist.as_deref(), Out::strs);
        });
    }
}

pub(super) struct In<'a> {
    pub(super) text: &'a str,
    pub(super) at: usize,
}

pub(super) fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt ledger file: {what}"),
    )
}

impl<'a> In<'a> {
    pub(super) fn token(&mut self) -> io::Result<&'a str> {
        let rest = &self.text[self.at..];
        let end = rest.find(' ').ok_or_else(|| corrupt("truncated"))?;
        self.at += end + 1;
        Ok(&rest[..end])
    }
    pub(super) fn int(&mut self) -> io::Result<i64> {
        self.token()?.parse().map_err(|_| corrupt("bad integer"))
    }
    pub(super) fn uint(&mut self) -> io::Result<u64> {
        self.token()?.parse().map_err(|_| corrupt("bad integer"))
    }
    pub(super) fn str(&mut self) -> io::Result<String> {
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
    pub(super) fn opt<T>(
        &mut self,
        mut read: impl FnMut(&mut Self) -> io::Result<T>,
    ) -> io::Result<Option<T>> {
        match self.token()? {
            "+" => Ok(Some(read(self)?)),
            "-" => Ok(None),
            _ => Err(corrupt("bad optional value")),
        }
    }
    pub(super) fn strs(&mut self) -> io::Result<Vec<String>> {
        let n = self.uint()?;
        (0..n).map(|_| self.str()).collect()
    }
    pub(super) fn subject(&mut self) -> io::Result<Subject> {
        let mut levels: [Option<String>; 6] = Default::default();
        for level in &mut levels {
            *level = self.opt(In::str)?;
        }
        let n = self.uint()?;
        let dimensions = (0..n)
            .map(|_| Ok((self.str()?, self.str()?)))
            .collect::<io::Result<_>>()?;
        Ok(Subject { levels, dimensions })
    }
    pub(super) fn action(&mut self) -> io::Result<Action> {
        Ok(Action {
            kind: self.str()?,
            name: self.str()?,
            tags: self.strs()?,
        })
    }
    pub(super) fn caps(&mut self) -> io::Result<Option<Caps>> {
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
    pub(super) fn named<T: Copy>(
        &mut self,
        all: &[T],
        name: impl Fn(T) -> &'static str,
    ) -> io::Result<T> {
        let token = self.token()?;
        all.iter()
            .copied()
            .find(|&v| name(v) == token)
            .ok_or_else(|| corrupt("unknown name"))
    }
}

pub(super) fn write_verdict(o: &mut Out, v: &Verdict) {
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

pub(super) fn read_verdict(i: &mut In<'_>) -> io::Result<Verdict> {
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

/// Reservation `r` of `state`, with the paths of the scopes it draws on.
pub(super) fn write_reservation(o: &mut Out, r: &Reservation, state: &State) {
    o.str(&r.id);
    o.token(r.status.as_str());
    o.subject(&r.subject);
    o.action(&r.action);
    o.token(r.unit.as_str());
    o.int(r.reserved);
    o.int(r.created_at_ms);
    o.int(r.expires_at_ms);
    o.int(r.grace_period_ms);
    o.token(r.overage.as_str());
    o.uint(r.slots.len() as u64);
    for &slot in &r.slots {
        o.str(&state.slots[slot].path);
    }
    o.opt(r.idempotency_key.as_deref(), Out::str);
    o.opt(r.committed, Out::int);
    o.opt(r.finalized_at_ms, Out::int);
}

/// A reservation and the scopes it draws on.
pub(super) fn read_reservation(i: &mut In<'_>) -> io::Result<(Reservation, Vec<String>)> {
    let id = i.str()?;
    let status = i.named(Status::ALL, Status::as_str)?;
    let subject = i.subject()?;
    let action = i.action()?;
    let unit = i.named(Unit::ALL, Unit::as_str)?;
    let (reserved, created_at_ms, expires_at_ms, grace_period_ms) =
        (i.int()?, i.int()?, i.int()?, i.int()?);
    let overage = i.named(Overage::ALL, Overage::as_str)?;
    let affected_scopes = i.strs()?;
    let reservation = Reservation {
        id,
        status,
        subject,
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

pub(super) fn write_answer(o: &mut Out, a: &Answer) {
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
        Answer::Funded(f) => {
            o.token("funded");
            for figures in [f.before, f.after] {
                o.int(figures.allocated);
                o.int(figures.remaining);
                o.int(figures.debt);
                o.int(figures.spent);
            }
        }
    }
}

pub(super) fn read_answer(i: &mut In<'_>) -> io::Result<Answer> {
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
        "funded" => {
            let mut figures = || -> io::Result<Figures> {
                Ok(Figures {
                    allocated: i.int()?,
                    remaining: i.int()?,
                    debt: i.int()?,
                    spent: i.int()?,
                })
            };
            Answer::Funded(Funded {
                before: figures()?,
                after: figures()?,
            })
        }
        _ => return Err(corrupt("unknown answer")),
    })
}
