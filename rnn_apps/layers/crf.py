"""A linear-chain conditional random field (CRF) over per-token scores, for sequence tagging.

The score of a tag sequence y of a sentence of length n is

    start[y_0] + sum_t potentials[t, y_t] + sum_{t>=1} transitions[y_{t-1}, y_t] + end[y_{n-1}]

and its probability is exp(score) / Z, Z summing over every tag sequence (the forward
algorithm). `CRF.log_likelihood` is what training maximises; `CRF.decode` (the layer's call)
returns the best sequence (Viterbi), both in the graph, masked: padded steps change nothing.
Forbidden transitions (`allowed`, e.g. `I-X` after `O` for BIO tags, `bio_constraints`) score
-1e4 and are never decoded while an allowed path exists. The NumPy references are
`rnn_apps.reference.crf_log_likelihood` and `rnn_apps.reference.viterbi_decode`.

Shape legend: B batch, T time steps (tokens), K tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

#: The score of a forbidden transition.
FORBIDDEN = -1e4


def bio_constraints(tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`(allowed (K, K), allowed_start (K,))` for IOB2 tags: `I-X` only after `B-X` or `I-X`,
    and never first. Tags that are not `B-`/`I-` prefixed are unconstrained."""
    kinds = [
        (t[0], t[2:]) if len(t) > 2 and t[1] == "-" and t[0] in ("B", "I") else ("O", t)
        for t in tags
    ]
    k = len(tags)
    allowed = np.ones((k, k), bool)
    start = np.ones(k, bool)
    for j, (prefix, kind) in enumerate(kinds):
        if prefix != "I":
            continue
        start[j] = False
        for i, (p_prev, k_prev) in enumerate(kinds):
            allowed[i, j] = p_prev in ("B", "I") and k_prev == kind
    return allowed, start


