//! Budget reservations with the Cycles protocol's semantics: reserve an estimate before the
//! work, commit the actual cost after it or release the hold, in process, or shared by every
//! process of a host through an arena ([`Ledger::shared`], see `journal`).
//!
//! A subject (tenant, workspace, app, workflow, agent, toolset) names a path of scopes:
//! `tenant:acme`, `tenant:acme/workspace:prod`, ... A reservation draws on the budget of every
//! scope on its path that has one for its unit, and checks and holds the amount on all of them
//! in one step under the ledger's lock, so concurrent reservers never overspend any scope.
//! Amounts are integers. Per scope, `remaining = allocated - spent - reserved - debt`, and
//! `reserved + spent <= allocated` always holds; debt (charges no budget covered, from commits
//! and events under `ALLOW_WITH_OVERDRAFT`, at most the overdraft limit each time) blocks new
//! reservations on its scope until funded, as does the over-limit state. The semantics are
//! those of the Cycles protocol v0 specification that runcycles 0.5.3 ships.
//!
//! Every operation takes an optional idempotency key: replaying it with the same payload
//! answers the stored result; another payload is an `IDEMPOTENCY_MISMATCH`. Reservations expire `ttl_ms`
//! after creation (plus `grace_period_ms` for commits), giving their holds back; expiry is
//! applied at the start of every operation, from an index ordered by deadline. Finalized
//! reservations and idempotency records are kept for a retention period, so memory stays
//! bounded by the traffic of that period. The whole ledger saves to a file and loads back.
//!
//! Modules: `types` (the value types), `errors` ([`LedgerError`]), `state` (what the lock
//! guards), `entry` (the operations as values), `operations` (how each changes the state),
//! `charges` (how amounts land on budgets), `idempotency` (records, fingerprints, replays),
//! `expiry` (expiry and retention), `codec` (the token format), `file` (saving and loading),
//! `journal` (sharing through an arena).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::clock::Clock;
use crate::error::Error;
use crate::names::named_enum;
use fingerprint::Fingerprint;

#[cfg(all(test, not(loom)))]
mod adjust_tests;
mod charges;
mod codec;
mod entry;
mod errors;
mod expiry;
mod file;
mod fingerprint;
mod fleet;
#[cfg(all(test, not(loom)))]
mod fleet_tests;
mod idempotency;
#[cfg(target_os = "linux")]
mod journal;
mod operations;
#[cfg(all(test, target_os = "linux", not(loom)))]
mod shared_tests;
mod state;
#[cfg(all(test, not(loom)))]
mod test_support;
#[cfg(all(test, not(loom)))]
mod tests;
mod types;
pub mod wal;
#[cfg(all(test, not(loom)))]
mod wal_tests;

use charges::*;
use entry::{Entry, Outcome};
pub use errors::*;
pub use fleet::{FleetStatus, Sequenced, Sequencer, SequencerError, Snapshot};
use idempotency::*;
use state::*;
pub use types::*;

/// The ledger. All operations take the time (`now_ms`, ms since the epoch) and an optional
/// idempotency key (no key: no replay protection, nothing remembered).
pub struct Ledger {
    books: Mutex<Books>,
    retention: Retention,
    clock: Clock,
    /// Where a shared ledger's journal is (none for a private one).
    #[cfg(target_os = "linux")]
    journal: Option<journal::Journal>,
    /// Where a durable ledger logs its changes (see [`wal`]).
    wal: Option<Box<wal::Wal>>,
    /// What orders a fleet's ledger's entries (see `fleet`).
    fleet: Option<Box<fleet::FleetLink>>,
}

/// What the ledger's lock guards: the state, and how far it has applied a shared journal.
#[derive(Default)]
struct Books {
    state: State,
    #[cfg(target_os = "linux")]
    cursor: journal::Cursor,
    fleet: fleet::FleetCursor,
}

/// How long, and how many, finalized reservations and idempotency records are kept: each is
/// dropped when it is older than `ms` or when `max_retained` newer ones are kept, so memory is
/// bounded whatever the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Milliseconds; at least a minute.
    pub ms: i64,
    /// Records of each kind; at least 1,000.
    pub max_retained: usize,
}

