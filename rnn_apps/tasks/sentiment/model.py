"""The sentiment model: an n-gram branch and an RNN branch on token ids, blended.

- `build_ngram_branch`: unigrams and hashed n-grams (`NgramHashing`) -> an NBSVM-style / TF-IDF
  logistic regression (`TfidfBag`), whose per-n-gram weights are counted on the training
  texts by `set_ngram_weights`.
- `build_rnn_branch`: `rnn_apps.build_bidirectional` behind a head+tail crop (`HeadTailCrop`)
  and a vocabulary cap (`CapIds`); its embedding may start from `ppmi_vectors`.
- `build_sentiment_model`: the branches joined by `LogitBlend` (weights fitted on the
  validation split by the task).

Shape legend: B batch, T tokens, L cropped RNN length, N n-gram slots (T * ngram_order),
O output width (1 for two classes, else C).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.layers.text import (
    OOV_ID,
    CapIds,
    HeadTailCrop,
    LogitBlend,
    NgramHashing,
    SoftBinaryAccuracy,
    TfidfBag,
)
from rnn_apps.tasks.sentiment.config import SentimentConfig

NGRAM_BRANCH = "ngram_branch"
RNN_BRANCH = "rnn_branch"


def build_ngram_branch(config: SentimentConfig, vocab_size: int, output_dim: int) -> Any:
    """Linear bag-of-n-grams: (B, T) token ids -> (B, O) logits."""
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    ids = NgramHashing(vocab_size, config.ngram_buckets, config.ngram_order, name="ngram_ids")(
        tokens
    )  # (B, T) -> (B, N)
    table = vocab_size + (config.ngram_buckets if config.ngram_order > 1 else 0)
    logits = TfidfBag(table, output_dim, config.ngram_scale, config.ngram_l2, name="ngram_logits")(
        ids
    )  # (B, N) -> (B, O)
    return keras.Model(tokens, logits, name=NGRAM_BRANCH)


def build_rnn_branch(config: SentimentConfig, vocab_size: int, output_dim: int) -> Any:
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
    cropped = HeadTailCrop(config.sequence_length, config.head, name="crop")(tokens)  # (B, L)
    if rnn_vocab < vocab_size:  # rarer words -> [UNK] for the RNN
        cropped = CapIds(rnn_vocab, OOV_ID, name="rnn_vocab_cap")(cropped)
    return keras.Model(tokens, rnn(cropped), name=RNN_BRANCH)  # (B, L) -> (B, O)


def build_sentiment_model(branches: Sequence[Any], output_dim: int) -> Any:
    """Joins branch models into one: (B, T) token ids -> (B, O) logits (`LogitBlend`)."""
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    outs = [b(tokens) for b in branches]
    if len(outs) == 1:
        logits = keras.layers.Identity(name="logits")(outs[0])
    else:
        logits = LogitBlend(len(outs), output_dim, name="logits")(outs)
    return keras.Model(tokens, logits, name="sentiment_model")


def branches_of(model: Any) -> list[Any]:
    """The branch models inside a `build_sentiment_model` model, in blend order."""
    import keras

    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.name.endswith("_branch")
    ]


def compile_branch(
    model: Any, output_dim: int, learning_rate: float, ema_momentum: float = 0.0
) -> Any:
    """Compiles a logits model with (binary / sparse categorical) cross-entropy and accuracy:
    Adam with gradient-norm clipping 1.0, keeping a moving average of the weights when
    `ema_momentum` > 0."""
    import keras

    from rnn_apps.builders import compile_model

    if output_dim == 1:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        metrics = [SoftBinaryAccuracy(name="accuracy")]  # targets may be soft (distillation)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    optimizer = keras.optimizers.Adam(
        learning_rate, clipnorm=1.0, use_ema=ema_momentum > 0, ema_momentum=ema_momentum or 0.99
    )
    return compile_model(model, loss=loss, optimizer=optimizer, metrics=metrics)


def set_ngram_weights(ngram: Any, train_ds: Any, *, nb: bool) -> None:
    """Counts the document frequency of every n-gram id over the training batches (per class
    with `nb`) and sets the branch's weight table: Naive-Bayes ratios (`nb`, two classes) or
    IDF.

    Args:
        ngram: A `build_ngram_branch` model.
        train_ds: Batches of `(tokens (B, T), labels (B,))`.
        nb: Naive-Bayes log-count ratios (labels > 0.5 = positive) instead of IDF.
    """
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


def ppmi_vectors(config: SentimentConfig, train_ds: Any, rows: int) -> np.ndarray | None:
    """(rows, embedding_dim) PPMI-SVD word vectors of the token ids of the (cached, already
    tokenised) training batches (ids >= rows count as [UNK]); None when the texts are too
    small to factorise."""
    from rnn_apps.embeddings import ppmi_svd_embeddings

    if config.embedding_dim >= rows:
        return None
    seqs = [row[row > 0] for tokens, _ in train_ds for row in np.asarray(tokens)]
    try:
        return ppmi_svd_embeddings(
            seqs, rows, config.embedding_dim, window=config.embedding_window, seed=config.seed
        )
    except ValueError:  # e.g. only one-token texts
        return None
