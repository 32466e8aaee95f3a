"""Text <-> token ids of a language model, and its training windows.

The preprocessor, `Vocabulary` (the `keras.layers.Layer` `TextGenPreprocessor`, defined at
module level in `rnn_apps.layers.textgen_preprocessor`, registered on `import rnn_apps`, and
re-exported here with `tokenize`, `detokenize_words` and the ids under their usual names):
tokenization, the vocabulary (a Keras `StringLookup` that travels with the export) and the
inverse mapping ids -> text. Called on texts (B,) it returns token ids (B, T).

Ids: 0 is padding (the lookup's mask token ""), 1 the OOV token `[UNK]`, 2.. the vocabulary.

Shape legend: B batch (texts), T tokens, N ids of a text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnn_apps.layers.textgen_preprocessor import (  # noqa: F401  (re-exported)
    NEWLINE_TOKEN,
    OOV_ID,
    OOV_TOKEN,
    PAD_ID,
    TextGenPreprocessor,
    Vocabulary,
    detokenize_words,
    tokenize,
)

# =========================================================================== training windows


def windows_dataset(ids: np.ndarray, seq_len: int, batch_size: int, seed: int) -> tuple[Any, int]:
    """Shuffled contiguous windows (x = ids[s:s+T], y = ids[s+1:s+T+1]), a random offset per
    pass, every window from a zero state.

    Args:
        ids: The training text's ids (N,).
        seq_len: T.
        batch_size: B.
        seed: Seed of the offsets and the shuffle.

    Returns:
        `(dataset of ((B, T), (B, T)) batches repeating forever, steps per epoch)`.

    Raises:
        UserInputError: the text is too short for one batch.
    """
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    n = len(ids)
    per_epoch = (n - 1 - (seq_len - 1)) // seq_len
    if per_epoch < batch_size:
        raise UserInputError(
            f"The training text has {n} tokens: too short for batch_size={batch_size} windows "
            f"of seq_len={seq_len}; lower them (or give more text)."
        )
    ids_t = tf.constant(ids, tf.int32)

    def epoch(e):
        off = tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(seed, tf.int64), e]), maxval=seq_len, dtype=tf.int64
        )
        count = (n - 1 - off) // seq_len
        starts = off + tf.range(count) * seq_len
        return tf.data.Dataset.from_tensor_slices(starts).shuffle(
            per_epoch + 1, seed=seed, reshuffle_each_iteration=True
        )

    def window(s):
        s = tf.cast(s, tf.int32)
        return ids_t[s : s + seq_len], ids_t[s + 1 : s + seq_len + 1]

    ds = (
        tf.data.Dataset.range(10**9)
        .flat_map(epoch)
        .map(window, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return ds, per_epoch // batch_size


def stateful_dataset(ids: np.ndarray, seq_len: int, batch_size: int) -> tuple[Any, int]:
    """Truncated-BPTT batches: row b of batch k is window k of contiguous stream b.

    Returns:
        `(dataset of ((B, T), (B, T)) batches repeating forever, steps per epoch)`.

    Raises:
        UserInputError: the text is too short for one window per stream.
    """
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    stream = (len(ids) - 1) // batch_size
    steps = stream // seq_len
    if steps < 1:
        raise UserInputError(
            f"The training text has {len(ids)} tokens: too short for {batch_size} streams of "
            f"seq_len={seq_len}; lower them (or give more text)."
        )
    x = np.stack([ids[b * stream : b * stream + steps * seq_len] for b in range(batch_size)])
    y = np.stack(
        [ids[b * stream + 1 : b * stream + 1 + steps * seq_len] for b in range(batch_size)]
    )
    # (B, steps * T) -> (steps, B, T)
    x = x.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    y = y.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().prefetch(tf.data.AUTOTUNE)
    return ds, steps


def unigram_logits(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Log-probabilities (V,) of the training ids, add-half smoothed; padding gets -1e9.

    The model's prediction for the first token of a text (before any state exists).
    """
    counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    counts[PAD_ID] = 0.0
    probs = (counts + 0.5) / (counts.sum() + 0.5 * vocab_size)
    out = np.log(probs)
    out[PAD_ID] = -1e9
    return out.astype(np.float32)
