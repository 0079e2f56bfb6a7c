"""Argument handling shared by the checks: arrays, shapes, ``out=`` and error positions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from burnguard.errors import InvalidArgumentError, invalid
from burnguard.spend.results import (
    ArrayLike,
    FloatArray,
    IntArray,
    _Batch,
    _Scalar,
)


def _native_call(shape: tuple[int, ...], call: Callable[[], _Scalar]) -> _Scalar:
    """Runs a batch call, turning the flat row index in its error into a position in ``shape``."""
    try:
        return call()
    except InvalidArgumentError as err:
        if not err.index or len(shape) < 2:
            raise
        row, *rest = err.index
        position = tuple(int(i) for i in np.unravel_index(row, shape))
        raise err.at((*position, *rest)) from None


def _floats(name: str, value: ArrayLike) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"{name} must be numbers: {err}", name) from None


def _ints(name: str, value: ArrayLike) -> IntArray:
    array = np.asarray(value)
    if array.dtype.kind == "f":
        whole = np.isfinite(array) & (array == np.round(array))
        if not whole.all():
            index = np.unravel_index(int(np.argmin(whole)), array.shape) if array.ndim else ()
            raise invalid(name, "must be a whole number", array[index], index=tuple(int(i) for i in index))
    elif array.dtype.kind not in "iub":
        raise invalid(name, "must hold integers", f"dtype {array.dtype}")
    return array.astype(np.int64)


def _broadcast(**arrays: npt.NDArray[Any]) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise InvalidArgumentError(f"shapes do not broadcast: {shapes}", next(iter(arrays))) from None


def _column(array: npt.NDArray[Any], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """One value for every row, or one per row of ``shape`` (flattened, contiguous)."""
    if array.size == 1:
        return np.ascontiguousarray(array.reshape(1))
    return np.ascontiguousarray(np.broadcast_to(array, shape)).reshape(-1)


def _outputs(
    out: _Batch | Sequence[npt.NDArray[Any]] | None, kind: type[_Batch], shape: tuple[int, ...]
) -> list[npt.NDArray[Any]]:
    """The arrays a batch call writes its results into: fresh ones, or ``out``'s (a batch of
    the same kind, or arrays in the order of the computed fields) once they fit ``shape``."""
    computed = kind.computed
    if out is None:
        return [np.empty(shape, dtype) for dtype in computed.values()]
    if isinstance(out, kind):
        arrays = [getattr(out, name) for name in computed]
    elif isinstance(out, (tuple, list)) and len(out) == len(computed):
        arrays = list(out)
    else:
        got = f"{type(out).__name__} of {len(out)}" if isinstance(out, (tuple, list)) else type(out).__name__
        raise invalid(
            "out",
            f"must be a {kind.__name__} or a tuple of {len(computed)} arrays ({', '.join(computed)})",
            got,
        )
    for i, (array, (name, dtype)) in enumerate(zip(arrays, computed.items(), strict=True)):
        fits = isinstance(array, np.ndarray) and array.dtype == dtype and array.shape == shape
        if not (fits and array.flags.c_contiguous and array.flags.writeable):
            got = (
                f"{'read-only ' * (not array.flags.writeable)}{array.dtype} array of shape {array.shape}"
                f"{'' if array.flags.c_contiguous else ', not C-contiguous'}"
                if isinstance(array, np.ndarray)
                else type(array).__name__
            )
            requirement = f"must be a writeable C-contiguous {np.dtype(dtype)} array of shape {shape}"
            raise InvalidArgumentError(
                f"out[{i}] ({name}) {requirement}; got {got}", "out", (i,), got, requirement
            )
    return arrays


def _flat(arrays: list[npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    """Flat views of C-contiguous arrays."""
    return [a.reshape(-1) for a in arrays]


def _is_scalar(*values: object) -> bool:
    """Whether every value is a scalar (numpy in, numpy out: an array, even 0-d, is not)."""
    return not any(isinstance(v, np.ndarray) for v in values) and all(np.ndim(v) == 0 for v in values)  # type: ignore[arg-type]


def _series(
    spend_series: ArrayLike, lengths: ArrayLike | None
) -> tuple[FloatArray, IntArray | None, tuple[int, ...]]:
    """A batch of series as a contiguous (rows, points) array, its lengths, its leading shape."""
    array = _floats("spend_series", spend_series)
    if array.ndim < 2:
        raise invalid("spend_series", "must have a batch dimension", f"shape {array.shape}")
    leading, width = array.shape[:-1], array.shape[-1]
    values = np.ascontiguousarray(array.reshape(math.prod(leading), width))
    if lengths is None:
        return values, None, leading
    counts = _ints("lengths", lengths)
    if counts.shape != leading:
        raise invalid("lengths", f"must have the series' leading shape {leading}", counts.shape)
    return values, np.ascontiguousarray(counts.reshape(-1)), leading


def _is_one_series(spend_series: object, lengths: object) -> bool:
    return lengths is None and np.ndim(spend_series) <= 1  # type: ignore[arg-type]


def _as_list(spend_series: Any) -> Any:
    return spend_series.tolist() if isinstance(spend_series, np.ndarray) else spend_series


def _column_all(array: npt.NDArray[Any], shape: tuple[int, ...]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(np.broadcast_to(array, shape)).reshape(-1)