@keras.saving.register_keras_serializable(package="rnn_apps")
class CRF(keras.layers.Layer):
    """Linear-chain CRF: learns transition scores; called on potentials it decodes (Viterbi).

    Args:
        num_tags: K.
        allowed: Optional (K, K) booleans, `allowed[i, j]` = tag j may follow tag i.
        allowed_start: Optional (K,) booleans: tags a sentence may start with.

    Call:
        `potentials` (B, T, K) float (T >= 1), `mask` (B, T) bool (right-padded; default all
        True) -> best tags (B, T) int32, 0 on padded steps.

    Example:
        >>> crf = CRF(num_tags)
        >>> loss = -crf.log_likelihood(potentials, tags, mask)  # (B,)
        >>> best = crf(potentials, mask=mask)  # (B, T)
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Any = None,
        allowed_start: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_tags = int(num_tags)
        k = self.num_tags
        self.allowed = None if allowed is None else np.asarray(allowed, bool).tolist()
        self.allowed_start = (
            None if allowed_start is None else np.asarray(allowed_start, bool).tolist()
        )
        if self.allowed is not None and np.shape(self.allowed) != (k, k):
            raise ValueError(f"allowed must be ({k}, {k}), got {np.shape(self.allowed)}")
        if self.allowed_start is not None and np.shape(self.allowed_start) != (k,):
            raise ValueError(f"allowed_start must be ({k},), got {np.shape(self.allowed_start)}")
        penalty = np.zeros((k, k), np.float32)
        if self.allowed is not None:
            penalty[~np.asarray(self.allowed)] = FORBIDDEN
        start_penalty = np.zeros(k, np.float32)
        if self.allowed_start is not None:
            start_penalty[~np.asarray(self.allowed_start)] = FORBIDDEN
        self._penalty, self._start_penalty = penalty, start_penalty

    def build(self, input_shape: Any = None) -> None:
        k = self.num_tags
        self.transitions = self.add_weight(shape=(k, k), initializer="zeros", name="transitions")
        self.start_transitions = self.add_weight(shape=(k,), initializer="zeros", name="start")
        self.end_transitions = self.add_weight(shape=(k,), initializer="zeros", name="end")

    # ------------------------------------------------------------------ pieces
    def _scores(self) -> tuple[Any, Any, Any]:
        """(transitions (K, K), start (K,), end (K,)) with forbidden moves penalised."""
        trans = self.transitions + ops.convert_to_tensor(self._penalty)
        start = self.start_transitions + ops.convert_to_tensor(self._start_penalty)
        return trans, start, self.end_transitions

    @staticmethod
    def _mask(potentials: Any, mask: Any) -> Any:
        if mask is None:
            return ops.ones(ops.shape(potentials)[:2], dtype="bool")
        return ops.cast(mask, "bool")

    def log_likelihood(self, potentials: Any, tags: Any, mask: Any = None) -> Any:
        """log p(tags | potentials) of each sentence (B,); 0 for an empty sentence.

        Args:
            potentials: (B, T, K) per-token tag scores.
            tags: (B, T) int gold tags (any value on padded steps).
            mask: (B, T) bool, True on real tokens (right-padded).
        """
        return self._gold_score(potentials, tags, mask) - self.log_partition(potentials, mask)

    def _gold_score(self, potentials: Any, tags: Any, mask: Any) -> Any:
        trans, start, end = self._scores()
        potentials = ops.cast(potentials, "float32")
        mask = self._mask(potentials, mask)
        maskf = ops.cast(mask, "float32")
        tags = ops.where(mask, ops.cast(tags, "int32"), 0)  # (B, T)
        emit = ops.take_along_axis(potentials, tags[:, :, None], axis=2)[:, :, 0]  # (B, T)
        score = ops.sum(emit * maskf, axis=1)
        k = self.num_tags
        flat = ops.reshape(trans, [k * k])
        pair = ops.take(flat, tags[:, :-1] * k + tags[:, 1:])  # (B, T - 1)
        score += ops.sum(pair * maskf[:, 1:], axis=1)
        lengths = ops.sum(ops.cast(mask, "int32"), axis=1)  # (B,)
        last = ops.take_along_axis(tags, ops.maximum(lengths - 1, 0)[:, None], axis=1)[:, 0]
        score += ops.take(start, tags[:, 0]) + ops.take(end, last)
        return ops.where(lengths > 0, score, 0.0)

    def log_partition(self, potentials: Any, mask: Any = None) -> Any:
        """log Z of each sentence (B,) by the forward algorithm; 0 for an empty sentence."""
        import tensorflow as tf

        trans, start, end = self._scores()
        potentials = ops.cast(potentials, "float32")
        mask = self._mask(potentials, mask)
        alpha = start[None, :] + potentials[:, 0]  # (B, K)

        def step(t, alpha):
            new = ops.logsumexp(alpha[:, :, None] + trans[None], axis=1) + potentials[:, t]
            return t + 1, ops.where(mask[:, t, None], new, alpha)

        steps = tf.shape(potentials)[1]
        _, alpha = tf.while_loop(lambda t, _: t < steps, step, (tf.constant(1), alpha))
        log_z = ops.logsumexp(alpha + end[None, :], axis=1)
        return ops.where(ops.any(mask, axis=1), log_z, 0.0)

    def decode(self, potentials: Any, mask: Any = None) -> tuple[Any, Any]:
        """Viterbi: the best tags (B, T) int32 (0 on padded steps) and their scores (B,)."""
        import tensorflow as tf

        trans, start, end = self._scores()
        potentials = ops.cast(potentials, "float32")
        mask = self._mask(potentials, mask)
        # One masked step appended, so that both loops run at least once (a converter needs
        # their TensorArrays non-empty) and each writes at its own iteration index (what
        # LiteRT and tf2onnx lower to builtin loops and scan outputs); removed at the end.
        potentials = tf.concat([potentials, tf.zeros_like(potentials[:, :1])], axis=1)
        mask = tf.concat([mask, tf.zeros_like(mask[:, :1])], axis=1)
        steps = tf.shape(potentials)[1]  # T + 1 >= 2
        identity = tf.range(self.num_tags, dtype=tf.int32)
        delta = start[None, :] + potentials[:, 0]  # (B, K)
        backs = tf.TensorArray(tf.int32, size=steps - 1, element_shape=delta.shape)

        def forward(i, delta, backs):  # step t = i + 1
            t = i + 1
            cand = delta[:, :, None] + trans[None]  # (B, K prev, K next)
            best_prev = tf.argmax(cand, axis=1, output_type=tf.int32)  # (B, K)
            new = tf.reduce_max(cand, axis=1) + potentials[:, t]
            m = mask[:, t, None]
            back = tf.where(m, best_prev, identity[None, :])  # padding: stay on the same tag
            return i + 1, tf.where(m, new, delta), backs.write(i, back)

        _, delta, backs = tf.while_loop(
            lambda i, *_: i < steps - 1, forward, (tf.constant(0), delta, backs)
        )
        backs = backs.stack()  # (T, B, K): the best previous tag at steps 1 .. T
        final = delta + end[None, :]
        last = tf.argmax(final, axis=1, output_type=tf.int32)  # (B,)
        best = tf.TensorArray(tf.int32, size=steps - 1, element_shape=last.shape)

        def backward(i, tag, best):  # the tag at step t = T - i -> the best at step t - 1
            prev = tf.gather(backs[steps - 2 - i], tag, batch_dims=1)
            return i + 1, prev, best.write(i, prev)

        _, _, best = tf.while_loop(
            lambda i, *_: i < steps - 1, backward, (tf.constant(0), last, best)
        )
        tags = tf.concat([tf.reverse(best.stack(), [0]), last[None]], axis=0)  # (T + 1, B)
        tags = tf.transpose(tags)[:, :-1]  # (B, T)
        mask = mask[:, :-1]
        any_real = tf.reduce_any(mask, axis=1)
        return tf.where(mask, tags, 0), tf.where(any_real, tf.reduce_max(final, axis=1), 0.0)

    # ------------------------------------------------------------------ Keras
    def call(self, potentials: Any, mask: Any = None) -> Any:
        return self.decode(potentials, mask)[0]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return tuple(input_shape[:2])

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_tags": self.num_tags,
            "allowed": self.allowed,
            "allowed_start": self.allowed_start,
        }
