"""`CharEncoder`: one vector per word from its characters, so that words never seen in training
still get a representation (their capitals, digits, hyphens and suffixes).

Called on character ids (B, T, C) int (0 = padding), it embeds the characters, runs a
bidirectional LSTM (`kind="bilstm"`, the final states of both directions) or a 1-D convolution
with a mask-aware max over the characters (`kind="cnn"`) over each word, and returns (B, T, D)
with D = 2 x units (BiLSTM) or units (CNN); a word without characters (a padded token) gets
zeros and is masked (the output's Keras mask is False there).

Shape legend: B batch, T tokens, C characters per token, E character embedding width, D output.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

KINDS = ("bilstm", "cnn")


@keras.saving.register_keras_serializable(package="rnn_apps")
class CharEncoder(keras.layers.Layer):
    """Character ids (B, T, C) -> word vectors (B, T, D).

    Args:
        num_chars: Character ids (padding 0 and [UNK] 1 included).
        embedding_dim: E.
        units: LSTM units per direction, or CNN filters.
        kind: `"bilstm"` or `"cnn"`.
        kernel_size: CNN window (characters).
    """

    def __init__(
        self,
        num_chars: int,
        embedding_dim: int = 32,
        units: int = 32,
        kind: str = "bilstm",
        kernel_size: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.num_chars, self.embedding_dim, self.units = (
            int(num_chars),
            int(embedding_dim),
            int(units),
        )
        self.kind, self.kernel_size = kind, int(kernel_size)
        self.embedding = keras.layers.Embedding(
            self.num_chars, self.embedding_dim, name="char_embedding"
        )
        if kind == "bilstm":
            self.encoder = keras.layers.Bidirectional(
                keras.layers.LSTM(self.units), merge_mode="concat", name="char_bilstm"
            )
        else:
            self.encoder = keras.layers.Conv1D(
                self.units, self.kernel_size, padding="same", activation="relu", name="char_cnn"
            )

    @property
    def output_dim(self) -> int:
        return 2 * self.units if self.kind == "bilstm" else self.units

    def build(self, input_shape: Any) -> None:
        c = input_shape[-1]
        self.embedding.build((None, c))
        self.encoder.build((None, c, self.embedding_dim))

    def call(self, chars: Any, training: bool = False) -> Any:
        shape = ops.shape(chars)  # (B, T, C)
        flat = ops.reshape(chars, [-1, shape[2]])  # (B*T, C)
        has_chars = ops.any(flat > 0, axis=1)  # (B*T,)
        mask = flat > 0
        # A word without characters runs on one padding character, unmasked, and is zeroed.
        mask = ops.logical_or(
            mask, ops.logical_not(has_chars)[:, None] & (ops.arange(shape[2]) == 0)
        )
        x = self.embedding(flat)  # (B*T, C, E); the mask is given explicitly
        if self.kind == "bilstm":
            out = self.encoder(x, mask=mask, training=training)  # (B*T, 2U)
        else:
            h = self.encoder(x)  # (B*T, C, U), ReLU >= 0
            out = ops.max(ops.where(mask[:, :, None], h, 0.0), axis=1)  # (B*T, U)
        out = ops.where(has_chars[:, None], out, 0.0)
        return ops.reshape(out, [shape[0], shape[1], self.output_dim])

    def compute_mask(self, chars: Any, previous_mask: Any = None) -> Any:
        """(B, T): True where a token has characters (a word, not padding). Without it the
        word vectors' padding mask would be lost where they are concatenated with these
        (Keras unmasks a step if any concatenated input is unmasked there)."""
        return ops.any(ops.convert_to_tensor(chars) > 0, axis=-1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], input_shape[1], self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_chars": self.num_chars,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "kind": self.kind,
            "kernel_size": self.kernel_size,
        }
