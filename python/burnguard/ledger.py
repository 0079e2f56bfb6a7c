"""Budget reservations with the Cycles protocol's semantics, in process.

``Ledger`` keeps budgets per scope (``tenant:acme/app:chat``) and unit, and answers
``reserve`` → ``commit`` / ``release`` atomically, with runcycles' value types (``Subject``,
``Action``, ``Amount``, ``Unit``, ``CommitOveragePolicy``, ``Decision``) and error names. The
ledger itself is Rust (``burnguard._native.LedgerCore``); this module types and documents it,
and adds the ``guard`` decorator and the ``stream`` context manager.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Literal, TypeVar, cast

from burnguard import _native
from burnguard._results import Result
from burnguard.errors import (
    LEDGER_ERRORS,
    BudgetExceededError,
    BudgetNotFoundError,
    DebtOutstandingError,
    IdempotencyMismatchError,
    InvalidArgumentError,
    LedgerError,
    OverdraftLimitExceededError,
    ReservationExpiredError,
    ReservationFinalizedError,
    ReservationNotFoundError,
    UnitMismatchError,
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
    "OverdraftLimitExceededError",
    "ReleaseResult",
    "ReservationDetail",
    "ReservationExpiredError",
    "ReservationFinalizedError",
    "ReservationNotFoundError",
    "ReservationResult",
    "ReservationStatus",
    "Stream",
    "Subject",
    "Unit",
    "UnitMismatchError",
    "current_reservation",
    "guard",
]

logger = logging.getLogger("burnguard.ledger")

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
        )
    }
)
_native.bind_ledger_members({m.value: m for m in (*Decision, *Unit)})


class Ledger(_native.LedgerCore):
    """Budgets per scope and unit, and reservations against them, with the Cycles protocol's
    semantics (see the module docs and ``README.md``).

    ``Ledger(clock=None, retention_seconds=300, max_retained=100_000)``. Every operation takes
    an optional ``idempotency_key``: replaying it with the same payload returns the first
    answer; another payload raises ``IdempotencyMismatchError``. Idempotency records and
    finalized reservations are kept for ``retention_seconds``, and at most ``max_retained`` of
    each (the oldest go first), so memory stays bounded whatever the traffic. ``clock``
    (seconds) replaces the wall clock, for tests and simulations. Amounts are ints in ``unit``
    (``USD_MICROCENTS`` unless given) or ``Amount``s.

    The operations (``set_budget``, ``fund``, ``reserve``, ``decide``, ``commit``,
    ``release``, ``extend``, ``event``, ``balances``, ``sweep``, ``audit``, ``save``) run
    natively, without a Python frame; their signatures are in ``burnguard/_native.pyi``."""

    __slots__ = ()

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, clock: Callable[[], float] | None = None) -> Ledger:
        """The ledger saved at ``path`` (by ``save``); it answers exactly as the saved one did,
        idempotent replays included."""
        return cls(clock=clock, _path=os.fspath(path))

    def dry_run(
        self, subject: Subject, action: Action, estimate: Amount | int, *, unit: Unit | str | None = None
    ) -> DryRunResult:
        """What ``reserve`` would answer, holding nothing (runcycles' shadow mode)."""
        return cast(DryRunResult, self.reserve(subject, action, estimate, unit=unit, dry_run=True))

    def reservations(
        self, status: ReservationStatus | str | None = None, *, scope: str | Subject | None = None
    ) -> list[ReservationDetail]:
        """Reservations (finalized ones for the retention period), oldest first, filtered by
        status and by the scope their subject is in."""
        return [_detail(row) for row in self._reservations(status, scope)]

    def stream(
        self,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        *,
        cost: Callable[[Mapping[str, int]], int] | None = None,
        unit: Unit | str | None = None,
        ttl_ms: int = 60_000,
        overage_policy: CommitOveragePolicy | str | None = None,
    ) -> Stream:
        """A context manager (sync or async) for streamed work: reserves on enter, accumulates
        usage (``s.add(tokens=...)``), commits ``cost(usage)`` (or the sum of ``s.add(n)``) on
        exit, releases on an exception."""
        return Stream(self, subject, action, estimate, cost, unit, ttl_ms, overage_policy)


def _subject(levels: list[str | None], dimensions: Mapping[str, str] | None) -> Subject:
    tenant, workspace, app, workflow, agent, toolset = levels
    return Subject(tenant, workspace, app, workflow, agent, toolset, dimensions)


def _detail(row: tuple[Any, ...]) -> ReservationDetail:
    (rid, status, levels, dims, kind, name, tags, unit, reserved, created, expires, rest) = row
    scope_path, affected, key, committed, finalized = rest
    u = Unit(unit)
    return ReservationDetail(
        rid,
        ReservationStatus(status),
        _subject(levels, dict(dims) or None),
        Action(kind, name, tuple(tags)),
        Amount(u, reserved),
        created,
        expires,
        scope_path,
        tuple(affected),
        key,
        None if committed is None else Amount(u, committed),
        finalized,
    )


class Stream:
    """See ``Ledger.stream``."""

    def __init__(
        self,
        ledger: Ledger,
        subject: Subject,
        action: Action,
        estimate: Amount | int,
        cost: Callable[[Mapping[str, int]], int] | None,
        unit: Unit | str | None,
        ttl_ms: int,
        overage_policy: CommitOveragePolicy | str | None,
    ) -> None:
        self._ledger = ledger
        self._request = (subject, action, estimate, unit, ttl_ms, overage_policy)
        self._cost = cost
        self.usage: dict[str, int] = {}
        self.total = 0
        self.reservation: ReservationResult | None = None
        self.result: CommitResult | None = None

    def add(self, amount: int = 0, **usage: int) -> None:
        """Adds ``amount`` to the running total and each keyword to ``usage``."""
        self.total += amount
        for name, value in usage.items():
            self.usage[name] = self.usage.get(name, 0) + value

    def __enter__(self) -> Stream:
        subject, action, estimate, unit, ttl_ms, overage = self._request
        self.reservation = self._ledger.reserve(
            subject, action, estimate, unit=unit, ttl_ms=ttl_ms, overage_policy=overage
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        assert self.reservation is not None, "__exit__ without __enter__"
        rid = self.reservation.reservation_id
        if exc is not None:
            self._ledger.release(rid)
            return False
        actual = self._cost(self.usage) if self._cost is not None else self.total
        self.result = self._ledger.commit(rid, actual)
        return False

    async def __aenter__(self) -> Stream:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)


@dataclass(frozen=True, slots=True)
class GuardContext(Result):
    """The reservation of the guarded call running now (runcycles' ``CyclesContext``)."""

    reservation_id: str
    estimate: int
    decision: Decision
    caps: Caps | None
    expires_at_ms: int
    affected_scopes: tuple[str, ...]
    scope_path: str


_context: contextvars.ContextVar[GuardContext | None] = contextvars.ContextVar(
    "burnguard.ledger.reservation", default=None
)


def current_reservation() -> GuardContext | None:
    """The reservation of the innermost guarded call running in this thread or task."""
    return _context.get()


def _release_quietly(ledger: Ledger, reservation_id: str) -> None:
    """Releases after the guarded call failed; a release error is logged so that the call's
    own exception is the one raised."""
    try:
        ledger.release(reservation_id)
    except LedgerError:
        logger.exception("releasing reservation %s after a failed call", reservation_id)


def guard(
    ledger: Ledger,
    estimate: int | Callable[..., int],
    *,
    actual: int | Callable[[Any], int] | None = None,
    unit: Unit | str = Unit.USD_MICROCENTS,
    action_kind: str | Callable[..., str | None] | None = None,
    action_name: str | Callable[..., str | None] | None = None,
    action_tags: list[str] | Callable[..., list[str] | None] | None = None,
    tenant: str | Callable[..., str | None] | None = None,
    workspace: str | Callable[..., str | None] | None = None,
    app: str | Callable[..., str | None] | None = None,
    workflow: str | Callable[..., str | None] | None = None,
    agent: str | Callable[..., str | None] | None = None,
    toolset: str | Callable[..., str | None] | None = None,
    dimensions: dict[str, str] | Callable[..., dict[str, str] | None] | None = None,
    ttl_ms: int = 60_000,
    grace_period_ms: int | None = None,
    overage_policy: CommitOveragePolicy | str = CommitOveragePolicy.ALLOW_IF_AVAILABLE,
    dry_run: bool = False,
    use_estimate_if_actual_not_provided: bool = True,
) -> Callable[[F], F]:
    """runcycles' ``@cycles`` on a ``Ledger``: reserve ``estimate`` → run → commit ``actual``
    (a constant or a callable on the result; the estimate if None) → release on any exception,
    re-raising it. ``estimate`` and the subject and action fields may be callables of the
    call's arguments. A denied call raises the typed error (``BudgetExceededError``, ...).
    ``dry_run=True`` returns a ``DryRunResult`` without running the function. Inside, the
    reservation is ``current_reservation()``. Nested guards make independent reservations, as
    in runcycles (the outer estimate and the inner both count)."""
    if not dry_run and actual is None and not use_estimate_if_actual_not_provided:
        raise InvalidArgumentError(
            "actual is required when use_estimate_if_actual_not_provided is False", "actual"
        )
    policy = CommitOveragePolicy(overage_policy)
    unit_name = Unit(unit)
    grace = 0 if grace_period_ms is None else grace_period_ms

    def resolve(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return value(*args, **kwargs) if callable(value) else value

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, int, Subject, Action]:
        amount = resolve(estimate, args, kwargs)
        subject = _subject(
            [resolve(v, args, kwargs) for v in (tenant, workspace, app, workflow, agent, toolset)],
            resolve(dimensions, args, kwargs),
        )
        tags = resolve(action_tags, args, kwargs)
        act = Action(
            resolve(action_kind, args, kwargs) or "unknown",
            resolve(action_name, args, kwargs) or "unknown",
            tuple(tags or ()),
        )
        result = ledger.reserve(
            subject,
            act,
            amount,
            unit=unit_name,
            ttl_ms=ttl_ms,
            grace_period_ms=grace,
            overage_policy=policy,
            dry_run=dry_run,
        )
        if isinstance(result, DryRunResult) and result.decision is Decision.DENY:
            reason = result.reason_code or "BUDGET_EXCEEDED"
            raise LEDGER_ERRORS[reason](f"dry run denied: {reason}", reason, result.denied_scope, None)
        return result, amount, subject, act

    def settle(
        reservation: ReservationResult, amount: int, subject: Subject, act: Action, value: Any
    ) -> None:
        try:
            spent = actual(value) if callable(actual) else (amount if actual is None else actual)
        except Exception:
            logger.exception("actual failed after the guarded work completed; committing the estimate")
            spent = amount
        try:
            ledger.commit(reservation.reservation_id, spent)
        except ReservationExpiredError:
            # The work happened: charge it directly rather than lose it.
            ledger.event(subject, act, spent, unit=unit_name, overage_policy=policy)

    def enter(reservation: ReservationResult, amount: int) -> contextvars.Token[GuardContext | None]:
        return _context.set(
            GuardContext(
                reservation.reservation_id,
                amount,
                reservation.decision,
                reservation.caps,
                reservation.expires_at_ms,
                reservation.affected_scopes,
                reservation.scope_path,
            )
        )

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                reservation, amount, subject, act = begin(args, kwargs)
                if dry_run:
                    return reservation
                token = enter(reservation, amount)
                try:
                    value = await fn(*args, **kwargs)
                except BaseException:
                    _release_quietly(ledger, reservation.reservation_id)
                    raise
                finally:
                    _context.reset(token)
                settle(reservation, amount, subject, act, value)
                return value

            return cast(F, async_guarded)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            reservation, amount, subject, act = begin(args, kwargs)
            if dry_run:
                return reservation
            token = enter(reservation, amount)
            try:
                value = fn(*args, **kwargs)
            except BaseException:
                _release_quietly(ledger, reservation.reservation_id)
                raise
            finally:
                _context.reset(token)
            settle(reservation, amount, subject, act, value)
            return value

        return cast(F, guarded)

    return decorate
