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
//! bounded by the traffic of that period. The whole ledger saves to a file and loads back.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use fingerprint::Fingerprint;
use std::sync::{Mutex, MutexGuard};

use crate::clock::Clock;
use crate::error::Error;
use crate::names::named_enum;

mod file;
mod fingerprint;
#[cfg(all(test, not(loom)))]
mod tests;

/// The units budgets are kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Millionths of a US cent.
    UsdMicrocents,
    /// Model tokens.
    Tokens,
    /// Abstract credits.
    Credits,
    /// Risk points.
    RiskPoints,
}

named_enum!(Unit, "unit", {
    UsdMicrocents => "USD_MICROCENTS",
    Tokens => "TOKENS",
    Credits => "CREDITS",
    RiskPoints => "RISK_POINTS",
});

impl Unit {
    /// Its position in the order USD_MICROCENTS, TOKENS, CREDITS, RISK_POINTS.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a commit (or event) does when the actual cost exceeds what was reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overage {
    /// Fail with `BUDGET_EXCEEDED`.
    Reject,
    /// Charge it if every scope has the overage left, else fail with `BUDGET_EXCEEDED`.
    AllowIfAvailable,
    /// Charge it; what no budget covers becomes debt, up to each scope's overdraft limit.
    AllowWithOverdraft,
}

named_enum!(Overage, "overage_policy", {
    Reject => "REJECT",
    AllowIfAvailable => "ALLOW_IF_AVAILABLE",
    AllowWithOverdraft => "ALLOW_WITH_OVERDRAFT",
});

/// A reservation's or decision's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Go ahead within the caps returned.
    AllowWithCaps,
    /// Do not.
    Deny,
}

named_enum!(Decision, "decision", {
    Allow => "ALLOW",
    AllowWithCaps => "ALLOW_WITH_CAPS",
    Deny => "DENY",
});

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Holding its amount.
    Active,
    /// Its actual cost was charged.
    Committed,
    /// Its hold was given back.
    Released,
    /// Its time ran out; its hold was given back.
    Expired,
}

named_enum!(Status, "status", {
    Active => "ACTIVE",
    Committed => "COMMITTED",
    Released => "RELEASED",
    Expired => "EXPIRED",
});

/// The subject levels, outermost first.
pub const LEVELS: [&str; 6] = ["tenant", "workspace", "app", "workflow", "agent", "toolset"];

/// Who spends: one optional name per level of [`LEVELS`], and free-form dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// The name at each level, outermost first.
    pub levels: [Option<String>; 6],
    /// Extra labels, carried along.
    pub dimensions: Vec<(String, String)>,
}

impl Subject {
    /// Checks the protocol's limits: at least one level, names of 1 to 128 characters without
    /// `/` (the scope path separator), at most 16 dimensions.
    pub fn validate(&self) -> Result<(), Error> {
        if self.levels.iter().all(Option::is_none) {
            return Err(Error::invalid(
                "subject",
                "must have at least one of tenant, workspace, app, workflow, agent or toolset",
            ));
        }
        for (name, level) in self.levels.iter().zip(LEVELS) {
            if let Some(name) = name {
                if name.is_empty() || name.chars().count() > 128 || name.contains('/') {
                    return Err(Error::bad(
                        level,
                        "must be 1 to 128 characters without '/'",
                        format_args!("{:?}", name),
                    ));
                }
            }
        }
        if self.dimensions.len() > 16 {
            return Err(Error::invalid("dimensions", "must hold at most 16 entries"));
        }
        Ok(())
    }

    /// The innermost scope path: `tenant:acme/app:chat`.
    pub fn scope_path(&self) -> String {
        self.scope_paths().pop().unwrap_or_default()
    }

    /// The scope paths from the outermost level in: `tenant:acme`, `tenant:acme/app:chat`...
    pub fn scope_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        let mut path = String::new();
        for (name, level) in self.levels.iter().zip(LEVELS) {
            if let Some(name) = name {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(level);
                path.push(':');
                path.push_str(name);
                paths.push(path.clone());
            }
        }
        paths
    }
}

