"""Sentiment / text classification: raw text -> bidirectional RNN + n-gram branch -> SavedModel.

Pipeline (`SentimentClassifier`):

1. `TextVectorization` adapted on the training texts only, with `standardize_text` (export-safe
   `tf.strings` ops: invalid UTF-8 replaced, long texts cut, `<br />` markup stripped,
   lower-cased, punctuation split off). Texts become ragged token ids inside `tf.data`, cached
   once, then shuffled and batched by length (`bucket_by_sequence_length`) with right padding
   (id 0 = padding, masked by the embedding).
2. The model (`keras.Model`, input `tokens` (B, T) int32, output logits) has two branches:
   - an RNN branch from `rnn_apps.build_bidirectional` (embedding with `mask_zero`, stacked
     bidirectional GRU/LSTM, mask-aware pooling) that reads the head and tail of each review
     (`HeadTailCrop`: the first `head_tokens` and the last `sequence_length - head_tokens`);
   - a wide n-gram branch: uni-, bi- (and optionally tri-) gram ids hashed from the token ids
     in-graph (`NgramHashing`), then `TfidfBag`: a logistic regression (L2-regularised) on the
     L2-normalised binary bag of those n-grams weighted by their Naive-Bayes log-count ratios
     (NBSVM-style; IDF with more than two classes), counted on the training texts.
   Both are trained on the training split (each with its own early stopping), then their logits
   are blended with weights fitted on the validation split (`LogitBlend`).
3. `evaluate`: accuracy, precision, recall, F1, ROC-AUC, confusion matrix, PNG plots.
4. `export`: SavedModel with `serving_default`: `text` tf.string [None] -> `probability`
   float32 [None] (two classes: probability of the positive class) or [None, C], and `label`
   tf.string [None]. The vectorizer and the model are in the graph; no rnn_apps needed to serve.

Shape legend: B batch, T tokens, L cropped RNN length, N n-gram slots (T * ngram_order),
V vocabulary, H hash buckets, C classes, O output width (1 for two classes, else C).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError

MAX_TEXT_BYTES = 30_000  # longer inputs are cut before any other processing (IMDB max ~14k)
OOV_ID = 1  # TextVectorization's [UNK]; an empty text becomes one [UNK] token

# --------------------------------------------------------------------------- configuration


@dataclasses.dataclass
class SentimentConfig:
    """Options of the sentiment pipeline (defaults chosen by measurement on IMDB).

    Attributes:
        max_tokens: Vocabulary size V (including padding and [UNK]) of the vectorizer and the
            n-gram branch.
        rnn_max_tokens: The RNN branch embeds only the most frequent `rnn_max_tokens` ids
            (rarer ones become [UNK]): fewer memorisable names, a smaller model. None = all.
        max_length: Tokens kept per text for the n-gram branch (the head of the text).
        sequence_length: Tokens the RNN reads per text (L, head + tail when longer).
        head_tokens: How many of the `sequence_length` come from the start of the text; the
            rest come from its end. None = a quarter.
        embedding_dim: RNN embedding width.
        embedding_init: `"ppmi"`: start the RNN's embedding from word vectors learned on the
            training texts (`rnn_apps.embeddings.ppmi_svd_embeddings`, about a minute on IMDB);
            None: random.
        embedding_window: Co-occurrence window of the `"ppmi"` vectors.
        cell: `"gru"` or `"lstm"`.
        units: Units per direction of each recurrent layer.
        num_layers: Stacked bidirectional layers.
        embedding_dropout: `SpatialDropout1D` rate on the RNN's embedded sequence.
        dropout: Input dropout of the recurrent layers (same mask over time).
        recurrent_dropout: Recurrent-state dropout.
        pooling: `"mean_max"`, `"mean"`, `"max"` or `"last"`.
        head_dropout: Dropout before the RNN branch's output layer.
        ngram_branch: Add the wide n-gram branch.
        ngram_order: 2 = uni+bigrams, 3 = uni+bi+trigrams.
        ngram_weighting: Per-n-gram weight of the binary bag: `"nb"`, the Naive-Bayes
            log-count ratio of the two classes on the training texts (NBSVM, Wang & Manning
            2012; with more than two classes IDF is used), or `"idf"`.
        ngram_buckets: Hash buckets H for the n-grams of order >= 2.
        ngram_scale: Output multiplier of the n-gram branch (its effective learning-rate
            multiplier under Adam).
        ngram_l2: L2 penalty on the n-gram branch's effective weights (per example; scikit-learn's
            `C` corresponds to `1 / (2 * C * num_train)`).
        ngram_epochs: Maximum epochs of the n-gram branch.
        ngram_learning_rate: Learning rate of the n-gram branch.
        batch_size: Batch size (per length bucket).
        epochs: Maximum epochs of the RNN branch.
        learning_rate: Learning rate of the RNN branch (Adam, clipnorm 1).
        patience: EarlyStopping patience (epochs without a better validation loss).
        validation_split: Fraction of the training data held out (seeded) when no validation
            data is given.
        max_train_minutes: Stop the RNN branch's training (after the current batch) when this
            wall time is used; the best epoch so far is kept. None = no limit.
        seed: Seed for weights, split and shuffling.
        verbose: Keras progress bar (1), one line per epoch (2) or silent (0).
    """

    max_tokens: int = 30000
    rnn_max_tokens: int | None = 20000
    max_length: int = 1000
    sequence_length: int = 400
    head_tokens: int | None = None
    embedding_dim: int = 128
    embedding_init: str | None = "ppmi"
    embedding_window: int = 5
    cell: str = "gru"
    units: int = 64
    num_layers: int = 1
    embedding_dropout: float = 0.2
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    pooling: str = "mean_max"
    head_dropout: float = 0.5
    ngram_branch: bool = True
    ngram_order: int = 2
    ngram_weighting: str = "nb"
    ngram_buckets: int = 2**20
    ngram_scale: float = 30.0
    ngram_l2: float = 2.5e-6
    ngram_epochs: int = 8
    ngram_learning_rate: float = 2e-3
    batch_size: int = 128
    epochs: int = 8
    learning_rate: float = 2e-3
    patience: int = 2
    validation_split: float = 0.2
    max_train_minutes: float | None = None
    seed: int = 42
    verbose: int = 1

    def __post_init__(self) -> None:
        for name in (
            "max_tokens",
            "max_length",
            "sequence_length",
            "embedding_dim",
            "embedding_window",
            "units",
            "num_layers",
            "ngram_buckets",
            "ngram_epochs",
            "batch_size",
            "epochs",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserInputError(f"{name} must be a positive integer, got {value!r}.")
        if self.max_tokens < 3:
            raise UserInputError(f"max_tokens must be >= 3, got {self.max_tokens}.")
        if self.embedding_init not in (None, "ppmi"):
            raise UserInputError(
                f"embedding_init must be 'ppmi' or None, got {self.embedding_init!r}."
            )
        if self.cell not in ("gru", "lstm"):
            raise UserInputError(f"cell must be 'gru' or 'lstm', got {self.cell!r}.")
        if self.ngram_weighting not in ("nb", "idf"):
            raise UserInputError(
                f"ngram_weighting must be 'nb' or 'idf', got {self.ngram_weighting!r}."
            )
        if self.ngram_order not in (1, 2, 3):
            raise UserInputError(f"ngram_order must be 1, 2 or 3, got {self.ngram_order!r}.")
        if not 0.0 < self.validation_split < 1.0:
            raise UserInputError(
                f"validation_split must be in (0, 1), got {self.validation_split!r}."
            )
        if self.head_tokens is not None and not 0 <= self.head_tokens <= self.sequence_length:
            raise UserInputError(
                f"head_tokens must be in [0, sequence_length={self.sequence_length}], "
                f"got {self.head_tokens!r}."
            )

    @property
    def head(self) -> int:
        return self.sequence_length // 4 if self.head_tokens is None else self.head_tokens

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SentimentConfig:
        """Builds a config from a mapping, refusing unknown keys (with the list of known ones)."""
        from rnn_apps.config import config_from_dict

        return config_from_dict(cls, values, "sentiment")


# --------------------------------------------------------------------------- text handling


def standardize_text(text):
    """Export-safe standardisation: (B,) or () tf.string -> same shape tf.string.

    Cuts the text to `MAX_TEXT_BYTES`, replaces invalid UTF-8 with U+FFFD, lower-cases
    (Unicode-aware), removes `<br />` markup, splits `!?.,;:()"` off as tokens and turns every
    other non-letter, non-digit character (emoji included) into a space.
    """
    import tensorflow as tf

    text = tf.strings.substr(text, 0, MAX_TEXT_BYTES)  # bytes; may cut a character in two
    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, r"([!?.,;:()\"])", r" \1 ")
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}'!?.,;:()\"]+", " ")
    return text


def make_vectorizer(max_tokens: int):
    """A ragged `TextVectorization` layer using `standardize_text` (not yet adapted)."""
    import keras

    return keras.layers.TextVectorization(
        max_tokens=max_tokens,
        standardize=standardize_text,
        split="whitespace",
        output_mode="int",
        ragged=True,
        name="vectorizer",
    )


def _tokens_ragged(vectorizer, texts, max_length: int):
    """(B,) tf.string -> ragged (B, None) int32 token ids, at most `max_length` per row, and at
    least one ([UNK]) for an empty text, so every row has a valid step."""
    import tensorflow as tf

    ids = tf.cast(vectorizer(texts), tf.int32)[:, :max_length]  # (B, None)
    empty = tf.cast(ids.row_lengths() == 0, tf.int64)  # (B,)
    filler = tf.ragged.range(empty) * 0 + OOV_ID  # (B, 0 or 1)
    return tf.concat([ids, tf.cast(filler, tf.int32)], axis=1)


def _dense_and_lengths(vectorizer, texts, max_length: int):
    """(B,) tf.string -> ((B, T) padded ids, (B,) lengths), for unbatching in tf.data."""
    ids = _tokens_ragged(vectorizer, texts, max_length)
    return ids.to_tensor(0), ids.row_lengths()


def tokenize_batch(vectorizer, texts, max_length: int):
    """(B,) tf.string -> (B, T) int32 right-padded token ids (0 = padding), T <= max_length."""
    return _tokens_ragged(vectorizer, texts, max_length).to_tensor(0)


# --------------------------------------------------------------------------- layers


def _register(cls):
    import keras

    return keras.saving.register_keras_serializable(package="rnn_apps.sentiment")(cls)


def _define_layers() -> dict[str, type]:
    """Defines the custom layers lazily, so importing this module does not import Keras."""
    import keras
    from keras import ops

    @_register
    class NgramHashing(keras.layers.Layer):
        """Token ids -> unigram ids and hashed n-gram ids for a bag-of-n-grams.

        (B, T) int -> (B, T * order) int in [0, V + H); 0 = padding. Unigrams keep their token
        id; an n-gram starting at t (all its tokens valid) gets `V + hash(ids) % H`.
        """

        def __init__(self, vocab_size: int, buckets: int, order: int = 2, **kwargs):
            super().__init__(**kwargs)
            self.vocab_size = int(vocab_size)
            self.buckets = int(buckets)
            self.order = int(order)

        def call(self, tokens):
            t = ops.cast(tokens, "int64")  # (B, T)
            outs = [t]
            valid = t > 0
            key = t
            for k in range(1, self.order):
                nxt = ops.pad(t[:, k:], [[0, 0], [0, k]])  # token at t + k, 0 past the end
                valid = ops.logical_and(valid, nxt > 0)
                key = (key * self.vocab_size + nxt) % 2_147_483_647  # (B, T)
                ids = key % self.buckets + self.vocab_size
                outs.append(ops.where(valid, ids, ops.zeros_like(ids)))
            return ops.cast(ops.concatenate(outs, axis=1), "int32")  # (B, T * order)

        def compute_output_shape(self, input_shape):
            t = None if input_shape[1] is None else input_shape[1] * self.order
            return (input_shape[0], t)

        def get_config(self):
            cfg = super().get_config()
            cfg.update(vocab_size=self.vocab_size, buckets=self.buckets, order=self.order)
            return cfg

    @_register
    class MaskedMean(keras.layers.Layer):
        """Mean of embeddings over non-padding ids: [(B, N, D), (B, N)] -> (B, D)."""

        def call(self, inputs):
            emb, ids = inputs
            m = ops.expand_dims(ops.cast(ids > 0, emb.dtype), -1)  # (B, N, 1)
            return ops.sum(emb * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)

        def compute_output_shape(self, input_shape):
            return (input_shape[0][0], input_shape[0][2])

    @_register
    class TfidfBag(keras.layers.Layer):
        """Linear model on the L2-normalised, weighted binary bag of ids (in-graph TF-IDF + LR
        or NBSVM-style LR).

        (B, N) ids (0 = padding) -> (B, O) logits. Each distinct id of a row counts once,
        weighted by a non-trainable per-id table (`idf`) set from the training data: inverse
        document frequencies (`set_idf`) or Naive-Bayes log-count ratios (`set_nb_ratio`); the
        weighted bag is L2-normalised and multiplied by trainable per-id weights. `scale`
        multiplies the output (under Adam it acts as a learning-rate multiplier for this
        layer).
        """

        def __init__(
            self, table_size: int, output_dim: int, scale: float = 1.0, l2: float = 0.0, **kwargs
        ):
            super().__init__(**kwargs)
            self.table_size = int(table_size)
            self.output_dim = int(output_dim)
            self.scale = float(scale)
            self.l2 = float(l2)

        def build(self, input_shape):
            self.idf = self.add_weight(
                name="idf", shape=(self.table_size,), initializer="ones", trainable=False
            )
            self.kernel = self.add_weight(
                name="kernel",
                shape=(self.table_size, self.output_dim),
                initializer="zeros",
                # L2 on the effective weights (scale * kernel), as in a regularised LR.
                regularizer=keras.regularizers.L2(self.l2 * self.scale**2) if self.l2 else None,
            )
            self.bias = self.add_weight(name="bias", shape=(self.output_dim,), initializer="zeros")

        def call(self, ids):
            s = ops.sort(ops.cast(ids, "int32"), axis=-1)  # (B, N), padding 0 first
            prev = ops.pad(s[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
            first = ops.logical_and(s > 0, ops.not_equal(s, prev))  # each distinct id once
            x = ops.where(first, ops.take(self.idf, s, axis=0), 0.0)  # (B, N)
            norm = ops.sqrt(ops.maximum(ops.sum(x * x, axis=1, keepdims=True), 1e-12))
            x = x / norm
            w = ops.take(self.kernel, s, axis=0)  # (B, N, O)
            return self.scale * (ops.sum(w * ops.expand_dims(x, -1), axis=1) + self.bias)

        def set_idf(self, doc_freq: np.ndarray, num_docs: int) -> None:
            """Smooth IDF as scikit-learn: log((1 + n) / (1 + df)) + 1."""
            idf = np.log((1.0 + num_docs) / (1.0 + np.asarray(doc_freq, np.float64))) + 1.0
            self.idf.assign(idf.astype("float32"))

        def set_nb_ratio(self, pos_freq: np.ndarray, neg_freq: np.ndarray) -> None:
            """Naive-Bayes log-count ratio of each id (document frequencies in the positive and
            negative training texts, add-one smoothed): log((p / |p|_1) / (q / |q|_1))."""
            p = 1.0 + np.asarray(pos_freq, np.float64)
            q = 1.0 + np.asarray(neg_freq, np.float64)
            self.idf.assign(np.log((p / p.sum()) / (q / q.sum())).astype("float32"))

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.output_dim)

        def get_config(self):
            cfg = super().get_config()
            cfg.update(
                table_size=self.table_size, output_dim=self.output_dim, scale=self.scale, l2=self.l2
            )
            return cfg

    @_register
    class CapIds(keras.layers.Layer):
        """Ids >= `limit` become `replacement`: (B, T) -> (B, T); 0 (padding) stays 0."""

        def __init__(self, limit: int, replacement: int = OOV_ID, **kwargs):
            super().__init__(**kwargs)
            self.limit = int(limit)
            self.replacement = int(replacement)

        def call(self, tokens):
            return ops.where(tokens >= self.limit, self.replacement, tokens)

        def get_config(self):
            cfg = super().get_config()
            cfg.update(limit=self.limit, replacement=self.replacement)
            return cfg

    @_register
    class HeadTailCrop(keras.layers.Layer):
        """Keeps the first `head` and last `length - head` valid tokens of right-padded rows.

        (B, T) -> (B, min(T, length)); rows no longer than `length` are unchanged (still
        right-padded).
        """

        def __init__(self, length: int, head: int, **kwargs):
            super().__init__(**kwargs)
            self.length = int(length)
            self.head = int(head)

        def call(self, tokens):
            t_len = ops.shape(tokens)[1]
            out_len = ops.minimum(t_len, self.length)
            n = ops.sum(ops.cast(tokens > 0, "int32"), axis=1, keepdims=True)  # (B, 1)
            j = ops.expand_dims(ops.arange(out_len, dtype="int32"), 0)  # (1, L)
            tail_idx = n - (self.length - j)  # position in the tail part
            idx = ops.where(ops.logical_or(n <= self.length, j < self.head), j, tail_idx)  # (B, L)
            return ops.take_along_axis(tokens, ops.cast(idx, "int32"), axis=1)

        def compute_output_shape(self, input_shape):
            t = input_shape[1]
            return (input_shape[0], None if t is None else min(t, self.length))

        def get_config(self):
            cfg = super().get_config()
            cfg.update(length=self.length, head=self.head)
            return cfg

    @_register
    class LogitBlend(keras.layers.Layer):
        """Weighted sum of branch logits plus a bias: k x (B, O) -> (B, O)."""

        def __init__(self, num_branches: int, output_dim: int, **kwargs):
            super().__init__(**kwargs)
            self.num_branches = int(num_branches)
            self.output_dim = int(output_dim)

        def build(self, input_shape):
            self.branch_weights = self.add_weight(
                name="branch_weights",
                shape=(self.num_branches,),
                initializer="ones",
                constraint="non_neg",
            )
            self.bias = self.add_weight(name="bias", shape=(self.output_dim,), initializer="zeros")

        def call(self, inputs):
            out = self.bias
            for i, z in enumerate(inputs):
                out = out + self.branch_weights[i] * z
            return out

        def compute_output_shape(self, input_shape):
            return input_shape[0]

        def get_config(self):
            cfg = super().get_config()
            cfg.update(num_branches=self.num_branches, output_dim=self.output_dim)
            return cfg

    return {
        "NgramHashing": NgramHashing,
        "MaskedMean": MaskedMean,
        "TfidfBag": TfidfBag,
        "CapIds": CapIds,
        "HeadTailCrop": HeadTailCrop,
        "LogitBlend": LogitBlend,
    }


_LAYERS: dict[str, type] | None = None


def layers() -> dict[str, type]:
    """The pipeline's registered custom layers (defined on first use)."""
    global _LAYERS
    if _LAYERS is None:
        _LAYERS = _define_layers()
    return _LAYERS


