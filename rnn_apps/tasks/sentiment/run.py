"""What one `SentimentClassifier.fit` works on: its checked inputs, split, vocabulary and batches.

`start_run` checks the raw inputs (texts, labels, `groups`, `unlabelled`, class names), holds
the validation split out of the training texts (seeded; whole groups with `groups`) unless
validation data is given, adapts a `SentimentPreprocessor` on the fitting texts only, and
builds their batches. The `SentimentRun` it returns is the fit's scratch state, passed to
every training step (`branches`, `encoder_init`, `distill`, `blend`, `refit`) and dropped
when `fit` returns; what survives the fit is set on the classifier (`preprocessor_`,
`step_seconds_`, ...).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun
from rnn_apps.tasks.sentiment.config import SentimentConfig
from rnn_apps.tasks.sentiment.data import as_text_list
from rnn_apps.tasks.sentiment.datasets import text_dataset
from rnn_apps.tasks.sentiment.preprocessor import (
    SentimentPreprocessor,
    check_labels,
    class_names_of,
)

#: The sentiment-specific keyword arguments of `SentimentClassifier.fit` (its `**fit_params`).
FIT_PARAMS = ("class_names", "positive_label", "groups", "unlabelled")


@dataclasses.dataclass
class SentimentRun:
    """The scratch state of one `SentimentClassifier.fit`.

    Attributes:
        fit_run: The base's `FitRun` (strategy, work_dir, deadline ...).
        config: The classifier's config.
        pre: The preprocessor adapted on `texts`.
        texts: (N,) fitting texts; `y`: (N,) their class ids.
        val_texts: (M,) validation texts; `y_val`: (M,) their class ids.
        held_out: The validation texts were held out of the training texts (a refit can
            then train on both).
        unlabelled: Unlabelled texts (at most `max_unlabelled`; [] without).
        train_ds: Shuffled, length-bucketed batches of `(texts, y)` (`text_dataset`).
        val_ds: Batches of `(val_texts, y_val)`.
        fixed_ds: Under multi-worker training: fixed batches of `(texts, y)`, else None.
        step_seconds: Seconds of each training step so far (`lap`).
        clock: `time.monotonic()` at the end of the previous step.
        word_vectors: The RNN's starting embedding, once computed (`encoder_init`); None
            before or when the texts are too small.
        word_vectors_done: `word_vectors` was computed (it may be None).
        word_vector_coverage: With `config.word_vectors`, the share of the vocabulary found
            in that file.
        pretrained: The language-model-pretrained encoder weights by layer name, once
            computed (`encoder_init`).
        lm_pretrain: The pretraining's record: its history, or why it was skipped.
    """

    fit_run: FitRun
    config: SentimentConfig
    pre: SentimentPreprocessor
    texts: list[str]
    y: np.ndarray
    val_texts: list[str]
    y_val: np.ndarray
    held_out: bool
    unlabelled: list[str]
    train_ds: Any
    val_ds: Any
    fixed_ds: Any = None
    step_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    clock: float = dataclasses.field(default_factory=time.monotonic)
    word_vectors: np.ndarray | None = None
    word_vectors_done: bool = False
    word_vector_coverage: float | None = None
    pretrained: dict[str, list[Any]] | None = None
    lm_pretrain: dict[str, Any] = dataclasses.field(default_factory=dict)

    def lap(self, name: str) -> None:
        """Records the seconds since the previous step as step `name`."""
        now = time.monotonic()
        self.step_seconds[name] = round(now - self.clock, 1)
        self.clock = now

    def dataset(self, texts: Sequence[str], y: np.ndarray, *, train: bool) -> Any:
        """`text_dataset` with this run's preprocessor and config."""
        return text_dataset(self.pre, self.config, texts, y, train=train)

    def train_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `Task.train_model` every branch trains with."""
        return {
            "run": self.fit_run,
            "fixed_batches": self.fixed_ds,
            "global_batch_size": self.config.batch_size,
            "shuffle": False,  # the datasets shuffle themselves
        }


def start_run(
    config: SentimentConfig,
    train: tuple[Sequence[Any], Sequence[Any]],
    validation: tuple[Sequence[Any], Sequence[Any]] | None,
    fit_run: FitRun,
    *,
    class_names: Sequence[str] | None = None,
    positive_label: str | None = None,
    groups: Sequence[Any] | None = None,
    unlabelled: Sequence[Any] | None = None,
) -> SentimentRun:
    """Checks the inputs of `fit`, splits them, adapts the preprocessor and builds the batches.

    Args:
        config: The classifier's config.
        train: `(texts (N,), labels (N,))`: str or bytes texts; labels of any type but
            NaN/None, compared as strings, at least two classes.
        validation: `(texts, labels)`, or None: a seeded `validation_split` is held out of
            `train` (whole groups with `groups`).
        fit_run: The base's `FitRun`.
        class_names: Fix the class order (default: sorted; see `class_names_of`).
        positive_label: With two classes, the class whose probability is reported.
        groups: (N,) group of every training text (IMDB: its movie id). Ignored with
            `validation`.
        unlabelled: Texts without labels; the first `max_unlabelled` are kept.

    Returns:
        The run's `SentimentRun`.

    Raises:
        UserInputError: no texts, texts and labels of different lengths, a missing (NaN)
            label, fewer than two classes, a label not in `class_names`, `groups` of
            another length than the texts, fewer than 4 texts to hold a validation split
            out of, fewer texts than a multi-worker batch.
    """
    from rnn_apps.progress import step

    cfg = config
    texts = as_text_list(train[0], "texts")
    labels = check_labels(train[1])
    if len(texts) != len(labels):
        raise UserInputError(f"Got {len(texts)} texts but {len(labels)} labels.")
    if class_names is not None:
        names = [str(c) for c in class_names]
        if len(names) < 2:
            raise UserInputError(f"Need at least two classes, got {names}.")
    else:
        names = class_names_of(labels, positive_label)
    if groups is not None:
        groups = ["" if g is None else str(g) for g in groups]
        if len(groups) != len(texts):
            raise UserInputError(
                f"Got {len(texts)} texts but {len(groups)} groups: give one group (e.g. "
                "movie id) per training text."
            )
    extra = [] if unlabelled is None or not len(unlabelled) else list(unlabelled)
    extra = as_text_list(extra[: cfg.max_unlabelled], "unlabelled") if extra else []
    pre = SentimentPreprocessor(cfg.max_tokens, cfg.max_length, names)
    y = pre.encode_labels(labels)
    held_out = validation is None
    if held_out:
        fit_idx, val_idx = _split(len(texts), groups, cfg)
        val_texts, y_val = [texts[i] for i in val_idx], y[val_idx]
        texts, y = [texts[i] for i in fit_idx], y[fit_idx]
    else:
        val_texts = as_text_list(validation[0], "validation texts")
        y_val = pre.encode_labels(check_labels(validation[1], "validation labels"))
    if fit_run.multi_worker and len(texts) < cfg.batch_size:
        raise UserInputError(
            f"Multi-worker training uses fixed batches of batch_size={cfg.batch_size} "
            f"texts but only {len(texts)} are left for training: lower batch_size."
        )
    with step(f"Adapting the vocabulary on {len(texts)} training texts", cfg.verbose):
        pre.adapt(texts)
    pre.set_class_prior(y)
    train_ds = text_dataset(pre, cfg, texts, y, train=True)
    val_ds = text_dataset(pre, cfg, val_texts, y_val, train=False)
    fixed = None
    if fit_run.multi_worker:
        fixed = text_dataset(pre, cfg, texts, y, train=True, fixed_batches=True)
    return SentimentRun(
        fit_run=fit_run,
        config=cfg,
        pre=pre,
        texts=texts,
        y=y,
        val_texts=val_texts,
        y_val=y_val,
        held_out=held_out,
        unlabelled=extra,
        train_ds=train_ds,
        val_ds=val_ds,
        fixed_ds=fixed,
    )


def _split(
    n: int, groups: Sequence[str] | None, cfg: SentimentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(fitting indices, validation indices) of n texts: a seeded `validation_split`, of
    whole groups when `groups` are given."""
    if n < 4:
        raise UserInputError(f"Only {n} texts: need at least 4 to hold out a validation split.")
    if groups is not None:
        from rnn_apps.data.splits import group_split

        return group_split(groups, cfg.validation_split, cfg.seed)
    perm = np.random.default_rng(cfg.seed).permutation(n)
    n_val = max(1, int(round(cfg.validation_split * n)))
    return perm[n_val:], perm[:n_val]