/// What is being paid for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Action {
    /// Its category, such as `llm.completion`.
    pub kind: String,
    /// Its name, such as a model.
    pub name: String,
    /// Free-form tags.
    pub tags: Vec<String>,
}

impl Action {
    /// Checks the protocol's limits.
    pub fn validate(&self) -> Result<(), Error> {
        if self.kind.is_empty() || self.kind.chars().count() > 64 {
            return Err(Error::bad(
                "action_kind",
                "must be 1 to 64 characters",
                format_args!("{:?}", self.kind),
            ));
        }
        if self.name.is_empty() || self.name.chars().count() > 256 {
            return Err(Error::bad(
                "action_name",
                "must be 1 to 256 characters",
                format_args!("{:?}", self.name),
            ));
        }
        if self.tags.len() > 10 {
            return Err(Error::invalid("action_tags", "must hold at most 10 tags"));
        }
        Ok(())
    }
}

/// Limits a budget puts on what an allowed reservation may do (the protocol's caps).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caps {
    /// Most tokens the work may use.
    pub max_tokens: Option<u64>,
    /// Most further steps the work may take.
    pub max_steps_remaining: Option<u64>,
    /// Milliseconds to wait before the next call.
    pub cooldown_ms: Option<u64>,
    /// Only these tools may be used.
    pub tool_allowlist: Option<Vec<String>>,
    /// These tools may not be used.
    pub tool_denylist: Option<Vec<String>>,
}

impl Caps {
    fn is_empty(&self) -> bool {
        *self == Caps::default()
    }

    /// Narrows `self` by `other`: the smaller limits, the common allowed tools, every denied one.
    fn narrow(&mut self, other: &Caps) {
        fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        self.max_tokens = min(self.max_tokens, other.max_tokens);
        self.max_steps_remaining = min(self.max_steps_remaining, other.max_steps_remaining);
        self.cooldown_ms = self.cooldown_ms.max(other.cooldown_ms);
        self.tool_allowlist = match (self.tool_allowlist.take(), &other.tool_allowlist) {
            (Some(mine), Some(theirs)) => {
                Some(mine.into_iter().filter(|t| theirs.contains(t)).collect())
            }
            (mine, theirs) => mine.or_else(|| theirs.clone()),
        };
        if let Some(theirs) = &other.tool_denylist {
            let denied = self.tool_denylist.get_or_insert_with(Vec::new);
            for tool in theirs {
                if !denied.contains(tool) {
                    denied.push(tool.clone());
                }
            }
        }
    }
}

/// One scope's budget in one unit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Budget {
    allocated: i64,
    reserved: i64,
    spent: i64,
    debt: i64,
    overdraft_limit: i64,
    /// A charge was capped because the budget could not cover it (`ALLOW_IF_AVAILABLE`).
    capped: bool,
    caps: Option<Caps>,
}

impl Budget {
    /// What can still be reserved or charged (negative when debt exceeds the rest).
    fn remaining(&self) -> i64 {
        self.allocated - self.spent - self.reserved - self.debt
    }

    /// Blocks reservations until funded: a capped charge, or debt past the limit.
    fn is_over_limit(&self) -> bool {
        self.capped || self.debt > self.overdraft_limit
    }
}

/// A budget and the scope and unit it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    path: String,
    unit: Unit,
    budget: Budget,
}

/// A scope's budget as reported by [`Ledger::balances`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The innermost level of the path, such as `app:chat`.
    pub scope: String,
    /// The whole path, such as `tenant:acme/app:chat`.
    pub scope_path: String,
    /// The budget's unit.
    pub unit: Unit,
    /// Granted.
    pub allocated: i64,
    /// Held by active reservations.
    pub reserved: i64,
    /// Charged by commits and events and covered by the budget.
    pub spent: i64,
    /// `allocated - spent - reserved - debt`; negative when debt exceeds the rest.
    pub remaining: i64,
    /// Charged with no budget to cover it (overdraft), until funded.
    pub debt: i64,
    /// How much debt one commit or event may run up to.
    pub overdraft_limit: i64,
    /// Reservations are blocked until funded: a charge was capped, or debt exceeds the limit.
    pub is_over_limit: bool,
}