# --------------------------------------------------------------------------- models


def build_ngram_branch(config: SentimentConfig, vocab_size: int, output_dim: int):
    """Linear bag-of-n-grams: (B, T) token ids -> (B, O) logits."""
    import keras

    L = layers()
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    ids = L["NgramHashing"](vocab_size, config.ngram_buckets, config.ngram_order, name="ngram_ids")(
        tokens
    )  # (B, T) -> (B, N)
    table = vocab_size + (config.ngram_buckets if config.ngram_order > 1 else 0)
    logits = L["TfidfBag"](
        table, output_dim, config.ngram_scale, config.ngram_l2, name="ngram_logits"
    )(ids)  # (B, N) -> (B, O)
    return keras.Model(tokens, logits, name="ngram_branch")


def build_rnn_branch(config: SentimentConfig, vocab_size: int, output_dim: int):
    """Bidirectional RNN from the builders behind a head+tail crop: (B, T) -> (B, O) logits."""
    import keras

    from rnn_apps.builders import build_bidirectional

    rnn_vocab = min(vocab_size, config.rnn_max_tokens or vocab_size)
    rnn = build_bidirectional(
        vocab_size=rnn_vocab,
        embedding_dim=config.embedding_dim,
        cell=config.cell,
        units=config.units,
        num_layers=config.num_layers,
        embedding_dropout=config.embedding_dropout,
        dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        pooling=config.pooling,
        head_dropout=config.head_dropout,
        output_dim=output_dim,
        name="rnn_classifier",
    )
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    cropped = layers()["HeadTailCrop"](config.sequence_length, config.head, name="crop")(tokens)
    if rnn_vocab < vocab_size:  # rarer words -> [UNK] for the RNN
        cropped = layers()["CapIds"](rnn_vocab, OOV_ID, name="rnn_vocab_cap")(cropped)
    return keras.Model(tokens, rnn(cropped), name="rnn_branch")  # (B, L) -> (B, O)


