"""`CovariateEncoder`: a global forecaster's covariates in real units -> network inputs.

Future covariates (known for the history and the horizon: promotions, prices, holidays) are
standardised per column with statistics adapted on the training rows; static covariates (one
value per series) are standardised when numeric and one-hot encoded when categorical
(`keras.layers.StringLookup`, index 0 for a category unseen in training). Like the other
preprocessors it is adapted on training data only, carries its statistics and vocabularies in
its config, and runs in `tf.data`, in a Keras model and inside the export.

Shape legend: B batch, L lookback, H horizon, C future covariates, Sn numeric and Sc
categorical static covariates, S encoded static width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class CovariateEncoder(keras.layers.Layer):
    """`{"future": (B, L + H, C), "static_numeric": (B, Sn), "static_categorical": (B, Sc)}`
    (the keys the model has) `-> [future (B, L + H, C) scaled, static (B, S)]` (None for a
    kind the model does not have).

    Args:
        future_columns: The C future covariate names.
        future_mean, future_std: (C,) statistics (from `adapt`).
        numeric_columns: Numeric static covariate names.
        numeric_mean, numeric_std: (Sn,) statistics.
        categorical_columns: Categorical static covariate names.
        vocabularies: One list of categories per categorical column.
    """

    def __init__(
        self,
        future_columns: Sequence[str] = (),
        future_mean: Sequence[float] = (),
        future_std: Sequence[float] = (),
        numeric_columns: Sequence[str] = (),
        numeric_mean: Sequence[float] = (),
        numeric_std: Sequence[float] = (),
        categorical_columns: Sequence[str] = (),
        vocabularies: Sequence[Sequence[str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.future_columns = list(future_columns)
        self.future_mean = [float(x) for x in future_mean]
        self.future_std = [float(x) for x in future_std]
        self.numeric_columns = list(numeric_columns)
        self.numeric_mean = [float(x) for x in numeric_mean]
        self.numeric_std = [float(x) for x in numeric_std]
        self.categorical_columns = list(categorical_columns)
        self.vocabularies = [[str(v) for v in vocab] for vocab in vocabularies]
        self.lookups = [
            keras.layers.StringLookup(vocabulary=vocab, output_mode="one_hot", name=f"lookup_{i}")
            for i, vocab in enumerate(self.vocabularies)
        ]
        self.built = True

    @classmethod
    def adapt(
        cls,
        future_columns: Sequence[str],
        future_rows: np.ndarray,
        static_columns: Sequence[str],
        static_rows: Sequence[tuple],
        **kwargs: Any,
    ) -> CovariateEncoder:
        """Adapted on training data: future rows (N, C) (NaN ignored), static rows (one tuple
        per series); a static column is numeric when every value is a number."""

        def stats(rows: np.ndarray) -> tuple[list[float], list[float]]:
            mean = np.nanmean(rows, axis=0) if len(rows) else np.zeros(rows.shape[1])
            std = np.nanstd(rows, axis=0) if len(rows) else np.ones(rows.shape[1])
            std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
            return np.nan_to_num(mean).tolist(), std.tolist()

        future_rows = np.asarray(future_rows, float).reshape(-1, len(future_columns))
        fm, fs = stats(future_rows)
        numeric, categorical, vocabularies = [], [], []
        columns = list(zip(*static_rows)) if static_rows else [[] for _ in static_columns]
        for name, col in zip(static_columns, columns):
            if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in col):
                numeric.append((name, np.asarray(col, float)))
            else:
                categorical.append(name)
                vocabularies.append(sorted({str(v) for v in col}))
        nm, ns = stats(np.stack([c for _, c in numeric], 1)) if numeric else ([], [])
        return cls(
            future_columns, fm, fs, [n for n, _ in numeric], nm, ns, categorical, vocabularies,
            **kwargs,
        )  # fmt: skip

    @property
    def static_width(self) -> int:
        """S: numeric statics plus one-hot widths (vocabulary + 1 for unseen)."""
        return len(self.numeric_columns) + sum(len(v) + 1 for v in self.vocabularies)

    def call(self, inputs: dict[str, Any]) -> list[Any]:
        future = static = None
        if self.future_columns:
            x = ops.cast(inputs["future"], "float32")
            mean = ops.convert_to_tensor(np.asarray(self.future_mean, "float32"))
            std = ops.convert_to_tensor(np.asarray(self.future_std, "float32"))
            future = (x - mean) / std
        parts = []
        if self.numeric_columns:
            x = ops.cast(inputs["static_numeric"], "float32")
            mean = ops.convert_to_tensor(np.asarray(self.numeric_mean, "float32"))
            std = ops.convert_to_tensor(np.asarray(self.numeric_std, "float32"))
            parts.append((x - mean) / std)
        for i, lookup in enumerate(self.lookups):
            parts.append(ops.cast(lookup(inputs["static_categorical"][:, i]), "float32"))
        if parts:
            static = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        return [future, static]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "future_columns": self.future_columns,
            "future_mean": self.future_mean,
            "future_std": self.future_std,
            "numeric_columns": self.numeric_columns,
            "numeric_mean": self.numeric_mean,
            "numeric_std": self.numeric_std,
            "categorical_columns": self.categorical_columns,
            "vocabularies": self.vocabularies,
        }
