"""Forecasting with a trained model, written once against the `run(...)` / `metadata` API.

Every helper here takes `model`: a `Forecaster` (in process) or a
`rnn_apps.tasks.base.SavedModelPredictor` (an export, e.g. `saved_models/forecast_etth1`).
Both run the same `serving_default` graph (`window` (B, L, F) real units -> `forecast`
(B, H, T) real units; scaling inside) and describe themselves with the same metadata
(`columns`, `targets`, `lookback`, `horizon`, `frequency`, `scaling`), so
`rnn-apps forecast predict|evaluate --model PATH` works on a training folder and on an export.

Shape legend: n windows, B batch, L lookback, H horizon, F features, T targets.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError, graph_error
from rnn_apps.tasks.forecast.baselines import naive_baselines
from rnn_apps.tasks.forecast.preprocessor import check_timestamps, make_windows, select_frame

READ_OPTIONS = ("date_column", "date_format", "dayfirst", "fill")


@dataclasses.dataclass
class ModelFacts:
    """What a forecasting model's metadata says about it."""

    columns: list[str]
    targets: list[str]
    lookback: int
    horizon: int
    frequency: str | None
    mean: np.ndarray
    std: np.ndarray
    season: int
    architecture: str
    options: dict[str, Any]


def model_facts(model: Any) -> ModelFacts:
    """The `ModelFacts` of a `Forecaster` or a forecasting `SavedModelPredictor`."""
    meta = model.metadata
    config = meta.get("config") or {}
    options = dict(meta.get("series") or {k: config.get(k) for k in READ_OPTIONS})
    return ModelFacts(
        columns=list(meta["columns"]),
        targets=list(meta["targets"]),
        lookback=int(meta["lookback"]),
        horizon=int(meta["horizon"]),
        frequency=meta.get("frequency"),
        mean=np.asarray(meta["scaling"]["mean"], dtype="float64"),
        std=np.asarray(meta["scaling"]["std"], dtype="float64"),
        season=int(meta.get("season") or config.get("season") or 24),
        architecture=str(meta.get("architecture") or meta.get("model") or "?"),
        options=options,
    )


def forecast_windows(model: Any, windows: Any, *, batch_size: int = 256) -> np.ndarray:
    """Forecasts for raw windows: (n, L, F) real units, columns as the model's `columns` ->
    (n, H, T) real units; n = 0 gives an empty (0, H, T) array.

    Raises:
        UserInputError: a wrong shape, or NaN, inf or values too large to forecast from.
    """
    import tensorflow as tf

    facts = model_facts(model)
    windows = np.asarray(windows, dtype="float32")
    want = (facts.lookback, len(facts.columns))
    if windows.ndim != 3 or windows.shape[1:] != want:
        raise UserInputError(
            f"windows must have shape (batch, {want[0]}, {want[1]}) = (batch, lookback, "
            f"features {facts.columns}), got {windows.shape}."
        )
    out = []
    try:
        for i in range(0, max(len(windows), 1), batch_size):
            out.append(model.run("serving_default", window=windows[i : i + batch_size]))
    except tf.errors.InvalidArgumentError as err:
        raise UserInputError(f"cannot forecast from these windows: {graph_error(err)}") from None
    forecast = np.concatenate([o["forecast"] for o in out], axis=0)
    if not np.isfinite(forecast).all():  # exports older than the graph's own check
        raise UserInputError(
            "cannot forecast from these windows: the forecast overflowed (NaN or inf); check "
            "the windows' values and units."
        )
    return forecast


