"""Forecasting: any pandas series to multi-horizon RNN forecasts, baselines and a SavedModel.

Pipeline: a DataFrame (``DatetimeIndex`` or a date column) or a CSV file -> validated, regular
series -> columns scaled with mean / std fitted on the training rows only -> sliding windows of
``lookback`` past rows (all features) and ``horizon`` future rows (targets) -> a Keras model that
maps a scaled window to scaled forecasts -> metrics on every window, forecasts with future
timestamps in real units, PNG plots, and a SavedModel whose ``serving_default`` takes a window in
real units (scaling lives inside the graph).

Shape legend: B batch, L lookback, H horizon, F features (targets first, then past covariates),
T targets, C channels of a channel-independent model, N input segments, M output segments,
W segment length, D model width.

Models (``ForecastConfig.model``):

- ``"segrnn"``: SegRNN (Lin et al., 2023): per-window normalisation (subtract the last value),
  the lookback cut into segments of ``seg_len`` steps, each embedded (Dense + ReLU) and fed to a
  GRU; parallel multi-step decoding (one GRU step per output segment from the encoder's final
  state, with learned position and channel embeddings); channel independence (every channel is
  a separate series sharing the weights) by default.
- ``"lstm"`` / ``"gru"``: a stacked recurrent network with a direct multi-horizon head
  (``rnn_apps.build_stacked_rnn(head="multi_horizon")``).
- ``"seq2seq"``: an encoder-decoder (``rnn_apps.build_encoder_decoder``), trained with teacher
  forcing and decoded autoregressively.
- ``"dlinear"``: DLinear (Zeng et al., 2023): moving-average trend + remainder, one linear map
  from L to H for each, shared by the channels. Also used as the linear baseline.

Baselines (computed by ``Forecaster.evaluate``): repeat the last value, seasonal naive
(``season`` steps, 24 by default) and, on request, DLinear (``fit_dlinear_baseline``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import ops

from rnn_apps.errors import UserInputError

MODELS = ("segrnn", "lstm", "gru", "seq2seq", "dlinear")
LOSSES = ("mse", "mae", "huber")
FILLS = (None, "ffill", "interpolate")
# Masking sentinel for the builders' models: never a value of a scaled series.
_MASK_VALUE = -1.0e9
_DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "ds")
WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "forecaster.json"


# --------------------------------------------------------------------------- configuration


@dataclasses.dataclass
class ForecastConfig:
    """What to forecast and how to train.

    Attributes:
        lookback: L, past steps a window sees.
        horizon: H, future steps to forecast.
        targets: Columns to forecast; None = every numeric column (multivariate).
        covariates: Extra past-only input columns (not forecast).
        date_column: Column holding timestamps when the frame has no ``DatetimeIndex``;
            None looks for ``date``/``datetime``/``timestamp``/``time``/``ds``.
        fill: How to treat NaN: None raises an error naming the rows and columns, ``"ffill"``
            carries the last valid value forward, ``"interpolate"`` interpolates linearly in
            time (leading NaN are then filled backwards). Infinite values always raise.
        model: One of ``MODELS``.
        units: Width of the recurrent layers (``lstm``/``gru``/``seq2seq``).
        num_layers: Depth of the recurrent stack (``lstm``/``gru``/``seq2seq``).
        instance_norm: Subtract each window's last value and add it back to the forecast
            (always on for ``segrnn``).
        seg_len: W, SegRNN segment length.
        d_model: D, SegRNN width.
        channel_independent: SegRNN treats every channel as its own series.
        dropout: Dropout (SegRNN before its projection; input dropout of the RNN layers).
        kernel_size: DLinear moving-average window.
        loss: ``"mse"``, ``"mae"`` or ``"huber"``.
        learning_rate: Adam learning rate.
        lr_decay: Learning rate multiplied by this after every epoch.
        clipnorm: Gradient-norm clipping (None disables).
        batch_size: Training batch size (windows).
        epochs: Maximum epochs.
        patience: Early-stopping patience on the validation loss (restores the best weights).
        val_fraction: Fraction of the rows held out (at the end) for validation when
            ``fit`` gets no validation frame.
        max_train_windows: Train on a random subset of at most this many windows per epoch.
        season: Period of the seasonal-naive baseline.
        seed: Seed of ``keras.utils.set_random_seed``.
    """

    lookback: int = 96
    horizon: int = 24
    targets: list[str] | None = None
    covariates: list[str] = dataclasses.field(default_factory=list)
    date_column: str | None = None
    fill: str | None = None
    model: str = "segrnn"
    units: int = 64
    num_layers: int = 1
    instance_norm: bool = True
    seg_len: int = 24
    d_model: int = 128
    channel_independent: bool = True
    dropout: float = 0.0
    kernel_size: int = 25
    loss: str = "mse"
    learning_rate: float = 1e-3
    lr_decay: float = 1.0
    clipnorm: float | None = 1.0
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    val_fraction: float = 0.2
    max_train_windows: int | None = None
    season: int = 24
    seed: int = 0

    def validate(self) -> ForecastConfig:
        """Checks every field; raises `UserInputError` naming the bad one."""
        for name in ("lookback", "horizon", "units", "num_layers", "seg_len", "d_model"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserInputError(f"{name} must be a positive integer, got {value!r}.")
        for name in ("batch_size", "epochs", "kernel_size", "season"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserInputError(f"{name} must be a positive integer, got {value!r}.")
        if self.model not in MODELS:
            raise UserInputError(f"model must be one of {MODELS}, got {self.model!r}.")
        if self.loss not in LOSSES:
            raise UserInputError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        if self.fill not in FILLS:
            raise UserInputError(f"fill must be one of {FILLS}, got {self.fill!r}.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserInputError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise UserInputError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if self.learning_rate <= 0:
            raise UserInputError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if self.patience < 0:
            raise UserInputError(f"patience must be >= 0, got {self.patience!r}.")
        if self.targets is not None and isinstance(self.targets, str):
            self.targets = [self.targets]
        if isinstance(self.covariates, str):
            self.covariates = [self.covariates]
        if self.targets is not None:
            both = set(self.targets) & set(self.covariates)
            if both:
                raise UserInputError(f"columns {sorted(both)} are both targets and covariates.")
        return self

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ForecastConfig:
        """Builds a config from a mapping; unknown keys raise `UserInputError`."""
        from rnn_apps.config import config_from_dict

        return config_from_dict(cls, values, "forecast").validate()


# --------------------------------------------------------------------------- input checks


def read_series(
    data: pd.DataFrame | str | os.PathLike, *, date_column: str | None = None
) -> pd.DataFrame:
    """Returns ``data`` (a DataFrame or a CSV path) as a frame with a ``DatetimeIndex``.

    Raises:
        UserInputError: no timestamps, unsorted, duplicate or irregular timestamps.
    """
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise UserInputError(f"CSV file {str(path)!r} does not exist.")
        data = pd.read_csv(path)
    if not isinstance(data, pd.DataFrame):
        raise UserInputError(
            f"expected a pandas DataFrame or a CSV path, got {type(data).__name__}."
        )
    df = data
    if not isinstance(df.index, pd.DatetimeIndex):
        col = date_column
        if col is None:
            col = next((c for c in df.columns if str(c).lower() in _DATE_COLUMNS), None)
        if col is None or col not in df.columns:
            raise UserInputError(
                "the series needs a DatetimeIndex or a date column "
                f"({'column ' + repr(date_column) + ' not found; ' if date_column else ''}"
                f"looked for {list(_DATE_COLUMNS)}; columns are {list(df.columns)})."
            )
        try:
            index = pd.DatetimeIndex(pd.to_datetime(df[col]), name=col)
        except (ValueError, TypeError) as err:
            raise UserInputError(f"column {col!r} does not hold timestamps: {err}") from err
        df = df.drop(columns=[col]).set_index(index)
    if len(df.index) and df.index.hasnans:
        rows = np.flatnonzero(df.index.isna())[:5].tolist()
        raise UserInputError(f"missing timestamps (NaT) at rows {rows}.")
    check_timestamps(df.index)
    return df


def check_timestamps(index: pd.DatetimeIndex) -> str | None:
    """Checks that timestamps are sorted, unique and regular; returns the inferred frequency.

    Raises:
        UserInputError: naming the first offending rows.
    """
    if len(index) < 2:
        return None
    values = index.asi8
    steps = np.diff(values)
    bad = np.flatnonzero(steps < 0)
    if bad.size:
        i = int(bad[0])
        raise UserInputError(
            f"timestamps are not sorted: row {i + 1} ({index[i + 1]}) comes before row {i} "
            f"({index[i]}); sort the frame by time first (df.sort_index())."
        )
    dup = np.flatnonzero(steps == 0)
    if dup.size:
        rows = [int(i) + 1 for i in dup[:5]]
        raise UserInputError(
            f"duplicate timestamps at rows {rows} ({[str(index[r]) for r in rows]}); "
            "aggregate or drop duplicates first."
        )
    if len(index) < 3:
        return None
    freq = pd.infer_freq(index)
    if freq is None:
        common = pd.Series(steps).mode().iloc[0]
        i = int(np.flatnonzero(steps != common)[0])
        raise UserInputError(
            "irregular timestamps: the usual step is "
            f"{pd.Timedelta(int(common))}, but rows {i} -> {i + 1} ({index[i]} -> "
            f"{index[i + 1]}) step {pd.Timedelta(int(steps[i]))}; resample to a regular "
            "frequency first (e.g. df.resample('h').mean() then fill)."
        )
    return freq


def check_values(frame: pd.DataFrame, *, fill: str | None = None) -> pd.DataFrame:
    """Checks for NaN / inf (or fills NaN as ``fill`` says) and returns float32 values.

    Raises:
        UserInputError: non-numeric columns, infinite values, or NaN without ``fill``
            (the message names rows and columns).
    """
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise UserInputError(f"columns {non_numeric} are not numeric.")
    out = frame.astype("float64")
    values = out.to_numpy()
    inf = np.isinf(values)
    if inf.any():
        raise UserInputError(f"infinite values at {_describe_cells(out, inf)}.")
    nan = np.isnan(values)
    if nan.any():
        if fill is None:
            raise UserInputError(
                f"NaN values at {_describe_cells(out, nan)}; clean them or pass "
                "fill='ffill' or fill='interpolate'."
            )
        out = out.ffill() if fill == "ffill" else out.interpolate(method="time")
        out = out.bfill()
        if out.isna().to_numpy().any():
            raise UserInputError(f"columns {list(out.columns[out.isna().all()])} are all NaN.")
    return out.astype("float32")


def _describe_cells(frame: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    rows, cols = np.nonzero(mask)
    cells = [f"row {r} ({frame.index[r]}), column {frame.columns[c]!r}" for r, c in zip(rows, cols)]
    more = f" and {len(cells) - limit} more" if len(cells) > limit else ""
    return "; ".join(cells[:limit]) + more


# --------------------------------------------------------------------------- windows


def make_windows(
    values: np.ndarray, lookback: int, horizon: int, num_targets: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every stride-1 window of a series: ``n = N - L - H + 1`` of them, none dropped.

    Args:
        values: (N, F) series (targets in the first ``num_targets`` columns).
        lookback: L.
        horizon: H.
        num_targets: T; None = F.

    Returns:
        ``x`` (n, L, F) past values and ``y`` (n, H, T) future target values (copies).
    """
    n = len(values) - lookback - horizon + 1
    if n < 1:
        raise UserInputError(
            f"the series has {len(values)} rows; a window needs lookback + horizon = "
            f"{lookback} + {horizon} = {lookback + horizon}."
        )
    t = values.shape[1] if num_targets is None else num_targets
    view = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)
    view = view.transpose(0, 2, 1)  # (n, L + H, F)
    x = np.ascontiguousarray(view[:, :lookback], dtype="float32")
    y = np.ascontiguousarray(view[:, lookback:, :t], dtype="float32")
    return x, y


