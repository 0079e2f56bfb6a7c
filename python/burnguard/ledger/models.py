"""The ledger's value types (runcycles'), enums and the results its operations return."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from burnguard import _native
from burnguard._results import Result

F = TypeVar("F", bound=Callable[..., Any])


class Unit(str, Enum):
    """The units budgets are kept in (integers only)."""

    USD_MICROCENTS = "USD_MICROCENTS"
    TOKENS = "TOKENS"
    CREDITS = "CREDITS"
    RISK_POINTS = "RISK_POINTS"


class CommitOveragePolicy(str, Enum):
    """What a commit (or event) does when the actual cost exceeds what was reserved.

    ``REJECT`` fails any overage. ``ALLOW_IF_AVAILABLE`` charges it if every scope has it left,
    else caps it to what is left and marks the short scopes over-limit (never debt, never a
    failure). ``ALLOW_WITH_OVERDRAFT`` charges it; what a scope cannot cover becomes its debt,
    up to its overdraft limit, else ``OverdraftLimitExceededError``."""

    REJECT = "REJECT"
    ALLOW_IF_AVAILABLE = "ALLOW_IF_AVAILABLE"
    ALLOW_WITH_OVERDRAFT = "ALLOW_WITH_OVERDRAFT"


class Decision(str, Enum):
    """A reservation's or decision's answer."""

    ALLOW = "ALLOW"
    ALLOW_WITH_CAPS = "ALLOW_WITH_CAPS"
    DENY = "DENY"


class ReservationStatus(str, Enum):
    """Where a reservation is in its life."""

    ACTIVE = "ACTIVE"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


_LEVELS = ("tenant", "workspace", "app", "workflow", "agent", "toolset")


@dataclass(frozen=True, slots=True)
class Subject(Result):
    """Who spends. Its levels name the scopes it draws on, outermost first:
    ``Subject(tenant="acme", app="chat")`` draws on ``tenant:acme`` and
    ``tenant:acme/app:chat`` (those of them that have a budget)."""

    tenant: str | None = None
    workspace: str | None = None
    app: str | None = None
    workflow: str | None = None
    agent: str | None = None
    toolset: str | None = None
    dimensions: Mapping[str, str] | None = None

    @property
    def scope_path(self) -> str:
        """The innermost scope: ``tenant:acme/app:chat``."""
        return "/".join(f"{level}:{getattr(self, level)}" for level in _LEVELS if getattr(self, level))


@dataclass(frozen=True, slots=True)
class Action(Result):
    """What is paid for: a kind (``llm.completion``), a name (a model) and tags."""

    kind: str
    name: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Amount(Result):
    """An integer amount in a unit."""

    unit: Unit
    amount: int


@dataclass(frozen=True, slots=True)
class Caps(Result):
    """Limits a budget puts on the work it allows (``Decision.ALLOW_WITH_CAPS``)."""

    max_tokens: int | None = None
    max_steps_remaining: int | None = None
    tool_allowlist: tuple[str, ...] | None = None
    tool_denylist: tuple[str, ...] | None = None
    cooldown_ms: int | None = None

    def is_tool_allowed(self, tool: str) -> bool:
        """Whether the caps let ``tool`` be used."""
        if self.tool_allowlist is not None:
            return tool in self.tool_allowlist
        return not (self.tool_denylist and tool in self.tool_denylist)


@dataclass(frozen=True, slots=True)
class Balance(Result):
    """A scope's budget in one unit: ``remaining = allocated - spent - reserved - debt``."""

    scope: str
    scope_path: str
    unit: Unit
    allocated: int
    reserved: int
    spent: int
    remaining: int
    debt: int
    overdraft_limit: int
    is_over_limit: bool


class _Answer(Result):
    """``is_allowed()`` and ``is_denied()`` for the results that carry a decision."""

    __slots__ = ()
    decision: Decision

    def is_allowed(self) -> bool:
        return self.decision is not Decision.DENY

    def is_denied(self) -> bool:
        return self.decision is Decision.DENY


@dataclass(frozen=True, slots=True)
class ReservationResult(_Answer):
    """A reservation made: its id, the amount held, its expiry, and any caps."""

    decision: Decision
    reservation_id: str
    unit: Unit
    reserved: int
    expires_at_ms: int
    affected_scopes: tuple[str, ...]
    scope_path: str
    caps: Caps | None


@dataclass(frozen=True, slots=True)
class DryRunResult(_Answer):
    """What a reservation would be answered (nothing held): DENY comes with its reason."""

    decision: Decision
    unit: Unit
    reserved: int
    affected_scopes: tuple[str, ...]
    scope_path: str
    caps: Caps | None
    reason_code: str | None
    denied_scope: str | None


@dataclass(frozen=True, slots=True)
class DecisionResult(_Answer):
    """A preflight decision (nothing held)."""

    decision: Decision
    affected_scopes: tuple[str, ...]
    scope_path: str
    caps: Caps | None
    reason_code: str | None
    denied_scope: str | None


@dataclass(frozen=True, slots=True)
class CommitResult(Result):
    """A commit: what was charged (less than the actual only if capped), what of the hold was
    given back, and the debt it ran up (on the scope it ran up most on)."""

    reservation_id: str
    charged: int
    released: int
    debt_incurred: int


@dataclass(frozen=True, slots=True)
class ReleaseResult(Result):
    reservation_id: str
    released: int


@dataclass(frozen=True, slots=True)
class ExtendResult(Result):
    reservation_id: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class EventResult(Result):
    """A direct debit."""

    event_id: str
    unit: Unit
    charged: int
    debt_incurred: int
    affected_scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReservationDetail(Result):
    reservation_id: str
    status: ReservationStatus
    subject: Subject
    action: Action
    reserved: Amount
    created_at_ms: int
    expires_at_ms: int
    scope_path: str
    affected_scopes: tuple[str, ...]
    idempotency_key: str | None
    committed: Amount | None
    finalized_at_ms: int | None


_native.bind_results(
    {
        cls.__name__: cls
        for cls in (
            ReservationResult,
            DryRunResult,
            DecisionResult,
            CommitResult,
            ReleaseResult,
            ExtendResult,
            EventResult,
            Balance,
            Caps,
            ReservationDetail,
            Subject,
            Action,
            Amount,
        )
    }
)
_native.bind_ledger_members({m.value: m for m in (*Decision, *Unit, *ReservationStatus)})