def series_frame(model: Any, data: Any, options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """`data` (a DataFrame or a CSV path) as the model's validated float32 columns.

    Args:
        options: Overrides of the model's reading options (`date_column`, `date_format`,
            `dayfirst`, `fill`); None values keep the model's.
    """
    facts = model_facts(model)
    merged = {**facts.options, **{k: v for k, v in (options or {}).items() if v is not None}}
    return select_frame(data, facts.columns, merged)


def _need_rows(frame: pd.DataFrame, need: int, why: str) -> None:
    if len(frame) < need:
        raise UserInputError(f"the series has {len(frame)} rows; it needs at least {need} ({why}).")


def series_windows(
    model: Any, data: Any, options: Mapping[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Every window of `data` in real units: `x` (n, L, F), `y` (n, H, T), and the frame."""
    f = model_facts(model)
    frame = series_frame(model, data, options)
    _need_rows(frame, f.lookback + f.horizon, f"lookback {f.lookback} + horizon {f.horizon}")
    x, y = make_windows(frame.to_numpy(), f.lookback, f.horizon, len(f.targets))
    return x, y, frame


def _errors(pred: np.ndarray, y: np.ndarray, std: np.ndarray) -> dict[str, float]:
    real = pred.astype("float64") - y
    scaled = real / std  # the error in training standard deviations, as the literature reports
    return {
        "mse": float(np.mean(scaled**2)),
        "mae": float(np.mean(np.abs(scaled))),
        "mse_real": float(np.mean(real**2)),
        "mae_real": float(np.mean(np.abs(real))),
    }


def evaluate_series(
    model: Any,
    data: Any,
    *,
    options: Mapping[str, Any] | None = None,
    baselines: bool = True,
    return_forecasts: bool = False,
) -> dict[str, Any]:
    """MSE / MAE over **every** window of `data` (none dropped), on the scaled data (as the
    literature reports) and in real units, plus the naive baselines on the same windows.

    Returns:
        `{"mse", "mae", "mse_real", "mae_real", "num_windows", "mse_by_step",
        "baselines": {"repeat_last": {...}, "seasonal_naive": {...}}}`.
    """
    f = model_facts(model)
    x, y, _ = series_windows(model, data, options)
    std = f.std[: len(f.targets)]
    pred = forecast_windows(model, x)
    out: dict[str, Any] = _errors(pred, y, std)
    out["num_windows"] = int(len(x))
    out["mse_by_step"] = [float(v) for v in (((pred - y) / std) ** 2).mean(axis=(0, 2))]
    forecasts = {f.architecture: pred}
    if baselines:
        naive = naive_baselines(x, f.horizon, len(f.targets), f.season)
        out["baselines"] = {name: _errors(p, y, std) for name, p in naive.items()}
        forecasts.update(naive)
    if return_forecasts:
        out["_forecasts"], out["_targets"] = forecasts, y
    return out


def predict_series(model: Any, data: Any, options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Forecasts the `horizon` steps after the last row of `data`.

    Returns:
        DataFrame indexed by the future timestamps (the series' frequency), one column per
        target, real units.
    """
    f = model_facts(model)
    frame = series_frame(model, data, options)
    _need_rows(frame, f.lookback, f"lookback {f.lookback}")
    freq = check_timestamps(frame.index) or f.frequency
    if freq is None:
        raise UserInputError("cannot infer the series frequency; give at least 3 rows.")
    offset = pd.tseries.frequencies.to_offset(freq)
    if f.frequency is not None and offset != pd.tseries.frequencies.to_offset(f.frequency):
        raise UserInputError(
            f"the series has frequency {freq!r}, the model was trained on {f.frequency!r}."
        )
    pred = forecast_windows(model, frame.to_numpy()[-f.lookback :][None])[0]  # (H, T)
    index = pd.date_range(frame.index[-1] + offset, periods=f.horizon, freq=offset)
    index.name = frame.index.name
    return pd.DataFrame(pred, index=index, columns=f.targets)


# --------------------------------------------------------------------------- plots


def plot_forecast(
    model: Any,
    data: Any,
    path: str | os.PathLike,
    *,
    window: int | None = -1,
    column: str | None = None,
    history: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """PNG of one forecast of `column` (default: the first target) with its history.

    Args:
        window: Index of a window of `data` (history, forecast and actuals), or None: the
            forecast after the end of `data` (history and forecast).
        history: Past steps to draw (default: lookback).
    """
    from rnn_apps.reporting import new_figure, save_figure

    f = model_facts(model)
    column = column or f.targets[0]
    if column not in f.targets:
        raise UserInputError(f"column {column!r} is not a target ({f.targets}).")
    j = f.targets.index(column)
    frame = series_frame(model, data, options)
    if window is None:
        pred = predict_series(model, frame)
        future, actual, end = pred.index, None, len(frame)
        forecast = pred[column].to_numpy()
    else:
        _need_rows(frame, f.lookback + f.horizon, f"lookback {f.lookback} + horizon {f.horizon}")
        n = len(frame) - f.lookback - f.horizon + 1
        if not -n <= window < n:
            raise UserInputError(f"window {window} out of range: the series has {n} windows.")
        i = window % n
        end = i + f.lookback
        forecast = forecast_windows(model, frame.to_numpy()[i:end][None])[0, :, j]
        actual = frame.iloc[end : end + f.horizon]
        future = actual.index
    past = frame.iloc[max(end - (history or f.lookback), 0) : end]
    fig, ax = new_figure(figsize=(10, 4))
    ax.plot(past.index, past[column], color="0.4", label="history")
    if actual is not None:
        ax.plot(future, actual[column], color="tab:green", label="actual")
    ax.plot(future, forecast, color="tab:red", label=f"forecast ({f.architecture})")
    ax.set_title(f"{column}: L={f.lookback}, H={f.horizon}")
    ax.legend()
    fig.autofmt_xdate()
    return save_figure(fig, path)


def plot_error_by_horizon(
    model: Any,
    data: Any,
    path: str | os.PathLike,
    *,
    options: Mapping[str, Any] | None = None,
    report: Mapping[str, Any] | None = None,
) -> Path:
    """PNG of the MSE (scaled) at each horizon step, model vs. the naive baselines.

    Args:
        report: An `evaluate_series(..., return_forecasts=True)` result to draw (saves
            forecasting `data` again).
    """
    from rnn_apps.reporting import new_figure, save_figure

    f = model_facts(model)
    if report is None or "_forecasts" not in report:
        report = evaluate_series(model, data, options=options, return_forecasts=True)
    y, std = report["_targets"], f.std[: len(f.targets)]
    fig, ax = new_figure(figsize=(8, 4))
    steps = np.arange(1, f.horizon + 1)
    for label, pred in report["_forecasts"].items():
        ax.plot(steps, (((pred - y) / std) ** 2).mean(axis=(0, 2)), label=label)
    ax.set_xlabel("horizon step")
    ax.set_ylabel("MSE (scaled)")
    ax.set_title(f"error by horizon step over {len(y)} windows")
    ax.legend()
    return save_figure(fig, path)