def window_dataset(
    values: np.ndarray,
    lookback: int,
    horizon: int,
    num_targets: int | None = None,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int | None = None,
):
    """The same windows as `make_windows` as a ``tf.data.Dataset`` of ``(x, y)`` batches.

    Built with `keras.utils.timeseries_dataset_from_array`; the last, smaller batch is kept.
    """
    t = values.shape[1] if num_targets is None else num_targets
    n = len(values) - lookback - horizon + 1
    if n < 1:
        raise UserInputError(
            f"the series has {len(values)} rows; a window needs {lookback + horizon}."
        )
    values = np.asarray(values, dtype="float32")
    # sequence_length = L + H over the N rows gives the n windows; split past / future.
    ds = keras.utils.timeseries_dataset_from_array(
        values,
        targets=None,
        sequence_length=lookback + horizon,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
    )
    return ds.map(lambda w: (w[:, :lookback], w[:, lookback:, :t]))


# --------------------------------------------------------------------------- baselines


def repeat_last_forecast(x: np.ndarray, horizon: int, num_targets: int | None = None) -> np.ndarray:
    """Repeats the last observed value: (n, L, F) -> (n, H, T)."""
    t = x.shape[2] if num_targets is None else num_targets
    return np.repeat(x[:, -1:, :t], horizon, axis=1)


