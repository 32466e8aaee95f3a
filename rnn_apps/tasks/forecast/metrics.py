"""Forecast accuracy as the forecasting field scores it, with the M4 competition's definitions.

Per series (`y` the H actual values, `f` the forecast, `insample` the training values, `m` the
seasonal period):

- `smape`: 100 / H * sum 2 |y - f| / (|y| + |f|);
- `mase`: mean |y - f| / `mase_scale(insample, m)`, the in-sample mean absolute error of the
  seasonal naive forecast (|x_t - x_{t-m}|);
- `msis`: the mean scaled interval score of a (1 - alpha) interval [L, U]: mean of
  (U - L) + 2/alpha (L - y) 1{y < L} + 2/alpha (y - U) 1{y > U}, over the same scale;
- `coverage`: the share of y inside [L, U]; `pinball`: the quantile loss of quantile q.

Over many series: `owa` (the overall weighted average of M4): 0.5 * (mean sMAPE / mean sMAPE
of Naive2) + 0.5 * (mean MASE / mean MASE of Naive2).

Benchmarks of the competition: `seasonal_naive` and `naive2` (the last value of the series
seasonally adjusted by classical multiplicative decomposition when the 90% autocorrelation test
at lag m finds it seasonal, `seasonality_test`), as the organisers' R code computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """Symmetric MAPE in percent (M4); a step where both are 0 counts 0."""
    y, f = np.asarray(y, float), np.asarray(f, float)
    denom = np.abs(y) + np.abs(f)
    ratio = np.divide(2 * np.abs(y - f), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * np.mean(ratio))


def mase_scale(insample: np.ndarray, season: int = 1) -> float:
    """The in-sample mean absolute error of the seasonal naive forecast (lag `season`)."""
    x = np.asarray(insample, float)
    if len(x) <= season:
        raise ValueError(f"{len(x)} in-sample values: need more than season={season}.")
    return float(np.mean(np.abs(x[season:] - x[:-season])))


def mase(y: np.ndarray, f: np.ndarray, insample: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error (M4: scaled by `mase_scale(insample, season)`)."""
    y, f = np.asarray(y, float), np.asarray(f, float)
    return float(np.mean(np.abs(y - f)) / mase_scale(insample, season))


def msis(
    y: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    insample: np.ndarray,
    season: int = 1,
    alpha: float = 0.05,
) -> float:
    """Mean scaled interval score of the (1 - alpha) interval [lower, upper] (M4)."""
    y, lo, hi = (np.asarray(a, float) for a in (y, lower, upper))
    score = (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)
    return float(np.mean(score) / mase_scale(insample, season))


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of `y` inside [lower, upper]."""
    y = np.asarray(y, float)
    return float(np.mean((y >= np.asarray(lower)) & (y <= np.asarray(upper))))


def pinball(y: np.ndarray, f: np.ndarray, q: float) -> float:
    """The quantile (pinball) loss of forecast `f` of quantile `q`."""
    d = np.asarray(y, float) - np.asarray(f, float)
    return float(np.mean(np.maximum(q * d, (q - 1) * d)))


def owa(
    smapes: Sequence[float],
    mases: Sequence[float],
    naive2_smapes: Sequence[float],
    naive2_mases: Sequence[float],
) -> float:
    """M4's overall weighted average of a method over many series, relative to Naive2."""
    return float(
        0.5 * np.mean(smapes) / np.mean(naive2_smapes)
        + 0.5 * np.mean(mases) / np.mean(naive2_mases)
    )


# --------------------------------------------------------------------------- benchmarks
def _acf(x: np.ndarray, lags: int) -> np.ndarray:
    """Autocorrelations at lags 1..`lags` (R's `acf`: sums over n - k, both over n)."""
    d = x - x.mean()
    denom = np.sum(d * d)
    return np.array([np.sum(d[:-k] * d[k:]) / denom for k in range(1, lags + 1)])


def seasonality_test(x: np.ndarray, season: int) -> bool:
    """M4's 90% test: |acf(season)| > 1.645 / sqrt(n) * sqrt(1 + 2 sum_{k<season} acf_k^2);
    False for series shorter than 3 seasons (or season <= 1)."""
    x = np.asarray(x, float)
    if season <= 1 or len(x) < 3 * season or np.all(x == x[0]):
        return False
    acf = _acf(x, season)
    limit = 1.645 / np.sqrt(len(x)) * np.sqrt(1 + 2 * np.sum(acf[:-1] ** 2))
    return bool(abs(acf[-1]) > limit)


def seasonal_indices(x: np.ndarray, season: int) -> np.ndarray:
    """The (season,) multiplicative seasonal factors of classical decomposition (R's
    `decompose(type="multiplicative")$figure`), position i the factor of steps i, i + m ..."""
    x = np.asarray(x, float)
    if season % 2 == 0:
        weights = np.r_[0.5, np.ones(season - 1), 0.5] / season
    else:
        weights = np.ones(season) / season
    half = len(weights) // 2
    trend = np.full(len(x), np.nan)
    trend[half : len(x) - half] = np.convolve(x, weights, mode="valid")
    ratio = x / trend
    figure = np.array([np.nanmean(ratio[i::season]) for i in range(season)])
    return figure / figure.mean()


def seasonal_naive(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The last season of `x` repeated over the horizon."""
    x = np.asarray(x, float)
    last = x[-season:] if season > 1 else x[-1:]
    return np.resize(last, horizon)


def naive2(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """M4's Naive2: the last seasonally adjusted value, seasonality put back."""
    x = np.asarray(x, float)
    if not seasonality_test(x, season):
        return np.full(horizon, x[-1])
    figure = seasonal_indices(x, season)
    n = len(x)
    return x[-1] / figure[(n - 1) % season] * figure[(n + np.arange(horizon)) % season]


def score_series(
    actual: Mapping[str, np.ndarray],
    forecast: Mapping[str, np.ndarray],
    insample: Mapping[str, np.ndarray],
    season: int,
) -> dict[str, float]:
    """Mean sMAPE and MASE of `forecast` over the series of `actual` (keys: series ids)."""
    ids = list(actual)
    return {
        "smape": float(np.mean([smape(actual[k], forecast[k]) for k in ids])),
        "mase": float(np.mean([mase(actual[k], forecast[k], insample[k], season) for k in ids])),
    }