impl Retention {
    /// Records kept `seconds` (60 s to 10 years), at most `max_retained` of each kind.
    pub fn from_seconds(seconds: f64, max_retained: usize) -> Result<Retention, Error> {
        const TEN_YEARS: f64 = 3650.0 * 86_400.0;
        if !(60.0..=TEN_YEARS).contains(&seconds) {
            return Err(Error::bad(
                "retention_seconds",
                format!("must be in [60, {TEN_YEARS}] seconds"),
                seconds,
            ));
        }
        let retention = Retention {
            ms: (seconds * 1000.0).round() as i64,
            max_retained,
        };
        retention.validate()?;
        Ok(retention)
    }

    /// Checks the bounds a ledger is built with (and a saved one is loaded with).
    pub fn validate(&self) -> Result<(), Error> {
        in_range("retention_ms", self.ms, 60_000, i64::MAX / 4)?;
        if self.max_retained < 1_000 {
            return Err(Error::bad(
                "max_retained",
                "must be at least 1000",
                self.max_retained,
            ));
        }
        Ok(())
    }
}

/// Checks a reservation's lifetime and grace period as [`Ledger::reserve`] does (for callers
/// that fix them ahead, such as a decorator).
pub fn check_times(ttl_ms: i64, grace_period_ms: i64) -> Result<(), Error> {
    in_range("ttl_ms", ttl_ms, 1_000, 86_400_000)?;
    in_range("grace_period_ms", grace_period_ms, 0, 60_000)?;
    Ok(())
}

/// Largest amount accepted.
pub const MAX_AMOUNT: i64 = i64::MAX / 4;

/// Checks an amount: `0..=MAX_AMOUNT`.
pub fn check_amount(param: &'static str, value: i64) -> Result<i64, Error> {
    if (0..=MAX_AMOUNT).contains(&value) {
        Ok(value)
    } else {
        Err(Error::bad(
            param,
            format!("must be an integer in [0, {MAX_AMOUNT}]"),
            value,
        ))
    }
}

fn in_range(param: &'static str, value: i64, lo: i64, hi: i64) -> Result<i64, Error> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(Error::bad(
            param,
            format!("must be between {lo} and {hi}"),
            value,
        ))
    }
}

fn check_key(idempotency_key: Option<&str>) -> Result<Option<&str>, Error> {
    match idempotency_key {
        Some(k) if k.is_empty() || k.chars().count() > 256 => Err(Error::invalid(
            "idempotency_key",
            "must be 1 to 256 characters",
        )),
        k => Ok(k),
    }
}

/// Checks a scope path (`level:name[/level:name...]`, levels in order) and returns it.
pub fn check_scope_path(path: &str) -> Result<&str, Error> {
    let bad = || {
        Error::bad("scope", "must be a path like \"tenant:acme/app:chat\" with levels in the order tenant, workspace, app, workflow, agent, toolset", format_args!("{:?}", path))
    };
    let mut next_level = 0;
    for part in path.split('/') {
        let (level, name) = part.split_once(':').ok_or_else(bad)?;
        let at = LEVELS.iter().position(|&l| l == level).ok_or_else(bad)?;
        if at < next_level || name.is_empty() || name.chars().count() > 128 {
            return Err(bad());
        }
        next_level = at + 1;
    }
    Ok(path)
}

impl Ledger {
    /// An empty ledger keeping finalized reservations and idempotency records as `retention`
    /// says.
    pub fn new(retention: Retention) -> Result<Self, Error> {
        retention.validate()?;
        Ok(Ledger::of(State::default(), retention))
    }

    fn of(state: State, retention: Retention) -> Ledger {
        Ledger {
            books: Mutex::new(Books {
                state,
                ..Books::default()
            }),
            retention,
            clock: Clock::Wall,
            #[cfg(target_os = "linux")]
            journal: None,
            wal: None,
            fleet: None,
        }
    }