def seasonal_naive_forecast(
    x: np.ndarray, horizon: int, season: int = 24, num_targets: int | None = None
) -> np.ndarray:
    """Repeats the last full season: ``y[h] = x[L - season + (h mod season)]``; (n, L, F) ->
    (n, H, T). Needs ``L >= season``."""
    lookback = x.shape[1]
    if lookback < season:
        raise UserInputError(f"seasonal naive needs lookback >= season ({lookback} < {season}).")
    t = x.shape[2] if num_targets is None else num_targets
    idx = lookback - season + (np.arange(horizon) % season)
    return x[:, idx, :t]


# --------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="rnn_apps")
class SegRNN(keras.layers.Layer):
    """Segment-recurrent forecaster (Lin et al., 2023, "SegRNN"), parallel multi-step decoding.

    (B, L, C) -> (B, H, C). Each window is normalised by its last value (subtracted before,
    added back after). The lookback is left-padded (with its first value) to N * W steps.

    Args:
        lookback: L.
        horizon: H.
        num_channels: C.
        seg_len: W.
        d_model: D.
        dropout: Dropout before the segment projection.
        channel_independent: Each channel is its own series (``(B*C, N, W)`` segments, position
            + channel embeddings); else the segments hold all channels (``(B, N, W*C)``).
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        seg_len: int = 48,
        d_model: int = 512,
        dropout: float = 0.0,
        channel_independent: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.num_channels = int(num_channels)
        self.seg_len = int(seg_len)
        self.d_model = int(d_model)
        self.dropout = float(dropout)
        self.channel_independent = bool(channel_independent)
        self.num_in = math.ceil(self.lookback / self.seg_len)  # N
        self.num_out = math.ceil(self.horizon / self.seg_len)  # M
        width = self.seg_len * (1 if self.channel_independent else self.num_channels)
        self._width = width
        self.segment_embedding = keras.layers.Dense(
            self.d_model, activation="relu", name="segment_embedding"
        )
        self.encoder = keras.layers.GRU(self.d_model, name="encoder_gru")
        self.decoder = keras.layers.GRUCell(self.d_model, name="decoder_gru")
        self.drop = keras.layers.Dropout(self.dropout, name="dropout")
        self.projection = keras.layers.Dense(width, name="segment_projection")

    def build(self, input_shape: Any) -> None:
        d = self.d_model
        normal = keras.initializers.RandomNormal(stddev=1.0)
        if self.channel_independent:
            self.pos_emb = self.add_weight(
                shape=(self.num_out, d // 2), initializer=normal, name="position_embedding"
            )
            self.channel_emb = self.add_weight(
                shape=(self.num_channels, d - d // 2), initializer=normal, name="channel_embedding"
            )
        else:
            self.pos_emb = self.add_weight(
                shape=(self.num_out, d), initializer=normal, name="position_embedding"
            )
        self.segment_embedding.build((None, self.num_in, self._width))
        self.encoder.build((None, self.num_in, d))
        self.decoder.build((None, d))
        self.drop.build((None, d))
        self.projection.build((None, d))

    def call(self, x: Any, training: bool | None = None) -> Any:
        c, n, m, w, d = self.num_channels, self.num_in, self.num_out, self.seg_len, self.d_model
        last = x[:, -1:, :]  # (B, 1, C)
        x = x - last
        pad = n * w - self.lookback
        if pad:
            x = ops.concatenate([ops.repeat(x[:, :1, :], pad, axis=1), x], axis=1)
        if self.channel_independent:
            seg = ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, n, w))  # (B*C, N, W)
        else:
            seg = ops.reshape(x, (-1, n, w * c))  # (B, N, W*C)
        h = self.encoder(self.segment_embedding(seg), training=training)  # (B', D)
        if self.channel_independent:
            pos = ops.broadcast_to(self.pos_emb[None, :, :], (c, m, d // 2))
            chan = ops.broadcast_to(self.channel_emb[:, None, :], (c, m, d - d // 2))
            dec = ops.reshape(ops.concatenate([pos, chan], axis=-1), (1, c * m, d))
            state = ops.repeat(ops.reshape(h, (-1, c, 1, d)), m, axis=2)  # (B, C, M, D)
            state = ops.reshape(state, (-1, c * m, d))  # (B, C*M, D)
        else:
            dec = ops.reshape(self.pos_emb, (1, m, d))
            state = ops.repeat(h[:, None, :], m, axis=1)  # (B, M, D)
        dec = ops.broadcast_to(dec, ops.shape(state))
        out, _ = self.decoder(
            ops.reshape(dec, (-1, d)), [ops.reshape(state, (-1, d))], training=training
        )  # (B*C*M or B*M, D)
        y = self.projection(self.drop(out, training=training))  # (., W or W*C)
        if self.channel_independent:
            y = ops.reshape(y, (-1, c, m * w))[:, :, : self.horizon]  # (B, C, H)
            y = ops.transpose(y, (0, 2, 1))  # (B, H, C)
        else:
            y = ops.reshape(y, (-1, m * w, c))[:, : self.horizon, :]  # (B, H, C)
        return y + last

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.horizon, self.num_channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            lookback=self.lookback,
            horizon=self.horizon,
            num_channels=self.num_channels,
            seg_len=self.seg_len,
            d_model=self.d_model,
            dropout=self.dropout,
            channel_independent=self.channel_independent,
        )
        return config


@keras.saving.register_keras_serializable(package="rnn_apps")
class DLinear(keras.layers.Layer):
    """DLinear (Zeng et al., 2023): trend (moving average) + remainder, each mapped L -> H by
    one Dense shared by all channels. (B, L, C) -> (B, H, C).
    """

    def __init__(self, lookback: int, horizon: int, kernel_size: int = 25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.kernel_size = int(kernel_size)
        self.trend_linear = keras.layers.Dense(self.horizon, name="trend_linear")
        self.seasonal_linear = keras.layers.Dense(self.horizon, name="seasonal_linear")

    def build(self, input_shape: Any) -> None:
        self.trend_linear.build((None, self.lookback))
        self.seasonal_linear.build((None, self.lookback))

    def call(self, x: Any) -> Any:
        k = self.kernel_size
        front = ops.repeat(x[:, :1, :], (k - 1) // 2, axis=1)
        back = ops.repeat(x[:, -1:, :], k // 2, axis=1)
        padded = ops.concatenate([front, x, back], axis=1)  # (B, L + k - 1, C)
        csum = ops.cumsum(ops.pad(padded, ((0, 0), (1, 0), (0, 0))), axis=1)
        trend = (csum[:, k:, :] - csum[:, :-k, :]) / k  # (B, L, C)
        seasonal = x - trend
        y = self.trend_linear(ops.transpose(trend, (0, 2, 1))) + self.seasonal_linear(
            ops.transpose(seasonal, (0, 2, 1))
        )  # (B, C, H)
        return ops.transpose(y, (0, 2, 1))

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.horizon, input_shape[2])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(lookback=self.lookback, horizon=self.horizon, kernel_size=self.kernel_size)
        return config


@keras.saving.register_keras_serializable(package="rnn_apps")
class LastValueCentering(keras.layers.Layer):
    """Subtracts each window's last value: (B, L, F) -> (B, L, F)."""

    def call(self, x: Any) -> Any:
        return x - x[:, -1:, :]