/// A reservation and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Its id.
    pub id: String,
    /// Where it is in its life.
    pub status: Status,
    /// Who reserved.
    pub subject: Subject,
    /// What for.
    pub action: Action,
    /// The amount's unit.
    pub unit: Unit,
    /// The amount held.
    pub reserved: i64,
    /// When it was made (ms since the epoch).
    pub created_at_ms: i64,
    /// When it expires.
    pub expires_at_ms: i64,
    /// How long after expiry a commit is still accepted.
    pub grace_period_ms: i64,
    /// Its commit's overage policy.
    pub overage: Overage,
    /// The key it was made with, if any.
    pub idempotency_key: Option<String>,
    /// The amount committed, once committed.
    pub committed: Option<i64>,
    /// When it was committed, released or expired.
    pub finalized_at_ms: Option<i64>,
    /// The slots of the budgets it draws on, outermost scope first (see
    /// [`Ledger::reservations`] for their paths).
    slots: Vec<usize>,
}

/// A reservation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// Subject.
    pub subject: Subject,
    /// Action.
    pub action: Action,
    /// Unit of the estimate.
    pub unit: Unit,
    /// Amount to hold; >= 0.
    pub estimate: i64,
    /// Lifetime in ms, 1,000 to 86,400,000.
    pub ttl_ms: i64,
    /// Extra time for commits after expiry, 0 to 60,000 ms.
    pub grace_period_ms: i64,
    /// Overage policy of the commit.
    pub overage: Overage,
    /// Evaluate only: hold nothing, create nothing.
    pub dry_run: bool,
}

/// The answer to a reservation or a decision request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// ALLOW, ALLOW_WITH_CAPS or DENY.
    pub decision: Decision,
    /// The reservation made (not for decisions, dry runs or denials).
    pub reservation_id: Option<String>,
    /// The scopes drawn on.
    pub affected_scopes: Vec<String>,
    /// The subject's full scope path.
    pub scope_path: String,
    /// The amount held (0 unless a reservation was made).
    pub reserved: i64,
    /// When the reservation expires.
    pub expires_at_ms: Option<i64>,
    /// The caps of an ALLOW_WITH_CAPS.
    pub caps: Option<Caps>,
    /// Why it was denied: the error a live reservation answers (OVERDRAFT_LIMIT_EXCEEDED,
    /// DEBT_OUTSTANDING, BUDGET_EXCEEDED or BUDGET_NOT_FOUND).
    pub denial: Option<LedgerError>,
}

impl Verdict {
    /// The denial's kind (see [`LedgerError::kind`]), the protocol's `reason_code`.
    pub fn reason_code(&self) -> Option<&'static str> {
        self.denial.as_ref().map(LedgerError::kind)
    }

    /// The scope that denied it (none when no scope has a budget).
    pub fn denied_scope(&self) -> Option<&str> {
        match &self.denial {
            Some(LedgerError::BudgetNotFound { .. }) | None => None,
            Some(denial) => denial.scope(),
        }
    }
}

/// The answer to a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Amount charged: the actual, or less when `ALLOW_IF_AVAILABLE` capped it.
    pub charged: i64,
    /// Amount of the hold given back (reserved minus charged, if positive).
    pub released: i64,
    /// Debt the commit ran up on the scope it ran up most on.
    pub debt_incurred: i64,
}

/// The answer to an event (a direct debit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debited {
    /// The event's id.
    pub event_id: String,
    /// Amount charged: the actual, or less when `ALLOW_IF_AVAILABLE` capped it.
    pub charged: i64,
    /// Debt the event ran up on the scope it ran up most on.
    pub debt_incurred: i64,
    /// The scopes charged.
    pub affected_scopes: Vec<String>,
}

