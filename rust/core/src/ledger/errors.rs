//! Why a ledger operation failed.

use super::*;

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
    /// A shared ledger has no room for its state (see [`Ledger::shared`]).
    Full {
        /// What did not fit.
        reason: String,
    },
    /// A shared ledger's lock or journal failed.
    Shared {
        /// What failed.
        reason: String,
    },
    /// A fleet ledger's sequencer (Redis) was not reached: nothing was decided.
    Unavailable {
        /// Why.
        reason: String,
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
            LedgerError::Full { .. } | LedgerError::Shared { .. } => "INTERNAL_ERROR",
            LedgerError::Unavailable { .. } => "INTERNAL_ERROR",
        }
    }

    /// What went wrong, one name per variant: the protocol's code, except that a missing budget
    /// (`BUDGET_NOT_FOUND`) and a missing reservation (`RESERVATION_NOT_FOUND`) are told apart,
    /// and bad input is `INVALID_REQUEST`. The facade keys its exception classes by it.
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerError::BudgetNotFound { .. } => "BUDGET_NOT_FOUND",
            LedgerError::NotFound { .. } => "RESERVATION_NOT_FOUND",
            LedgerError::Full { .. } => "LEDGER_FULL",
            LedgerError::Shared { .. } => "SHARED_LEDGER_FAILED",
            LedgerError::Unavailable { .. } => "LEDGER_UNAVAILABLE",
            other => other.code(),
        }
    }

    /// Every kind [`LedgerError::kind`] answers.
    pub const KINDS: [&'static str; 13] = [
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
        "LEDGER_FULL",
        "SHARED_LEDGER_FAILED",
        "LEDGER_UNAVAILABLE",
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
            LedgerError::Full { reason }
            | LedgerError::Shared { reason }
            | LedgerError::Unavailable { reason } => f.write_str(reason),
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
