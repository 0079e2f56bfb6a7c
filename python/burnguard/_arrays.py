"""Conversion of array-like arguments to the contiguous 1-D numpy arrays the core reads."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from burnguard.errors import InvalidArgumentError, invalid

_Array = TypeVar("_Array", bound=npt.NDArray[Any])


def float_array(name: str, value: Any) -> npt.NDArray[np.float64]:
    """``value`` as a contiguous 1-D float64 array, or ``ValueError`` naming ``name``."""
    try:
        array = np.ascontiguousarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"{name} must be an array of numbers: {err}", name) from None
    return _one_dimensional(name, array)


def bool_array(name: str, value: Any) -> npt.NDArray[np.bool_]:
    """``value`` as a contiguous 1-D bool array; integers must be 0 or 1."""
    array = np.asarray(value)
    if array.size == 0:
        array = array.astype(np.bool_)  # `[]` is float64 to numpy: nothing to check
    if array.dtype != np.bool_:
        if array.dtype.kind not in "iu":
            raise invalid(name, "must hold booleans", f"dtype {array.dtype}")
        bad = np.flatnonzero((array != 0) & (array != 1))
        if bad.size:
            index = int(bad[0])
            raise invalid(name, "must be a boolean (or 0/1)", array.flat[index], index=(index,))
    return _one_dimensional(name, np.ascontiguousarray(array, dtype=np.bool_))


def _one_dimensional(name: str, array: _Array) -> _Array:
    if array.ndim != 1:
        raise invalid(name, "must be 1-D", f"shape {array.shape}")
    return array
