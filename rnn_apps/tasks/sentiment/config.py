"""Options of the sentiment pipeline (`SentimentConfig`).

`SentimentConfig` holds every option of `SentimentClassifier` with its default, checks their
ranges and choices, and reads configurations saved before an option was retired
(`RETIRED_OPTIONS`). What each default was chosen by is recorded in the benchmarks' results
(`benchmarks/results/sentiment_imdb*.json`) and README's sentiment tables.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rnn_apps.tasks.base import TaskConfig

#: Options measured on IMDB, not kept and removed (README's sentiment ablation table,
#: `benchmarks/results/sentiment_imdb_ablations.json`), with the value that turned them off:
#: a configuration saved before their removal still loads when they are off.
RETIRED_OPTIONS: dict[str, Any] = {
    "adversarial_epsilon": 0.0,
    "distill_rounds": 1,
    "distill_augment": 0,
}


@dataclasses.dataclass
class SentimentConfig(TaskConfig):
    """Options of the sentiment pipeline (defaults chosen on IMDB's validation split).

    Build one as a dataclass or with `SentimentConfig.from_dict` (a `--config` file); values
    are checked (type, then range) when a `SentimentClassifier` is built, naming the key.

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
            training texts (`rnn_apps.embeddings.ppmi_svd_embeddings`); None: random.
        embedding_window: Co-occurrence window of the `"ppmi"` vectors.
        word_vectors: Path of pretrained word vectors (GloVe / word2vec / fastText text
            format, `rnn_apps.embeddings.load_word_vectors`) to start the RNN's embedding
            from instead of `embedding_init`; their width must be `embedding_dim`.
        cell: `"gru"` or `"lstm"`.
        units: Units per direction of each recurrent layer.
        num_layers: Stacked bidirectional layers.
        embedding_dropout: `SpatialDropout1D` rate on the RNN's embedded sequence.
        dropout: Input dropout of the recurrent layers (same mask over time).
        recurrent_dropout: Recurrent-state dropout.
        pooling: `"mean_max"`, `"mean"`, `"max"` or `"last"`.
        head_dropout: Dropout before the RNN branch's output layer.
        ngram_branch: Add the wide n-gram branch.
        ngram_order: 1 = unigrams, 2 = uni+bigrams, 3 = uni+bi+trigrams.
        ngram_weighting: Per-n-gram weight of the binary bag: `"nb"`, the Naive-Bayes
            log-count ratio of the two classes on the training texts (NBSVM, Wang & Manning
            2012; with more than two classes IDF is used), or `"idf"`.
        ngram_buckets: Hash buckets H for the n-grams of order >= 2.
        ngram_scale: Output multiplier of the n-gram branch (its effective learning-rate
            multiplier under Adam).
        ngram_l2: L2 penalty on the n-gram branch's effective weights (per example;
            scikit-learn's `C` corresponds to `1 / (2 * C * num_train)`).
        ngram_epochs: Maximum epochs of the n-gram branch.
        ngram_learning_rate: Learning rate of the n-gram branch.
        batch_size: Batch size (per length bucket).
        epochs: Maximum epochs of the RNN branch.
        learning_rate: Learning rate of the RNN branch (Adam, clipnorm 1).
        lm_pretrain_epochs: Before its training on the labels, the RNN branch's embedding
            and first bidirectional layer learn for this many epochs to predict the next
            word (forward direction) and the previous word (backward direction) on the
            training and unlabelled texts (ULMFiT / Dai & Le 2015;
            `rnn_apps.tasks.sentiment.pretrain`). 0 = off. None (default): 4 epochs when `fit`
            gets unlabelled texts, else 0.
        lm_num_sampled: Negative words per batch of the pretraining's sampled softmax.
        ema_momentum: The RNN branch keeps an exponential moving average of its weights with
            this momentum (Adam's `use_ema`; 0 = off); validation, early stopping and the
            kept weights use the average (`rnn_apps.callbacks.ValidateOnAverage`). Capped at
            1 - 2 / (steps per epoch), an average over at most about half an epoch, so a
            small dataset trains as without it.
        patience: EarlyStopping patience (epochs without a better validation loss).
        validation_split: Fraction of the training data held out (seeded) when no validation
            data is given; with `fit(groups=...)` (IMDB: the movie ids) whole groups are held
            out (`rnn_apps.data.splits.group_split`).
        distill: With `fit(unlabelled=...)` and the n-gram branch, the RNN branch also learns
            the n-gram branch's probabilities on the unlabelled texts (knowledge
            distillation, Tang et al. 2019), besides the labels of the training texts.
        refit: When the validation split is held out of the training texts, both branches
            are trained again, after the model selection, on all the labelled texts
            (training + validation split) for the epochs selected on the validation split,
            at the learning rates those epochs had, and blended with the blend weights fitted
            on the validation split. Skipped (and said so in `refit_`) when the time budget
            left is too short or under multi-worker training.
        ppmi_unlabelled: With `fit(unlabelled=...)`, the `"ppmi"` word vectors are learned on
            the training and the unlabelled texts.
        max_unlabelled: Size cap: at most this many unlabelled texts are used (the first
            ones).
        jit_compile: Serve small batches (up to 32 texts; single requests) with the model
            XLA-compiled on padded shapes (`rnn_apps.export.xla_on_padded_shapes`: lengths
            rounded up to 16, 32, 64, ..., `max_length`; batch sizes to powers of two), in
            the export and in `predict`; each new padded shape compiles once, at its first
            request. False: the plain graph for every batch.
        max_train_minutes: Wall-clock budget of the whole `fit` (both branches); training
            stops after the current batch when it is spent and the best weights so far are
            kept. None = no limit.
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
    word_vectors: str | None = None
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
    ngram_l2: float = 2e-7
    ngram_epochs: int = 8
    ngram_learning_rate: float = 2e-3
    batch_size: int = 128
    epochs: int = 8
    learning_rate: float = 2e-3
    ema_momentum: float = 0.995
    lm_pretrain_epochs: int | None = None
    lm_num_sampled: int = 256
    patience: int = 2
    validation_split: float = 0.2
    distill: bool = True
    refit: bool = True
    ppmi_unlabelled: bool = True
    max_unlabelled: int = 200_000
    jit_compile: bool = True
    max_train_minutes: float | None = None
    seed: int = 42
    verbose: int = 1

    task_name: ClassVar[str] = "sentiment"
    retired_options: ClassVar[dict[str, Any]] = RETIRED_OPTIONS

    def check(self) -> None:
        self.require_positive(
            "max_tokens",
            "rnn_max_tokens",
            "max_length",
            "sequence_length",
            "embedding_dim",
            "embedding_window",
            "units",
            "num_layers",
            "ngram_buckets",
            "ngram_epochs",
            "ngram_learning_rate",
            "batch_size",
            "epochs",
            "learning_rate",
            "max_train_minutes",
            "max_unlabelled",
        )
        if self.max_tokens < 3:
            self.fail("max_tokens", ">= 3 (padding, [UNK] and at least one word)")
        self.require_choice("embedding_init", (None, "ppmi"))
        self.require_choice("cell", ("gru", "lstm"))
        self.require_choice("pooling", ("mean_max", "mean", "max", "last"))
        self.require_choice("ngram_weighting", ("nb", "idf"))
        self.require_choice("ngram_order", (1, 2, 3))
        for name in ("embedding_dropout", "dropout", "recurrent_dropout", "head_dropout"):
            self.require_range(name, 0.0, 1.0)
        self.require_range("validation_split", 0.0, 1.0, low_open=True)
        self.require_range("ngram_l2", 0.0, float("inf"))
        self.require_range("ema_momentum", 0.0, 1.0)
        self.require_range("lm_pretrain_epochs", 0, 20, high_open=False)
        self.require_range("lm_num_sampled", 1, 8192, high_open=False)
        self.require_range("patience", 0, float("inf"))
        self.require_range("verbose", 0, 2, high_open=False)
        if self.head_tokens is not None and not 0 <= self.head_tokens <= self.sequence_length:
            self.fail("head_tokens", f"in [0, sequence_length={self.sequence_length}]")

    @property
    def head(self) -> int:
        """Tokens the RNN reads from the start of a text (the rest come from its end)."""
        return self.sequence_length // 4 if self.head_tokens is None else self.head_tokens
