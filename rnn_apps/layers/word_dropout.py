"""`WordDropout`: while training, token ids replaced by the unknown id at random.

Called on token ids (B, T) int (0 = padding, `unknown_id` = [UNK]) with `training=True`, it
replaces each id above `unknown_id` by `unknown_id` with probability `rate`; padding and
unknown ids are kept, and outside training it returns its input. A tagger trained this way
sees [UNK] in contexts it can learn from, so the character encoder (not the word embedding)
carries a word's tag often enough to tag words never seen in training.

Shape legend: B batch, T tokens.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class WordDropout(keras.layers.Layer):
    """Token ids (B, T) -> token ids (B, T), some replaced by `unknown_id` while training.

    Args:
        rate: Probability of replacing a (known) token id, in [0, 1).
        unknown_id: The [UNK] id; ids at most this (padding, [UNK]) are never replaced.
        seed: Seed of the random draws (None: from Keras' global seed).
    """

    def __init__(
        self, rate: float, unknown_id: int = 1, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate, self.unknown_id, self.seed = float(rate), int(unknown_id), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, ids: Any, training: bool = False) -> Any:
        if not training or self.rate == 0.0:
            return ids
        draw = keras.random.uniform(ops.shape(ids), seed=self.seed_generator)  # (B, T)
        drop = ops.logical_and(draw < self.rate, ids > self.unknown_id)
        return ops.where(drop, ops.cast(self.unknown_id, ids.dtype), ids)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "unknown_id": self.unknown_id,
            "seed": self.seed,
        }
