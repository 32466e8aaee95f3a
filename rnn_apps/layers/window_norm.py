"""Per-window normalisation by the last observed value ("subtract the last value").

The one implementation used by every forecasting architecture (SegRNN, stacked LSTM/GRU,
seq2seq): a window is made relative to its last observed step before the network sees it, and
that value is added back to the network's forecast. This makes the forecast follow level shifts
the training data never showed (Lin et al., 2023, SegRNN; Zeng et al., 2023, NLinear).

Shape legend: B batch, L lookback, F features, H horizon, T targets (the first T features).
"""

from __future__ import annotations

from typing import Any

import keras


def _last_value(reference: Any, width: int | None = None) -> Any:
    """The reference window's last step, (B, L, F) -> (B, 1, width or F)."""
    last = reference[:, -1:, :]
    return last if width is None else last[:, :, :width]


@keras.saving.register_keras_serializable(package="rnn_apps")
class LastValueCentering(keras.layers.Layer):
    """Subtracts a window's last value.

    Called on one tensor `x` (B, L, F): returns `x - x[:, -1:, :]` (B, L, F). Called on
    `[sequence, window]` with `sequence` (B, S, C), C <= F: returns `sequence - window[:, -1:,
    :C]` (B, S, C), e.g. a seq2seq decoder's teacher-forcing inputs made relative to the same
    window as the encoder's.
    """

    def call(self, inputs: Any) -> Any:
        if isinstance(inputs, (list, tuple)):
            sequence, window = inputs
            return sequence - _last_value(window, sequence.shape[-1])
        return inputs - _last_value(inputs)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="rnn_apps")
class AddLastValue(keras.layers.Layer):
    """Adds the window's last target values back: `[y (B, H, T), window (B, L, F)] -> (B, H, T)`.

    Args:
        num_targets: T, the targets being the first T features of the window.
    """

    def __init__(self, num_targets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_targets = int(num_targets)
        self.supports_masking = True  # accepts a masked `y` (a decoder's output) ...

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None  # ... and returns a forecast without a mask

    def call(self, inputs: Any) -> Any:
        y, window = inputs
        return y + _last_value(window, self.num_targets)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["num_targets"] = self.num_targets
        return config


@keras.saving.register_keras_serializable(package="rnn_apps")
class TakeTargets(keras.layers.Layer):
    """Keeps the first `num_targets` channels: (B, H, C) -> (B, H, T).

    Args:
        num_targets: T.
    """

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
