"""`TaggingConfig`: the options of `Tagger`."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rnn_apps.config import TaskConfig

HEADS = ("crf", "softmax")
CHAR_ENCODERS = ("bilstm", "cnn")
CELLS = ("lstm", "gru")


@dataclasses.dataclass
class TaggingConfig(TaskConfig):
    """Options of `Tagger`.

    Attributes:
        column: The tag column of CoNLL-U input (`upos`, `xpos`, `misc:NER` ...; see
            `rnn_apps.data.conllu`).
        head: `"crf"` (a linear-chain CRF, Viterbi decoding; BIO tag sets are decoded
            without invalid transitions) or `"softmax"` (each token on its own).
        char_encoder: `"bilstm"`, `"cnn"` or None (words only): a vector per word from its
            characters, so unseen words still get a tag.
        embedding_dim: Word embedding width (the width of `word_vectors` when given).
        word_vectors: Path of pretrained word vectors (GloVe / word2vec / fastText text
            format) to initialise the word embedding; None = random.
        char_embedding_dim, char_units: The character encoder's sizes.
        max_word_chars: Characters of a token the character encoder sees (its first).
        max_words: Word vocabulary cap (padding and [UNK] included).
        min_count: Fewest training occurrences for a word to get its own id.
        cell: `"lstm"` or `"gru"`.
        units: Units per direction of each bidirectional layer.
        num_layers: Bidirectional layers.
        dropout: Dropout of the token vectors and after each recurrent layer.
        recurrent_dropout: Dropout on the recurrent state.
        word_dropout: Share of known words replaced by [UNK] while training, so the character
            encoder learns to tag words by their spelling (unseen words at test time).
        batch_size: Sentences per training batch (batches are bucketed by length).
        epochs: Maximum epochs.
        learning_rate: Adam learning rate, halved after an epoch without a better validation
            loss.
        patience: Early-stopping patience (epochs).
        validation_fraction: Held-out share of the training sentences when `fit` gets no
            validation sentences.
        max_train_minutes: Wall-clock budget of training (default 30 minutes: UD English EWT
            on a 2-core CPU); None = until `epochs` or early stopping.
    """

    column: str = "upos"
    head: str = "crf"
    char_encoder: str | None = "bilstm"
    embedding_dim: int = 100
    word_vectors: str | None = None
    char_embedding_dim: int = 32
    char_units: int = 32
    max_word_chars: int = 24
    max_words: int = 30_000
    min_count: int = 1
    cell: str = "lstm"
    units: int = 128
    num_layers: int = 2
    dropout: float = 0.33
    recurrent_dropout: float = 0.0
    word_dropout: float = 0.25
    batch_size: int = 32
    epochs: int = 20
    learning_rate: float = 2e-3
    patience: int = 3
    validation_fraction: float = 0.1
    max_train_minutes: float | None = 30.0

    task_name: ClassVar[str] = "tag"

    def check(self) -> None:
        self.require_choice("head", HEADS)
        self.require_choice("char_encoder", (*CHAR_ENCODERS, None))
        self.require_choice("cell", CELLS)
        self.require_positive(
            "embedding_dim", "char_embedding_dim", "char_units", "max_word_chars", "min_count",
            "units", "num_layers", "batch_size", "epochs", "learning_rate",
        )  # fmt: skip
        if self.max_words < 3:
            self.fail("max_words", ">= 3")
        self.require_range("dropout", 0.0, 1.0)
        self.require_range("recurrent_dropout", 0.0, 1.0)
        self.require_range("word_dropout", 0.0, 1.0)
        self.require_range("validation_fraction", 0.0, 1.0)
        self.require_positive("max_train_minutes")
