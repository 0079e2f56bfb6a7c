//! Budget reservations with the Cycles protocol's semantics: reserve an estimate before the
//! work, commit the actual cost after it or release the hold, in process.
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
//! bounded by the traffic of that period. The whole ledger saves to a file and loads back.//!
//! Modules: `types` (the value types), `errors` ([`LedgerError`]), `state` (what the lock
//! guards), `charges` (how amounts land on budgets), `idempotency` (records, fingerprints,
//! replays), `expiry` (expiry and retention), `file` (saving and loading).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::clock::Clock;
use crate::error::Error;
use crate::names::named_enum;
use fingerprint::Fingerprint;

mod charges;
mod errors;
mod expiry;
mod file;
mod fingerprint;
mod idempotency;
mod state;
#[cfg(all(test, not(loom)))]
mod tests;
mod types;

use charges::*;
pub use errors::*;
use idempotency::*;
use state::*;
pub use types::*;

/// The ledger. All operations take the time (`now_ms`, ms since the epoch) and an optional
/// idempotency key (no key: no replay protection, nothing remembered).
pub struct Ledger {
    state: Mutex<State>,
    retention: Retention,
    clock: Clock,
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
        Ok(Ledger {
            state: Mutex::new(State::default()),
            retention,
            clock: Clock::Wall,
        })
    }

    /// The same ledger, reading `clock` for [`Ledger::now_ms`].
    pub fn with_clock(self, clock: Clock) -> Self {
        Ledger { clock, ..self }
    }

    /// The time now by the ledger's clock, in milliseconds: the `now_ms` of its operations.
    pub fn now_ms(&self) -> Result<i64, Error> {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied operation: every
        // operation checks everything before it changes anything.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets `scope`'s budget in `unit`: the allocation, the overdraft limit and the caps an
    /// allowed reservation gets. Holds, spending and debt are kept.
    pub fn set_budget(
        &self,
        scope: &str,
        unit: Unit,
        allocated: i64,
        overdraft_limit: i64,
        caps: Option<Caps>,
    ) -> Result<(), Error> {
        check_scope_path(scope)?;
        check_amount("allocated", allocated)?;
        check_amount("overdraft_limit", overdraft_limit)?;
        let mut state = self.lock();
        let slot = state.slot_or_new(scope, unit);
        let budget = state.budget_mut(slot);
        budget.allocated = allocated;
        budget.overdraft_limit = overdraft_limit;
        budget.caps = caps.filter(|c| !c.is_empty());
        Ok(())
    }

    /// Adds `amount` to `scope`'s allocation in `unit`. Debt is repaid first (it becomes
    /// spending the budget covers), and the over-limit state clears.
    pub fn fund(&self, scope: &str, unit: Unit, value: i64) -> Result<(), LedgerError> {
        check_scope_path(scope)?;
        check_amount("amount", value)?;
        let mut state = self.lock();
        let slot = state
            .slot_of(scope, unit)
            .ok_or_else(|| LedgerError::BudgetNotFound {
                scope_path: scope.to_string(),
            })?;
        let budget = state.budget_mut(slot);
        let repaid = budget.debt.min(value);
        budget.debt -= repaid;
        budget.spent += repaid;
        budget.allocated = (budget.allocated + value).min(MAX_AMOUNT);
        budget.capped = false;
        Ok(())
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
        let key = check_key(idempotency_key)?;
        request.subject.validate()?;
        request.action.validate()?;
        check_amount("estimate", request.estimate)?;
        check_times(request.ttl_ms, request.grace_period_ms)?;
        let payload = fingerprint(Op::Reserve, key, |f| f.reserve_request(&request));
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(answer) = replay(&state, Op::Reserve, key, payload)? {
            return Ok(answer_verdict(answer));
        }
        let (mut verdict, slots) =
            evaluate(&state, &request.subject, request.unit, request.estimate);
        if let (Some(denial), false) = (&verdict.denial, request.dry_run) {
            return Err(denial.clone());
        }
        if !request.dry_run {
            state.next_id += 1;
            let number = state.next_id;
            let id = reservation_id(number);
            for &slot in &slots {
                state.budget_mut(slot).reserved += request.estimate;
            }
            let expires_at_ms = now_ms.saturating_add(request.ttl_ms);
            let reservation = Reservation {
                id: id.clone(),
                status: Status::Active,
                subject: request.subject,
                action: request.action,
                unit: request.unit,
                reserved: request.estimate,
                created_at_ms: now_ms,
                expires_at_ms,
                grace_period_ms: request.grace_period_ms,
                overage: request.overage,
                idempotency_key: key.map(str::to_string),
                committed: None,
                finalized_at_ms: None,
                slots,
            };
            state.deadlines.insert((
                expires_at_ms.saturating_add(request.grace_period_ms),
                number,
            ));
            state.reservations.insert(number, Box::new(reservation));
            verdict.reservation_id = Some(id);
            verdict.reserved = request.estimate;
            verdict.expires_at_ms = Some(expires_at_ms);
        }
        self.remember(&mut state, now_ms, Op::Reserve, key, payload, || {
            Answer::Verdict(Box::new(verdict.clone()))
        });
        Ok(verdict)
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
        let key = check_key(idempotency_key)?;
        subject.validate()?;
        action.validate()?;
        check_amount("estimate", estimate)?;
        let payload = fingerprint(Op::Decide, key, |f| {
            f.subject(subject).action(action).unit(unit).int(estimate)
        });
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(answer) = replay(&state, Op::Decide, key, payload)? {
            return Ok(answer_verdict(answer));
        }
        let (verdict, _) = evaluate(&state, subject, unit, estimate);
        self.remember(&mut state, now_ms, Op::Decide, key, payload, || {
            Answer::Verdict(Box::new(verdict.clone()))
        });
        Ok(verdict)
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
        let key = check_key(idempotency_key)?;
        check_amount("actual", actual)?;
        let payload = fingerprint(Op::Commit, key, |f| f.str(id).opt_unit(unit).int(actual));
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(answer) = replay(&state, Op::Commit, key, payload)? {
            return Ok(match answer {
                Answer::Committed(c) => c,
                _ => unreachable!("commit keys store commits"),
            });
        }
        let r = active(&state, id)?;
        if let Some(u) = unit.filter(|&u| u != r.unit) {
            return Err(LedgerError::UnitMismatch {
                expected: r.unit,
                got: u,
            });
        }
        let (held, overage) = (r.reserved, r.overage);
        if overage == Overage::Reject && actual > held {
            return Err(LedgerError::BudgetExceeded {
                scope: state.slots[r.slots[0]].path.clone(),
            });
        }
        let number = reservation_number(id).expect("active");
        let charge = with_slots(&mut state, number, |state, slots| {
            let charge = Charge::plan(state, slots, held, actual, overage)?;
            charge.apply(state, slots, held);
            Ok::<_, LedgerError>(charge)
        })?;
        let committed = Committed {
            charged: charge.charged,
            released: (held - actual).max(0),
            debt_incurred: charge.debt_incurred(),
        };
        self.finalize(&mut state, number, Status::Committed, Some(actual), now_ms);
        self.remember(&mut state, now_ms, Op::Commit, key, payload, || {
            Answer::Committed(committed)
        });
        Ok(committed)
    }

    /// Gives reservation `id`'s hold back; returns the amount released.
    pub fn release(
        &self,
        now_ms: i64,
        idempotency_key: Option<&str>,
        id: &str,
    ) -> Result<i64, LedgerError> {
        let key = check_key(idempotency_key)?;
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        let payload = fingerprint(Op::Release, key, |f| f.str(id));
        if let Some(answer) = replay(&state, Op::Release, key, payload)? {
            return Ok(match answer {
                Answer::Released(r) => r,
                _ => unreachable!("release keys store releases"),
            });
        }
        let r = active(&state, id)?;
        let held = r.reserved;
        let number = reservation_number(id).expect("active");
        with_slots(&mut state, number, |state, slots| {
            unhold(state, slots, held)
        });
        self.finalize(&mut state, number, Status::Released, None, now_ms);
        self.remember(&mut state, now_ms, Op::Release, key, payload, || {
            Answer::Released(held)
        });
        Ok(held)
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
        let key = check_key(idempotency_key)?;
        in_range("extend_by_ms", extend_by_ms, 1, 86_400_000)?;
        let payload = fingerprint(Op::Extend, key, |f| f.str(id).int(extend_by_ms));
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(answer) = replay(&state, Op::Extend, key, payload)? {
            return Ok(match answer {
                Answer::Extended(at) => at,
                _ => unreachable!("extend keys store extensions"),
            });
        }
        let r = active(&state, id)?;
        if now_ms > r.expires_at_ms {
            // Its grace period still takes commits, but no longer extensions.
            return Err(LedgerError::ReservationExpired { id: id.to_string() });
        }
        let old_deadline = r.expires_at_ms.saturating_add(r.grace_period_ms);
        let expires_at_ms = r.expires_at_ms.saturating_add(extend_by_ms);
        let new_deadline = expires_at_ms.saturating_add(r.grace_period_ms);
        let number = reservation_number(id).expect("active");
        state.deadlines.remove(&(old_deadline, number));
        state.deadlines.insert((new_deadline, number));
        state
            .reservations
            .get_mut(&number)
            .expect("active")
            .expires_at_ms = expires_at_ms;
        self.remember(&mut state, now_ms, Op::Extend, key, payload, || {
            Answer::Extended(expires_at_ms)
        });
        Ok(expires_at_ms)
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
        let key = check_key(idempotency_key)?;
        subject.validate()?;
        action.validate()?;
        check_amount("actual", actual)?;
        let payload = fingerprint(Op::Event, key, |f| {
            f.subject(subject)
                .action(action)
                .unit(unit)
                .int(actual)
                .overage(overage)
        });
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
        if let Some(answer) = replay(&state, Op::Event, key, payload)? {
            return Ok(match answer {
                Answer::Debited(d) => d,
                _ => unreachable!("event keys store events"),
            });
        }
        let (scopes, slots, scope_path) = budgeted_scopes(&state, subject, unit);
        if scopes.is_empty() {
            return Err(LedgerError::BudgetNotFound { scope_path });
        }
        let charge = Charge::plan(&state, &slots, 0, actual, overage)?;
        charge.apply(&mut state, &slots, 0);
        state.next_id += 1;
        let debited = Debited {
            event_id: format!("evt_{:016x}", state.next_id),
            charged: charge.charged,
            debt_incurred: charge.debt_incurred(),
            affected_scopes: scopes,
        };
        self.remember(&mut state, now_ms, Op::Event, key, payload, || {
            Answer::Debited(debited.clone())
        });
        Ok(debited)
    }

    /// Every budget whose scope path starts with `prefix` (all of them for ""), in path order.
    pub fn balances(&self, now_ms: i64, prefix: &str) -> Vec<Balance> {
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
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
        balances.sort_by(|a, b| {
            (&a.scope_path, a.unit.as_str()).cmp(&(&b.scope_path, b.unit.as_str()))
        });
        balances
    }

    /// Reservations with `status` (any if None) whose subject path starts with `prefix`, oldest
    /// first, each with the scopes it draws on. Finalized ones are kept for the retention period.
    pub fn reservations(
        &self,
        now_ms: i64,
        status: Option<Status>,
        prefix: &str,
    ) -> Vec<(Reservation, Vec<String>)> {
        let mut state = self.lock();
        self.expire(&mut state, now_ms);
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

    /// Checks every scope's invariants: amounts non-negative, `reserved + spent <= allocated`,
    /// and `reserved` equal to the holds of the active reservations on it. Returns the first
    /// violation. For tests and audits.
    pub fn audit(&self) -> Result<(), String> {
        let state = self.lock();
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
}
