"""tf.data input of the sentiment fit: texts and targets -> tokenised, length-bucketed batches.

`text_dataset` maps the texts to token ids with the `SentimentPreprocessor` inside tf.data
(once: the tokens are cached), cuts every text's ids to its true length and batches texts of
similar length together (`LENGTH_BUCKETS`), right-padded to the longest text of the batch, so
that the RNN's mask follows every text and little padding is computed. Under multi-worker
training it makes fixed batches of exactly `batch_size` texts instead, so that every worker
runs the same steps.

Shape legend: B batch, T tokens (the longest text of the batch, at most `max_length`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment.config import SentimentConfig

#: Upper token lengths of the training batches' buckets (those below `max_length` are used).
LENGTH_BUCKETS = (32, 64, 96, 128, 160, 192, 256, 320, 400, 512, 768)


def text_dataset(
    pre: Any,
    config: SentimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    *,
    train: bool,
    fixed_batches: bool = False,
) -> Any:
    """Batches of `(tokens, targets)` for `model.fit`, `model.evaluate` or counting.

    Args:
        pre: The adapted `SentimentPreprocessor` (its `output_dim` sets the target type).
        config: Gives `batch_size`, `max_length` (bucket cut-off) and `seed` (shuffling).
        texts: (N,) texts.
        y: (N,) targets: class ids, or float probabilities (two classes; distillation).
        train: Shuffle the texts again every epoch (seeded).
        fixed_batches: Exactly `batch_size` texts per batch (the remainder is dropped), no
            length bucketing: what multi-worker training needs.

    Returns:
        A `tf.data.Dataset` of `(tokens (B, T) int right-padded with 0, targets (B,))`;
        targets are float32 with one output (two classes), else int32.
    """
    import tensorflow as tf

    y_t = tf.constant(y.astype(np.float32) if pre.output_dim == 1 else y.astype(np.int32))
    ds = (
        tf.data.Dataset.from_tensor_slices((tf.constant(list(texts), tf.string), y_t))
        .batch(512)
        .map(lambda t, lab: (pre.dense_and_lengths(t), lab))
        .unbatch()
        .map(lambda tn, lab: (tn[0][: tn[1]], lab))  # (T_max,) -> (n,)
        .cache()
    )
    if train:
        ds = ds.shuffle(len(texts), seed=config.seed, reshuffle_each_iteration=True)
    if fixed_batches:
        ds = ds.padded_batch(
            config.batch_size,
            padded_shapes=([None], []),
            padding_values=(0, None),
            drop_remainder=True,
        )
        return ds.prefetch(tf.data.AUTOTUNE)
    bounds = [b for b in LENGTH_BUCKETS if b < config.max_length]
    ds = ds.bucket_by_sequence_length(
        lambda t, lab: tf.shape(t)[0],
        bucket_boundaries=bounds,
        bucket_batch_sizes=[config.batch_size] * (len(bounds) + 1),
        padded_shapes=([None], []),
        padding_values=(0, None),
    )
    return ds.prefetch(tf.data.AUTOTUNE)
