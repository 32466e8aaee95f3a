"""Language-model pretraining of the RNN branch's encoder (ULMFiT / Dai & Le style).

The branch's own embedding and first bidirectional layer learn to predict the next word (the
forward direction) and the previous word (the backward direction) on the training and
unlabelled texts, before the branch is fine-tuned on the labels. A full softmax over 20,000
words at every position would cost more than the RNN itself on a CPU, so the loss is a
sampled softmax (`tf.nn.sampled_softmax_loss`, log-uniform candidates: the vocabulary is
sorted by frequency) with its own output weights, which are dropped after pretraining.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rnn_apps.errors import UserInputError


def pretrain_encoder(
    branch: Any,
    batches: Any,
    *,
    epochs: int,
    num_sampled: int,
    learning_rate: float,
    seed: int,
    deadline: float | None = None,
    verbose: int = 1,
) -> dict[str, list[float]]:
    """Trains the branch's embedding and first bidirectional layer as two language models.

    Args:
        branch: A `build_rnn_branch` model (its `crop`, `rnn_vocab_cap`, `rnn_classifier`
            layers); its weights are updated in place.
        batches: A `tf.data.Dataset` of `(tokens (B, T), anything)` batches, right-padded.
        epochs: Passes over `batches`.
        num_sampled: Negative words per batch of the sampled softmax (at most the vocabulary
            size - 1: a small vocabulary samples fewer).
        learning_rate: Adam's learning rate (gradient-norm clipping 1.0).
        seed: Seeds the candidate sampler and the output weights.
        deadline: `time.monotonic()` value after which no new batch starts.
        verbose: 0 silent, else one line per epoch.

    Returns:
        `{"lm_loss": [mean sampled-softmax loss per epoch], "seconds": [...], "words": [...]}`
        (words: the next/previous words predicted per epoch).
    """
    import keras
    import tensorflow as tf

    inner = branch.get_layer("rnn_classifier")
    crop = branch.get_layer("crop")
    names = {layer.name for layer in branch.layers}
    cap = branch.get_layer("rnn_vocab_cap") if "rnn_vocab_cap" in names else None
    embedding = inner.get_layer("embedding")
    bidi = inner.get_layer("rnn_1")
    if not isinstance(bidi, keras.layers.Bidirectional) or not bidi.return_sequences:
        raise UserInputError(
            "Language-model pretraining needs a first RNN layer that is bidirectional and "
            "returns sequences: use pooling other than 'last' or num_layers >= 2, or set "
            "lm_pretrain_epochs=0."
        )
    directions = (bidi.forward_layer, bidi.backward_layer)
    vocab, units = int(embedding.input_dim), int(bidi.forward_layer.units)
    # The candidate sampler draws distinct words: no more than the vocabulary holds.
    num_sampled = max(1, min(int(num_sampled), vocab - 1))
    init = keras.initializers.GlorotUniform(seed=seed)
    out_w = [tf.Variable(init((vocab, units)), name=f"lm_softmax_{d}") for d in ("fw", "bw")]
    out_b = [tf.Variable(tf.zeros(vocab), name=f"lm_bias_{d}") for d in ("fw", "bw")]
    variables = [
        *embedding.trainable_variables,
        *bidi.trainable_variables,
        *out_w,
        *out_b,
    ]
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    optimizer.build(variables)

    def direction_loss(d: int, hidden: Any, targets: Any, keep: Any) -> Any:
        h = tf.boolean_mask(hidden, keep)  # (B, T-1, U) -> (N, U)
        y = tf.cast(tf.boolean_mask(targets, keep), tf.int64)[:, None]  # (N, 1)
        losses = tf.nn.sampled_softmax_loss(
            out_w[d], out_b[d], y, h, num_sampled, vocab, seed=seed + d
        )
        return tf.reduce_mean(losses), tf.size(y)

    @tf.function(reduce_retracing=True)
    def train_step(tokens: Any) -> Any:
        ids = crop(tokens)  # (B, T) -> (B, L)
        if cap is not None:
            ids = cap(ids)
        mask = tf.not_equal(ids, 0)
        with tf.GradientTape() as tape:
            x = embedding(ids)  # (B, L, E)
            fw = directions[0](x, mask=mask)[0]  # (B, L, U): position t has read 0..t
            bw = directions[1](x, mask=mask)[0]  # reversed time: go_backwards
            bw = tf.reverse(bw, [1])  # (B, L, U): position t has read t..end
            # next word from the forward states, previous word from the backward ones
            both = mask[:, :-1] & mask[:, 1:]  # (B, L-1)
            loss_f, n = direction_loss(0, fw[:, :-1], ids[:, 1:], both)
            loss_b, _ = direction_loss(1, bw[:, 1:], ids[:, :-1], both)
            loss = (loss_f + loss_b) / 2
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, n

    history: dict[str, list[float]] = {"lm_loss": [], "seconds": [], "words": []}
    tokens_only = batches.map(lambda t, *_: t)
    for epoch in range(epochs):
        start = time.monotonic()
        total, count, seen = 0.0, 0, 0
        for tokens in tokens_only:
            if deadline is not None and time.monotonic() > deadline:
                break
            loss, n = train_step(tokens)
            total, count, seen = total + float(loss), count + 1, seen + int(n)
        if not count:
            break
        history["lm_loss"].append(total / count)
        history["seconds"].append(round(time.monotonic() - start, 1))
        history["words"].append(float(seen))
        if verbose:
            print(
                f"Language-model pretraining epoch {epoch + 1}/{epochs}: sampled-softmax loss "
                f"{total / count:.3f} over {seen} next/previous words "
                f"({history['seconds'][-1]:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        if deadline is not None and time.monotonic() > deadline:
            break
    return history
