//! The ledger's operations as values: what a public method applies, and what a shared
//! ledger writes to its journal for the other processes to apply in the same order.

use std::io;

use super::codec::{corrupt, In, Out};
use super::*;

/// How a credit is written where a funding entry names its adjustment.
pub(super) const CREDIT: &str = "CREDIT";

/// One state-changing operation, with everything it needs besides the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    SetBudget {
        scope: String,
        unit: Unit,
        allocated: i64,
        overdraft_limit: i64,
        caps: Option<Caps>,
    },
    /// A credit (no adjustment) or an adjustment, with an idempotency key if any, and the
    /// figures before and after as its answer.
    Funding {
        key: Option<String>,
        scope: String,
        unit: Unit,
        adjustment: Option<Adjustment>,
        amount: i64,
        spent: i64,
    },
    Reserve {
        key: Option<String>,
        request: ReserveRequest,
    },
    Decide {
        key: Option<String>,
        subject: Subject,
        action: Action,
        unit: Unit,
        estimate: i64,
    },
    Commit {
        key: Option<String>,
        id: String,
        unit: Option<Unit>,
        actual: i64,
    },
    Release {
        key: Option<String>,
        id: String,
    },
    Extend {
        key: Option<String>,
        id: String,
        by_ms: i64,
    },
    Event {
        key: Option<String>,
        subject: Subject,
        action: Action,
        unit: Unit,
        actual: i64,
        overage: Overage,
    },
    /// Expiry and retention only (a read or a failed operation that expired something).
    Sweep,
}

/// What applying an [`Entry`] answered.
#[derive(Debug)]
pub(super) enum Outcome {
    Done,
    Verdict(Box<Verdict>),
    Committed(Committed),
    Amount(i64),
    Debited(Debited),
    Funded(Funded),
    Swept(usize),
}

impl Entry {
    /// Whether it applies expiry first: everything but the budget settings, which take no
    /// time.
    pub(super) fn expires(&self) -> bool {
        !matches!(self, Entry::SetBudget { .. } | Entry::Funding { .. })
    }

    /// Whether it can change the state besides expiry (a decision without a key, or a dry
    /// run without one, cannot).
    pub(super) fn changes(&self) -> bool {
        match self {
            Entry::Decide { key, .. } => key.is_some(),
            Entry::Reserve { key, request } => key.is_some() || !request.dry_run,
            Entry::Sweep => false,
            _ => true,
        }
    }

    /// Appends the entry in the token format.
    pub(super) fn write(&self, o: &mut Out) {
        let key = |o: &mut Out, key: &Option<String>| o.opt(key.as_deref(), Out::str);
        match self {
            Entry::SetBudget {
                scope,
                unit,
                allocated,
                overdraft_limit,
                caps,
            } => {
                o.token("set_budget");
                o.str(scope);
                o.token(unit.as_str());
                o.int(*allocated);
                o.int(*overdraft_limit);
                o.caps(caps.as_ref());
            }
            Entry::Funding {
                key: k,
                scope,
                unit,
                adjustment,
                amount,
                spent,
            } => {
                o.token("funding");
                key(o, k);
                o.str(scope);
                o.token(unit.as_str());
                o.token(adjustment.map_or(CREDIT, Adjustment::as_str));
                o.int(*amount);
                o.int(*spent);
            }
            Entry::Reserve { key: k, request: r } => {
                o.token("reserve");
                key(o, k);
                o.subject(&r.subject);
                o.action(&r.action);
                o.token(r.unit.as_str());
                o.int(r.estimate);
                o.int(r.ttl_ms);
                o.int(r.grace_period_ms);
                o.token(r.overage.as_str());
                o.token(if r.dry_run { "dry" } else { "-" });
            }
            Entry::Decide {
                key: k,
                subject,
                action,
                unit,
                estimate,
            } => {
                o.token("decide");
                key(o, k);
                o.subject(subject);
                o.action(action);
                o.token(unit.as_str());
                o.int(*estimate);
            }
            Entry::Commit {
                key: k,
                id,
                unit,
                actual,
            } => {
                o.token("commit");
                key(o, k);
                o.str(id);
                o.opt(unit.map(Unit::as_str), Out::token);
                o.int(*actual);
            }
            Entry::Release { key: k, id } => {
                o.token("release");
                key(o, k);
                o.str(id);
            }
            Entry::Extend { key: k, id, by_ms } => {
                o.token("extend");
                key(o, k);
                o.str(id);
                o.int(*by_ms);
            }
            Entry::Event {
                key: k,
                subject,
                action,
                unit,
                actual,
                overage,
            } => {
                o.token("event");
                key(o, k);
                o.subject(subject);
                o.action(action);
                o.token(unit.as_str());
                o.int(*actual);
                o.token(overage.as_str());
            }
            Entry::Sweep => o.token("sweep"),
        }
    }