/// Why an operation failed (besides bad input, which is [`LedgerError::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// Bad input.
    Invalid(Error),
    /// An overage (or event) does not fit in `scope`'s budget.
    BudgetExceeded {
        /// The scope.
        scope: String,
    },
    /// An overdraft would take `scope`'s debt past its limit, or (on reservations) the scope
    /// is over its limit.
    OverdraftLimitExceeded {
        /// The scope.
        scope: String,
    },
    /// `scope` has debt, which blocks new reservations until funded.
    DebtOutstanding {
        /// The scope.
        scope: String,
    },
    /// No budget for the unit on any scope of the subject's path.
    BudgetNotFound {
        /// The subject's path.
        scope_path: String,
    },
    /// The reservation ran out of time.
    ReservationExpired {
        /// Its id.
        id: String,
    },
    /// The reservation was already committed or released.
    ReservationFinalized {
        /// Its id.
        id: String,
        /// Its status.
        status: Status,
    },
    /// No such reservation.
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The key was used with another payload.
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// The amount's unit is not the reservation's.
    UnitMismatch {
        /// The reservation's unit.
        expected: Unit,
        /// The unit given.
        got: Unit,
    },
}

impl LedgerError {
    /// The protocol's error code.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::Invalid(_) => "INVALID_REQUEST",
            LedgerError::BudgetExceeded { .. } => "BUDGET_EXCEEDED",
            LedgerError::OverdraftLimitExceeded { .. } => "OVERDRAFT_LIMIT_EXCEEDED",
            LedgerError::DebtOutstanding { .. } => "DEBT_OUTSTANDING",
            LedgerError::BudgetNotFound { .. } | LedgerError::NotFound { .. } => "NOT_FOUND",
            LedgerError::ReservationExpired { .. } => "RESERVATION_EXPIRED",
            LedgerError::ReservationFinalized { .. } => "RESERVATION_FINALIZED",
            LedgerError::IdempotencyMismatch { .. } => "IDEMPOTENCY_MISMATCH",
            LedgerError::UnitMismatch { .. } => "UNIT_MISMATCH",
        }
    }

    /// What went wrong, one name per variant: the protocol's code, except that a missing budget
    /// (`BUDGET_NOT_FOUND`) and a missing reservation (`RESERVATION_NOT_FOUND`) are told apart,
    /// and bad input is `INVALID_REQUEST`. The facade keys its exception classes by it.
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerError::BudgetNotFound { .. } => "BUDGET_NOT_FOUND",
            LedgerError::NotFound { .. } => "RESERVATION_NOT_FOUND",
            other => other.code(),
        }
    }

    /// Every kind [`LedgerError::kind`] answers.
    pub const KINDS: [&'static str; 10] = [
        "INVALID_REQUEST",
        "BUDGET_EXCEEDED",
        "OVERDRAFT_LIMIT_EXCEEDED",
        "DEBT_OUTSTANDING",
        "BUDGET_NOT_FOUND",
        "RESERVATION_EXPIRED",
        "RESERVATION_FINALIZED",
        "RESERVATION_NOT_FOUND",
        "IDEMPOTENCY_MISMATCH",
        "UNIT_MISMATCH",
    ];

    /// The reservation concerned, if any.
    pub fn reservation_id(&self) -> Option<&str> {
        match self {
            LedgerError::ReservationExpired { id }
            | LedgerError::ReservationFinalized { id, .. }
            | LedgerError::NotFound { id } => Some(id),
            _ => None,
        }
    }

    /// The scope concerned, if any.
    pub fn scope(&self) -> Option<&str> {
        match self {
            LedgerError::BudgetExceeded { scope }
            | LedgerError::OverdraftLimitExceeded { scope }
            | LedgerError::DebtOutstanding { scope } => Some(scope),
            LedgerError::BudgetNotFound { scope_path } => Some(scope_path),
            _ => None,
        }
    }
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Invalid(e) => write!(f, "{e}"),
            LedgerError::BudgetExceeded { scope } => {
                write!(f, "budget exceeded on scope {scope}")
            }
            LedgerError::OverdraftLimitExceeded { scope } => {
                write!(f, "overdraft limit exceeded on scope {scope}")
            }
            LedgerError::DebtOutstanding { scope } => {
                write!(f, "scope {scope} has outstanding debt")
            }
            LedgerError::BudgetNotFound { scope_path } => {
                write!(f, "no budget in this unit on any scope of {scope_path}")
            }
            LedgerError::ReservationExpired { id } => write!(f, "reservation {id} has expired"),
            LedgerError::ReservationFinalized { id, status } => {
                write!(f, "reservation {id} is already {}", status.as_str())
            }
            LedgerError::NotFound { id } => write!(f, "no reservation {id}"),
            LedgerError::IdempotencyMismatch { key } => {
                write!(f, "idempotency key {key:?} was used with another payload")
            }
            LedgerError::UnitMismatch { expected, got } => write!(
                f,
                "amount is in {}, the reservation in {}",
                got.as_str(),
                expected.as_str()
            ),
        }
    }
}

