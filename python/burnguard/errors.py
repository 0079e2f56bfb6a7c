"""burnguard's exceptions, in one place.

Every exception the library raises on purpose derives from ``BurnguardError``, and keeps the
standard base its callers already catch: bad input is ``InvalidArgumentError`` (a
``ValueError``) or ``InvalidTypeError`` (a ``TypeError``), carrying the parameter, the position
of the first bad element for arrays, the value as given and the requirement it broke, so code
can act on an error without reading its message. ``LEDGER_ERRORS`` is the one table from a
ledger error's kind to its class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from burnguard import _native

__all__ = [
    "LEDGER_ERRORS",
    "BudgetExceededError",
    "BudgetNotFoundError",
    "BurnguardError",
    "CircuitOpenError",
    "DebtOutstandingError",
    "IdempotencyMismatchError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "LedgerError",
    "LedgerFullError",
    "OverdraftLimitExceededError",
    "ReservationExpiredError",
    "ReservationFinalizedError",
    "ReservationNotFoundError",
    "SharedLedgerError",
    "UnitMismatchError",
    "invalid",
    "wrong_type",
]


_E = TypeVar("_E", bound="_BadInput")


class BurnguardError(Exception):
    """Base of every exception burnguard raises on purpose."""


class _BadInput(BurnguardError):
    """Bad input: the fields of the core's structured error."""

    def __init__(
        self,
        message: str,
        param: str,
        index: tuple[int, ...] = (),
        value: str | None = None,
        requirement: str = "",
    ) -> None:
        super().__init__(message)
        self.param = param
        self.index = index
        self.value = value
        self.requirement = requirement or message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.param, self.index, self.value, self.requirement))

    def reason(self) -> str:
        """The message without the parameter and position: ``requirement; got value``."""
        return self.requirement if self.value is None else f"{self.requirement}; got {self.value}"

    def renamed(self: _E, param: str) -> _E:
        """The same error about ``param`` (the spelling the caller used for it)."""
        return self._about(param, self.index)

    def at(self: _E, index: tuple[int, ...]) -> _E:
        """The same error about element ``index`` of the parameter (for a batch the facade
        flattened before the call)."""
        return self._about(self.param, index)

    def _about(self: _E, param: str, index: tuple[int, ...]) -> _E:
        position = f"[{', '.join(map(str, index))}]" if index else ""
        message = f"{param}{position} {self.reason()}"
        return type(self)(message, param, index, self.value, self.requirement)


class InvalidArgumentError(_BadInput, ValueError):
    """A value outside its parameter's domain. ``param`` names the parameter, ``index`` is the
    first bad position in an array (empty for a scalar), ``value`` the value as given (None
    when the message shows none), ``requirement`` what it must be."""


class InvalidTypeError(_BadInput, TypeError):
    """A value of the wrong type; the fields are those of ``InvalidArgumentError``."""


_NO_VALUE: Any = object()


def invalid(
    param: str, requirement: str, value: object = _NO_VALUE, *, index: tuple[int, ...] = ()
) -> InvalidArgumentError:
    """The ``InvalidArgumentError`` for ``value`` (shown as its ``str``), given for ``param``, which
    broke ``requirement``; raised by the facade's own checks as the core raises its own."""
    shown = None if value is _NO_VALUE else str(value)
    error = InvalidArgumentError("", param, (), shown, requirement)
    return (
        error.at(index) if index else type(error)(f"{param} {error.reason()}", param, (), shown, requirement)
    )


def wrong_type(param: str, requirement: str, value: object) -> InvalidTypeError:
    """The ``InvalidTypeError`` for ``value`` given for ``param``."""
    return InvalidTypeError(f"{param} {requirement}; got {value}", param, (), str(value), requirement)