    /// The entry [`Entry::write`] wrote.
    pub(super) fn read(i: &mut In<'_>) -> io::Result<Entry> {
        let unit = |i: &mut In<'_>| i.named(Unit::ALL, Unit::as_str);
        Ok(match i.token()? {
            "set_budget" => Entry::SetBudget {
                scope: i.str()?,
                unit: unit(i)?,
                allocated: i.int()?,
                overdraft_limit: i.int()?,
                caps: i.caps()?,
            },
            // Entries of an earlier version: a credit and an adjustment, with no key.
            "fund" => Entry::Funding {
                key: None,
                scope: i.str()?,
                unit: unit(i)?,
                adjustment: None,
                amount: i.int()?,
                spent: 0,
            },
            "adjust" => Entry::Funding {
                key: None,
                scope: i.str()?,
                unit: unit(i)?,
                adjustment: Some(i.named(Adjustment::ALL, Adjustment::as_str)?),
                amount: i.int()?,
                spent: i.int()?,
            },
            "funding" => Entry::Funding {
                key: i.opt(In::str)?,
                scope: i.str()?,
                unit: unit(i)?,
                adjustment: match i.token()? {
                    CREDIT => None,
                    name => Some(name.parse().map_err(|_| corrupt("unknown adjustment"))?),
                },
                amount: i.int()?,
                spent: i.int()?,
            },
            "reserve" => Entry::Reserve {
                key: i.opt(In::str)?,
                request: ReserveRequest {
                    subject: i.subject()?,
                    action: i.action()?,
                    unit: unit(i)?,
                    estimate: i.int()?,
                    ttl_ms: i.int()?,
                    grace_period_ms: i.int()?,
                    overage: i.named(Overage::ALL, Overage::as_str)?,
                    dry_run: i.token()? == "dry",
                },
            },
            "decide" => Entry::Decide {
                key: i.opt(In::str)?,
                subject: i.subject()?,
                action: i.action()?,
                unit: unit(i)?,
                estimate: i.int()?,
            },
            "commit" => Entry::Commit {
                key: i.opt(In::str)?,
                id: i.str()?,
                unit: i.opt(unit)?,
                actual: i.int()?,
            },
            "release" => Entry::Release {
                key: i.opt(In::str)?,
                id: i.str()?,
            },
            "extend" => Entry::Extend {
                key: i.opt(In::str)?,
                id: i.str()?,
                by_ms: i.int()?,
            },
            "event" => Entry::Event {
                key: i.opt(In::str)?,
                subject: i.subject()?,
                action: i.action()?,
                unit: unit(i)?,
                actual: i.int()?,
                overage: i.named(Overage::ALL, Overage::as_str)?,
            },
            "sweep" => Entry::Sweep,
            _ => return Err(corrupt("unknown journal entry")),
        })
    }
}

impl Ledger {
    /// Applies `entry` at `now_ms` to `state`, after expiry for the entries that take time.
    /// Returns the answer, and whether expiry or retention changed anything.
    pub(super) fn apply(
        &self,
        state: &mut State,
        now_ms: i64,
        entry: Entry,
    ) -> (Result<Outcome, LedgerError>, bool) {
        let expired = entry.expires().then(|| self.expire(state, now_ms));
        let (count, changed) = expired.unwrap_or_default();
        let outcome = match entry {
            Entry::SetBudget {
                scope,
                unit,
                allocated,
                overdraft_limit,
                caps,
            } => {
                self.set_budget_in(state, &scope, unit, allocated, overdraft_limit, caps);
                Ok(Outcome::Done)
            }
            Entry::Funding {
                key,
                scope,
                unit,
                adjustment,
                amount,
                spent,
            } => self
                .funding_in(
                    state,
                    now_ms,
                    key.as_deref(),
                    &scope,
                    unit,
                    adjustment,
                    (amount, spent),
                )
                .map(Outcome::Funded),
            Entry::Reserve { key, request } => self
                .reserve_in(state, now_ms, key.as_deref(), request)
                .map(|v| Outcome::Verdict(Box::new(v))),
            Entry::Decide {
                key,
                subject,
                action,
                unit,
                estimate,
            } => self
                .decide_in(
                    state,
                    now_ms,
                    key.as_deref(),
                    &subject,
                    &action,
                    unit,
                    estimate,
                )
                .map(|v| Outcome::Verdict(Box::new(v))),
            Entry::Commit {
                key,
                id,
                unit,
                actual,
            } => self
                .commit_in(state, now_ms, key.as_deref(), &id, unit, actual)
                .map(Outcome::Committed),
            Entry::Release { key, id } => self
                .release_in(state, now_ms, key.as_deref(), &id)
                .map(Outcome::Amount),
            Entry::Extend { key, id, by_ms } => self
                .extend_in(state, now_ms, key.as_deref(), &id, by_ms)
                .map(Outcome::Amount),
            Entry::Event {
                key,
                subject,
                action,
                unit,
                actual,
                overage,
            } => self
                .event_in(
                    state,
                    now_ms,
                    key.as_deref(),
                    &subject,
                    &action,
                    unit,
                    actual,
                    overage,
                )
                .map(Outcome::Debited),
            Entry::Sweep => Ok(Outcome::Swept(count)),
        };
        (outcome, changed)
    }
}
