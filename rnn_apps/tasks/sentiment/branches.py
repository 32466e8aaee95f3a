"""Training one branch of the sentiment model: the n-gram branch or the RNN branch.

Each function builds a fresh branch under the fit's strategy scope, prepares it (the
n-gram branch counts its n-gram weights on its training batches; the RNN branch starts from
the fit's word vectors and pretrained encoder, `encoder_init`, and with a teacher learns the
unlabelled texts too, `distill`) and trains it with the classifier's `Task.train_model`
(standard callbacks, backups under `work_dir/backup/<name>`, history in `history_[name]`).
With validation batches it is early-stopped on them (model selection); without (the refit) it
trains for given epochs at given per-epoch learning rates (`replay_learning_rates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment import model as model_lib
from rnn_apps.tasks.sentiment.distill import distillation_dataset
from rnn_apps.tasks.sentiment.encoder_init import start_rnn_branch


def train_ngram_branch(
    task: Any,
    srun: Any,
    name: str,
    train_ds: Any,
    val_ds: Any,
    *,
    epochs: int | None = None,
    learning_rates: Sequence[float] | None = None,
) -> Any:
    """Builds the n-gram branch, counts its n-gram weights on `train_ds` and trains it.

    Args:
        task: The `SentimentClassifier` (its `train_model`).
        srun: The fit's `SentimentRun`.
        name: Training name (`ngram`, `ngram_refit`): history key, backup folder, step.
        train_ds: Batches of `(tokens (B, T), targets (B,))`.
        val_ds: Validation batches (early stopping), or None.
        epochs: Epochs (default `ngram_epochs`).
        learning_rates: Per-epoch learning rates to replay, or None.

    Returns:
        The trained branch: (B, T) token ids -> (B, O) logits.
    """
    from rnn_apps.progress import step

    cfg, pre = srun.config, srun.pre
    with srun.fit_run.strategy.scope():
        ngram = model_lib.build_ngram_branch(cfg, pre.vocabulary_size, pre.output_dim)
        with step("Counting n-gram document frequencies", cfg.verbose):
            nb = cfg.ngram_weighting == "nb" and pre.output_dim == 1
            model_lib.set_ngram_weights(ngram, train_ds, nb=nb)
        model_lib.compile_branch(ngram, pre.output_dim, cfg.ngram_learning_rate)
    task.train_model(
        ngram,
        train_ds,
        val_ds,
        name=name,
        epochs=epochs or cfg.ngram_epochs,
        callbacks=replay_learning_rates(learning_rates),
        **srun.train_kwargs(),
    )
    srun.lap(name)
    return ngram


def train_rnn_branch(
    task: Any,
    srun: Any,
    name: str,
    texts: Sequence[str],
    y: np.ndarray,
    labelled_ds: Any,
    teacher: Any,
    val_ds: Any,
    *,
    epochs: int | None = None,
    learning_rates: Sequence[float] | None = None,
) -> Any:
    """Builds and trains the RNN branch on the labelled texts and, with a teacher, on the
    unlabelled texts with the teacher's targets.

    Its moving average of the weights spans at most about half an epoch
    (`ema_momentum` <= 1 - 2 / steps per epoch), so that a small dataset trains as without
    it; with validation batches the average is what is validated and kept
    (`rnn_apps.callbacks.ValidateOnAverage`).

    Args:
        task: The `SentimentClassifier` (its `train_model`).
        srun: The fit's `SentimentRun`.
        name: Training name (`rnn`, `rnn_refit`).
        texts: (N,) labelled texts; `y`: (N,) their class ids.
        labelled_ds: The training batches of `texts`.
        teacher: The trained n-gram branch to distil, or None.
        val_ds: Validation batches (early stopping), or None.
        epochs: Epochs (default `epochs`).
        learning_rates: Per-epoch learning rates to replay, or None.

    Returns:
        The trained branch: (B, T) token ids -> (B, O) logits.
    """
    cfg, pre = srun.config, srun.pre
    if teacher is None:
        rnn_ds, num_texts = labelled_ds, len(texts)
    else:
        rnn_ds, num_texts = distillation_dataset(srun, teacher, texts, y, name=name)
    with srun.fit_run.strategy.scope():
        rnn = model_lib.build_rnn_branch(cfg, pre.vocabulary_size, pre.output_dim)
        steps = -(-num_texts // cfg.batch_size)
        ema = min(cfg.ema_momentum, max(0.0, 1.0 - 2.0 / steps))
        model_lib.compile_branch(rnn, pre.output_dim, cfg.learning_rate, ema)
    # The distillation batches hold exactly the training + unlabelled texts.
    start_rnn_branch(srun, rnn, rnn_ds, tokenised=rnn_ds if teacher is not None else None)
    callbacks = replay_learning_rates(learning_rates)
    if ema > 0 and val_ds is not None:
        from rnn_apps.callbacks import ValidateOnAverage

        callbacks.append(ValidateOnAverage())
    task.train_model(
        rnn,
        rnn_ds,
        val_ds,
        name=name,
        epochs=epochs or cfg.epochs,
        callbacks=callbacks,
        **srun.train_kwargs(),
    )
    srun.lap(name)
    return rnn


def replay_learning_rates(learning_rates: Sequence[float] | None) -> list[Any]:
    """Callbacks setting the learning rate of epoch i to `learning_rates[i]` (the last one
    after them): `[LearningRateScheduler]`, or [] without rates."""
    if not learning_rates:
        return []
    import keras

    rates = [float(r) for r in learning_rates]
    return [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: rates[min(epoch, len(rates) - 1)])
    ]
