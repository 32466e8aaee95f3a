"""Per-window scaling of one series with missing (left-padded) steps: the global model's
scaler, so one network serves series of any level and amplitude.

`MaskedWindowScale` takes a window in real units, NaN where a step is not observed (a series
shorter than the window is left-padded with NaN), and returns the network's input (the scaled
window and the observed mask) with the window's two statistics; `UnscaleForecast` maps the
network's scaled forecast back. With `log=True` both work on the logarithm of the series (for
positive data whose errors are relative: a forecast's quantiles map back through `exp` in
order, so they stay quantiles).
The level is the mean of the last `season` observed steps (the recent level a forecast starts
from), the scale the standard deviation of every observed step of the window (the amplitude of
its seasonality and noise), floored at `min_scale` times the level's magnitude so a flat window
does not divide by ~0. Steps that are not observed are 0 in the scaled window.

Shape legend: B batch, L lookback, H horizon, Q quantile levels.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class MaskedWindowScale(keras.layers.Layer):
    """`window (B, L)` (NaN = not observed) `-> [features (B, L, 2), level (B, 1), scale (B, 1)]`,
    features = (scaled value, 0 where not observed; observed 1/0).

    Args:
        season: Steps the level averages over (the last `season` observed ones).
        min_scale: The scale is at least `min_scale * |level| + 1e-6`.
        log: Scale the logarithm of the window (its observed values must be > 0).
    """

    def __init__(
        self, season: int = 24, min_scale: float = 0.01, log: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.season = int(season)
        self.min_scale = float(min_scale)
        self.log = bool(log)

    def transform(self, values: Any) -> Any:
        """Real units -> the space the statistics are taken in (`log` or identity)."""
        values = ops.cast(values, "float32")
        return ops.log(values) if self.log else values

    def call(self, inputs: Any) -> Any:
        window = ops.cast(inputs, "float32")
        seen = ops.logical_not(ops.isnan(window))
        observed = ops.cast(seen, "float32")
        # where(isnan, fill, x) with a tensor fill: converters rewrite where(mask, x, 0) as
        # mask * x, which keeps NaN (tf2onnx).
        window = ops.where(ops.isnan(window), ops.zeros_like(window) + (1.0 if self.log else 0.0),
                           window)  # fmt: skip
        window = self.transform(window) * observed
        # The last `season` observed steps: rank observed steps from the end.
        from_end = ops.flip(ops.cumsum(ops.flip(observed, axis=1), axis=1), axis=1)
        recent = observed * ops.cast(from_end <= self.season, "float32")
        count = ops.maximum(ops.sum(recent, axis=1, keepdims=True), 1.0)
        level = ops.sum(window * recent, axis=1, keepdims=True) / count  # (B, 1)
        n = ops.maximum(ops.sum(observed, axis=1, keepdims=True), 1.0)
        mean = ops.sum(window, axis=1, keepdims=True) / n
        var = ops.sum(observed * ops.square(window - mean), axis=1, keepdims=True) / n
        scale = ops.maximum(ops.sqrt(var), self.min_scale * ops.abs(level) + 1e-6)  # (B, 1)
        scaled = observed * (window - level) / scale  # (B, L)
        return [ops.stack([scaled, observed], axis=-1), level, scale]

    def compute_output_shape(self, input_shape: Any) -> list:
        b, length = input_shape
        return [(b, length, 2), (b, 1), (b, 1)]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "season": self.season,
            "min_scale": self.min_scale,
            "log": self.log,
        }


@keras.saving.register_keras_serializable(package="rnn_apps")
class UnscaleForecast(keras.layers.Layer):
    """`[scaled forecast (B, H, ...), level (B, 1), scale (B, 1)] -> real units (B, H, ...)`:
    `level + scale * y`, then `exp` when `log`.

    Args:
        log: The scaling was of the logarithm (`MaskedWindowScale(log=True)`).
    """

    def __init__(self, log: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = bool(log)

    def call(self, inputs: Any) -> Any:
        y, level, scale = inputs
        extra = len(y.shape) - 2
        for _ in range(extra):
            level, scale = ops.expand_dims(level, -1), ops.expand_dims(scale, -1)
        out = level + scale * y
        return ops.exp(out) if self.log else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log": self.log}

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0])
