"""``guard``: runcycles' ``@cycles`` decorator on a ``Ledger``, and the running reservation."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from burnguard import _native
from burnguard._check import checked, member
from burnguard._results import Result
from burnguard.errors import (
    LEDGER_ERRORS,
    InvalidArgumentError,
    LedgerError,
    LedgerUnavailableError,
    ReservationExpiredError,
)
from burnguard.ledger.ledger import (
    Ledger,
    _subject,
)
from burnguard.ledger.models import (
    Action,
    Caps,
    CommitOveragePolicy,
    Decision,
    DryRunResult,
    ReservationResult,
    Subject,
    Unit,
)

logger = logging.getLogger("burnguard.ledger")

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


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


async def off_loop(ledger: Ledger, call: Callable[..., R], *args: Any) -> R:
    """``call(*args)``: for a fleet's ledger, whose operations are round trips to Redis, in a
    worker thread, so the event loop goes on meanwhile; for another ledger directly (its
    operations take microseconds)."""
    if getattr(ledger, "fleet", False):
        return await asyncio.to_thread(call, *args)
    return call(*args)


def _release_quietly(ledger: Ledger, reservation_id: str) -> None:
    """Releases after the guarded call failed; a release error is logged so that the call's
    own exception is the one raised."""
    try:
        ledger.release(reservation_id)
    except LedgerError:
        logger.exception("releasing reservation %s after a failed call", reservation_id)


@checked
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
    policy = member(CommitOveragePolicy, "overage_policy", overage_policy)
    unit_name = member(Unit, "unit", unit)
    grace = 0 if grace_period_ms is None else grace_period_ms
    # Options fixed at decoration are checked now, not at the first call.
    for name, value in (("estimate", estimate), ("actual", actual)):
        if value is not None and not callable(value):
            _native.check_amount_arg(name, value)
    _native.check_reservation_times(ttl_ms, grace)

    def resolve(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return value(*args, **kwargs) if callable(value) else value

    def reserve(amount: Any, subject: Subject, act: Action) -> ReservationResult | DryRunResult | None:
        """The reservation; None when a fleet's Redis is unreachable and the ledger allows
        calls then (``on_unavailable="allow"``)."""
        try:
            return ledger.reserve(
                subject,
                act,
                amount,
                unit=unit_name,
                ttl_ms=ttl_ms,
                grace_period_ms=grace,
                overage_policy=policy,
                dry_run=dry_run,
            )
        except LedgerUnavailableError:
            if not ledger.runs_unguarded():
                raise
            return None

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
        result = reserve(amount, subject, act)
        if isinstance(result, DryRunResult) and result.decision is Decision.DENY:
            reason = result.reason_code or "BUDGET_EXCEEDED"
            raise LEDGER_ERRORS[reason](f"dry run denied: {reason}", reason, result.denied_scope, None)
        return result, amount, subject, act

    def settle(
        reservation: ReservationResult, amount: int, subject: Subject, act: Action, value: Any
    ) -> None:
        try:
            spent = actual(value) if callable(actual) else (amount if actual is None else actual)
            _native.check_amount_arg("actual", spent)
        except Exception:
            # The work ran: its result is returned and the estimate charged, as runcycles does.
            logger.exception("actual failed after the guarded work completed; committing the estimate")
            spent = amount
        try:
            ledger.commit(reservation.reservation_id, spent)
        except ReservationExpiredError:
            # The work happened: charge it directly rather than lose it.
            ledger.event(subject, act, spent, unit=unit_name, overage_policy=policy)
        except LedgerUnavailableError:
            # The work happened and its result is returned; the hold expires with its TTL.
            logger.exception(
                "committing reservation %s: the fleet's ledger is unreachable", reservation.reservation_id
            )

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
                reservation, amount, subject, act = await off_loop(ledger, begin, args, kwargs)
                if dry_run:
                    return reservation
                if reservation is None:
                    return await fn(*args, **kwargs)
                token = enter(reservation, amount)
                try:
                    value = await fn(*args, **kwargs)
                except BaseException:
                    await off_loop(ledger, _release_quietly, ledger, reservation.reservation_id)
                    raise
                finally:
                    _context.reset(token)
                await off_loop(ledger, settle, reservation, amount, subject, act, value)
                return value

            return cast(F, async_guarded)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            reservation, amount, subject, act = begin(args, kwargs)
            if dry_run:
                return reservation
            if reservation is None:
                return fn(*args, **kwargs)
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
