"""Rolling checks, for backtesting: a check at every point against the points before it."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from burnguard import _native
from burnguard._check import diagnosed
from burnguard.errors import InvalidArgumentError, invalid
from burnguard.spend._args import (
    _floats,
    _native_call,
    _series,
)
from burnguard.spend.results import (
    ArrayLike,
    RollingAnomaly,
    RollingBurn,
)


@diagnosed
def rolling_anomaly_spike(
    spend_series: ArrayLike,
    window: int,
    spike_multiplier: float = 1.5,
    min_baseline: float = 0.0,
    *,
    lengths: ArrayLike | None = None,
) -> RollingAnomaly:
    """``check_anomaly_spike`` at every point of one or many series, against the previous
    ``window`` points (a running mean: O(1) a step)."""
    options = {"spike_multiplier": spike_multiplier, "min_baseline": min_baseline}
    return RollingAnomaly(*_rolling(spend_series, lengths, window, "mean", options))


@diagnosed
def rolling_anomaly_robust(
    spend_series: ArrayLike,
    window: int,
    *,
    method: Literal["mad", "percentile"] = "mad",
    z_threshold: float = 3.5,
    min_mad: float = 0.0,
    percentile: float = 0.95,
    min_baseline: float = 0.0,
    lengths: ArrayLike | None = None,
) -> RollingAnomaly:
    """``check_anomaly_robust`` at every point against the previous ``window`` points (the
    window is kept sorted: O(log k) to place a point, O(k) to move the others)."""
    if method not in ("mad", "percentile"):
        raise invalid("method", "must be 'mad' or 'percentile'", repr(method))
    options = {
        "z_threshold": z_threshold,
        "min_mad": min_mad,
        "percentile": percentile,
        "min_baseline": min_baseline,
    }
    return RollingAnomaly(*_rolling(spend_series, lengths, window, method, options))


@diagnosed
def rolling_burn_rate(
    spend_series: ArrayLike, window: int, hot_multiplier: float = 1.4, *, lengths: ArrayLike | None = None
) -> RollingBurn:
    """``check_burn_rate`` at every point against the previous ``window`` points."""
    return RollingBurn(*_rolling(spend_series, lengths, window, "burn", {"hot_multiplier": hot_multiplier}))


def _rolling(
    spend_series: ArrayLike, lengths: ArrayLike | None, window: int, method: str, options: dict[str, float]
) -> tuple[npt.NDArray[Any], ...]:
    array = _floats("spend_series", spend_series)
    one = array.ndim == 1
    if one and lengths is not None:
        if np.size(lengths) != 1:
            raise invalid("lengths", "must hold one length for one series", repr(lengths))
        lengths = np.reshape(lengths, (1,))
    values, counts, leading = _series(array[np.newaxis] if one else array, lengths)
    try:
        columns = _native_call(
            leading, lambda: _native.rolling_batch(values, counts, window, method, **options)
        )
    except InvalidArgumentError as err:
        if not (one and err.index):
            raise
        raise err.at(err.index[1:]) from None
    return tuple(column.reshape(array.shape) for column in columns)


# Action, severity and reason by decision code: the core's table.
