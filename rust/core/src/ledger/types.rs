//! The ledger's value types: units, policies, decisions, statuses, subjects, actions, caps,
//! budgets, balances, reservations, requests and answers.

use super::*;

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

/// How an operator adjusts a budget outside the reservation flow (besides crediting it, which
/// is [`Ledger::fund`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Take `amount` off the allocation; refused if that leaves less than nothing remaining.
    Debit,
    /// Set the allocation to `amount`, keeping spending, holds and debt.
    Reset,
    /// Repay up to `amount` of debt: what is repaid becomes spending the allocation covers.
    RepayDebt,
    /// Start a new period: the allocation becomes `amount` and spending a given figure (0 by
    /// default); holds and debt are kept.
    ResetSpent,
}

named_enum!(Adjustment, "operation", {
    Debit => "DEBIT",
    Reset => "RESET",
    RepayDebt => "REPAY_DEBT",
    ResetSpent => "RESET_SPENT",
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
    pub(super) fn is_empty(&self) -> bool {
        *self == Caps::default()
    }

    /// Narrows `self` by `other`: the smaller limits, the common allowed tools, every denied one.
    pub(super) fn narrow(&mut self, other: &Caps) {
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
pub(super) struct Budget {
    pub(super) allocated: i64,
    pub(super) reserved: i64,
    pub(super) spent: i64,
    pub(super) debt: i64,
    pub(super) overdraft_limit: i64,
    /// A charge was capped because the budget could not cover it (`ALLOW_IF_AVAILABLE`).
    pub(super) capped: bool,
    pub(super) caps: Option<Caps>,
}

impl Budget {
    /// What can still be reserved or charged (negative when debt exceeds the rest).
    pub(super) fn remaining(&self) -> i64 {
        self.allocated - self.spent - self.reserved - self.debt
    }

    /// Blocks reservations until funded: a capped charge, or debt past the limit.
    pub(super) fn is_over_limit(&self) -> bool {
        self.capped || self.debt > self.overdraft_limit
    }
}

/// A budget and the scope and unit it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) path: String,
    pub(super) unit: Unit,
    pub(super) budget: Budget,
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
    pub(super) slots: Vec<usize>,
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

/// A budget's figures, as funding reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// The allocation.
    pub allocated: i64,
    /// What can still be reserved or charged (negative when debt exceeds the rest).
    pub remaining: i64,
    /// Consumption beyond what the budget covered.
    pub debt: i64,
    /// Charged so far.
    pub spent: i64,
}

impl Figures {
    pub(super) fn of(b: &Budget) -> Self {
        Figures {
            allocated: b.allocated,
            remaining: b.remaining(),
            debt: b.debt,
            spent: b.spent,
        }
    }
}

/// The answer to a funding operation ([`Ledger::funding`]): the budget before and after it,
/// replayed as first answered when its idempotency key comes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funded {
    /// The figures before.
    pub before: Figures,
    /// The figures after.
    pub after: Figures,
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
