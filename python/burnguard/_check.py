"""One rule for the types of options, applied from the annotations of the public constructors.

A wrong type is an ``InvalidTypeError`` (a ``TypeError``) naming the parameter and echoing the
value, raised before anything is built, instead of whatever the first use of the value would
raise (PyO3's ``must be real number, not str``, an ``AttributeError`` deep inside). The rule:

* ``float``: any real number (``int``, ``float``, numpy scalars), not ``bool``;
* ``int``: any integer (``int``, numpy integers), not ``bool`` and not a ``float`` (a
  fractional, NaN or infinite one is a ``ValueError``: not a whole number), and within 64 bits
  (else an ``InvalidArgumentError``, a ``ValueError``, naming the parameter);
* numpy's ``ArrayLike``: anything ``numpy.asarray(value, float)`` takes, except None;
* ``bool``: ``bool`` or numpy's; ``str``: ``str``; a class: an instance of it;
* ``Callable``: anything callable; ``Iterable`` and ``Mapping``: an iterable (not one ``str``)
  or a mapping; ``Literal``: one of its values (else a ``ValueError``);
* unions and ``X | None`` accept what any member accepts; other annotations are not checked.

Only constructors and configuration calls are checked, never the recording paths.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import enum
import functools
import inspect
import numbers
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import numpy as np
from numpy.typing import ArrayLike

from burnguard.errors import BurnguardError, invalid, wrong_type

_F = TypeVar("_F", bound=Callable[..., Any])
_INT64 = range(-(2**63), 2**64)  # signed or unsigned 64 bits: the widest option the core takes
# The overloads of a function (Python 3.11+; on 3.10 only the implementation's annotations).
_overloads: Callable[[Any], Any] = getattr(typing, "get_overloads", lambda fn: ())


def checked(fn: _F) -> _F:
    """``fn`` with its arguments checked against its annotations before it runs (for
    constructors: a wrong type is refused even where it would not fail at once)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        check_arguments(fn, args, kwargs)
        try:
            return fn(*args, **kwargs)
        except OverflowError as err:
            _negative_for_unsigned(fn, args, kwargs, err)
            raise

    return call  # type: ignore[return-value]


def _negative_for_unsigned(fn: Any, args: Any, kwargs: Any, err: OverflowError) -> None:
    """An integer that fits in 64 bits overflows only an unsigned option: the negative one."""
    try:
        arguments = _plan(fn)[0].bind(*args, **kwargs).arguments
    except TypeError:
        return
    for name, value in arguments.items():
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value < 0:
            raise invalid(name, "must be >= 0", repr(value)) from err


def diagnosed(fn: _F) -> _F:
    """``fn`` run as is; if it raises a ``TypeError``, ``OverflowError`` or ``AttributeError``,
    its arguments are checked against its annotations, and the named error for the first bad
    one is raised instead (for hot paths: nothing is checked while calls succeed)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, OverflowError, AttributeError) as err:
            if isinstance(err, BurnguardError):
                raise
            _diagnose(fn, args, kwargs, err)
            if isinstance(err, OverflowError):
                _negative_for_unsigned(fn, args, kwargs, err)
            raise

    return call  # type: ignore[return-value]


def _diagnose(fn: Any, args: Any, kwargs: Any, err: BaseException) -> None:
    """Raises the named error for a call that failed, if its arguments do not fit the form of
    ``fn`` they were meant for: with only scalar arguments, its first overload (the scalar form,
    by convention); otherwise any of its overloads or its own annotations."""
    forms = (*_overloads(fn), fn)
    if not any(isinstance(a, (list, tuple, np.ndarray)) for a in (*args, *kwargs.values())):
        forms = forms[:1]
    errors = []
    for form in forms:
        try:
            _plan(form)[0].bind(*args, **kwargs)
        except TypeError:
            continue  # a form these arguments cannot even be passed to
        try:
            check_arguments(form, args, kwargs, cause=err)
        except BurnguardError as named:
            errors.append(named)
            continue
        return  # a form accepts these arguments: the failure is not about their types
    if errors:
        raise errors[-1]


def check_arguments(fn: Any, args: Any, kwargs: Any, cause: BaseException | None = None) -> None:
    """Checks a call's arguments against the annotations of ``fn``."""
    signature, hints = _plan(fn)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return  # Python's own message about a missing or extra argument follows
    for name, value in bound.arguments.items():
        hint = hints.get(name)
        if hint is not None and name not in ("self", "cls"):
            try:
                check(name, value, hint)
            except BurnguardError as err:
                raise err from cause


@functools.cache
def _plan(fn: Any) -> tuple[inspect.Signature, dict[str, Any]]:
    return inspect.signature(fn), _hints(fn)


def check_fields(obj: Any) -> None:
    """Checks every field of the dataclass ``obj`` against its annotation (in ``__post_init__``)."""
    hints = _field_hints(type(obj))
    for field in dataclasses.fields(obj):
        if field.init and field.name in hints:
            check(field.name, getattr(obj, field.name), hints[field.name])


_FIELD_HINTS: dict[type, dict[str, Any]] = {}


def _field_hints(cls: type) -> dict[str, Any]:
    hints = _FIELD_HINTS.get(cls)
    if hints is None:
        hints = _FIELD_HINTS[cls] = _hints(cls)
    return hints


