"""Max pooling over time that respects the mask (keras.layers.GlobalMaxPooling1D does not)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time that ignores masked (padded) steps.

    `keras.layers.GlobalMaxPooling1D` ignores the mask, so padded steps (zeros) can win the
    max. This layer takes the max over valid steps only; a fully masked sequence gives zeros.

    Shape: (B, T, C) with mask (B, T) -> (B, C).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        valid = ops.expand_dims(ops.cast(mask, "bool"), -1)  # (B, T, 1)
        # The lowest finite value, not -inf: converters turn a select into
        # cond * x + (1 - cond) * y (tf2onnx), where -inf * 0 is NaN.
        finite_min = float(np.finfo(keras.backend.standardize_dtype(inputs.dtype)).min)
        lowest = ops.full_like(inputs, finite_min)
        pooled = ops.max(ops.where(valid, inputs, lowest), axis=1)  # (B, C)
        any_valid = ops.any(valid, axis=1)  # (B, 1)
        return ops.where(any_valid, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
