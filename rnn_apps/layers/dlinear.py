"""DLinear (Zeng et al., 2023, "Are Transformers Effective for Time Series Forecasting?")."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class DLinear(keras.layers.Layer):
    """Trend (moving average, edges padded with the first/last value) + remainder, each mapped
    from L to H steps by one Dense shared by all channels.

    Shape: (B, L, C) -> (B, H, C).

    Args:
        lookback: L.
        horizon: H.
        kernel_size: Moving-average window of the trend.
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
