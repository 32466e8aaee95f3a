"""`ForecastPreprocessor`: a forecaster's column order and scaling, as a Keras layer.

Called on a window in real units (B, L, F) it returns the scaled window (B, L, F) the network
takes, so it runs as it is in a user's `tf.data` pipeline (`ds.map(pre)`), in a functional
Keras model and inside the export's graph. The scaling is a `keras.layers.Normalization` of
all F columns adapted on the training rows only (`adapt`); `denormalize` is its inverse for the
T targets (`Normalization(invert=True)`), `normalize_targets` scales training labels.

The statistics are constants of the graph (no variables): `get_config` carries them (with the
columns), so the layer round-trips through its config, and the pipeline's JSON state
(`get_state` / `from_state`) keeps its format.

Shape legend: N rows, B batch, L lookback, H horizon, F features (targets first, then
covariates), T targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from rnn_apps.errors import UserInputError


@keras.saving.register_keras_serializable(package="rnn_apps")
class ForecastPreprocessor(keras.layers.Layer):
    """Column selection and scaling of a forecaster, adapted on the training rows only.

    `call(window)`: (B, L, F) float real units -> (B, L, F) float32 scaled (`normalize`).

    Args:
        columns: Model input columns, targets first (F).
        targets: Forecast columns (T).
        frequency: pandas frequency alias of the training series (`"h"` ...).
        mean, variance: (F,) scaling statistics (as `adapt` learns them); None: not adapted.
        **kwargs: `keras.layers.Layer` arguments (`name` ...).

    Attributes:
        columns, targets, frequency: As given.
        mean, variance: (F,) float32 statistics (after `adapt` or when given).
        normalize: `keras.layers.Normalization` of all F columns (real -> scaled).
        denormalize: `keras.layers.Normalization(invert=True)` of the T targets
            (scaled -> real).
        normalize_targets: `keras.layers.Normalization` of the T targets (training labels).
    """

    def __init__(
        self,
        columns: Sequence[str],
        targets: Sequence[str],
        frequency: str | None,
        mean: Sequence[float] | None = None,
        variance: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.columns = list(columns)
        self.targets = list(targets)
        self.frequency = frequency
        self.mean = self.variance = None
        if mean is not None and variance is not None:
            self._set_scaling(np.asarray(mean, "float32"), np.asarray(variance, "float32"))
        self.built = True  # no weights of its own; the sublayers are built with the statistics

    # ------------------------------------------------------------------ building
    @classmethod
    def choose_columns(
        cls, frame: Any, targets: Sequence[str] | None, covariates: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """`(columns, targets)`: the configured targets (default: every numeric column but
        the covariates) followed by the covariates."""
        import pandas as pd

        if targets is None:
            targets = [
                c
                for c in frame.columns
                if pd.api.types.is_numeric_dtype(frame[c]) and c not in covariates
            ]
            if not targets:
                raise UserInputError("the frame has no numeric column to forecast.")
        targets = list(targets)
        return targets + [c for c in covariates if c not in targets], targets

    def adapt(self, values: Any) -> ForecastPreprocessor:
        """Fits the scaling on training rows (N, F): `Normalization.adapt`; a column that is
        constant in training gets variance 1 (it would otherwise be divided by ~0)."""
        layer = keras.layers.Normalization(axis=-1)
        layer.adapt(np.asarray(values, dtype="float32"))
        mean = np.asarray(layer.mean, dtype="float32").reshape(-1)
        variance = np.asarray(layer.variance, dtype="float32").reshape(-1)
        variance = np.where(variance > 1e-12, variance, 1.0).astype("float32")
        self._set_scaling(mean, variance)
        return self

    def _set_scaling(self, mean: np.ndarray, variance: np.ndarray) -> None:
        t = len(self.targets)
        self.mean, self.variance = mean, variance
        self.normalize = keras.layers.Normalization(mean=mean, variance=variance, name="scale")
        self.normalize_targets = keras.layers.Normalization(
            mean=mean[:t], variance=variance[:t], name="scale_targets"
        )
        self.denormalize = keras.layers.Normalization(
            mean=mean[:t], variance=variance[:t], invert=True, name="unscale_targets"
        )
        for layer, f in ((self.normalize, len(mean)), (self.normalize_targets, t)):
            layer.build((None, None, f))
        self.denormalize.build((None, None, t))

    @property
    def is_adapted(self) -> bool:
        return self.mean is not None

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.variance).astype("float32")

    # ------------------------------------------------------------------ raw -> frame
    def frame(self, data: Any, options: Mapping[str, Any]) -> Any:
        """The validated float32 frame of the model's columns (targets first).

        Args:
            data: A DataFrame or a CSV path.
            options: `date_column`, `date_format`, `dayfirst`, `fill` (see `ForecastConfig`).
        """
        from rnn_apps.tasks.forecast.preprocessor import select_frame

        return select_frame(data, self.columns, options)

    # ------------------------------------------------------------------ tensors
    def call(self, window: Any) -> Any:
        """(B, L, F) real units -> (B, L, F) scaled."""
        if not self.is_adapted:
            raise UserInputError(
                f"{type(self).__name__} {self.name!r} is not adapted: call adapt(training "
                "rows) first (or give mean and variance)."
            )
        return self.normalize(window)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape)

    def scale_windows(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Real-unit windows -> scaled: x (B, L, F), y (B, H, T) (for `tf.data.map`)."""
        return self(x), self.normalize_targets(y)

    # ------------------------------------------------------------------ state
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "columns": list(self.columns),
            "targets": list(self.targets),
            "frequency": self.frequency,
            "mean": None if self.mean is None else self.mean.tolist(),
            "variance": None if self.variance is None else self.variance.tolist(),
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "targets": list(self.targets),
            "frequency": self.frequency,
            "mean": self.mean.tolist(),
            "variance": self.variance.tolist(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ForecastPreprocessor:
        return cls(
            state["columns"], state["targets"], state["frequency"], state["mean"], state["variance"]
        )