impl From<Error> for LedgerError {
    fn from(e: Error) -> Self {
        LedgerError::Invalid(e)
    }
}

/// A stored answer, replayed for a repeated idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Verdict(Box<Verdict>),
    Committed(Committed),
    Released(i64),
    Extended(i64),
    Debited(Debited),
}

/// The operations, which each have their own idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Reserve,
    Commit,
    Release,
    Extend,
    Decide,
    Event,
}

named_enum!(Op, "op", {
    Reserve => "reserve",
    Commit => "commit",
    Release => "release",
    Extend => "extend",
    Decide => "decide",
    Event => "event",
});

#[derive(Debug, Clone, PartialEq, Eq)]
struct Replay {
    /// A hash of the request (see [`fingerprint`]).
    payload: u64,
    answer: Answer,
    at_ms: i64,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    /// Per scope path, the slot of its budget in each unit (indexed by [`Unit::index`]).
    budgets: HashMap<String, [Option<usize>; 4], Fast>,
    /// The budgets. Budgets are never removed, so a slot number stays valid, and reservations
    /// reach their budgets by slot without hashing paths.
    slots: Vec<Slot>,
    /// By number (see [`reservation_id`]); boxed, so the table moves only pointers.
    reservations: HashMap<u64, Box<Reservation>, Fast>,
    /// Active reservations by the time their commits stop being accepted.
    deadlines: BTreeSet<(i64, u64)>,
    /// Finalized reservations by the time they were finalized.
    finalized: BTreeSet<(i64, u64)>,
    replays: HashMap<(Op, String), Replay>,
    /// Idempotency records by the time they were stored.
    replay_times: BTreeSet<(i64, Op, String)>,
    next_id: u64,
}

/// FxHash, rustc's hasher: a rotate, xor and multiply per word. Fast, and not resistant to
/// crafted collisions, which is acceptable for the keys it hashes: reservation numbers the
/// ledger makes, and scope paths.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Fast = BuildHasherDefault<FxHasher>;

/// The id of reservation number `n`.
fn reservation_id(n: u64) -> String {
    format!("rsv_{n:016x}")
}

/// The number of reservation `id`, if it is one of the ledger's ids.
fn reservation_number(id: &str) -> Option<u64> {
    let hex = id.strip_prefix("rsv_")?;
    (hex.len() == 16)
        .then(|| u64::from_str_radix(hex, 16).ok())
        .flatten()
}

impl State {
    /// The slot of `scope`'s budget in `unit`, if it has one.
    fn slot_of(&self, scope: &str, unit: Unit) -> Option<usize> {
        self.budgets.get(scope)?[unit.index()]
    }

    /// The slot of `scope`'s budget in `unit`, made empty if it has none.
    fn slot_or_new(&mut self, scope: &str, unit: Unit) -> usize {
        if let Some(slot) = self.slot_of(scope, unit) {
            return slot;
        }
        let slot = self.slots.len();
        self.slots.push(Slot {
            path: scope.to_string(),
            unit,
            budget: Budget::default(),
        });
        self.budgets.entry(scope.to_string()).or_default()[unit.index()] = Some(slot);
        slot
    }

