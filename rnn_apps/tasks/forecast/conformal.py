"""Split-conformal calibration of forecast intervals, one offset per horizon step.

On held-out windows (never used for fitting), an interval [lower, upper] of nominal level p
scores each window by its conformity E = max(lower - y, y - upper) (conformalized quantile
regression, Romano et al. 2019; for a point forecast, lower = upper = forecast and E is the
absolute error). The calibrated interval is [lower - c, upper + c] with c the
ceil((n + 1) p) / n empirical quantile of the n scores of that horizon step, which covers a new
window with probability at least p when the windows are exchangeable (split conformal, as
neuralforecast's and Darts' conformal models compute it).

Shape legend: N calibration windows, H horizon steps (any trailing target axes are kept).
"""

from __future__ import annotations

import math

import numpy as np


def conformity_scores(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """(N, H, ...) scores max(lower - y, y - upper): negative inside the interval."""
    y, lower, upper = (np.asarray(a, float) for a in (y, lower, upper))
    return np.maximum(lower - y, y - upper)


def conformal_offsets(scores: np.ndarray, level: float) -> np.ndarray:
    """The (H, ...) offsets c of `level` from (N, H, ...) calibration scores.

    Raises:
        ValueError: `level` outside (0, 1), or too few windows for it (n < 1 / (1 - level) - 1:
            the finite-sample quantile would be infinite).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    scores = np.asarray(scores, float)
    n = scores.shape[0]
    rank = math.ceil((n + 1) * level)
    if rank > n:
        raise ValueError(
            f"{n} calibration windows cannot calibrate a {level:.0%} interval: it needs at least "
            f"{math.ceil(level / (1 - level))}"
        )
    return np.sort(scores, axis=0)[rank - 1]


def calibrate(
    lower: np.ndarray, upper: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[lower - c, upper + c] for intervals (..., H, ...) and offsets (H, ...)."""
    return np.asarray(lower) - offsets, np.asarray(upper) + offsets
