"""`CovariateEncoder`: a global forecaster's covariates in real units -> network inputs.

Future covariates (known for the history and the horizon: promotions, prices, holidays) and
past covariates (known only up to now: measured temperature, traffic elsewhere) are
standardised per column with statistics adapted on the training rows; static covariates (one
value per series) are standardised when numeric and one-hot encoded when categorical
(`keras.layers.StringLookup`, index 0 for a category unseen in training). Like the other
preprocessors it is adapted on training data only, carries its statistics and vocabularies in
its config, and runs in `tf.data`, in a Keras model and inside the export.

Shape legend: B batch, L lookback, H horizon, C future and P past covariates, Sn numeric and
Sc categorical static covariates, S encoded static width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class CovariateEncoder(keras.layers.Layer):
    """`{"future": (B, L + H, C), "static_numeric": (B, Sn), "static_categorical": (B, Sc),
    "past": (B, L, P)}` (the keys the model has) `-> [future (B, L + H, C) scaled, static
    (B, S), past (B, L, P) scaled]` (None for a kind the model does not have).

    Args:
        future_columns: The C future covariate names.
        future_mean, future_std: (C,) statistics (from `adapt`).
        numeric_columns: Numeric static covariate names.
        numeric_mean, numeric_std: (Sn,) statistics.
        categorical_columns: Categorical static covariate names.
        vocabularies: One list of categories per categorical column.
        past_columns: The P past covariate names.
        past_mean, past_std: (P,) statistics.
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
        past_columns: Sequence[str] = (),
        past_mean: Sequence[float] = (),
        past_std: Sequence[float] = (),
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
        self.past_columns = list(past_columns)
        self.past_mean = [float(x) for x in past_mean]
        self.past_std = [float(x) for x in past_std]
        self.lookups = [
            keras.layers.StringLookup(vocabulary=vocab, output_mode="one_hot", name=f"lookup_{i}")
            for i, vocab in enumerate(self.vocabularies)
        ]
        self.built = True

    @classmethod
    def adapt(
        cls,
        future_columns: Sequence[str],
        future_rows: np.ndarray | None,
        static_columns: Sequence[str],
        static_rows: Sequence[tuple],
        past_columns: Sequence[str] = (),
        past_rows: np.ndarray | None = None,
        **kwargs: Any,
    ) -> CovariateEncoder:
        """Adapted on training data: future rows (N, C) and past rows (N, P) (NaN ignored),
        static rows (one tuple per series); a static column is numeric when every value is a
        number."""

        def stats(rows: np.ndarray) -> tuple[list[float], list[float]]:
            mean = np.nanmean(rows, axis=0) if len(rows) else np.zeros(rows.shape[1])
            std = np.nanstd(rows, axis=0) if len(rows) else np.ones(rows.shape[1])
            std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
            return np.nan_to_num(mean).tolist(), std.tolist()

        def table(rows: np.ndarray | None, width: int) -> np.ndarray:
            if rows is None or width == 0:
                return np.zeros((0, width))
            return np.asarray(rows, float).reshape(-1, width)

        fm, fs = stats(table(future_rows, len(future_columns)))
        numeric, categorical, vocabularies = [], [], []
        columns = list(zip(*static_rows)) if static_rows else [[] for _ in static_columns]
        for name, col in zip(static_columns, columns):
            if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in col):
                numeric.append((name, np.asarray(col, float)))
            else:
                categorical.append(name)
                vocabularies.append(sorted({str(v) for v in col}))
        nm, ns = stats(np.stack([c for _, c in numeric], 1)) if numeric else ([], [])
        pm, ps = stats(table(past_rows, len(past_columns)))
        return cls(
            future_columns, fm, fs, [n for n, _ in numeric], nm, ns, categorical, vocabularies,
            past_columns, pm, ps, **kwargs,
        )  # fmt: skip

    @property
    def static_width(self) -> int:
        """S: numeric statics plus one-hot widths (vocabulary + 1 for unseen)."""
        return len(self.numeric_columns) + sum(len(v) + 1 for v in self.vocabularies)

    @staticmethod
    def _standardise(x: Any, mean: list[float], std: list[float]) -> Any:
        mean_ = ops.convert_to_tensor(np.asarray(mean, "float32"))
        std_ = ops.convert_to_tensor(np.asarray(std, "float32"))
        return (ops.cast(x, "float32") - mean_) / std_

    def call(self, inputs: dict[str, Any]) -> list[Any]:
        future = static = past = None
        if self.future_columns:
            future = self._standardise(inputs["future"], self.future_mean, self.future_std)
        if self.past_columns:
            past = self._standardise(inputs["past"], self.past_mean, self.past_std)
        parts = []
        if self.numeric_columns:
            parts.append(
                self._standardise(inputs["static_numeric"], self.numeric_mean, self.numeric_std)
            )
        for i, lookup in enumerate(self.lookups):
            parts.append(ops.cast(lookup(inputs["static_categorical"][:, i]), "float32"))
        if parts:
            static = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        return [future, static, past]

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
            "past_columns": self.past_columns,
            "past_mean": self.past_mean,
            "past_std": self.past_std,
        }
