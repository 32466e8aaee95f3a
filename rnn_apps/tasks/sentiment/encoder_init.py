"""How the RNN branch's encoder starts: word vectors and language-model pretraining.

Before it learns the labels, a freshly built RNN branch gets

- with `word_vectors` (a path), an embedding of those pretrained vectors
  (`pretrained_vectors`); else with `embedding_init="ppmi"`, an embedding of PPMI + SVD word
  vectors
  (`model.ppmi_vectors`) counted on the training texts, and on the unlabelled ones too with
  `ppmi_unlabelled`;
- with `lm_pretrain_epochs` (by default 4 when `fit` gets unlabelled texts, else 0), an
  embedding and first bidirectional layer pretrained as a forward and a backward language
  model on its training batches (`pretrain.pretrain_encoder`).

Both are computed once per `fit`, at the first RNN branch, kept in the `SentimentRun` and set
on every later branch of the fit (the refit) as they are.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment import model as model_lib


def start_rnn_branch(srun: Any, rnn: Any, rnn_ds: Any, tokenised: Any = None) -> None:
    """Sets the starting word vectors and pretrained encoder weights of a fresh RNN branch.

    Args:
        srun: The fit's `SentimentRun` (holds what was computed at the first branch).
        rnn: A `model.build_rnn_branch` model, updated in place.
        rnn_ds: The branch's training batches `(tokens (B, T), targets (B,))`: what the
            language-model pretraining reads.
        tokenised: Batches of exactly the training + unlabelled texts, if at hand (the
            word vectors then read them instead of tokenising those texts again).
    """
    cfg = srun.config
    if cfg.word_vectors or cfg.embedding_init == "ppmi":
        embedding = rnn.get_layer("rnn_classifier").get_layer("embedding")
        if not srun.word_vectors_done:
            rows = int(embedding.input_dim)
            srun.word_vectors = (
                pretrained_vectors(srun, rows)
                if cfg.word_vectors
                else word_vectors(srun, rows, tokenised)
            )
            srun.word_vectors_done = True
            srun.lap("word_vectors")
        if srun.word_vectors is not None:
            embedding.embeddings.assign(srun.word_vectors)
    if lm_pretrain_epochs(srun):
        pretrain_or_restore(srun, rnn, rnn_ds)


def pretrained_vectors(srun: Any, rows: int) -> np.ndarray:
    """The rows of `config.word_vectors` for the first `rows` ids of the vocabulary (words
    without a vector drawn around the others, padding zero).

    Raises:
        UserInputError: the file cannot be read, or its width is not `embedding_dim`.
    """
    from rnn_apps.embeddings import pretrained_embedding
    from rnn_apps.progress import step

    cfg = srun.config
    vocabulary = srun.pre.get_vocabulary()
    with step(f"Reading word vectors for {min(rows, len(vocabulary))} words", cfg.verbose):
        matrix, srun.word_vector_coverage = pretrained_embedding(
            cfg.word_vectors, vocabulary, rows, cfg.embedding_dim, seed=cfg.seed
        )
    return matrix


def word_vectors(srun: Any, rows: int, tokenised: Any = None) -> np.ndarray | None:
    """PPMI + SVD word vectors of the training texts, and of the unlabelled ones with
    `ppmi_unlabelled`.

    Args:
        srun: The fit's `SentimentRun`.
        rows: Embedding rows (ids >= rows count as [UNK]).
        tokenised: Batches of exactly the training + unlabelled texts, or None.

    Returns:
        (rows, embedding_dim) vectors, or None when the texts are too small to factorise.
    """
    from rnn_apps.progress import step

    cfg = srun.config
    ppmi_ds = srun.train_ds
    if srun.unlabelled and cfg.ppmi_unlabelled:
        ppmi_ds = tokenised
        if ppmi_ds is None:  # tokenise the training + unlabelled texts here
            texts = list(srun.texts) + list(srun.unlabelled)
            ppmi_ds = srun.dataset(texts, np.zeros(len(texts), srun.y.dtype), train=False)
    with step(f"Learning {rows} word vectors (PPMI + SVD)", cfg.verbose):
        return model_lib.ppmi_vectors(cfg, ppmi_ds, rows)


def lm_pretrain_epochs(srun: Any) -> int:
    """`config.lm_pretrain_epochs`; with None, 4 when `fit` got unlabelled texts, else 0."""
    epochs = srun.config.lm_pretrain_epochs
    if epochs is None:
        return 4 if srun.unlabelled else 0
    return int(epochs)


def pretrain_or_restore(srun: Any, rnn: Any, batches: Any) -> None:
    """Language-model pretraining of `rnn`'s embedding and first bidirectional layer on
    `batches` at the first branch of the fit (recorded in `srun.lm_pretrain` and as step
    `lm_pretrain`); later branches get the weights it gave. Skipped, and said so, under a
    `tf.distribute` strategy (its training loop is a plain one)."""
    from rnn_apps.progress import step
    from rnn_apps.tasks.sentiment.pretrain import pretrain_encoder

    cfg, run = srun.config, srun.fit_run
    if not _default_strategy(run.strategy):
        if not srun.lm_pretrain and cfg.verbose:
            print(
                "Language-model pretraining skipped: its training loop does not run under "
                f"{type(run.strategy).__name__}.",
                file=sys.stderr,
            )
        srun.lm_pretrain = {"skipped": "not under a tf.distribute strategy"}
        return
    inner = rnn.get_layer("rnn_classifier")
    layers = {name: inner.get_layer(name) for name in ("embedding", "rnn_1")}
    if srun.pretrained is not None:
        for name, layer in layers.items():
            layer.set_weights(srun.pretrained[name])
        return
    epochs = lm_pretrain_epochs(srun)
    with step(
        f"Pretraining the RNN encoder as a language model ({epochs} epochs, forward and backward)",
        cfg.verbose,
    ):
        srun.lm_pretrain = pretrain_encoder(
            rnn,
            batches,
            epochs=epochs,
            num_sampled=cfg.lm_num_sampled,
            learning_rate=cfg.learning_rate,
            seed=cfg.seed,
            # at most half of the time left, the rest is for learning the labels
            deadline=None if run.deadline is None else (time.monotonic() + run.deadline) / 2,
            verbose=cfg.verbose,
        )
    srun.pretrained = {name: layer.get_weights() for name, layer in layers.items()}
    srun.lap("lm_pretrain")


def _default_strategy(strategy: Any) -> bool:
    """True for TensorFlow's default (one-device) strategy."""
    import tensorflow as tf

    return strategy is tf.distribute.get_strategy()
