"""`TranslateConfig`: the options of the translation pipeline (validation in `check`)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rnn_apps.config import RETIRED_ANY
from rnn_apps.tasks.base import TaskConfig

DIRECTIONS = ("en-fr", "fr-en")
CELLS = ("gru", "lstm")
ATTENTIONS = ("additive", "dot", None)
#: Hard cap of `max_decode_length` / the `max_length` input of the export.
MAX_DECODE_CAP = 200


@dataclasses.dataclass
class TranslateConfig(TaskConfig):
    """Options of `Translator` (defaults train well on 2 CPU cores in about 15 minutes).

    Attributes:
        direction: `"en-fr"` (English source) or `"fr-en"`.
        source_vocab_size: Source vocabulary cap (padding and [UNK] included).
        target_vocab_size: Target vocabulary cap ([start], [end], padding, [UNK] included).
        max_tokens: Input size cap: tokens kept per sentence (its head), on both sides; a
            longer source sentence is cut there (training pairs with a longer side are
            dropped).
        embedding_dim: Token embedding width E.
        word_vectors: Path of pretrained word vectors of the *source* language (GloVe /
            word2vec / fastText text format, `rnn_apps.embeddings.load_word_vectors`) to start
            the encoder's embedding from; their width must be `embedding_dim`.
        units: Recurrent units U (encoder per direction and decoder).
        cell: `"gru"` or `"lstm"`.
        attention: `"additive"` (Bahdanau), `"dot"` (Luong) or None (plain encoder-decoder).
        bidirectional: Bidirectional encoder, its final states bridged to the decoder.
        dropout: Input dropout of the recurrent layers.
        label_smoothing: Label smoothing of the token cross-entropy (0 = none).
        batch_size: Pairs per training batch (batches are bucketed by length).
        epochs: Maximum epochs.
        learning_rate: Adam learning rate, halved after an epoch without a better validation
            loss.
        ema_momentum: Keep an exponential moving average of the weights with this momentum
            (Adam's `use_ema`; 0 = off); at the end of `fit` the average replaces the weights
            when its validation loss is lower (`rnn_apps.training.keep_better_average`).
        patience: Early-stopping patience (epochs without a better validation loss).
        validation_fraction: Held-out share of the source sentences when `fit` gets no
            validation pairs.
        beam_width: Default beam width of `translate` (1 = greedy).
        length_penalty: Beam score = log-probability / length ** length_penalty.
        max_decode_length: Default maximum output tokens (`[end]` included).
    """

    direction: str = "en-fr"
    source_vocab_size: int = 8000
    target_vocab_size: int = 8000
    max_tokens: int = 32
    embedding_dim: int = 128
    word_vectors: str | None = None
    units: int = 192
    cell: str = "gru"
    attention: str | None = "additive"
    bidirectional: bool = True
    dropout: float = 0.1
    label_smoothing: float = 0.1
    batch_size: int = 256
    epochs: int = 12
    learning_rate: float = 3e-3
    ema_momentum: float = 0.995
    patience: int = 2
    validation_fraction: float = 0.05
    beam_width: int = 4
    length_penalty: float = 1.0
    max_decode_length: int = 40

    task_name: ClassVar[str] = "translate"
    #: The warm-up + cosine schedule, measured worse than halving on plateau on Tatoeba
    #: (README's translation section).
    retired_options: ClassVar[dict[str, Any]] = {
        "lr_schedule": "plateau",
        "warmup_steps": RETIRED_ANY,
        "min_lr_ratio": RETIRED_ANY,
    }

    def check(self) -> None:
        self.require_choice("direction", DIRECTIONS)
        self.require_choice("cell", CELLS)
        self.require_choice("attention", ATTENTIONS)
        self.require_positive(
            "max_tokens",
            "embedding_dim",
            "units",
            "batch_size",
            "epochs",
            "learning_rate",
            "beam_width",
            "max_decode_length",
        )
        for name in ("source_vocab_size", "target_vocab_size"):
            if getattr(self, name) < 8:
                self.fail(name, ">= 8")
        self.require_range("dropout", 0.0, 1.0)
        self.require_range("label_smoothing", 0.0, 1.0)
        self.require_range("ema_momentum", 0.0, 1.0)
        self.require_range("validation_fraction", 0.0, 0.5, low_open=True)
        self.require_range("length_penalty", 0.0, 2.0, high_open=False)
        self.require_range("max_decode_length", 1, MAX_DECODE_CAP, high_open=False)
        if self.patience < 0:
            self.fail("patience", ">= 0")

    @property
    def source_language(self) -> str:
        return self.direction.split("-")[0]

    @property
    def target_language(self) -> str:
        return self.direction.split("-")[1]