    /// The scope paths of budget slots.
    fn paths(&self, slots: &[usize]) -> Vec<String> {
        slots.iter().map(|&s| self.slots[s].path.clone()).collect()
    }

    fn budget(&self, slot: usize) -> &Budget {
        &self.slots[slot].budget
    }

    fn budget_mut(&mut self, slot: usize) -> &mut Budget {
        &mut self.slots[slot].budget
    }
}

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

/// Largest amount accepted.
pub const MAX_AMOUNT: i64 = i64::MAX / 4;

fn amount(param: &'static str, value: i64) -> Result<i64, Error> {
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
        in_range("retention_ms", retention.ms, 60_000, i64::MAX / 4)?;
        if retention.max_retained < 1_000 {
            return Err(Error::bad(
                "max_retained",
                "must be at least 1000",
                retention.max_retained,
            ));
        }
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
        amount("allocated", allocated)?;
        amount("overdraft_limit", overdraft_limit)?;
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
        amount("amount", value)?;
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
        amount("estimate", request.estimate)?;
        in_range("ttl_ms", request.ttl_ms, 1_000, 86_400_000)?;
        in_range("grace_period_ms", request.grace_period_ms, 0, 60_000)?;
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
        amount("estimate", estimate)?;
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
        amount("actual", actual)?;
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
        amount("actual", actual)?;
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

    /// Applies expiry and retention now; returns how many reservations expired.
    pub fn sweep(&self, now_ms: i64) -> usize {
        let mut state = self.lock();
        self.expire(&mut state, now_ms)
    }

    /// Expires reservations whose commit deadline has passed, and forgets finalized
    /// reservations and idempotency records older than the retention period.
    fn expire(&self, state: &mut State, now_ms: i64) -> usize {
        let mut expired = 0;
        while let Some(&(deadline, number)) = state.deadlines.first() {
            if deadline >= now_ms {
                break;
            }
            let r = &state.reservations[&number];
            let held = r.reserved;
            with_slots(state, number, |state, slots| unhold(state, slots, held));
            self.finalize(state, number, Status::Expired, None, now_ms);
            expired += 1;
        }
        let horizon = now_ms.saturating_sub(self.retention.ms);
        let max = self.retention.max_retained;
        while let Some(&(at, number)) = state.finalized.first() {
            if at >= horizon && state.finalized.len() <= max {
                break;
            }
            state.finalized.pop_first();
            state.reservations.remove(&number);
        }
        while let Some((at, op, key)) = state.replay_times.first().cloned() {
            if at >= horizon && state.replay_times.len() <= max {
                break;
            }
            state.replay_times.pop_first();
            state.replays.remove(&(op, key));
        }
        expired
    }

    fn finalize(
        &self,
        state: &mut State,
        number: u64,
        status: Status,
        committed: Option<i64>,
        now_ms: i64,
    ) {
        let r = state.reservations.get_mut(&number).expect("known");
        let deadline = r.expires_at_ms.saturating_add(r.grace_period_ms);
        r.status = status;
        r.committed = committed;
        r.finalized_at_ms = Some(now_ms);
        state.deadlines.remove(&(deadline, number));
        state.finalized.insert((now_ms, number));
    }

    fn remember(
        &self,
        state: &mut State,
        now_ms: i64,
        op: Op,
        key: Option<&str>,
        payload: u64,
        answer: impl FnOnce() -> Answer,
    ) {
        let Some(key) = key else { return };
        let answer = answer();
        state.replay_times.insert((now_ms, op, key.to_string()));
        state.replays.insert(
            (op, key.to_string()),
            Replay {
                payload,
                answer,
                at_ms: now_ms,
            },
        );
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

/// The scopes of `subject`'s path with a budget in `unit` (outermost first), their budgets'
/// slots, and the whole path.
fn budgeted_scopes(
    state: &State,
    subject: &Subject,
    unit: Unit,
) -> (Vec<String>, Vec<usize>, String) {
    let mut paths = subject.scope_paths();
    let scope_path = paths.last().cloned().unwrap_or_default();
    let mut slots = Vec::with_capacity(paths.len());
    paths.retain(|path| {
        let slot = state.slot_of(path, unit);
        slots.extend(slot);
        slot.is_some()
    });
    (paths, slots, scope_path)
}

/// The answer to reserving `estimate` now, and the slots of the budgets it draws on.
fn evaluate(state: &State, subject: &Subject, unit: Unit, estimate: i64) -> (Verdict, Vec<usize>) {
    let (scopes, slots, scope_path) = budgeted_scopes(state, subject, unit);
    let deny = |denial: LedgerError| Verdict {
        decision: Decision::Deny,
        reservation_id: None,
        affected_scopes: scopes.clone(),
        scope_path: scope_path.clone(),
        reserved: 0,
        expires_at_ms: None,
        caps: None,
        denial: Some(denial),
    };
    if scopes.is_empty() {
        let scope_path = scope_path.clone();
        return (deny(LedgerError::BudgetNotFound { scope_path }), slots);
    }
    // The protocol's precedence: over-limit, then debt, then the amount.
    let first = |fails: &dyn Fn(&Budget) -> bool| {
        let at = slots.iter().position(|&slot| fails(state.budget(slot)))?;
        Some(scopes[at].clone())
    };
    if let Some(scope) = first(&Budget::is_over_limit) {
        return (deny(LedgerError::OverdraftLimitExceeded { scope }), slots);
    }
    if let Some(scope) = first(&|b| b.debt > 0) {
        return (deny(LedgerError::DebtOutstanding { scope }), slots);
    }
    if let Some(scope) = first(&|b| b.remaining() < estimate) {
        return (deny(LedgerError::BudgetExceeded { scope }), slots);
    }
    let mut caps = Caps::default();
    for &slot in &slots {
        if let Some(c) = &state.budget(slot).caps {
            caps.narrow(c);
        }
    }
    let with_caps = !caps.is_empty();
    let verdict = Verdict {
        decision: if with_caps {
            Decision::AllowWithCaps
        } else {
            Decision::Allow
        },
        reservation_id: None,
        affected_scopes: scopes,
        scope_path,
        reserved: 0,
        expires_at_ms: None,
        caps: with_caps.then_some(caps),
        denial: None,
    };
    (verdict, slots)
}

/// How a charge of `actual` against holds of `held` lands on each scope.
struct Charge {
    /// What is charged in all: `actual`, or less when capped.
    charged: i64,
    /// Per scope: (added to spent, added to debt, capped); None when every scope simply takes
    /// `charged` (the common case, which allocates nothing).
    per_scope: Option<Vec<(i64, i64, bool)>>,
}

impl Charge {
    /// The protocol's overage rules for a charge beyond the hold (`delta = actual - held`):
    /// a scope with `remaining >= delta` takes it all; otherwise `REJECT` fails with
    /// BUDGET_EXCEEDED, `ALLOW_IF_AVAILABLE` caps the delta to the smallest remaining of all
    /// scopes (floor 0) and marks the scopes it could not cover over-limit, and
    /// `ALLOW_WITH_OVERDRAFT` charges the delta to the scope's debt if that stays within its
    /// overdraft limit, else fails with OVERDRAFT_LIMIT_EXCEEDED.
    fn plan(
        state: &State,
        slots: &[usize],
        held: i64,
        actual: i64,
        overage: Overage,
    ) -> Result<Charge, LedgerError> {
        let delta = actual - held;
        let budget = |slot: usize| state.budget(slot);
        let covered = |slot: usize| delta <= 0 || budget(slot).remaining() >= delta;
        let path = |slot: usize| state.slots[slot].path.clone();
        let Some(short) = slots.iter().copied().find(|&s| !covered(s)) else {
            return Ok(Charge {
                charged: actual,
                per_scope: None,
            });
        };
        match overage {
            Overage::Reject => Err(LedgerError::BudgetExceeded { scope: path(short) }),
            Overage::AllowIfAvailable => {
                let capped = slots
                    .iter()
                    .map(|&s| budget(s).remaining().max(0))
                    .min()
                    .unwrap_or(0)
                    .min(delta);
                Ok(Charge {
                    charged: held + capped,
                    per_scope: Some(
                        slots
                            .iter()
                            .map(|&s| (held + capped, 0, !covered(s)))
                            .collect(),
                    ),
                })
            }
            Overage::AllowWithOverdraft => {
                let over = |s: usize| {
                    let b = budget(s);
                    !covered(s) && b.debt + delta > b.overdraft_limit
                };
                if let Some(slot) = slots.iter().copied().find(|&s| over(s)) {
                    return Err(LedgerError::OverdraftLimitExceeded { scope: path(slot) });
                }
                Ok(Charge {
                    charged: actual,
                    per_scope: Some(
                        slots
                            .iter()
                            .map(|&s| {
                                if covered(s) {
                                    (actual, 0, false)
                                } else {
                                    (held, delta, false)
                                }
                            })
                            .collect(),
                    ),
                })
            }
        }
    }

    /// Releases the holds and books the charge.
    fn apply(&self, state: &mut State, slots: &[usize], held: i64) {
        for (i, &slot) in slots.iter().enumerate() {
            let (spent, debt, capped) = match &self.per_scope {
                Some(shares) => shares[i],
                None => (self.charged, 0, false),
            };
            let budget = state.budget_mut(slot);
            budget.reserved -= held;
            budget.spent += spent;
            budget.debt += debt;
            budget.capped |= capped;
        }
    }

    fn debt_incurred(&self) -> i64 {
        self.per_scope
            .iter()
            .flatten()
            .map(|p| p.1)
            .max()
            .unwrap_or(0)
    }
}

/// Runs `f` on the state with reservation `number`'s budget slots, which are taken out of the
/// reservation for the call (instead of copied) and put back.
fn with_slots<T>(state: &mut State, number: u64, f: impl FnOnce(&mut State, &[usize]) -> T) -> T {
    fn slots_of(state: &mut State, number: u64) -> &mut Vec<usize> {
        &mut state.reservations.get_mut(&number).expect("known").slots
    }
    let slots = std::mem::take(slots_of(state, number));
    let out = f(state, &slots);
    *slots_of(state, number) = slots;
    out
}

fn unhold(state: &mut State, slots: &[usize], held: i64) {
    for &slot in slots {
        state.budget_mut(slot).reserved -= held;
    }
}

/// Reservation `id` if it is active.
fn active<'a>(state: &'a State, id: &str) -> Result<&'a Reservation, LedgerError> {
    let r = reservation_number(id)
        .and_then(|n| state.reservations.get(&n))
        .ok_or_else(|| LedgerError::NotFound { id: id.to_string() })?;
    match r.status {
        Status::Active => Ok(r),
        Status::Expired => Err(LedgerError::ReservationExpired { id: id.to_string() }),
        status => Err(LedgerError::ReservationFinalized {
            id: id.to_string(),
            status,
        }),
    }
}

/// The stable hash of a request (see [`fingerprint`]), compared when its idempotency key comes
/// again; 0 without a key (nothing is compared).
fn fingerprint(
    op: Op,
    key: Option<&str>,
    write: impl FnOnce(&mut Fingerprint) -> &mut Fingerprint,
) -> u64 {
    if key.is_none() {
        return 0;
    }
    let mut f = Fingerprint::of(op.as_str());
    write(&mut f).finish()
}

/// The stored answer for `(op, key)` if the payload matches; a mismatch error otherwise.
fn replay(
    state: &State,
    op: Op,
    key: Option<&str>,
    payload: u64,
) -> Result<Option<Answer>, LedgerError> {
    let Some(key) = key else { return Ok(None) };
    match state.replays.get(&(op, key.to_string())) {
        None => Ok(None),
        Some(r) if r.payload == payload => Ok(Some(r.answer.clone())),
        Some(_) => Err(LedgerError::IdempotencyMismatch {
            key: key.to_string(),
        }),
    }
}

fn answer_verdict(answer: Answer) -> Verdict {
    match answer {
        Answer::Verdict(v) => *v,
        _ => unreachable!("reserve and decide keys store verdicts"),
    }
}
