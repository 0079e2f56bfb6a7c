"""Circuit breakers: resilience4j's state machine, run atomically in Rust.

``CircuitBreaker`` guards calls as a decorator (``@breaker``), a context manager (``with
breaker:`` / ``async with breaker:``), ``breaker.call(fn, ...)`` / ``await
breaker.call_async(fn, ...)``, or split for middleware (``permit = breaker.acquire()`` …
``permit.success()``). The guarded call itself runs natively, so the decorator and ``call()``
add no Python frame. A rejected call raises ``CircuitOpenError`` unless a ``fallback`` is given.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, overload

from burnguard import _native
from burnguard._check import checked
from burnguard._native import BreakerPermit
from burnguard._results import Result
from burnguard.errors import CircuitOpenError, InvalidTypeError, invalid
from burnguard.redis import BreakerLink, RedisBackend, backend_for
from burnguard.shared import Arena, arena_of

__all__ = [
    "BreakerPermit",
    "BreakerRegistry",
    "BreakerSnapshot",
    "CallNotPermitted",
    "CircuitBreaker",
    "CircuitOpenError",
    "StateTransition",
]

logger = logging.getLogger("burnguard.breaker")

P = ParamSpec("P")
R = TypeVar("R")

State = Literal["CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN", "METRICS_ONLY"]


@dataclass(frozen=True, slots=True)
class BreakerSnapshot(Result):
    """A breaker's state and figures at one moment.

    Rates are percentages, -1.0 while the window holds fewer than ``minimum_number_of_calls``
    (resilience4j's convention); in HALF_OPEN they are over the probes finished so far."""

    name: str
    state: str
    failure_rate: float
    slow_call_rate: float
    calls: int
    failed_calls: int
    slow_calls: int
    not_permitted_calls: int
    consecutive_failures: int
    retry_after: float | None
    transitions: int


_native.bind_results({"BreakerSnapshot": BreakerSnapshot})


@dataclass(frozen=True, slots=True)
class StateTransition(Result):
    """A breaker moved from one state to another."""

    name: str
    from_state: str
    to_state: str


@dataclass(frozen=True, slots=True)
class CallNotPermitted(Result):
    """A call was rejected."""

    name: str
    state: str
    retry_after: float | None


class CircuitBreaker(_native.BreakerCore):
    """A circuit breaker with resilience4j's states, triggers and option names.

    Trips to OPEN when, over the sliding window (the last ``sliding_window_size`` calls, or
    seconds with ``sliding_window_type="time"``) and once it holds ``minimum_number_of_calls``,
    the failure rate reaches ``failure_rate_threshold`` percent or the slow-call rate (calls of
    at least ``slow_call_duration_threshold`` seconds) reaches ``slow_call_rate_threshold``; or
    after ``consecutive_failure_threshold`` failures in a row (0: off). After
    ``wait_duration_in_open_state`` seconds it lets ``permitted_number_of_calls_in_half_open_state``
    probes through; if their failure or slow rate reaches the threshold it reopens, waiting
    ``backoff_multiplier`` times longer each time (at most ``max_wait_duration_in_open_state``,
    scaled by a random factor within ``±jitter``), else it closes and the backoff resets.

    Outcomes: an exception in ``ignore_exceptions`` does not count; otherwise
    ``exception_classifier(exc)`` decides if given (true: failure), else exceptions in
    ``record_exceptions`` are failures and other ``Exception``s successes (other
    ``BaseException``s, such as cancellation, do not count). ``result_classifier(result)``
    true marks a returned value as a failure (an HTTP 503, say). ``clock`` (seconds) replaces
    the wall clock, for tests and simulations.

    ``shared`` (an arena name or ``Arena``; by default ``BURNGUARD_SHARED``; ``False`` for
    none) keeps the state machine in a shared-memory arena under the breaker's name: every
    worker process of the host that builds the breaker of that name sees one state, so it opens
    for all of them at once. Every such process must configure it alike. A shared breaker
    leases its HALF_OPEN probes: a probe not back after ``max_wait_duration_in_half_open_state``
    (60 s when that is 0) reopens the breaker, so a worker killed while probing cannot hold it
    HALF_OPEN. Listeners and fallbacks stay per process: a transition is reported in the
    process that caused it.
    """

    _fallback: Callable[..., Any] | None
    _transition_listeners: list[Callable[[StateTransition], object]]
    _rejection_listeners: list[Callable[[CallNotPermitted], object]]
    _wake_on_time: bool
    _fleet: BreakerLink | None
    backend: RedisBackend | None
    """The Redis backend the breaker's state is synced with (``shared=``), or None."""

    @checked
    def __new__(
        cls,
        name: str = "default",
        *,
        failure_rate_threshold: float = 50.0,
        slow_call_rate_threshold: float = 100.0,
        slow_call_duration_threshold: float | None = None,
        sliding_window_type: Literal["count", "time"] = "count",
        sliding_window_size: int = 100,
        minimum_number_of_calls: int = 100,
        consecutive_failure_threshold: int = 0,
        wait_duration_in_open_state: float = 60.0,
        backoff_multiplier: float = 1.0,
        max_wait_duration_in_open_state: float | None = None,
        jitter: float = 0.0,
        permitted_number_of_calls_in_half_open_state: int = 10,
        max_wait_duration_in_half_open_state: float = 0.0,
        automatic_transition_from_open_to_half_open: bool = False,
        record_exceptions: Iterable[type[BaseException]] = (Exception,),
        ignore_exceptions: Iterable[type[BaseException]] = (),
        exception_classifier: Callable[[BaseException], bool] | None = None,
        result_classifier: Callable[[Any], bool] | None = None,
        fallback: Callable[..., Any] | None = None,
        on_state_change: Iterable[Callable[[StateTransition], object]] = (),
        on_call_rejected: Iterable[Callable[[CallNotPermitted], object]] = (),
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
        shared: str | Arena | RedisBackend | bool | None = None,
    ) -> CircuitBreaker:
        if not isinstance(name, str) or not name:
            raise invalid("name", "must be a non-empty string", repr(name))
        if shared is None:
            shared = os.environ.get("BURNGUARD_SHARED") or None
        backend = backend_for(shared)
        arena = None if backend is not None else arena_of(shared)
        self = super().__new__(
            cls,
            name,
            failure_rate_threshold,
            slow_call_rate_threshold,
            slow_call_duration_threshold,
            sliding_window_type,
            sliding_window_size,
            minimum_number_of_calls,
            consecutive_failure_threshold,
            wait_duration_in_open_state,
            backoff_multiplier,
            max_wait_duration_in_open_state,
            jitter,
            permitted_number_of_calls_in_half_open_state,
            max_wait_duration_in_half_open_state,
            automatic_transition_from_open_to_half_open,
            _exception_types("record_exceptions", record_exceptions),
            _exception_types("ignore_exceptions", ignore_exceptions),
            exception_classifier,
            result_classifier,
            fallback,
            clock,
            int.from_bytes(os.urandom(8), "little") if seed is None else seed,
            None if arena is None else arena._core,
        )
        self._fallback = fallback
        self._transition_listeners = list(on_state_change)
        self._rejection_listeners = list(on_call_rejected)
        self._report_rejections(bool(self._rejection_listeners))
        self._wake_on_time = automatic_transition_from_open_to_half_open and clock is None
        self._fleet = None
        if backend is not None:
            options = {
                "failure_rate_threshold": failure_rate_threshold,
                "slow_call_rate_threshold": slow_call_rate_threshold,
                "slow_call_duration_threshold": slow_call_duration_threshold,
                "sliding_window_type": sliding_window_type,
                "sliding_window_size": sliding_window_size,
                "minimum_number_of_calls": minimum_number_of_calls,
                "consecutive_failure_threshold": consecutive_failure_threshold,
                "wait_duration_in_open_state": wait_duration_in_open_state,
                "backoff_multiplier": backoff_multiplier,
                "max_wait_duration_in_open_state": max_wait_duration_in_open_state,
                "permitted_number_of_calls_in_half_open_state": permitted_number_of_calls_in_half_open_state,
                "max_wait_duration_in_half_open_state": max_wait_duration_in_half_open_state,
            }
            self._fleet = backend.attach_breaker(self, options)
        self.backend = backend
        return self

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state})"

    @property
    def is_shared(self) -> bool:
        """Whether the state machine lives in a shared arena or a fleet's Redis (``shared=``)."""
        return self.shared or self._fleet is not None

    def _transition_to(self, state: str) -> bool:
        moved = super()._transition_to(state)
        if self._fleet is not None:
            self._fleet.manual()  # a manual move is the fleet's, at the next sync
        return moved

    def reset(self) -> None:
        """Back to a fresh CLOSED breaker (for the fleet too, with a Redis backend)."""
        super().reset()
        if self._fleet is not None:
            self._fleet.manual()

    # Guarding calls ---------------------------------------------------------------------------

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        """Decorates ``func`` (sync or async) so every call goes through the breaker."""
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InvalidTypeError(
                "a generator's body runs after the call returns, so decorating it would guard "
                "nothing; use `with breaker:` around the iteration instead",
                "func",
            )
        if inspect.iscoroutinefunction(func):
            acquire = self.acquire

            @functools.wraps(func)
            async def guarded_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                # call_async inlined: one coroutine frame less on every call.
                try:
                    permit = acquire()
                except CircuitOpenError as rejected:
                    return await self._fall_back(rejected, args, kwargs)
                try:
                    value = await func(*args, **kwargs)
                except BaseException as error:
                    permit.complete_with(error)
                    raise
                permit.complete_with(None, value)
                return value

            return guarded_async
        guarded = self._guard(func)
        functools.update_wrapper(guarded, func)
        return guarded

    async def call_async(self, func: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``await func(*args, **kwargs)`` under the breaker (see ``call``)."""
        try:
            permit = self.acquire()
        except CircuitOpenError as rejected:
            return await self._fall_back(rejected, args, kwargs)  # type: ignore[no-any-return]
        try:
            value = await func(*args, **kwargs)
        except BaseException as error:
            permit.complete_with(error)
            raise
        permit.complete_with(None, value)
        return value

    async def _fall_back(
        self, rejected: CircuitOpenError, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The fallback's result for a rejected async call; raises `rejected` without a fallback."""
        if self._fallback is None:
            raise rejected
        result = self._fallback(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def __aenter__(self) -> BreakerPermit:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)

    # State ------------------------------------------------------------------------------------

    def snapshot(self) -> BreakerSnapshot:
        """State, rates, counts and the time until the next probe."""
        return self._snapshot()

    def open(self) -> bool:
        """Moves to OPEN (waiting as if tripped). Returns whether the state changed."""
        return self._transition_to("OPEN")

    def close(self) -> bool:
        """Moves to CLOSED with a fresh window and no backoff."""
        return self._transition_to("CLOSED")

    def half_open(self) -> bool:
        """Moves to HALF_OPEN, letting probes through."""
        return self._transition_to("HALF_OPEN")

    def force_open(self) -> bool:
        """Rejects every call until another manual transition."""
        return self._transition_to("FORCED_OPEN")

    def disable(self) -> bool:
        """Permits every call and counts nothing until another manual transition."""
        return self._transition_to("DISABLED")

    def metrics_only(self) -> bool:
        """Permits every call and counts outcomes, but never opens."""
        return self._transition_to("METRICS_ONLY")

    # Listeners --------------------------------------------------------------------------------

    def add_listener(
        self,
        on_state_change: Callable[[StateTransition], object] | None = None,
        on_call_rejected: Callable[[CallNotPermitted], object] | None = None,
    ) -> None:
        """Adds listeners; they run on the thread that caused the event, and their errors are
        logged, never raised into the guarded call."""
        if on_state_change is not None:
            self._transition_listeners.append(on_state_change)
        if on_call_rejected is not None:
            self._rejection_listeners.append(on_call_rejected)
            self._report_rejections(True)

    def _on_transition(self, from_state: str, to_state: str) -> None:
        event = StateTransition(self.name, from_state, to_state)
        for listener in self._transition_listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("state-change listener of breaker %r failed", self.name)
        if to_state == "OPEN" and self._wake_on_time:
            retry_after = self.snapshot().retry_after
            if retry_after is not None:
                timer = threading.Timer(retry_after, lambda: self.state)
                timer.daemon = True
                timer.start()

    def _on_rejected(self, state: str, retry_after: float | None) -> None:
        event = CallNotPermitted(self.name, state, retry_after)
        for listener in self._rejection_listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("rejection listener of breaker %r failed", self.name)


def _exception_types(param: str, types: Iterable[type[BaseException]]) -> tuple[type[BaseException], ...]:
    found = tuple(types)
    for t in found:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            raise invalid(param, "must hold exception classes", repr(t))
    return found


class BreakerRegistry:
    """Named breakers sharing default options: ``registry.get("payments")`` makes the breaker
    on first use (defaults overridden by keyword arguments) and returns the same one after."""

    def __init__(self, **defaults: Any) -> None:
        self._defaults = defaults
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, name: str, **options: Any) -> CircuitBreaker:
        """The breaker called ``name``, made with the defaults and ``options`` if new."""
        breaker = self._breakers.get(name)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(name)
                if breaker is None:
                    breaker = CircuitBreaker(name, **{**self._defaults, **options})
                    self._breakers[name] = breaker
        return breaker

    def register(self, breaker: CircuitBreaker) -> CircuitBreaker:
        """Adds a breaker made elsewhere; its name must be new."""
        with self._lock:
            if breaker.name in self._breakers:
                raise invalid("name", "is already registered", repr(breaker.name))
            self._breakers[breaker.name] = breaker
        return breaker

    def __getitem__(self, name: str) -> CircuitBreaker:
        return self._breakers[name]

    def __contains__(self, name: object) -> bool:
        return name in self._breakers

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        return len(self._breakers)

    def snapshots(self) -> list[BreakerSnapshot]:
        """A snapshot of every breaker."""
        return [b.snapshot() for b in self]