def build_sentiment_model(branches: Sequence[Any], output_dim: int):
    """Joins branch models into one: (B, T) token ids -> (B, O) logits (`LogitBlend`)."""
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    outs = [b(tokens) for b in branches]
    if len(outs) == 1:
        logits = keras.layers.Identity(name="logits")(outs[0])
    else:
        logits = layers()["LogitBlend"](len(outs), output_dim, name="logits")(outs)
    return keras.Model(tokens, logits, name="sentiment_model")


# --------------------------------------------------------------------------- user data


def _as_text_list(values: Any, what: str) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, bytes):
            v = v.decode("utf-8", errors="replace")
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            v = ""
        out.append(str(v))
    if not out:
        raise UserInputError(f"{what} is empty: give at least one text per class.")
    return out


def load_text_dataframe(
    df: Any, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Texts and string labels from a pandas DataFrame with the named columns.

    Raises:
        UserInputError: a column is missing (the message lists the columns there are), or the
            frame is empty.
    """
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise UserInputError(
            f"The data has no column(s) {missing}; its columns are {list(map(str, df.columns))}. "
            "Pass text_column=... and label_column=... (CLI: --text-column/--label-column)."
        )
    if len(df) == 0:
        raise UserInputError("The dataset is empty: it has no rows.")
    labels = [str(v) for v in df[label_column].tolist()]
    return _as_text_list(df[text_column].tolist(), "the text column"), labels


def load_text_data(
    source: Any, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Texts and labels from a DataFrame, a CSV file, or a folder with one subfolder per class.

    In a folder, every file of `<folder>/<class>/` is one text (read as UTF-8, bad bytes
    replaced); the subfolder's name is its label.

    Raises:
        UserInputError: the path does not exist, a CSV lacks the columns, no texts are found.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return load_text_dataframe(source, text_column, label_column)
    path = Path(source)
    if not path.exists():
        raise UserInputError(
            f"Data path {str(path)!r} does not exist; give a CSV file with columns "
            f"{text_column!r} and {label_column!r}, or a folder with one subfolder per class."
        )
    if path.is_dir():
        texts, labels = [], []
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(
                p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".")
            ):
                texts.append(f.read_bytes().decode("utf-8", errors="replace"))
                labels.append(sub.name)
        if not texts:
            raise UserInputError(
                f"Folder {str(path)!r} holds no texts: expected one subfolder per class "
                "(e.g. pos/, neg/) with one text file per example."
            )
        return texts, labels
    try:
        df = pd.read_csv(path)
    except Exception as err:  # pandas raises many parser error types
        raise UserInputError(f"Could not read CSV file {str(path)!r}: {err}") from err
    return load_text_dataframe(df, text_column, label_column)


def class_names_of(labels: Sequence[str], positive_label: str | None = None) -> list[str]:
    """Sorted distinct labels; with two classes the positive one (probability) comes last.

    Raises:
        UserInputError: fewer than two classes, or `positive_label` is not one of them.
    """
    names = sorted({str(v) for v in labels})
    if len(names) < 2:
        raise UserInputError(
            f"Need at least two classes to train a classifier, found {names or 'none'}; "
            "check the label column / class subfolders."
        )
    if positive_label is not None:
        if positive_label not in names:
            raise UserInputError(f"positive_label {positive_label!r} is not a class of {names}.")
        if len(names) == 2:
            names = [n for n in names if n != positive_label] + [positive_label]
    return names


# --------------------------------------------------------------------------- the estimator


class _TimeBudget:
    """Callback factory: stops training after `minutes` of wall time (after the batch)."""

    @staticmethod
    def make(minutes: float | None):
        import keras

        class TimeBudget(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.start = None
                self.exhausted = False

            def on_train_begin(self, logs=None):
                self.start = time.monotonic()

            def on_train_batch_end(self, batch, logs=None):
                if minutes is not None and time.monotonic() - self.start > 60.0 * minutes:
                    self.exhausted = True
                    self.model.stop_training = True

        return TimeBudget()


def _split_metrics(y_true: np.ndarray, prob: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, precision, recall, F1, ROC-AUC and confusion matrix from probabilities."""
    from sklearn import metrics as skm

    num_classes = len(class_names)
    if num_classes == 2:
        pred = (prob >= 0.5).astype(int)
        avg = "binary"
    else:
        pred = prob.argmax(axis=1)
        avg = "macro"
    out = {
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "precision": float(skm.precision_score(y_true, pred, average=avg, zero_division=0)),
        "recall": float(skm.recall_score(y_true, pred, average=avg, zero_division=0)),
        "f1": float(skm.f1_score(y_true, pred, average=avg, zero_division=0)),
    }
    try:
        if num_classes == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, prob))
        else:
            out["roc_auc"] = float(
                skm.roc_auc_score(y_true, prob, multi_class="ovr", labels=list(range(num_classes)))
            )
    except ValueError:  # a class absent from y_true
        out["roc_auc"] = float("nan")
    out["confusion_matrix"] = skm.confusion_matrix(
        y_true, pred, labels=list(range(num_classes))
    ).tolist()
    out["class_names"] = list(class_names)
    out["num_examples"] = int(len(y_true))
    return out


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], class_names: Sequence[str], path
) -> Path:
    """Writes a PNG of the confusion matrix (rows: true class, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(class_names) + 2.5, 1.2 * len(class_names) + 2))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            color = "white" if m[i, j] > m.max() / 2 else "black"
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color=color)
    ax.set_title("confusion matrix")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_learning_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], path) -> Path:
    """Writes a PNG with the loss and accuracy per epoch of each trained branch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for branch, hist in histories.items():
        for ax, key in zip(axes, ("loss", "accuracy")):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = hist.get(prefix + key)
                if values:
                    ax.plot(
                        range(1, len(values) + 1),
                        values,
                        style,
                        marker="o",
                        label=f"{branch} {prefix or 'train_'}{key}",
                    )
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("learning curves")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclasses.dataclass
class SentimentPrediction:
    """Predictions for a batch of texts.

    Attributes:
        probabilities: (B,) probability of the positive class (two classes) or (B, C).
        labels: (B,) predicted class names.
    """

    probabilities: np.ndarray
    labels: list[str]