    /// The ledger `name` of `arena`, which every process of the host that opens it shares (see
    /// [`journal`]): its budgets, reservations and idempotency records take at most `capacity`
    /// bytes in the file format, and the arena holds two such snapshots and a journal of half
    /// that. Every process must open it with the same retention and capacity.
    #[cfg(target_os = "linux")]
    pub fn shared(
        arena: &crate::arena::Arena,
        name: &str,
        capacity: u64,
        retention: Retention,
    ) -> Result<Ledger, crate::arena::ArenaError> {
        use crate::arena::ArenaError;
        retention.validate().map_err(ArenaError::Bad)?;
        in_range("capacity", capacity as i64, 1 << 16, 1 << 34).map_err(ArenaError::Bad)?;
        if name.is_empty() {
            return Err(ArenaError::Bad(Error::invalid(
                "name",
                "a shared ledger needs a name",
            )));
        }
        let journal = journal::Journal::open(arena, name, capacity, retention)?;
        Ok(Ledger {
            journal: Some(journal),
            ..Ledger::of(State::default(), retention)
        })
    }

    /// Whether the ledger is shared through an arena.
    pub fn is_shared(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.journal.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    /// The same ledger, reading `clock` for [`Ledger::now_ms`].
    pub fn with_clock(self, clock: Clock) -> Self {
        Ledger { clock, ..self }
    }

    /// The time now by the ledger's clock, in milliseconds: the `now_ms` of its operations.
    pub fn now_ms(&self) -> Result<i64, Error> {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock cannot leave a half-applied operation: every
        // operation checks everything before it changes anything.
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `entry` at `now_ms` (None: the operation takes no time) and answers.
    fn run(&self, now_ms: Option<i64>, entry: Entry) -> Result<Outcome, LedgerError> {
        self.run_then(now_ms, entry, |_, outcome| outcome)
    }

    /// Applies `entry` as [`Ledger::run`], then answers `then` of the state and the outcome,
    /// under the same lock.
    fn run_then<T>(
        &self,
        now_ms: Option<i64>,
        entry: Entry,
        then: impl FnOnce(&State, Outcome) -> T,
    ) -> Result<T, LedgerError> {
        if let Some(wal) = &self.wal {
            return self.run_logged(wal, now_ms, entry, then);
        }
        if let Some(link) = &self.fleet {
            let outcome = self.run_batched(link, &entry)?;
            return Ok(then(&self.lock().state, outcome));
        }
        let mut books = self.lock();
        #[cfg(target_os = "linux")]
        if let Some(journal) = &self.journal {
            let held = journal.lock()?;
            let Books { state, cursor, .. } = &mut *books;
            journal.catch_up(&held, self, state, cursor)?;
            let time = journal::Journal::time(cursor, now_ms.unwrap_or(i64::MIN));
            let mut text = codec::Out(String::with_capacity(256));
            entry.write(&mut text);
            if let Err(full) = journal.make_room(&held, state, self.retention, cursor, text.0.len())
            {
                // A read of a full ledger answers as of its last entry, expiring nothing.
                return match entry {
                    Entry::Sweep => Ok(then(state, Outcome::Swept(0))),
                    _ => Err(full),
                };
            }
            let changes = entry.changes();
            let (outcome, expired) = self.apply(state, time, entry);
            if expired || (changes && outcome.is_ok()) {
                journal.append(&held, cursor, time, &text.0);
            }
            return outcome.map(|o| then(state, o));
        }
        let state = &mut books.state;
        let outcome = self.apply(state, now_ms.unwrap_or(0), entry).0?;
        Ok(then(state, outcome))
    }

    /// `read` of the current state (a shared ledger's caught up with its journal).
    fn current<T>(&self, read: impl FnOnce(&State) -> T) -> Result<T, LedgerError> {
        let mut books = self.lock();
        if let Some(link) = &self.fleet {
            self.run_fleet(link, &mut books, &[])?;
        }
        #[cfg(target_os = "linux")]
        if let Some(journal) = &self.journal {
            let held = journal.lock()?;
            let Books { state, cursor, .. } = &mut *books;
            journal.catch_up(&held, self, state, cursor)?;
        }
        Ok(read(&books.state))
    }

    /// Sets `scope`'s budget in `unit`: the allocation, the overdraft limit and the caps an
    /// allowed reservation gets. Holds, spending and debt are kept (so setting a shared
    /// budget again, as every worker does at import, never refills it).
    pub fn set_budget(
        &self,
        scope: &str,
        unit: Unit,
        allocated: i64,
        overdraft_limit: i64,
        caps: Option<Caps>,
    ) -> Result<(), LedgerError> {
        check_scope_path(scope)?;
        check_amount("allocated", allocated)?;
        check_amount("overdraft_limit", overdraft_limit)?;
        let entry = Entry::SetBudget {
            scope: scope.to_string(),
            unit,
            allocated,
            overdraft_limit,
            caps,
        };
        self.run(None, entry).map(|_| ())
    }

    /// Adds `amount` to `scope`'s allocation in `unit`. Debt is repaid first (it becomes
    /// spending the budget covers), and the over-limit state clears.
    pub fn fund(&self, scope: &str, unit: Unit, value: i64) -> Result<(), LedgerError> {
        self.fund_with(None, None, scope, unit, None, (value, 0))
            .map(drop)
    }

    /// Adjusts `scope`'s budget in `unit` as an operator does outside the reservation flow
    /// (see [`Adjustment`]); `spent` is the new spending of a [`Adjustment::ResetSpent`] and
    /// ignored otherwise.
    pub fn adjust(
        &self,
        scope: &str,
        unit: Unit,
        adjustment: Adjustment,
        amount: i64,
        spent: i64,
    ) -> Result<(), LedgerError> {
        self.fund_with(None, None, scope, unit, Some(adjustment), (amount, spent))
            .map(drop)
    }

    /// Funds `scope`'s budget in `unit` as the protocol's admin API does, in one step: a credit
    /// of `amount` (`adjustment` None, as [`Ledger::fund`]) or an adjustment (as
    /// [`Ledger::adjust`]), answered with the budget's figures before and after. With `key`,
    /// a repeat with the same request replays the first answer and changes nothing, and one
    /// with another request is an `IdempotencyMismatch`. `amounts` are the amount and, for a
    /// `ResetSpent`, the new spending (ignored otherwise); the key's record is kept from
    /// `now_ms` for the retention, as the other operations' are.
    pub fn funding(
        &self,
        now_ms: i64,
        key: Option<&str>,
        scope: &str,
        unit: Unit,
        adjustment: Option<Adjustment>,
        amounts: (i64, i64),
    ) -> Result<Funded, LedgerError> {
        self.fund_with(Some(now_ms), key, scope, unit, adjustment, amounts)
    }

    /// [`Ledger::funding`], at `now_ms` if given (only a key's record needs a time).
    fn fund_with(
        &self,
        now_ms: Option<i64>,
        key: Option<&str>,
        scope: &str,
        unit: Unit,
        adjustment: Option<Adjustment>,
        (amount, spent): (i64, i64),
    ) -> Result<Funded, LedgerError> {
        check_scope_path(scope)?;
        check_amount("amount", amount)?;
        check_amount("spent", spent)?;
        let entry = Entry::Funding {
            key: key.map(str::to_string),
            scope: scope.to_string(),
            unit,
            adjustment,
            amount,
            spent,
        };
        match self.run(now_ms, entry)? {
            Outcome::Funded(f) => Ok(f),
            _ => unreachable!("a funding answers its figures"),
        }
    }

    /// Reserves `request.estimate` on every budget of the subject's path. A live reservation
    /// that cannot be made is an error (BUDGET_EXCEEDED, DEBT_OUTSTANDING,
    /// OVERDRAFT_LIMIT_EXCEEDED, NOT_FOUND); a dry run answers DENY with the reason instead.
    pub fn reserve(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        request: ReserveRequest,
    ) -> Result<Verdict, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        request.subject.validate()?;
        request.action.validate()?;
        check_amount("estimate", request.estimate)?;
        check_times(request.ttl_ms, request.grace_period_ms)?;
        match self.run(Some(now_ms), Entry::Reserve { key, request })? {
            Outcome::Verdict(v) => Ok(*v),
            other => unreachable!("a reservation answered {other:?}"),
        }
    }

    /// What a reservation of `estimate` would be answered (DENY with the reason rather than an
    /// error), holding nothing.
    pub fn decide(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        subject: &Subject,
        action: &Action,
        unit: Unit,
        estimate: i64,
    ) -> Result<Verdict, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        subject.validate()?;
        action.validate()?;
        check_amount("estimate", estimate)?;
        let entry = Entry::Decide {
            key,
            subject: subject.clone(),
            action: action.clone(),
            unit,
            estimate,
        };
        match self.run(Some(now_ms), entry)? {
            Outcome::Verdict(v) => Ok(*v),
            other => unreachable!("a decision answered {other:?}"),
        }
    }