class CircuitOpenError(BurnguardError):
    """A call the breaker did not permit (resilience4j's ``CallNotPermittedException``).

    ``retry_after`` is the seconds until the breaker lets probe calls through, or None when that
    is not known (FORCED_OPEN, or HALF_OPEN with every probe taken). Raised on a hot path, so it
    keeps its fields in ``args`` and formats its message only when asked."""

    args: tuple[str, str, float | None]

    if TYPE_CHECKING:  # BaseException stores the arguments; no Python __init__ to run

        def __init__(self, name: str, state: str, retry_after: float | None) -> None: ...

    @property
    def name(self) -> str:
        """The breaker's name."""
        return self.args[0]

    @property
    def state(self) -> str:
        """The state that rejected the call."""
        return self.args[1]

    @property
    def retry_after(self) -> float | None:
        """Seconds until probes are let through, if known."""
        return self.args[2]

    def __str__(self) -> str:
        name, state, retry_after = self.args
        wait = "" if retry_after is None else f"; retry after {retry_after:.3f} s"
        return f"circuit breaker {name!r} is {state} and does not permit calls{wait}"


class LedgerError(BurnguardError):
    """Base of the ledger's errors (runcycles' ``CyclesProtocolError``): ``error_code`` is the
    protocol's code, ``scope`` the scope concerned, ``reservation_id`` the reservation."""

    def __init__(self, message: str, error_code: str, scope: str | None, reservation_id: str | None) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.scope = scope
        self.reservation_id = reservation_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.error_code, self.scope, self.reservation_id))


class BudgetExceededError(LedgerError):
    """A scope's budget cannot cover the amount."""


class OverdraftLimitExceededError(LedgerError):
    """An overdraft would pass a scope's limit, or the scope is over its limit."""


class DebtOutstandingError(LedgerError):
    """A scope has debt, which blocks new reservations until funded."""


class BudgetNotFoundError(LedgerError):
    """No scope of the subject's path has a budget in the unit."""


class ReservationExpiredError(LedgerError):
    """The reservation ran out of time."""


class ReservationFinalizedError(LedgerError):
    """The reservation was already committed or released."""


class ReservationNotFoundError(LedgerError):
    """No such reservation."""


class IdempotencyMismatchError(LedgerError):
    """The idempotency key was used with another payload."""


class UnitMismatchError(LedgerError):
    """The amount's unit is not the reservation's."""


class LedgerFullError(LedgerError):
    """A shared ledger has no room left for its budgets, reservations and records (give it a
    larger ``capacity`` when the arena is made)."""


class SharedLedgerError(LedgerError):
    """A shared ledger's lock or journal failed."""


class LedgerUnavailableError(SharedLedgerError):
    """A fleet ledger's Redis was not reached: nothing was decided (the ledger fails closed;
    ``guard`` runs the call unguarded instead when the ledger is made with
    ``on_unavailable="allow"``)."""


# Ledger errors by the core's kind (bad input, INVALID_REQUEST, raises InvalidArgumentError).
LEDGER_ERRORS: dict[str, type[LedgerError]] = {
    "BUDGET_EXCEEDED": BudgetExceededError,
    "OVERDRAFT_LIMIT_EXCEEDED": OverdraftLimitExceededError,
    "DEBT_OUTSTANDING": DebtOutstandingError,
    "BUDGET_NOT_FOUND": BudgetNotFoundError,
    "RESERVATION_EXPIRED": ReservationExpiredError,
    "RESERVATION_FINALIZED": ReservationFinalizedError,
    "RESERVATION_NOT_FOUND": ReservationNotFoundError,
    "IDEMPOTENCY_MISMATCH": IdempotencyMismatchError,
    "UNIT_MISMATCH": UnitMismatchError,
    "LEDGER_FULL": LedgerFullError,
    "SHARED_LEDGER_FAILED": SharedLedgerError,
    "LEDGER_UNAVAILABLE": LedgerUnavailableError,
}

_native.bind_error_classes(InvalidArgumentError, InvalidTypeError, LEDGER_ERRORS)
_native.bind_breaker_error(CircuitOpenError)
