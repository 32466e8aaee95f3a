"""Quantile forecasts that never cross, and the loss that trains them.

`NonCrossingQuantiles` maps raw network outputs (..., Q) to quantiles (..., Q) ordered by
construction: the anchor (the quantile level nearest 0.5, the median when 0.5 is a level) is
the raw value; each higher quantile adds a softplus (> 0) to the one below it, each lower one
subtracts a softplus from the one above it. `PinballLoss` is the multi-quantile (pinball)
loss, averaged over the levels, of targets (...) against quantiles (..., Q).

Shape legend: B batch, H horizon, T targets, Q quantile levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


def check_levels(levels: Sequence[float]) -> list[float]:
    """Quantile levels as floats, strictly increasing inside (0, 1)."""
    out = [float(q) for q in levels]
    if not out or any(not 0.0 < q < 1.0 for q in out) or any(a >= b for a, b in zip(out, out[1:])):
        raise ValueError(f"quantile levels must be strictly increasing in (0, 1), got {levels!r}")
    return out


@keras.saving.register_keras_serializable(package="rnn_apps")
class NonCrossingQuantiles(keras.layers.Layer):
    """Raw outputs (..., Q) -> non-crossing quantiles (..., Q) of the given levels.

    Args:
        quantiles: The Q levels, strictly increasing in (0, 1).
    """

    def __init__(self, quantiles: Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.quantiles = check_levels(quantiles)
        self.anchor = int(np.argmin([abs(q - 0.5) for q in self.quantiles]))

    def call(self, raw: Any) -> Any:
        k = self.anchor
        anchor = raw[..., k : k + 1]
        steps = ops.softplus(raw)
        above = anchor + ops.cumsum(steps[..., k + 1 :], axis=-1)
        below = anchor - ops.flip(ops.cumsum(ops.flip(steps[..., :k], axis=-1), axis=-1), axis=-1)
        return ops.concatenate([below, anchor, above], axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quantiles": self.quantiles}


@keras.saving.register_keras_serializable(package="rnn_apps")
class PinballLoss(keras.losses.Loss):
    """Mean pinball loss of targets (...) against quantiles (..., Q) of `quantiles`.

    Args:
        quantiles: The Q levels.
    """

    def __init__(self, quantiles: Sequence[float], name: str = "pinball", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.quantiles = check_levels(quantiles)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        q = ops.convert_to_tensor(np.asarray(self.quantiles, "float32"))
        diff = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred  # (..., Q)
        return ops.mean(ops.maximum(q * diff, (q - 1.0) * diff), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quantiles": self.quantiles}