    /// Charges `actual` for reservation `id` and gives the rest of its hold back. `unit`, if
    /// given, must be the reservation's.
    pub fn commit(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        id: &str,
        unit: Option<Unit>,
        actual: i64,
    ) -> Result<Committed, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        check_amount("actual", actual)?;
        let id = id.to_string();
        match self.run(
            Some(now_ms),
            Entry::Commit {
                key,
                id,
                unit,
                actual,
            },
        )? {
            Outcome::Committed(c) => Ok(c),
            other => unreachable!("a commit answered {other:?}"),
        }
    }

    /// Gives reservation `id`'s hold back; returns the amount released.
    pub fn release(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        id: &str,
    ) -> Result<i64, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        let id = id.to_string();
        match self.run(Some(now_ms), Entry::Release { key, id })? {
            Outcome::Amount(released) => Ok(released),
            other => unreachable!("a release answered {other:?}"),
        }
    }

    /// Pushes reservation `id`'s expiry back by `extend_by_ms` (a heartbeat); returns the new
    /// expiry.
    pub fn extend(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        id: &str,
        extend_by_ms: i64,
    ) -> Result<i64, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        in_range("extend_by_ms", extend_by_ms, 1, 86_400_000)?;
        let id = id.to_string();
        let entry = Entry::Extend {
            key,
            id,
            by_ms: extend_by_ms,
        };
        match self.run(Some(now_ms), entry)? {
            Outcome::Amount(expires_at_ms) => Ok(expires_at_ms),
            other => unreachable!("an extension answered {other:?}"),
        }
    }

    /// Charges `actual` to every budget of the subject's path without a reservation.
    #[allow(clippy::too_many_arguments)]
    pub fn event(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        subject: &Subject,
        action: &Action,
        unit: Unit,
        actual: i64,
        overage: Overage,
    ) -> Result<Debited, LedgerError> {
        let key = check_key(idempotency_key)?.map(str::to_string);
        subject.validate()?;
        action.validate()?;
        check_amount("actual", actual)?;
        let entry = Entry::Event {
            key,
            subject: subject.clone(),
            action: action.clone(),
            unit,
            actual,
            overage,
        };
        match self.run(Some(now_ms), entry)? {
            Outcome::Debited(d) => Ok(d),
            other => unreachable!("an event answered {other:?}"),
        }
    }

    /// Applies expiry and retention now; returns how many reservations expired.
    pub fn sweep(&self, now_ms: i64) -> Result<usize, LedgerError> {
        match self.run(Some(now_ms), Entry::Sweep)? {
            Outcome::Swept(n) => Ok(n),
            other => unreachable!("a sweep answered {other:?}"),
        }
    }

    /// Every budget whose scope path starts with `prefix` (all of them for ""), in path order.
    /// A fleet's ledger reads as of its last entry, expiring nothing (its sweeps are entries).
    pub fn balances(&self, now_ms: i64, prefix: &str) -> Result<Vec<Balance>, LedgerError> {
        if self.is_fleet() {
            return self.current(|state| balances_of(state, prefix));
        }
        self.run_then(Some(now_ms), Entry::Sweep, |state, _| {
            balances_of(state, prefix)
        })
    }

    /// Reservations with `status` (any if None) whose subject path starts with `prefix`, oldest
    /// first, each with the scopes it draws on. Finalized ones are kept for the retention period.
    pub fn reservations(
        &self,
        now_ms: i64,
        status: Option<Status>,
        prefix: &str,
    ) -> Result<Vec<(Reservation, Vec<String>)>, LedgerError> {
        if self.is_fleet() {
            return self.current(|state| reservations_of(state, status, prefix));
        }
        self.run_then(Some(now_ms), Entry::Sweep, |state, _| {
            reservations_of(state, status, prefix)
        })
    }

    /// Reservation `id` and the scopes it draws on, if the ledger holds it (as of its last
    /// operation: one past its expiry but not yet swept still reads ACTIVE).
    pub fn reservation(&self, id: &str) -> Result<Option<(Reservation, Vec<String>)>, LedgerError> {
        let Some(number) = state::reservation_number(id) else {
            return Ok(None);
        };
        self.current(|state| {
            state
                .reservations
                .get(&number)
                .map(|r| (Reservation::clone(r), state.paths(&r.slots)))
        })
    }

    /// Checks every scope's invariants: amounts non-negative, `reserved + spent <= allocated`,
    /// and `reserved` equal to the holds of the active reservations on it. Returns the first
    /// violation. For tests and audits.
    pub fn audit(&self) -> Result<(), String> {
        self.current(audit_state)
            .map_err(|e| e.to_string())
            .and_then(|checked| checked)
    }
}

