"""The tagger: word and character ids -> per-token tag scores (the tensor-only core), and the
training model that puts a softmax or a CRF loss on it.

`build_tagger_core` returns a functional `keras.Model`:

    words (B, T) int32 ─WordDropout─Embedding (mask 0)┐
                                                     ├─ concat ─ dropout ─ N x Bi{LSTM,GRU}
    chars (B, T, C) int32 ─CharEncoder (BiLSTM|CNN)─┘   ─ dropout ─ Dense(K) -> (B, T, K)

with training-time word dropout (`rnn_apps.layers.WordDropout`: known words -> [UNK], so the
character encoder learns to tag words on its own) and the word padding mask carried to every
recurrent layer (`rnn_apps.blocks.rnn_layer`, the builders' block), so padded tokens never
change the scores of real ones. `TaggerModel` wraps
the core for `fit`: with `head="softmax"` the loss is the masked token cross-entropy, with
`head="crf"` the negative log-likelihood of a `rnn_apps.layers.CRF` (whose transitions it
owns); `decode` gives the best tags either way (argmax, or Viterbi).

Shape legend: B sentences, T tokens, C characters per token, K tags.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from rnn_apps.blocks import CELLS, check_choice, check_positive_int, check_rate, rnn_layer
from rnn_apps.layers.char_encoder import KINDS, CharEncoder
from rnn_apps.layers.crf import CRF
from rnn_apps.layers.word_dropout import WordDropout

HEADS = ("crf", "softmax")


def build_tagger_core(
    *,
    num_words: int,
    num_chars: int,
    num_tags: int,
    max_word_chars: int,
    embedding_dim: int = 100,
    char_embedding_dim: int = 32,
    char_units: int = 32,
    char_encoder: str | None = "bilstm",
    cell: str = "lstm",
    units: int = 128,
    num_layers: int = 2,
    dropout: float = 0.33,
    recurrent_dropout: float = 0.0,
    word_dropout: float = 0.25,
    word_vectors: np.ndarray | None = None,
    name: str = "tagger_core",
) -> keras.Model:
    """`{"words": (B, T), "chars": (B, T, C)}` -> tag scores (B, T, K) (see the module doc).

    Args:
        num_words, num_chars: Vocabulary sizes (padding and [UNK] included).
        num_tags: K.
        max_word_chars: C.
        embedding_dim: Word embedding width (the width of `word_vectors` when given).
        char_embedding_dim, char_units: The character encoder's sizes.
        char_encoder: `"bilstm"`, `"cnn"` or None (words only).
        cell: `"lstm"` or `"gru"` (or `"simple"`).
        units: Units per direction of each recurrent layer.
        num_layers: Bidirectional layers.
        dropout: Dropout on the token vectors and between/after the recurrent layers.
        recurrent_dropout: Dropout on the recurrent state.
        word_dropout: Share of known word ids replaced by [UNK] (id 1) while training.
        word_vectors: Optional (num_words, embedding_dim) initial word embedding (pretrained
            vectors, `rnn_apps.embeddings.load_word_vectors`).
    """
    check_choice("cell", cell, tuple(CELLS))
    if char_encoder is not None:
        check_choice("char_encoder", char_encoder, KINDS)
    for arg, value in (("num_tags", num_tags), ("units", units), ("num_layers", num_layers)):
        check_positive_int(arg, value)
    check_rate("dropout", dropout)
    check_rate("recurrent_dropout", recurrent_dropout)
    check_rate("word_dropout", word_dropout)
    words = keras.Input((None,), dtype="int32", name="words")
    chars = keras.Input((None, max_word_chars), dtype="int32", name="chars")
    init: Any = "uniform"
    if word_vectors is not None:
        word_vectors = np.asarray(word_vectors, np.float32)
        if word_vectors.shape[0] != num_words:
            raise ValueError(f"word_vectors has {word_vectors.shape[0]} rows for {num_words} words")
        embedding_dim = word_vectors.shape[1]
        init = keras.initializers.Constant(word_vectors)
    ids = WordDropout(word_dropout, unknown_id=1, name="word_dropout")(words)  # (B, T)
    x = keras.layers.Embedding(
        num_words, embedding_dim, mask_zero=True, embeddings_initializer=init, name="word_embedding"
    )(ids)  # (B, T) -> (B, T, E)
    if char_encoder is not None:
        c = CharEncoder(
            num_chars, char_embedding_dim, char_units, kind=char_encoder, name="char_encoder"
        )(chars)  # (B, T, C) -> (B, T, D)
        x = keras.layers.Concatenate(name="token_vectors")([x, c])  # mask of the words
    x = keras.layers.Dropout(dropout, name="token_dropout")(x)
    for i in range(1, num_layers + 1):
        rnn = rnn_layer(
            cell, units, return_sequences=True, dropout=0.0, recurrent_dropout=recurrent_dropout,
            name=f"rnn_{i}_cell",
        )  # fmt: skip
        x = keras.layers.Bidirectional(rnn, merge_mode="concat", name=f"rnn_{i}")(x)[0]
        x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)  # (B, T, 2U)
    scores = keras.layers.Dense(num_tags, name="scores")(x)  # (B, T, K)
    return keras.Model({"words": words, "chars": chars}, scores, name=name)


@keras.saving.register_keras_serializable(package="rnn_apps")
class TaggerModel(keras.Model):
    """The core and its output head, trained with `fit` on `(inputs, tag ids)`, tag ids -1 on
    padded tokens.

    Args:
        core: The model of `build_tagger_core`.
        head: `"crf"` or `"softmax"`.
        allowed, allowed_start: The CRF's transition constraints (`rnn_apps.layers.crf`).
    """

    def __init__(
        self, core: keras.Model, head: str = "crf", allowed: Any = None, allowed_start: Any = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        check_choice("head", head, HEADS)
        self.core, self.head = core, head
        num_tags = int(core.output.shape[-1])
        self.crf = CRF(num_tags, allowed, allowed_start, name="crf") if head == "crf" else None
        if self.crf is not None:
            self.crf.build()

    def call(self, inputs: Any, training: bool = False) -> Any:
        return self.core(inputs, training=training)  # (B, T, K) scores

    def compute_loss(
        self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
        training: bool = True,
    ) -> Any:  # fmt: skip
        y = ops.cast(y, "int32")
        mask = y >= 0
        tags = ops.maximum(y, 0)
        tokens = ops.maximum(ops.sum(ops.cast(mask, "float32")), 1.0)
        if self.crf is not None:
            return -ops.sum(self.crf.log_likelihood(y_pred, tags, mask)) / tokens
        ce = keras.losses.sparse_categorical_crossentropy(tags, y_pred, from_logits=True)
        return ops.sum(ops.where(mask, ce, 0.0)) / tokens

    def decode(self, inputs: Any) -> Any:
        """Inputs -> best tag ids (B, T) int32 (0 on padded tokens)."""
        scores = self.core(inputs, training=False)
        mask = ops.convert_to_tensor(inputs["words"]) > 0
        if self.crf is not None:
            return self.crf.decode(scores, mask)[0]
        return ops.where(mask, ops.cast(ops.argmax(scores, axis=-1), "int32"), 0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "core": keras.saving.serialize_keras_object(self.core),
            "head": self.head,
            "allowed": None if self.crf is None else self.crf.allowed,
            "allowed_start": None if self.crf is None else self.crf.allowed_start,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TaggerModel:
        config = dict(config)
        config["core"] = keras.saving.deserialize_keras_object(config["core"])
        return cls(**config)