@keras.saving.register_keras_serializable(package="rnn_apps")
class AddLastValue(keras.layers.Layer):
    """Adds the window's last target values back: ``[(B, H, T), (B, L, F)] -> (B, H, T)``."""

    def __init__(self, num_targets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_targets = int(num_targets)

    def call(self, inputs: Any) -> Any:
        y, x = inputs
        return y + x[:, -1:, : self.num_targets]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["num_targets"] = self.num_targets
        return config


@keras.saving.register_keras_serializable(package="rnn_apps")
class TakeTargets(keras.layers.Layer):
    """Keeps the first ``num_targets`` channels: (B, H, C) -> (B, H, T)."""

    def __init__(self, num_targets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_targets = int(num_targets)

    def call(self, y: Any) -> Any:
        return y[:, :, : self.num_targets]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], input_shape[1], self.num_targets)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["num_targets"] = self.num_targets
        return config


# --------------------------------------------------------------------------- model builders


def build_segrnn(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    seg_len: int = 48,
    d_model: int = 512,
    dropout: float = 0.0,
    channel_independent: bool = True,
    name: str = "segrnn",
) -> keras.Model:
    """SegRNN as a functional model: window (B, L, F) -> forecast (B, H, T) (scaled units)."""
    t = num_features if num_targets is None else num_targets
    inp = keras.Input((lookback, num_features), name="window")
    y = SegRNN(
        lookback,
        horizon,
        num_features,
        seg_len=seg_len,
        d_model=d_model,
        dropout=dropout,
        channel_independent=channel_independent,
        name="segrnn",
    )(inp)
    if t != num_features:
        y = TakeTargets(t, name="targets")(y)
    return keras.Model(inp, y, name=name)


def build_dlinear(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    kernel_size: int = 25,
    name: str = "dlinear",
) -> keras.Model:
    """DLinear as a functional model: window (B, L, F) -> forecast (B, H, T)."""
    t = num_features if num_targets is None else num_targets
    inp = keras.Input((lookback, num_features), name="window")
    y = DLinear(lookback, horizon, kernel_size, name="dlinear")(inp)
    if t != num_features:
        y = TakeTargets(t, name="targets")(y)
    return keras.Model(inp, y, name=name)


def build_rnn_forecaster(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    cell: str = "lstm",
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    instance_norm: bool = True,
    name: str = "rnn_forecaster",
) -> keras.Model:
    """Stacked LSTM/GRU with a direct multi-horizon head (``build_stacked_rnn``), optionally
    wrapped in last-value normalisation: window (B, L, F) -> forecast (B, H, T)."""
    from rnn_apps.builders import build_stacked_rnn

    t = num_features if num_targets is None else num_targets
    core = build_stacked_rnn(
        num_features=num_features,
        mask_value=_MASK_VALUE,
        sequence_length=lookback,
        cell=cell,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        head="multi_horizon",
        horizon=horizon,
        output_dim=t,
        name=f"{name}_core",
    )
    if not instance_norm:
        return core
    inp = keras.Input((lookback, num_features), name="window")
    y = core(LastValueCentering(name="center")(inp))  # (B, L, F) -> (B, H, T)
    y = AddLastValue(t, name="add_last")([y, inp])
    return keras.Model(inp, y, name=name)


