"""Naive baselines a forecaster must beat: repeat the last value, seasonal naive.

The naive baselines work on windows (any units: they commute with scaling) and are scored on
the same windows as the model (`rnn_apps.tasks.forecast.inference.evaluate_series`).

The DLinear baseline is a trained `Forecaster` (`architecture="dlinear"`); the ETTh1
benchmark fits it with its paper's recipe (`benchmarks/forecast_etth1.py`).

Shape legend: n windows, L lookback, H horizon, F features (targets first), T targets.
"""

from __future__ import annotations

import numpy as np

from rnn_apps.errors import UserInputError


def repeat_last_forecast(x: np.ndarray, horizon: int, num_targets: int | None = None) -> np.ndarray:
    """Repeats the last observed value: (n, L, F) -> (n, H, T)."""
    t = x.shape[2] if num_targets is None else num_targets
    return np.repeat(x[:, -1:, :t], horizon, axis=1)


def seasonal_naive_forecast(
    x: np.ndarray, horizon: int, season: int = 24, num_targets: int | None = None
) -> np.ndarray:
    """Repeats the last full season: `y[h] = x[L - season + (h mod season)]`; (n, L, F) ->
    (n, H, T). Needs `L >= season`."""
    lookback = x.shape[1]
    if lookback < season:
        raise UserInputError(f"seasonal naive needs lookback >= season ({lookback} < {season}).")
    t = x.shape[2] if num_targets is None else num_targets
    idx = lookback - season + (np.arange(horizon) % season)
    return x[:, idx, :t]


def naive_baselines(
    x: np.ndarray, horizon: int, num_targets: int, season: int
) -> dict[str, np.ndarray]:
    """`{"repeat_last": (n, H, T), "seasonal_naive": (n, H, T)}` (the latter when L >= season)."""
    out = {"repeat_last": repeat_last_forecast(x, horizon, num_targets)}
    if x.shape[1] >= season:
        out["seasonal_naive"] = seasonal_naive_forecast(x, horizon, season, num_targets)
    return out