def _hints(obj: Any) -> dict[str, Any]:
    """The resolved annotations of a function or class; one that names something only imported
    for type checking is left out (not checked)."""
    try:
        return typing.get_type_hints(obj)
    except NameError:
        pass
    raw: dict[str, Any] = {}
    for klass in reversed(getattr(obj, "__mro__", [obj])):
        raw.update(getattr(klass, "__annotations__", {}))
    namespace = getattr(obj, "__globals__", None) or vars(inspect.getmodule(obj))
    hints = {}
    for name, annotation in raw.items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:
            continue
    return hints


class _Element(Exception):
    """A bad element of a list or tuple: its position, the element and the problem."""

    def __init__(self, index: int, element: Any, problem: tuple[str, str]) -> None:
        super().__init__(index, element, problem)


def check(param: str, value: Any, hint: Any) -> None:
    """Raises the error for ``value`` given for ``param`` if it does not fit ``hint`` (naming
    the position of the first bad element of a list or tuple)."""
    index: tuple[int, ...] = ()
    try:
        problem = _problem(value, hint)
    except _Element as bad:
        i, value, problem = bad.args
        index = (i,)
    if problem is None:
        return
    kind, requirement = problem
    if kind == "value":
        shown = repr(value) if len(repr(value)) <= 80 else type(value).__name__
        error: Any = invalid(param, requirement, shown)
    else:
        error = wrong_type(param, requirement, type(value).__name__)
    raise error.at(index) if index else error


_Member = TypeVar("_Member", bound=enum.Enum)


def member(cls: type[_Member], param: str, value: Any) -> _Member:
    """The member of the enum ``cls`` that ``value`` names (a member or its value)."""
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in cls)
        raise invalid(param, f"must be one of {choices}", repr(value)) from None


def _problem(value: Any, hint: Any) -> tuple[str, str] | None:
    """None if ``value`` fits ``hint``, else ("type" or "value", the requirement)."""
    origin = get_origin(hint)
    if hint is Any or isinstance(hint, TypeVar):
        return None
    if hint == ArrayLike:
        if value is None:
            return ("type", "must be a number or an array of numbers")
        try:
            np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return ("type", "must be a number or an array of numbers")
        return None
    if origin is Union or origin is types.UnionType:
        problems = [_problem(value, member) for member in get_args(hint)]
        if any(p is None for p in problems):
            return None
        value_problems = [p for p in problems if p is not None and p[0] == "value"]
        return value_problems[0] if value_problems else ("type", "must be " + _describe(hint))
    if hint is type(None):
        return None if value is None else ("type", "must be None")
    if origin is Literal:
        choices = get_args(hint)
        return None if value in choices else ("value", "must be one of " + ", ".join(map(repr, choices)))
    if hint is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        return None if ok else ("type", "must be a number")
    if hint is int:
        if isinstance(value, (float, np.floating)) and not value.is_integer():
            return ("value", "must be a whole number")
        if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
            return ("type", "must be an integer")
        return None if int(value) in _INT64 else ("value", "must fit in 64 bits")
    if hint is bool:
        return None if isinstance(value, (bool, np.bool_)) else ("type", "must be True or False")
    if hint is str:
        return None if isinstance(value, str) else ("type", "must be a str")
    if origin in (abc.Callable, Callable) or hint in (abc.Callable, Callable):
        return None if callable(value) else ("type", "must be callable")
    if origin in (abc.Mapping, dict) or hint in (abc.Mapping, dict):
        return None if isinstance(value, abc.Mapping) else ("type", "must be a mapping")
    if origin in (abc.Iterable, abc.Sequence, tuple, list) or hint in (abc.Iterable, tuple, list):
        if not isinstance(value, abc.Iterable) or isinstance(value, (str, bytes)):
            return ("type", "must be an iterable (not a str)")
        members = [m for m in get_args(hint) if m is not Ellipsis]
        if len(members) == 1 and isinstance(value, (tuple, list)):  # never consume an iterator
            for i, element in enumerate(value):
                problem = _problem(element, members[0])
                if problem is not None:
                    raise _Element(i, element, problem)
        return None
    if isinstance(hint, type) and origin is None:
        try:
            return None if isinstance(value, hint) else ("type", f"must be {_a(hint.__name__)}")
        except TypeError:
            return None  # a protocol that cannot be checked at run time
    if isinstance(origin, type):  # a generic class: np.ndarray[Any, ...]
        return None if isinstance(value, origin) else ("type", f"must be {_a(origin.__name__)}")
    return None  # an annotation this rule does not cover


def _a(name: str) -> str:
    """``a Ledger``, ``an Arena``."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _describe(hint: Any) -> str:
    """How ``hint`` reads in an error: ``a number or None``."""
    words = {float: "a number", int: "an integer", bool: "True or False", str: "a str", type(None): "None"}
    names = []
    for member in get_args(hint):
        origin = get_origin(member) or member
        if member in words:
            names.append(words[member])
        elif origin in (abc.Callable, Callable):
            names.append("callable")
        elif origin in (abc.Mapping, dict):
            names.append("a mapping")
        elif origin in (abc.Iterable, abc.Sequence, tuple, list):
            names.append("an iterable")
        elif isinstance(origin, type):
            names.append(_a(origin.__name__))
    # None is left out when something else is accepted: it is the default, not the point.
    named = [n for n in dict.fromkeys(names) if n != "None"] or names
    return " or ".join(named) or "of another type"