# --------------------------------------------------------------------------- the forecaster


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Forecaster:
    """Fits, evaluates, predicts with and exports one forecasting model.

    Usage::

        fc = Forecaster(ForecastConfig(lookback=96, horizon=24, targets=["OT"]))
        fc.fit(train_df, validation_df)          # scaling fitted on train_df only
        fc.evaluate(test_df)                     # every window of test_df
        fc.predict(recent_df)                    # DataFrame of the next H timestamps
        fc.export("saved_models/my_forecaster")  # SavedModel, real units in and out

    Learned state (set by `fit`/`load`): ``columns_``, ``targets_``, ``mean_``, ``std_``,
    ``freq_``, ``model_``, ``history_``, ``train_seconds_``.
    """

    def __init__(self, config: ForecastConfig | None = None, **overrides: Any) -> None:
        self.config = config if config is not None else ForecastConfig()
        if overrides:
            self.config = dataclasses.replace(self.config, **overrides)

    # ----------------------------------------------------------------- data preparation

    def _frame(self, data: Any, *, fitting: bool = False) -> pd.DataFrame:
        """Validated float32 frame with the model's columns (targets first)."""
        cfg = self.config
        df = read_series(data, date_column=cfg.date_column)
        if fitting:
            if cfg.targets is None:
                targets = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
                targets = [c for c in targets if c not in cfg.covariates]
                if not targets:
                    raise UserInputError("the frame has no numeric column to forecast.")
            else:
                targets = list(cfg.targets)
            columns = targets + [c for c in cfg.covariates if c not in targets]
        else:
            if getattr(self, "columns_", None) is None:
                self._check_fitted()
            columns = self.columns_
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise UserInputError(f"missing column(s) {missing}; the frame has {list(df.columns)}.")
        out = check_values(df[columns], fill=cfg.fill)
        if fitting:
            self.targets_ = targets
            self.columns_ = columns
        return out

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean_) / self.std_).astype("float32")

    def _unscale_targets(self, values: np.ndarray) -> np.ndarray:
        t = len(self.targets_)
        return (values * self.std_[:t] + self.mean_[:t]).astype("float32")

    def _check_fitted(self) -> None:
        if getattr(self, "model_", None) is None:
            raise UserInputError("this Forecaster is not fitted yet: call fit() or load().")

    def _check_length(self, frame: pd.DataFrame, what: str, need: int | None = None) -> None:
        cfg = self.config
        why = f"lookback {cfg.lookback} + horizon {cfg.horizon}"
        if need is not None:
            why = f"lookback {cfg.lookback}"
        need = cfg.lookback + cfg.horizon if need is None else need
        if len(frame) < need:
            raise UserInputError(
                f"the {what} has {len(frame)} rows; it needs at least {need} ({why})."
            )

    # ----------------------------------------------------------------- models

    def build_model(self) -> keras.Model:
        """Builds the configured model (scaled window (B, L, F) -> scaled forecast (B, H, T))."""
        cfg = self.config
        f, t = len(self.columns_), len(self.targets_)
        self._seq2seq = None
        self._decode_fn = None
        if cfg.model == "segrnn":
            return build_segrnn(
                cfg.lookback,
                cfg.horizon,
                f,
                t,
                seg_len=cfg.seg_len,
                d_model=cfg.d_model,
                dropout=cfg.dropout,
                channel_independent=cfg.channel_independent,
            )
        if cfg.model == "dlinear":
            return build_dlinear(cfg.lookback, cfg.horizon, f, t, kernel_size=cfg.kernel_size)
        if cfg.model in ("lstm", "gru"):
            return build_rnn_forecaster(
                cfg.lookback,
                cfg.horizon,
                f,
                t,
                cell=cfg.model,
                units=cfg.units,
                num_layers=cfg.num_layers,
                dropout=cfg.dropout,
                instance_norm=cfg.instance_norm,
            )
        from rnn_apps.builders import build_encoder_decoder

        self._seq2seq = build_encoder_decoder(
            source_features=f,
            target_features=t,
            cell="lstm",
            units=cfg.units,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
            output_dim=t,
            mask_value=_MASK_VALUE,
            name="seq2seq_forecaster",
        )
        return self._seq2seq.training_model

    def _seq2seq_inputs(self, x: np.ndarray, y: np.ndarray | None = None):
        """Teacher forcing: decoder input at step h = target at h - 1 (the last observed value
        at h = 0); with instance_norm, everything relative to the last observed value."""
        t = len(self.targets_)
        last = x[:, -1:, :t]
        if self.config.instance_norm:
            x = x - x[:, -1:, :]
            base = np.zeros_like(last)
        else:
            base = last
        if y is None:
            return x, base
        y = y - last if self.config.instance_norm else y
        dec = np.concatenate([base, y[:, :-1]], axis=1)
        return [x, dec], y

    def _forecast_scaled_tensor(self, x: Any) -> Any:
        """Traceable forecast: scaled windows (B, L, F) -> scaled forecasts (B, H, T)."""
        if self._seq2seq is None:
            return self.model_(x, training=False)
        t = len(self.targets_)
        last = x[:, -1:, :t]
        if self.config.instance_norm:
            x = x - x[:, -1:, :]
            prev = ops.zeros_like(last)
        else:
            prev = last
        states = _as_list(self._seq2seq.encoder_model(x, training=False))
        outs = []
        for _ in range(self.config.horizon):
            res = _as_list(self._seq2seq.decoder_model([prev, *states], training=False))
            prev, states = ops.add(res[0], 0.0), res[1:]  # add: a fresh tensor, no Keras mask
            outs.append(prev)
        y = ops.concatenate(outs, axis=1)  # (B, H, T)
        return y + last if self.config.instance_norm else y

    def _forecast_scaled(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Scaled windows (n, L, F) -> scaled forecasts (n, H, T), every window."""
        if self._seq2seq is None:
            return np.asarray(self.model_.predict(x, batch_size=batch_size, verbose=0))
        import tensorflow as tf

        if getattr(self, "_decode_fn", None) is None:
            spec = tf.TensorSpec([None, *x.shape[1:]], tf.float32)
            self._decode_fn = tf.function(self._forecast_scaled_tensor, input_signature=[spec])
        out = [
            np.asarray(self._decode_fn(tf.constant(x[i : i + batch_size], tf.float32)))
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(out, axis=0)

    # ----------------------------------------------------------------- fit

    def fit(
        self,
        train: pd.DataFrame | str | os.PathLike,
        validation: pd.DataFrame | str | os.PathLike | None = None,
        *,
        verbose: int = 0,
        strategy: Any = None,
    ) -> Forecaster:
        """Fits scaling (on the training rows only) and the model.

        Args:
            train: The training series (DataFrame or CSV). Without ``validation``, its last
                ``val_fraction`` of rows (plus ``lookback`` rows of context) validate.
            validation: A validation series whose first ``lookback`` rows may be context
                (e.g. the end of ``train``); every window in it is used.
            verbose: Keras verbosity.
            strategy: `"default"` (None), `"mirrored"` (all local GPUs), `"multi_worker"`
                (`MultiWorkerMirroredStrategy` over the machines in `TF_CONFIG`; trains with
                `rnn_apps.training.distributed_fit`, full batches only) or a
                `tf.distribute.Strategy`; the model is built under its scope.

        Returns:
            self.
        """
        from rnn_apps.training import is_multi_worker, resolve_strategy

        strategy = resolve_strategy(strategy)
        cfg = self.config.validate()
        keras.utils.set_random_seed(cfg.seed)
        frame = self._frame(train, fitting=True)
        self.freq_ = check_timestamps(frame.index)
        if validation is None and cfg.val_fraction > 0:
            n_val = max(int(round(len(frame) * cfg.val_fraction)), cfg.horizon)
            val_frame = frame.iloc[len(frame) - n_val - cfg.lookback :]
            frame = frame.iloc[: len(frame) - n_val]
            self._check_length(frame, "training part (after holding out validation rows)")
        elif validation is not None:
            val_frame = self._frame(validation)
            self._check_length(val_frame, "validation series")
        else:
            val_frame = None
        self._check_length(frame, "training series")
        values = frame.to_numpy()
        self.mean_ = values.mean(axis=0).astype("float32")
        std = values.std(axis=0)
        self.std_ = np.where(std > 1e-8, std, 1.0).astype("float32")
        t = len(self.targets_)
        x, y = make_windows(self._scale(values), cfg.lookback, cfg.horizon, t)
        if cfg.max_train_windows is not None and len(x) > cfg.max_train_windows:
            keep = np.random.default_rng(cfg.seed).choice(len(x), cfg.max_train_windows, False)
            x, y = x[np.sort(keep)], y[np.sort(keep)]
        val = None
        if val_frame is not None:
            val = make_windows(self._scale(val_frame.to_numpy()), cfg.lookback, cfg.horizon, t)
        with strategy.scope():
            self.model_ = self.build_model()
            self._compile()
        if self._seq2seq is not None:
            x, y = self._seq2seq_inputs(x, y)
            if val is not None:
                val = self._seq2seq_inputs(*val)
        callbacks: list[keras.callbacks.Callback] = []
        if val is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=cfg.patience, restore_best_weights=True, monitor="val_loss"
                )
            )
        if cfg.lr_decay != 1.0:
            callbacks.append(
                keras.callbacks.LearningRateScheduler(
                    lambda epoch, lr: lr if epoch == 0 else lr * cfg.lr_decay
                )
            )
        start = time.perf_counter()
        if is_multi_worker(strategy):
            history = self._fit_multi_worker(x, y, val, strategy, verbose)
        else:
            history = self.model_.fit(
                x,
                y,
                batch_size=cfg.batch_size,
                epochs=cfg.epochs,
                validation_data=val,
                shuffle=True,
                callbacks=callbacks,
                verbose=verbose,
            ).history
        self.train_seconds_ = time.perf_counter() - start
        self.history_ = {k: [float(v) for v in vs] for k, vs in history.items()}
        self.num_train_windows_ = len(y)
        return self

    def _fit_multi_worker(self, x, y, val, strategy, verbose: int) -> dict[str, list[float]]:
        """`distributed_fit` on fixed batches (the same steps on every worker)."""
        import tensorflow as tf

        from rnn_apps.training import distributed_fit

        cfg = self.config
        if len(y) < cfg.batch_size:
            raise UserInputError(
                f"Multi-worker training uses full batches of batch_size={cfg.batch_size} "
                f"windows but there are {len(y)}: lower batch_size."
            )

        def dataset(xs, ys, train: bool):
            xs = tuple(xs) if isinstance(xs, list | tuple) else xs
            ds = tf.data.Dataset.from_tensor_slices((xs, ys))
            if train:
                ds = ds.shuffle(len(ys), seed=cfg.seed, reshuffle_each_iteration=True)
            return ds.batch(cfg.batch_size, drop_remainder=train)

        optimizer = self.model_.optimizer

        def decay(epoch: int) -> None:
            optimizer.learning_rate.assign(cfg.learning_rate * cfg.lr_decay**epoch)

        return distributed_fit(
            self.model_,
            dataset(x, y, True),
            epochs=cfg.epochs,
            strategy=strategy,
            global_batch_size=cfg.batch_size,
            validation_data=None if val is None else dataset(val[0], val[1], False),
            patience=None if val is None else cfg.patience,
            on_epoch_begin=decay,
            verbose=verbose,
        )

    def _compile(self) -> None:
        from rnn_apps.builders import compile_model

        cfg = self.config
        loss = {"mse": "mse", "mae": "mae", "huber": keras.losses.Huber(delta=1.0)}[cfg.loss]
        compile_model(
            self.model_, loss=loss, learning_rate=cfg.learning_rate, clipnorm=cfg.clipnorm
        )

    # ----------------------------------------------------------------- evaluate / predict

    def windows(self, data: Any) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
        """Every (scaled) window of ``data``: ``x`` (n, L, F), ``y`` (n, H, T) and the timestamp
        of each window's first forecast step."""
        cfg = self.config
        frame = self._frame(data)
        self._check_length(frame, "series")
        x, y = make_windows(
            self._scale(frame.to_numpy()), cfg.lookback, cfg.horizon, len(self.targets_)
        )
        return x, y, frame.index[cfg.lookback : cfg.lookback + len(x)]

    def evaluate(self, data: Any, *, baselines: bool = True) -> dict[str, Any]:
        """MSE / MAE over **every** window of ``data`` (none dropped), on the scaled data
        (as the literature reports) and in real units, plus the naive baselines.

        Returns:
            ``{"mse", "mae", "mse_real", "mae_real", "num_windows", "mse_by_step",
            "baselines": {"repeat_last": {...}, "seasonal_naive": {...}}}``.
        """
        x, y, _ = self.windows(data)
        pred = self._forecast_scaled(x)
        out = self._metrics(pred, y)
        out["num_windows"] = int(len(x))
        out["mse_by_step"] = [float(v) for v in ((pred - y) ** 2).mean(axis=(0, 2))]
        if baselines:
            cfg, t = self.config, len(self.targets_)
            out["baselines"] = {
                "repeat_last": self._metrics(repeat_last_forecast(x, cfg.horizon, t), y)
            }
            if cfg.lookback >= cfg.season:
                out["baselines"]["seasonal_naive"] = self._metrics(
                    seasonal_naive_forecast(x, cfg.horizon, cfg.season, t), y
                )
        return out

    def _metrics(self, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
        t = len(self.targets_)
        err = pred.astype("float64") - y
        real = err * self.std_[:t]
        return {
            "mse": float(np.mean(err**2)),
            "mae": float(np.mean(np.abs(err))),
            "mse_real": float(np.mean(real**2)),
            "mae_real": float(np.mean(np.abs(real))),
        }

    def forecast_windows(self, windows: np.ndarray) -> np.ndarray:
        """Forecasts for raw windows: (n, L, F) real units, columns ``columns_`` -> (n, H, T)
        real units."""
        self._check_fitted()
        cfg = self.config
        windows = np.asarray(windows, dtype="float32")
        want = (cfg.lookback, len(self.columns_))
        if windows.ndim != 3 or windows.shape[1:] != want:
            raise UserInputError(
                f"windows must have shape (batch, {want[0]}, {want[1]}) = (batch, lookback, "
                f"features {self.columns_}), got {windows.shape}."
            )
        if not np.isfinite(windows).all():
            raise UserInputError("windows contain NaN or infinite values.")
        return self._unscale_targets(self._forecast_scaled(self._scale(windows)))

    def predict(self, data: Any) -> pd.DataFrame:
        """Forecasts the ``horizon`` steps after the last row of ``data``.

        Returns:
            DataFrame indexed by the future timestamps (the series' frequency), one column per
            target, real units.
        """
        self._check_fitted()
        cfg = self.config
        frame = self._frame(data)
        self._check_length(frame, "series", need=cfg.lookback)
        freq = check_timestamps(frame.index) or self.freq_
        if freq is None:
            raise UserInputError("cannot infer the series frequency; give at least 3 rows.")
        if self.freq_ is not None and _offset(freq) != _offset(self.freq_):
            raise UserInputError(
                f"the series has frequency {freq!r}, the model was trained on {self.freq_!r}."
            )
        window = frame.to_numpy()[-cfg.lookback :][None]
        pred = self.forecast_windows(window)[0]  # (H, T)
        offset = pd.tseries.frequencies.to_offset(freq)
        index = pd.date_range(frame.index[-1] + offset, periods=cfg.horizon, freq=offset)
        index.name = frame.index.name
        return pd.DataFrame(pred, index=index, columns=self.targets_)

    # ----------------------------------------------------------------- plots

    def plot_forecast(
        self,
        data: Any,
        path: str | os.PathLike,
        *,
        window: int = -1,
        column: str | None = None,
        history: int | None = None,
    ) -> Path:
        """PNG of one window: history, forecast and actuals of ``column`` (first target)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cfg = self.config
        frame = self._frame(data)
        self._check_length(frame, "series")
        n = len(frame) - cfg.lookback - cfg.horizon + 1
        i = window % n if -n <= window < n else None
        if i is None:
            raise UserInputError(f"window {window} out of range: the series has {n} windows.")
        column = column or self.targets_[0]
        if column not in self.targets_:
            raise UserInputError(f"column {column!r} is not a target ({self.targets_}).")
        j = self.targets_.index(column)
        values = frame.to_numpy()
        pred = self.forecast_windows(values[i : i + cfg.lookback][None])[0, :, j]
        hist = history or cfg.lookback
        past = frame.iloc[i + cfg.lookback - hist : i + cfg.lookback]
        future = frame.iloc[i + cfg.lookback : i + cfg.lookback + cfg.horizon]
        fig, ax = plt.subplots(figsize=(10, 4))
        ax.plot(past.index, past[column], color="0.4", label="history")
        ax.plot(future.index, future[column], color="tab:green", label="actual")
        ax.plot(future.index, pred, color="tab:red", label=f"forecast ({cfg.model})")
        ax.set_title(f"{column}: L={cfg.lookback}, H={cfg.horizon}")
        ax.legend()
        fig.autofmt_xdate()
        return _save_fig(fig, path)

    def plot_error_by_horizon(self, data: Any, path: str | os.PathLike) -> Path:
        """PNG of the MSE (scaled) at each horizon step, model vs. naive baselines."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cfg, t = self.config, len(self.targets_)
        x, y, _ = self.windows(data)
        curves = {
            cfg.model: self._forecast_scaled(x),
            "repeat last": repeat_last_forecast(x, cfg.horizon, t),
        }
        if cfg.lookback >= cfg.season:
            curves[f"seasonal naive ({cfg.season})"] = seasonal_naive_forecast(
                x, cfg.horizon, cfg.season, t
            )
        fig, ax = plt.subplots(figsize=(8, 4))
        steps = np.arange(1, cfg.horizon + 1)
        for label, pred in curves.items():
            ax.plot(steps, ((pred - y) ** 2).mean(axis=(0, 2)), label=label)
        ax.set_xlabel("horizon step")
        ax.set_ylabel("MSE (scaled)")
        ax.set_title(f"error by horizon step over {len(x)} windows")
        ax.legend()
        return _save_fig(fig, path)

    # ----------------------------------------------------------------- export / persistence

    def serving_fn(self):
        """The export function: ``window`` (B, L, F) float32 real units -> ``{"forecast":
        (B, H, T) float32 real units}``; scaling inside the graph."""
        import tensorflow as tf

        self._check_fitted()
        t = len(self.targets_)
        mean = tf.constant(self.mean_, dtype=tf.float32)
        std = tf.constant(self.std_, dtype=tf.float32)

        lookback, num_features = self.config.lookback, len(self.columns_)
        msg = (
            f"window must have shape [batch, {lookback}, {num_features}] = [batch, lookback, "
            f"features {self.columns_}]; got [steps, features] ="
        )

        def serve(window):
            # The signature fixes [None, L, F], but a loaded signature does not check it, and
            # graph optimisation folds checks on static shapes: hide the static shape from
            # the check (PlaceholderWithDefault), then restore it for the model.
            dynamic = tf.raw_ops.PlaceholderWithDefault(input=window, shape=[None, None, None])
            check = tf.debugging.assert_equal(
                tf.shape(dynamic)[1:], tf.constant([lookback, num_features]), message=msg
            )
            with tf.control_dependencies([check]):
                window = tf.ensure_shape(tf.identity(dynamic), [None, lookback, num_features])
            window = tf.debugging.check_numerics(window, "window contains NaN or inf")
            y = self._forecast_scaled_tensor((window - mean) / std)  # (B, H, T) scaled
            return {"forecast": tf.cast(y, tf.float32) * std[:t] + mean[:t]}

        return serve

    def input_signature(self) -> list:
        """``[TensorSpec([None, L, F], float32, name="window")]``: a window with the wrong number
        of steps or features is refused by the SavedModel's signature."""
        import tensorflow as tf

        return [
            tf.TensorSpec([None, self.config.lookback, len(self.columns_)], tf.float32, "window")
        ]

    def export(
        self,
        path: str | os.PathLike,
        *,
        sample_windows: np.ndarray | None = None,
        metadata: dict[str, Any] | None = None,
        verify: bool = True,
    ):
        """Writes and verifies a SavedModel (``serving_default``: ``window`` -> ``forecast``).

        Args:
            path: Destination folder.
            sample_windows: (n, L, F) real-unit windows for verification (default: random
                windows around the training mean).
            metadata: Extra facts for ``assets/metadata.json`` (metrics, command ...).
            verify: Reload in a clean process and compare with the in-process forecasts.

        Returns:
            The export core's ``ExportReport``.
        """
        from rnn_apps.export import Endpoint, export_saved_model

        self._check_fitted()
        cfg = self.config
        if sample_windows is None:
            rng = np.random.default_rng(0)
            shape = (4, cfg.lookback, len(self.columns_))
            sample_windows = self.mean_ + self.std_ * rng.standard_normal(shape)
        sample_windows = np.asarray(sample_windows, dtype="float32")
        track = [self.model_]
        if self._seq2seq is not None:
            track += [self._seq2seq.encoder_model, self._seq2seq.decoder_model]
        meta = {
            "task": "forecast",
            "model": cfg.model,
            "columns": self.columns_,
            "targets": self.targets_,
            "covariates": [c for c in self.columns_ if c not in self.targets_],
            "lookback": cfg.lookback,
            "horizon": cfg.horizon,
            "frequency": self.freq_,
            "scaling": {
                "kind": "standard (mean/std fitted on the training rows), inside the graph",
                "mean": self.mean_.tolist(),
                "std": self.std_.tolist(),
            },
            "inputs": {"window": "float32 [batch, lookback, len(columns)], real units"},
            "outputs": {"forecast": "float32 [batch, horizon, len(targets)], real units"},
            "config": dataclasses.asdict(cfg),
        }
        meta.update(metadata or {})
        return export_saved_model(
            path,
            endpoints=[Endpoint("serving_default", self.serving_fn(), self.input_signature())],
            track=track,
            metadata=meta,
            sample_inputs={"serving_default": {"window": sample_windows}},
            verify=verify,
        )

    def save(self, directory: str | os.PathLike) -> Path:
        """Saves the config, the learned scaling and the weights (``forecaster.json`` +
        ``model-<tag>.weights.h5``; see `rnn_apps.persistence.save_pipeline`)."""
        from rnn_apps.persistence import save_pipeline

        self._check_fitted()
        state = {
            "config": dataclasses.asdict(self.config),
            "columns": self.columns_,
            "targets": self.targets_,
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
            "freq": self.freq_,
            "history": getattr(self, "history_", {}),
        }
        return save_pipeline(
            directory,
            write_model=self.model_.save_weights,
            model_file=WEIGHTS_FILE,
            state=state,
            state_file=STATE_FILE,
            indent=2,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Forecaster:
        """Restores a `save`d forecaster."""
        from rnn_apps.persistence import read_pipeline

        state, weights_file = read_pipeline(
            directory,
            state_file=STATE_FILE,
            model_file=WEIGHTS_FILE,
            missing=f"{Path(directory)} holds no saved forecaster ({STATE_FILE} missing).",
        )
        fc = cls(ForecastConfig.from_dict(state["config"]))
        fc.columns_, fc.targets_ = state["columns"], state["targets"]
        fc.mean_ = np.asarray(state["mean"], dtype="float32")
        fc.std_ = np.asarray(state["std"], dtype="float32")
        fc.freq_ = state["freq"]
        fc.history_ = state.get("history", {})
        fc.model_ = fc.build_model()
        fc.model_.load_weights(weights_file)
        return fc


def _offset(freq: str) -> Any:
    return pd.tseries.frequencies.to_offset(freq)


def _save_fig(fig: Any, path: str | os.PathLike) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def fit_dlinear_baseline(
    train: Any, validation: Any, config: ForecastConfig, **overrides: Any
) -> Forecaster:
    """The DLinear baseline with the recipe of its paper (Adam 5e-3, batch 32, MSE, early
    stopping patience 3, at most 10 epochs), same windows and scaling as ``config``."""
    params = {
        "model": "dlinear",
        "learning_rate": 5e-3,
        "batch_size": 32,
        "loss": "mse",
        "epochs": 10,
        "patience": 3,
        "clipnorm": None,
        "lr_decay": 0.5,
    }
    params.update(overrides)
    return Forecaster(dataclasses.replace(config, **params)).fit(train, validation)


# --------------------------------------------------------------------------- command line


def _load_frame_arg(args: argparse.Namespace) -> Any:
    if args.data == "etth1":
        from rnn_apps.data.etth1 import load_etth1

        return load_etth1(args.data_dir)
    return args.data


def _config_from_args(args: argparse.Namespace) -> ForecastConfig:
    from rnn_apps.cli import load_config_file

    values = load_config_file(getattr(args, "config", None))
    for name in ("lookback", "horizon", "model", "epochs", "targets", "covariates", "fill"):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    if getattr(args, "seed", None) is not None:
        values["seed"] = args.seed
    return ForecastConfig.from_dict(values)


def _cmd_train(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    data = _load_frame_arg(args)
    from rnn_apps.cli import worker_output_dir

    out = worker_output_dir(Path(args.output_dir or "forecast_model"))
    if args.data == "etth1":
        from rnn_apps.data.etth1 import split_etth1

        train, val, test = split_etth1(data, cfg.lookback)
        fc = Forecaster(cfg).fit(train, val, strategy=args.strategy)
        report = fc.evaluate(test)
        fc.plot_forecast(test, out / "forecast.png")
        fc.plot_error_by_horizon(test, out / "error_by_horizon.png")
    else:
        fc = Forecaster(cfg).fit(data, strategy=args.strategy)
        report = None
    fc.save(out)
    summary: dict[str, Any] = {
        "saved": str(out),
        "train_seconds": round(fc.train_seconds_, 1),
        "test": report,
    }
    if not args.no_export:
        fc.export(out / "saved_model")
        summary["saved_model"] = str(out / "saved_model")
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    fc = Forecaster.load(args.model_dir)
    data = _load_frame_arg(args)
    if args.data == "etth1":
        from rnn_apps.data.etth1 import split_etth1

        data = split_etth1(data, fc.config.lookback).test
    print(json.dumps(fc.evaluate(data), indent=2))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    fc = Forecaster.load(args.model_dir)
    data = _load_frame_arg(args)
    pred = fc.predict(data)
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        pred.to_csv(out / "forecast.csv")
        fc.plot_forecast(data, out / "forecast.png") if args.plot else None
        print(out / "forecast.csv")
    else:
        print(pred.to_csv())
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    fc = Forecaster.load(args.model_dir)
    report = fc.export(args.export_dir or args.output_dir or "saved_models/forecast")
    print(report.summary)
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds ``rnn-apps forecast {train,evaluate,predict,export}``."""
    from rnn_apps.cli import add_common_args, add_strategy_arg

    parser = subparsers.add_parser("forecast", help="multi-horizon time-series forecasting")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")
    help_data = "CSV file (a date column + numeric columns), or 'etth1' for the benchmark data"

    p = verbs.add_parser(
        "train",
        help="fit a forecaster, evaluate it, save it to --output-dir and export a SavedModel",
    )
    p.add_argument("--data", default="etth1", help=help_data + " (default: etth1)")
    p.add_argument("--no-export", action="store_true", help="skip writing <output-dir>/saved_model")
    p.add_argument("--targets", nargs="+", default=None, help="columns to forecast (default all)")
    p.add_argument("--covariates", nargs="+", default=None, help="past-only input columns")
    p.add_argument("--lookback", type=int, default=None)
    p.add_argument("--horizon", type=int, default=None)
    p.add_argument("--model", choices=MODELS, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--fill", choices=["ffill", "interpolate"], default=None)
    add_common_args(p)
    add_strategy_arg(p)
    p.set_defaults(func=_cmd_train)

    for verb, func, doc in (
        ("evaluate", _cmd_evaluate, "metrics over every window (etth1: the test split)"),
        ("predict", _cmd_predict, "forecast the steps after the end of --data"),
        ("export", _cmd_export, "write a verified SavedModel"),
    ):
        p = verbs.add_parser(verb, help=doc)
        p.add_argument("--model-dir", required=True, help="folder written by 'forecast train'")
        if verb != "export":
            p.add_argument("--data", required=True, help=help_data)
        if verb == "predict":
            p.add_argument("--plot", action="store_true", help="also write forecast.png")
        if verb == "export":
            p.add_argument("--export-dir", default=None, help="SavedModel folder")
        add_common_args(p)
        p.set_defaults(func=func)


__all__ = [
    "MODELS",
    "AddLastValue",
    "DLinear",
    "ForecastConfig",
    "Forecaster",
    "LastValueCentering",
    "SegRNN",
    "TakeTargets",
    "build_dlinear",
    "build_rnn_forecaster",
    "build_segrnn",
    "check_timestamps",
    "check_values",
    "fit_dlinear_baseline",
    "make_windows",
    "read_series",
    "repeat_last_forecast",
    "seasonal_naive_forecast",
    "window_dataset",
]
