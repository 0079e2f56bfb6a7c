"""Budget reservations with the Cycles protocol's semantics, in process.

``Ledger`` keeps budgets per scope (``tenant:acme/app:chat``) and unit, and answers
``reserve`` → ``commit`` / ``release`` atomically, with runcycles' value types (``Subject``,
``Action``, ``Amount``, ``Unit``, ``CommitOveragePolicy``, ``Decision``) and error names. The
ledger itself is Rust (``burnguard._native.LedgerCore``); this module types and documents it,
and adds the ``guard`` decorator and the ``stream`` context manager.
"""

from burnguard.errors import (
    BudgetExceededError,
    BudgetNotFoundError,
    DebtOutstandingError,
    IdempotencyMismatchError,
    LedgerError,
    LedgerFullError,
    LedgerUnavailableError,
    OverdraftLimitExceededError,
    ReservationExpiredError,
    ReservationFinalizedError,
    ReservationNotFoundError,
    SharedLedgerError,
    UnitMismatchError,
)
from burnguard.ledger.guard import (
    GuardContext,
    current_reservation,
    guard,
)
from burnguard.ledger.ledger import (
    Ledger,
    Stream,
)
from burnguard.ledger.models import (
    Action,
    Amount,
    Balance,
    Caps,
    CommitOveragePolicy,
    CommitResult,
    Decision,
    DecisionResult,
    DryRunResult,
    EventResult,
    ExtendResult,
    ReleaseResult,
    ReservationDetail,
    ReservationResult,
    ReservationStatus,
    Subject,
    Unit,
)

__all__ = [
    "Action",
    "Amount",
    "Balance",
    "BudgetExceededError",
    "BudgetNotFoundError",
    "Caps",
    "CommitOveragePolicy",
    "CommitResult",
    "DebtOutstandingError",
    "Decision",
    "DecisionResult",
    "DryRunResult",
    "EventResult",
    "ExtendResult",
    "GuardContext",
    "IdempotencyMismatchError",
    "Ledger",
    "LedgerError",
    "LedgerFullError",
    "LedgerUnavailableError",
    "OverdraftLimitExceededError",
    "ReleaseResult",
    "ReservationDetail",
    "ReservationExpiredError",
    "ReservationFinalizedError",
    "ReservationNotFoundError",
    "ReservationResult",
    "ReservationStatus",
    "SharedLedgerError",
    "Stream",
    "Subject",
    "Unit",
    "UnitMismatchError",
    "current_reservation",
    "guard",
]
