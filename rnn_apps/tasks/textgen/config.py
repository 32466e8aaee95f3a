"""Configuration of the text-generation pipeline (`TextGenConfig`)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rnn_apps.tasks.base import TaskConfig

LEVELS = ("char", "word")
CELLS = ("lstm", "gru")


@dataclasses.dataclass
class TextGenConfig(TaskConfig):
    """Configuration of a `TextGenerator` (every field can be set from a CLI `--config` file).

    Values are checked by `validate()` (called by `TextGenerator` and `from_dict`): a value of
    the wrong type or out of range raises `UserInputError` naming the option.

    Attributes:
        level: `"char"` (every Unicode character) or `"word"` (words and punctuation).
        max_vocab: Word level: keep the most frequent `max_vocab` ids (padding and OOV
            included; other tokens -> OOV).
        lowercase: Word level: lowercase before tokenizing.
        cell: `"lstm"` or `"gru"`.
        units: Units per recurrent layer (int, repeated `num_layers` times, or a list).
        num_layers: Number of recurrent layers when `units` is an int.
        embedding_dim: Token embedding width E.
        dropout: Input dropout of every recurrent layer.
        head_dropout: Dropout between the last recurrent layer and the output layer.
        seq_len: Training window length T (truncated-BPTT length).
        batch_size: Windows per batch.
        epochs: Maximum passes over the training text.
        learning_rate: Peak Adam learning rate.
        min_lr_ratio: Final learning rate as a fraction of the peak (cosine decay).
        warmup_steps: Linear warm-up steps.
        clipnorm: Gradient-norm clipping.
        stateful: Truncated BPTT with stateful layers: the batch holds `batch_size` contiguous
            streams and the state is carried from one window to the next (reset every epoch).
            Without it, windows start at a random offset each epoch, are shuffled, and every
            window starts from a zero state.
        val_chunks: The validation text is scored as this many contiguous chunks, the state
            carried through each chunk.
        max_train_minutes: Optional wall-clock training budget (CLI `--max-minutes`); the
            cosine learning-rate decay then follows whichever of steps or time runs out first.
        seed: Seed of weights, window order and sampling.
        verbose: Keras progress bar (1), one line per epoch (2) or silent (0).
    """

    level: str = "char"
    max_vocab: int = 10_000
    lowercase: bool = False
    cell: str = "gru"
    units: int | list[int] = 384
    num_layers: int = 1
    embedding_dim: int = 64
    dropout: float = 0.0
    head_dropout: float = 0.1
    seq_len: int = 100
    batch_size: int = 32
    epochs: int = 10
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 50
    clipnorm: float = 1.0
    stateful: bool = False
    val_chunks: int = 16

    task_name: ClassVar[str] = "textgen"

    def check(self) -> None:
        """Ranges and choices (types are checked by the base)."""
        self.require_choice("level", LEVELS)
        self.require_choice("cell", CELLS)
        self.require_positive(
            "num_layers",
            "embedding_dim",
            "seq_len",
            "batch_size",
            "epochs",
            "learning_rate",
            "clipnorm",
            "val_chunks",
            "max_train_minutes",
        )
        if self.max_vocab < 3:
            self.fail("max_vocab", "an integer >= 3 (padding, OOV and at least one token)")
        units = self.units if isinstance(self.units, list) else [self.units]
        if not units or any(u <= 0 for u in units):
            self.fail("units", "a positive integer or a non-empty list of them")
        self.require_range("dropout", 0.0, 1.0)
        self.require_range("head_dropout", 0.0, 1.0)
        self.require_range("min_lr_ratio", 0.0, 1.0, high_open=False)
        if self.warmup_steps < 0:
            self.fail("warmup_steps", "an integer >= 0")