class SentimentClassifier:
    """Raw text -> class, trained with `fit`, exported with `export`.

    Example:
        >>> clf = SentimentClassifier(SentimentConfig(epochs=3))
        >>> clf.fit(texts, labels)                      # labels may be strings
        >>> clf.predict(["this film was wonderful"]).probabilities
        >>> clf.export("saved_models/my_sentiment")
    """

    def __init__(self, config: SentimentConfig | None = None, **overrides: Any) -> None:
        base = dataclasses.asdict(config or SentimentConfig())
        base.update(overrides)
        self.config = SentimentConfig.from_dict(base)

    # ---------------------------------------------------------------- state
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "model_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise UserInputError("The classifier is not trained yet: call fit(...) first.")

    @property
    def output_dim(self) -> int:
        return 1 if len(self.class_names_) == 2 else len(self.class_names_)

    # ---------------------------------------------------------------- data
    def _encode_labels(self, labels: Sequence[Any]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.class_names_)}
        unknown = sorted({str(v) for v in labels} - set(index))
        if unknown:
            raise UserInputError(
                f"Label(s) {unknown[:5]} were not seen in training; classes: {self.class_names_}."
            )
        return np.array([index[str(v)] for v in labels], dtype=np.int64)

    def _dataset(
        self,
        texts: Sequence[str],
        y: np.ndarray | None,
        *,
        train: bool,
        fixed_batches: bool = False,
    ):
        """tf.data of (tokens (B, T) right-padded, y (B,)), bucketed by length.

        With `fixed_batches` (multi-worker training) every batch holds exactly `batch_size`
        texts (the remainder is dropped) and no length bucketing is done, so every worker
        runs the same number of steps.
        """
        import tensorflow as tf

        cfg = self.config
        vec = self.vectorizer_
        texts_t = tf.constant(list(texts), dtype=tf.string)
        if y is None:
            y = np.zeros(len(texts), dtype=np.int64)
        y_t = tf.constant(y.astype(np.float32) if self.output_dim == 1 else y.astype(np.int32))
        ds = (
            tf.data.Dataset.from_tensor_slices((texts_t, y_t))
            .batch(512)
            .map(lambda t, lab: (_dense_and_lengths(vec, t, cfg.max_length), lab))
            .unbatch()
            .map(lambda tn, lab: (tn[0][: tn[1]], lab))  # (T_max,) -> (n,)
            .cache()
        )
        if train:
            ds = ds.shuffle(len(texts), seed=cfg.seed, reshuffle_each_iteration=True)
        if fixed_batches:
            ds = ds.padded_batch(
                cfg.batch_size,
                padded_shapes=([None], []),
                padding_values=(0, None),
                drop_remainder=True,
            )
            return ds.prefetch(tf.data.AUTOTUNE)
        bounds = [
            b for b in (32, 64, 96, 128, 160, 192, 256, 320, 400, 512, 768) if b < cfg.max_length
        ]
        ds = ds.bucket_by_sequence_length(
            lambda t, lab: tf.shape(t)[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[cfg.batch_size] * (len(bounds) + 1),
            padded_shapes=([None], []),
            padding_values=(0, None),
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    # ---------------------------------------------------------------- training
    def _callbacks(self, name: str, work_dir: Path | None, tensorboard: bool, monitor_budget):
        import keras

        cfg = self.config
        cbs = [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.patience, restore_best_weights=True, verbose=0
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5, verbose=0
            ),
        ]
        if work_dir is not None:
            cbs.append(keras.callbacks.BackupAndRestore(str(work_dir / "backup" / name)))
            if tensorboard:
                cbs.append(keras.callbacks.TensorBoard(str(work_dir / "logs" / name)))
        if monitor_budget is not None:
            cbs.append(monitor_budget)
        return cbs

    def _compile(self, model, learning_rate: float):
        import keras

        from rnn_apps.builders import compile_model

        if self.output_dim == 1:
            loss = keras.losses.BinaryCrossentropy(from_logits=True)
            metrics = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        return compile_model(model, loss=loss, learning_rate=learning_rate, metrics=metrics)

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        validation_data: tuple[Sequence[str], Sequence[Any]] | None = None,
        class_names: Sequence[str] | None = None,
        positive_label: str | None = None,
        work_dir: str | os.PathLike | None = None,
        tensorboard: bool = False,
        strategy: Any = None,
    ) -> SentimentClassifier:
        """Adapts the vectorizer on `texts`, trains both branches and blends them.

        Args:
            texts: Training texts (str).
            labels: Their labels (any values; compared as strings). Two or more classes.
            validation_data: `(texts, labels)`; default: a seeded `validation_split` of the
                training data.
            class_names: Fix the class order (default: sorted; see `class_names_of`).
            positive_label: With two classes, the class whose probability is reported.
            work_dir: Folder for `BackupAndRestore` checkpoints (an interrupted `fit` with the
                same `work_dir` resumes) and TensorBoard logs.
            tensorboard: Write TensorBoard logs under `work_dir/logs`.
            strategy: `"default"` (None), `"mirrored"` (all local GPUs), `"multi_worker"`
                (`MultiWorkerMirroredStrategy` over the machines in `TF_CONFIG`) or a
                `tf.distribute.Strategy`. Models are built under its scope. Multi-worker
                training runs `rnn_apps.training.distributed_fit` (Keras 3's `fit` does not
                run under that strategy) with fixed batches of `batch_size` texts, validation
                loss, early stopping and per-epoch backups in `work_dir`;
                `max_train_minutes`, `ReduceLROnPlateau` and TensorBoard are not used there.

        Returns:
            self, with `model_`, `vectorizer_`, `class_names_`, `history_`, `train_seconds_`.
        """
        import keras

        from rnn_apps.progress import step
        from rnn_apps.training import is_multi_worker, resolve_strategy

        cfg = self.config
        strategy = resolve_strategy(strategy)
        multi_worker = is_multi_worker(strategy)
        texts = _as_text_list(texts, "texts")
        labels = [str(v) for v in labels]
        if len(texts) != len(labels):
            raise UserInputError(f"Got {len(texts)} texts but {len(labels)} labels.")
        self.class_names_ = (
            list(class_names) if class_names is not None else class_names_of(labels, positive_label)
        )
        if len(self.class_names_) < 2:
            raise UserInputError(f"Need at least two classes, got {self.class_names_}.")
        y = self._encode_labels(labels)
        keras.utils.set_random_seed(cfg.seed)
        if validation_data is None:
            if len(texts) < 4:
                raise UserInputError(
                    f"Only {len(texts)} texts: need at least 4 to hold out a validation split."
                )
            perm = np.random.default_rng(cfg.seed).permutation(len(texts))
            n_val = max(1, int(round(cfg.validation_split * len(texts))))
            val_idx, tr_idx = perm[:n_val], perm[n_val:]
            val_texts, y_val = [texts[i] for i in val_idx], y[val_idx]
            texts, y = [texts[i] for i in tr_idx], y[tr_idx]
        else:
            val_texts = _as_text_list(validation_data[0], "validation texts")
            y_val = self._encode_labels(validation_data[1])
        work = Path(work_dir) if work_dir is not None else None

        start = time.monotonic()
        self.vectorizer_ = make_vectorizer(cfg.max_tokens)
        import tensorflow as tf

        with step(f"Adapting the vocabulary on {len(texts)} training texts", cfg.verbose):
            self.vectorizer_.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(512))
        vocab_size = int(self.vectorizer_.vocabulary_size())
        train_ds = self._dataset(texts, y, train=True)
        val_ds = self._dataset(val_texts, y_val, train=False)

        if multi_worker and len(texts) < cfg.batch_size:
            raise UserInputError(
                f"Multi-worker training uses fixed batches of batch_size={cfg.batch_size} "
                f"texts but only {len(texts)} are left for training: lower batch_size."
            )
        fixed_ds = self._dataset(texts, y, train=True, fixed_batches=True) if multi_worker else None

        def train_branch(model, name: str, epochs: int, budget=None) -> None:
            if multi_worker:
                from rnn_apps.training import distributed_fit

                history = distributed_fit(
                    model,
                    fixed_ds,
                    epochs=epochs,
                    strategy=strategy,
                    global_batch_size=cfg.batch_size,
                    validation_data=val_ds,
                    patience=cfg.patience,
                    backup_dir=None if work is None else work / "backup" / name,
                    verbose=cfg.verbose,
                )
            else:
                history = model.fit(
                    train_ds,
                    validation_data=val_ds,
                    epochs=epochs,
                    verbose=cfg.verbose,
                    callbacks=self._callbacks(name, work, tensorboard, budget),
                ).history
            self.history_[name] = {k: [float(v) for v in vs] for k, vs in history.items()}
            self.epochs_[name] = len(history.get("loss", []))

        self.history_: dict[str, dict[str, list[float]]] = {}
        self.epochs_: dict[str, int] = {}
        branches = []
        if cfg.ngram_branch:
            with strategy.scope():
                ngram = build_ngram_branch(cfg, vocab_size, self.output_dim)
                with step(
                    "Tokenising the texts and counting n-gram document frequencies", cfg.verbose
                ):
                    nb = cfg.ngram_weighting == "nb" and self.output_dim == 1
                    self._set_ngram_weights(ngram, train_ds, nb=nb)
                self._compile(ngram, cfg.ngram_learning_rate)
            train_branch(ngram, "ngram", cfg.ngram_epochs)
            branches.append(ngram)
        with strategy.scope():
            rnn = build_rnn_branch(cfg, vocab_size, self.output_dim)
            self._compile(rnn, cfg.learning_rate)
        if cfg.embedding_init == "ppmi":
            embedding = rnn.get_layer("rnn_classifier").get_layer("embedding")
            rows = int(embedding.input_dim)
            with step(
                f"Learning {rows} word vectors (PPMI + SVD) on the training texts", cfg.verbose
            ):
                vectors = self._ppmi_vectors(train_ds, rows)
            if vectors is not None:
                embedding.embeddings.assign(vectors)
        budget = None
        if cfg.max_train_minutes is not None and not multi_worker:
            used = (time.monotonic() - start) / 60.0
            budget = _TimeBudget.make(max(cfg.max_train_minutes - used, 0.5))
        train_branch(rnn, "rnn", cfg.epochs, budget)
        self.time_budget_exhausted_ = bool(budget is not None and budget.exhausted)
        branches.append(rnn)

        self.model_ = build_sentiment_model(branches, self.output_dim)
        self.validation_metrics_: dict[str, float] = {}
        if len(branches) > 1:
            with step("Fitting the branch blend on the validation texts", cfg.verbose):
                self._fit_blend(branches, val_ds)
        self.train_seconds_ = time.monotonic() - start
        self._serve_fn = None
        return self

    def _ppmi_vectors(self, train_ds, rows: int) -> np.ndarray | None:
        """(rows, embedding_dim) PPMI-SVD vectors of the token ids of the (cached, already
        tokenised) training dataset (ids >= rows count as [UNK]); None when the texts are too
        small to factorise."""
        from rnn_apps.embeddings import ppmi_svd_embeddings

        cfg = self.config
        if cfg.embedding_dim >= rows:
            return None
        seqs = [row[row > 0] for tokens, _ in train_ds for row in np.asarray(tokens)]
        try:
            return ppmi_svd_embeddings(
                seqs, rows, cfg.embedding_dim, window=cfg.embedding_window, seed=cfg.seed
            )
        except ValueError:  # e.g. only one-token texts
            return None

    @staticmethod
    def _set_ngram_weights(ngram, train_ds, *, nb: bool) -> None:
        """Document frequency of every n-gram id over the training texts (per class with
        `nb`) -> the branch's weight table: Naive-Bayes ratios (`nb`, two classes) or IDF."""
        hashing = ngram.get_layer("ngram_ids")
        bag = ngram.get_layer("ngram_logits")
        doc_freq = np.zeros((2, bag.table_size), dtype=np.int64)  # [negative, positive]
        num_docs = 0
        for tokens, labels in train_ds:
            s = np.sort(np.asarray(hashing(tokens)), axis=1)  # (B, N)
            first = np.ones_like(s, dtype=bool)
            first[:, 1:] = s[:, 1:] != s[:, :-1]
            keep = first & (s > 0)
            positive = np.asarray(labels).reshape(-1) > 0.5  # (B,)
            for k, rows in enumerate((~positive, positive)):
                doc_freq[k] += np.bincount(s[rows][keep[rows]], minlength=bag.table_size)
            num_docs += s.shape[0]
        if nb:
            bag.set_nb_ratio(doc_freq[1], doc_freq[0])
        else:
            bag.set_idf(doc_freq.sum(axis=0), num_docs)

    def _fit_blend(self, branches, val_ds) -> None:
        """Fits the `LogitBlend` weights on the validation logits of the frozen branches."""
        import keras
        import tensorflow as tf

        # Compiled once for all batch shapes: eager calls would step the RNN in Python.
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def run(tokens):
            return [b(tokens, training=False) for b in branches]

        logits = [[] for _ in branches]
        ys = []
        for tokens, lab in val_ds:
            for i, z in enumerate(run(tf.cast(tokens, tf.int32))):
                logits[i].append(np.asarray(z))
            ys.append(lab.numpy())
        z = [np.concatenate(parts) for parts in logits]  # k x (N, O)
        y = np.concatenate(ys)
        inputs = [keras.Input(shape=(self.output_dim,)) for _ in branches]
        blend_layer = self.model_.get_layer("logits")
        blender = keras.Model(inputs, blend_layer(inputs))
        self._compile(blender, 0.05)
        blender.fit(z, y, batch_size=len(y), epochs=200, verbose=0)
        for name, zi in zip(["branch_" + b.name for b in branches], z):
            prob = _probabilities(zi)
            self.validation_metrics_[name + "_accuracy"] = _accuracy(prob, y)
        prob = _probabilities(np.asarray(blender.predict(z, verbose=0)))
        self.validation_metrics_["blend_accuracy"] = _accuracy(prob, y)
        self.validation_metrics_["branch_weights"] = [
            float(w) for w in np.asarray(blend_layer.branch_weights)
        ]

    # ---------------------------------------------------------------- serving
    def serving_function(self):
        """The function exported as `serving_default`: (B,) tf.string -> dict of tensors."""
        import tensorflow as tf

        self._check_fitted()
        vec, model, cfg = self.vectorizer_, self.model_, self.config
        names = tf.constant(self.class_names_)
        binary = self.output_dim == 1

        def serve(text):
            tokens = tokenize_batch(vec, text, cfg.max_length)  # (B,) -> (B, T)
            logits = model(tokens, training=False)  # (B, O)
            if binary:
                prob = tf.sigmoid(logits[:, 0])  # (B,)
                idx = tf.cast(prob >= 0.5, tf.int32)
            else:
                prob = tf.nn.softmax(logits, axis=-1)  # (B, C)
                idx = tf.argmax(prob, axis=-1, output_type=tf.int32)
            return {"probability": tf.cast(prob, tf.float32), "label": tf.gather(names, idx)}

        return serve

    def _serve(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        if getattr(self, "_serve_fn", None) is None:
            self._serve_fn = tf.function(
                self.serving_function(),
                input_signature=[tf.TensorSpec([None], tf.string, name="text")],
            )
        return {k: np.asarray(v) for k, v in self._serve_fn(tf.constant(texts, tf.string)).items()}

    def predict(self, texts: Sequence[str] | str, batch_size: int = 256) -> SentimentPrediction:
        """Raw strings -> probabilities and labels (same graph as the export)."""
        self._check_fitted()
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        texts = [t if isinstance(t, bytes) else str(t).encode("utf-8", "replace") for t in texts]
        if not texts:
            shape = (0,) if self.output_dim == 1 else (0, self.output_dim)
            return SentimentPrediction(np.zeros(shape, np.float32), [])
        # Batches of similar length (sorted by size, order restored after) cut padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        probs, labels = [], []
        for i in range(0, len(texts), batch_size):
            out = self._serve([texts[j] for j in order[i : i + batch_size]])
            probs.append(out["probability"])
            labels.extend(v.decode("utf-8") for v in out["label"])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return SentimentPrediction(np.concatenate(probs)[inverse], [labels[j] for j in inverse])

    def branch_probabilities(
        self, texts: Sequence[str], batch_size: int = 256
    ) -> dict[str, np.ndarray]:
        """Probabilities of each branch alone and of the blend: `{name: (B,) or (B, C)}`."""
        import keras
        import tensorflow as tf

        self._check_fitted()
        branches = [
            layer
            for layer in self.model_.layers
            if isinstance(layer, keras.Model) and layer.name.endswith("_branch")
        ]
        names = [b.name for b in branches] + ["blend"]
        vec, model, cfg = self.vectorizer_, self.model_, self.config

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def run(text):
            tokens = tokenize_batch(vec, text, cfg.max_length)
            return [b(tokens, training=False) for b in branches] + [model(tokens, training=False)]

        texts = [t if isinstance(t, bytes) else str(t).encode("utf-8", "replace") for t in texts]
        order = np.argsort([len(t) for t in texts], kind="stable")
        parts: list[list[np.ndarray]] = [[] for _ in names]
        for i in range(0, len(texts), batch_size):
            outs = run(tf.constant([texts[j] for j in order[i : i + batch_size]]))
            for k, z in enumerate(outs):
                parts[k].append(np.asarray(z))
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return {n: _probabilities(np.concatenate(p))[inverse] for n, p in zip(names, parts)}

    # ---------------------------------------------------------------- evaluation
    def evaluate(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        output_dir: str | os.PathLike | None = None,
    ) -> dict[str, Any]:
        """Accuracy, precision, recall, F1 (positive class / macro), ROC-AUC, confusion matrix.

        With `output_dir`, writes `confusion_matrix.png`, `learning_curves.png` and
        `metrics.json` there.
        """
        self._check_fitted()
        texts = _as_text_list(texts, "texts")
        y = self._encode_labels(labels)
        prob = self.predict(texts).probabilities
        out = _split_metrics(y, prob, self.class_names_)
        if output_dir is not None:
            out_dir = Path(output_dir)
            out["plots"] = {
                "confusion_matrix": str(
                    plot_confusion_matrix(
                        out["confusion_matrix"], self.class_names_, out_dir / "confusion_matrix.png"
                    )
                ),
                "learning_curves": str(
                    plot_learning_curves(self.history_, out_dir / "learning_curves.png")
                ),
            }
            (out_dir / "metrics.json").write_text(json.dumps(out, indent=2))
        return out

    # ---------------------------------------------------------------- export / persistence
    def export(
        self,
        path: str | os.PathLike,
        *,
        metadata: Mapping[str, Any] | None = None,
        verify: bool = True,
    ):
        """Writes the SavedModel (`serving_default`: `text` -> `probability`, `label`).

        Returns:
            The export core's `ExportReport`.
        """
        import tensorflow as tf

        from rnn_apps.export import Endpoint, export_saved_model

        self._check_fitted()
        samples = np.array(
            [
                b"this film was wonderful",
                b"an awful, boring movie. the worst.",
                b"",
                b"   ",
                "great acting \U0001f600\U0001f44d".encode(),
                b"\xff\xfe invalid \xc3\x28 bytes",
            ],
            dtype=object,
        )
        cfg = self.config
        meta = {
            "task": "sentiment",
            "class_names": self.class_names_,
            "positive_class": self.class_names_[-1] if self.output_dim == 1 else None,
            "vocabulary_size": int(self.vectorizer_.vocabulary_size()),
            "max_length": cfg.max_length,
            "rnn_sequence_length": cfg.sequence_length,
            "config": dataclasses.asdict(cfg),
            "inputs": "text: raw UTF-8 strings (invalid bytes replaced, cut at "
            f"{MAX_TEXT_BYTES} bytes)",
            "outputs": (
                "probability: P(positive class) (two classes) or class probabilities; "
                "label: the predicted class name"
            ),
        }
        meta.update(dict(metadata or {}))
        return export_saved_model(
            path,
            endpoints=[
                Endpoint(
                    "serving_default",
                    self.serving_function(),
                    [tf.TensorSpec([None], tf.string, name="text")],
                )
            ],
            track=[self.vectorizer_, self.model_],
            metadata=meta,
            sample_inputs={"serving_default": {"text": samples}},
            verify=verify,
        )

    def save(self, directory: str | os.PathLike) -> Path:
        """Saves the trained pipeline (model `.keras`, vocabulary, classes, config, history)."""
        from rnn_apps.persistence import save_pipeline

        self._check_fitted()
        state = {
            "config": dataclasses.asdict(self.config),
            "class_names": self.class_names_,
            "vocabulary": self.vectorizer_.get_vocabulary(),
            "history": self.history_,
            "epochs": getattr(self, "epochs_", {}),
            "validation_metrics": getattr(self, "validation_metrics_", {}),
            "train_seconds": getattr(self, "train_seconds_", None),
        }
        return save_pipeline(
            directory,
            write_model=self.model_.save,
            model_file="model.keras",
            state=state,
            state_file="pipeline.json",
        )

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SentimentClassifier:
        """Loads a pipeline written by `save`."""
        import keras

        import rnn_apps.layers  # noqa: F401  (registers MaskedGlobalMaxPooling1D)
        from rnn_apps.persistence import read_pipeline

        state, model_file = read_pipeline(
            directory,
            state_file="pipeline.json",
            model_file="model.keras",
            missing=f"{str(Path(directory))!r} is not a saved sentiment pipeline (no "
            "pipeline.json); train one with `rnn-apps sentiment train`.",
        )
        layers()
        clf = cls(SentimentConfig.from_dict(state["config"]))
        clf.class_names_ = state["class_names"]
        clf.vectorizer_ = make_vectorizer(clf.config.max_tokens)
        clf.vectorizer_.set_vocabulary(
            state["vocabulary"][2:]
            if state["vocabulary"][:2] == ["", "[UNK]"]
            else state["vocabulary"]
        )
        clf.model_ = keras.saving.load_model(model_file, safe_mode=True)
        clf.history_ = state.get("history", {})
        clf.epochs_ = state.get("epochs", {})
        clf.validation_metrics_ = state.get("validation_metrics", {})
        clf.train_seconds_ = state.get("train_seconds")
        clf._serve_fn = None
        return clf


def _probabilities(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[-1] == 1:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _accuracy(prob: np.ndarray, y: np.ndarray) -> float:
    pred = (prob >= 0.5).astype(int) if prob.ndim == 1 else prob.argmax(axis=1)
    return float((pred == np.asarray(y).astype(int)).mean())


# --------------------------------------------------------------------------- SavedModel use


def predict_saved_model(path: str | os.PathLike, texts: Sequence[str]) -> SentimentPrediction:
    """Runs an exported sentiment SavedModel's `serving_default` on raw texts."""
    import tensorflow as tf

    p = Path(path)
    if not (p / "saved_model.pb").is_file():
        raise UserInputError(f"{str(p)!r} is not a SavedModel folder (no saved_model.pb).")
    fn = tf.saved_model.load(str(p)).signatures["serving_default"]
    probs, labels = [], []
    texts = [t if isinstance(t, bytes) else str(t).encode("utf-8", "replace") for t in texts]
    for i in range(0, len(texts), 256):
        out = fn(text=tf.constant(texts[i : i + 256], tf.string))
        probs.append(out["probability"].numpy())
        labels.extend(v.decode("utf-8") for v in out["label"].numpy())
    if not probs:
        return SentimentPrediction(np.zeros((0,), np.float32), [])
    return SentimentPrediction(np.concatenate(probs), labels)


def evaluate_saved_model(
    path: str | os.PathLike,
    texts: Sequence[str],
    labels: Sequence[Any],
    *,
    output_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Metrics of an exported model on labelled texts (class order from its metadata)."""
    from rnn_apps.export import read_metadata

    class_names = read_metadata(path)["class_names"]
    index = {c: i for i, c in enumerate(class_names)}
    unknown = sorted({str(v) for v in labels} - set(index))
    if unknown:
        raise UserInputError(f"Label(s) {unknown[:5]} are not classes of the model {class_names}.")
    y = np.array([index[str(v)] for v in labels])
    prob = predict_saved_model(path, _as_text_list(texts, "texts")).probabilities
    out = _split_metrics(y, prob, class_names)
    if output_dir is not None:
        out_dir = Path(output_dir)
        plot_confusion_matrix(
            out["confusion_matrix"], class_names, out_dir / "confusion_matrix.png"
        )
        (out_dir / "metrics.json").write_text(json.dumps(out, indent=2))
    return out


# --------------------------------------------------------------------------- command line


def _config_from_args(args: argparse.Namespace) -> SentimentConfig:
    from rnn_apps.cli import load_config_file

    overrides = load_config_file(getattr(args, "config", None))
    for name in ("epochs", "max_tokens", "sequence_length", "units", "batch_size"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    if getattr(args, "max_train_minutes", None) is not None:
        overrides["max_train_minutes"] = args.max_train_minutes
    if getattr(args, "seed", None) is not None:
        overrides["seed"] = args.seed
    return SentimentConfig.from_dict(overrides)


def _load_labelled(args: argparse.Namespace, split: str) -> tuple[list[str], list[str]]:
    if args.data:
        return load_text_data(args.data, args.text_column, args.label_column)
    from rnn_apps.data.imdb import load_imdb

    df = load_imdb(args.data_dir, splits=(split,))[split]
    return df["text"].tolist(), df["label"].tolist()


def _cmd_train(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    from rnn_apps.cli import worker_output_dir

    out = worker_output_dir(Path(args.output_dir or "sentiment_run"))
    texts, labels = _load_labelled(args, "train")
    clf = SentimentClassifier(cfg).fit(
        texts, labels, work_dir=out, tensorboard=args.tensorboard, strategy=args.strategy
    )
    clf.save(out / "pipeline")
    report = {"validation": clf.validation_metrics_, "train_seconds": clf.train_seconds_}
    if not args.no_export:
        clf.export(out / "saved_model")
        report["saved_model"] = str(out / "saved_model")
    plot_learning_curves(clf.history_, out / "learning_curves.png")
    print(json.dumps(report, indent=2))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    texts, labels = _load_labelled(args, "test")
    out = evaluate_saved_model(args.model, texts, labels, output_dir=args.output_dir)
    print(json.dumps(out, indent=2))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    texts = list(args.text)
    if args.input:
        texts += Path(args.input).read_text(encoding="utf-8", errors="replace").splitlines()
    if not texts:
        raise UserInputError("Nothing to predict: give texts as arguments or --input FILE.")
    pred = predict_saved_model(args.model, texts)
    for text, prob, label in zip(texts, pred.probabilities, pred.labels):
        p = float(prob) if np.ndim(prob) == 0 else [round(float(v), 4) for v in prob]
        print(json.dumps({"text": text[:80], "label": label, "probability": p}))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    clf = SentimentClassifier.load(args.pipeline)
    report = clf.export(args.output_dir or Path(args.pipeline).parent / "saved_model")
    print(report.summary)
    return 0


def register_cli(subparsers: Any) -> None:
    """Adds `sentiment {train,evaluate,predict,export}` to the `rnn-apps` command line."""
    from rnn_apps.cli import add_common_args, add_strategy_arg

    parser = subparsers.add_parser("sentiment", help="text classification (IMDB or your data)")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")

    def data_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data",
            default=None,
            help="CSV file or folder with one subfolder per class (default: IMDB)",
        )
        p.add_argument("--text-column", default="text")
        p.add_argument("--label-column", default="label")

    train = verbs.add_parser("train", help="train on IMDB or your data, then export")
    add_common_args(train)
    data_args(train)
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--max-tokens", type=int, default=None)
    train.add_argument("--sequence-length", type=int, default=None)
    train.add_argument("--units", type=int, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--max-train-minutes", type=float, default=None)
    train.add_argument("--tensorboard", action="store_true")
    train.add_argument("--no-export", action="store_true")
    add_strategy_arg(train)
    train.set_defaults(func=_cmd_train)

    ev = verbs.add_parser("evaluate", help="metrics and plots of an exported model")
    add_common_args(ev)
    data_args(ev)
    ev.add_argument("--model", required=True, help="SavedModel folder")
    ev.set_defaults(func=_cmd_evaluate)

    pr = verbs.add_parser("predict", help="probabilities and labels for raw texts")
    add_common_args(pr)
    pr.add_argument("--model", required=True, help="SavedModel folder")
    pr.add_argument("--input", default=None, help="file with one text per line")
    pr.add_argument("text", nargs="*", help="texts to classify")
    pr.set_defaults(func=_cmd_predict)

    ex = verbs.add_parser("export", help="export a saved training pipeline as a SavedModel")
    add_common_args(ex)
    ex.add_argument("--pipeline", required=True, help="the pipeline/ folder written by train")
    ex.set_defaults(func=_cmd_export)