fn balances_of(state: &State, prefix: &str) -> Vec<Balance> {
    let mut balances: Vec<Balance> = state
        .slots
        .iter()
        .map(|s| (&s.path, s.unit, &s.budget))
        .filter(|(path, _, _)| {
            path.starts_with(prefix)
                && (prefix.is_empty()
                    || path.len() == prefix.len()
                    || path[prefix.len()..].starts_with('/'))
        })
        .map(|(path, unit, b)| Balance {
            scope: path.rsplit('/').next().unwrap_or(path).to_string(),
            scope_path: path.clone(),
            unit,
            allocated: b.allocated,
            reserved: b.reserved,
            spent: b.spent,
            remaining: b.remaining(),
            debt: b.debt,
            overdraft_limit: b.overdraft_limit,
            is_over_limit: b.is_over_limit(),
        })
        .collect();
    balances
        .sort_by(|a, b| (&a.scope_path, a.unit.as_str()).cmp(&(&b.scope_path, b.unit.as_str())));
    balances
}

fn reservations_of(
    state: &State,
    status: Option<Status>,
    prefix: &str,
) -> Vec<(Reservation, Vec<String>)> {
    let mut found: Vec<(Reservation, Vec<String>)> = state
        .reservations
        .values()
        .filter(|r| {
            status.is_none_or(|s| r.status == s) && r.subject.scope_path().starts_with(prefix)
        })
        .map(|r| (Reservation::clone(r), state.paths(&r.slots)))
        .collect();
    found.sort_by(|(a, _), (b, _)| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
    found
}

/// The first violation of a budget's invariants in `state` (see [`Ledger::audit`]).
fn audit_state(state: &State) -> Result<(), String> {
    let mut holds = vec![0i64; state.slots.len()];
    for r in state
        .reservations
        .values()
        .filter(|r| r.status == Status::Active)
    {
        for &slot in &r.slots {
            holds[slot] += r.reserved;
        }
    }
    for (slot, &held) in state.slots.iter().zip(&holds) {
        let (path, unit, b) = (&slot.path, slot.unit, &slot.budget);
        let ok = b.reserved >= 0
            && b.spent >= 0
            && b.debt >= 0
            && b.reserved + b.spent <= b.allocated
            && b.reserved == held;
        if !ok {
            return Err(format!("{path} {}: {b:?}, holds {held}", unit.as_str()));
        }
    }
    Ok(())
}
