"""Layers on token ids for text classification: n-gram hashing, an in-graph TF-IDF / NBSVM
linear model, vocabulary capping, head+tail cropping and a logit blend.

All take right-padded int token ids (0 = padding, 1 = [UNK] as `TextVectorization` numbers
them). Shape legend: B batch, T tokens, L cropped length, N n-gram slots (T * order),
V vocabulary, H hash buckets, O output width.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

OOV_ID = 1  # TextVectorization's [UNK]


@keras.saving.register_keras_serializable(package="rnn_apps")
class NgramHashing(keras.layers.Layer):
    """Token ids -> unigram ids and hashed n-gram ids for a bag-of-n-grams.

    Unigrams keep their token id; an n-gram starting at t (all its tokens valid) gets
    `V + hash(ids) % H`; slots without an n-gram are 0 (padding).

    Shape: (B, T) int -> (B, T * order) int32 in [0, V + H).

    Args:
        vocab_size: V, the token vocabulary size.
        buckets: H, hash buckets of the n-grams of order >= 2.
        order: 1 (unigrams), 2 (+ bigrams) or 3 (+ trigrams).
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


@keras.saving.register_keras_serializable(package="rnn_apps")
class TfidfBag(keras.layers.Layer):
    """Linear model on the L2-normalised, weighted binary bag of ids (in-graph TF-IDF + LR, or
    NBSVM-style LR).

    Each distinct id of a row counts once, weighted by a non-trainable per-id table (`idf`)
    set from the training data: inverse document frequencies (`set_idf`) or Naive-Bayes
    log-count ratios (`set_nb_ratio`); the weighted bag is L2-normalised and multiplied by
    trainable per-id weights. `scale` multiplies the output (under Adam it acts as a
    learning-rate multiplier for this layer).

    Shape: (B, N) int ids (0 = padding) -> (B, O) logits.

    Args:
        table_size: Number of distinct ids (V + H).
        output_dim: O.
        scale: Output multiplier.
        l2: L2 penalty on the effective weights (`scale * kernel`).
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


@keras.saving.register_keras_serializable(package="rnn_apps")
class CapIds(keras.layers.Layer):
    """Ids >= `limit` become `replacement` ([UNK]); 0 (padding) stays 0.

    Shape: (B, T) -> (B, T).
    """

    def __init__(self, limit: int, replacement: int = OOV_ID, **kwargs):
        super().__init__(**kwargs)
        self.limit = int(limit)
        self.replacement = int(replacement)

    def call(self, tokens):
        return ops.where(tokens >= self.limit, self.replacement, tokens)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(limit=self.limit, replacement=self.replacement)
        return cfg


@keras.saving.register_keras_serializable(package="rnn_apps")
class HeadTailCrop(keras.layers.Layer):
    """Keeps the first `head` and the last `length - head` valid tokens of right-padded rows.

    Rows no longer than `length` are unchanged (still right-padded).

    Shape: (B, T) -> (B, min(T, length)).
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


@keras.saving.register_keras_serializable(package="rnn_apps")
class LogitBlend(keras.layers.Layer):
    """Weighted sum of branch logits plus a bias, with non-negative weights.

    Shape: k x (B, O) -> (B, O).
    """

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


@keras.saving.register_keras_serializable(package="rnn_apps")
class SoftBinaryAccuracy(keras.metrics.BinaryAccuracy):
    """Binary accuracy of logits against targets that may be probabilities (distillation
    targets): a target above 0.5 counts as positive, a logit above 0 as a positive prediction.
    With 0/1 targets it equals `BinaryAccuracy(threshold=0.0)`; with soft targets that metric
    would count every target other than exactly 0 or 1 as missed.

    Shapes: y_true (B,) or (B, 1) in [0, 1]; y_pred (B, 1) logits.
    """

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype, threshold=0.0)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.greater(ops.convert_to_tensor(y_true), 0.5), self.dtype)
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}
