"""What to forecast and how to train: `ForecastConfig`."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rnn_apps.tasks.base import TaskConfig

ARCHITECTURES = ("segrnn", "lstm", "gru", "seq2seq", "dlinear")
LOSSES = ("mse", "mae", "huber")
FILLS = (None, "ffill", "interpolate")


@dataclasses.dataclass
class ForecastConfig(TaskConfig):
    """Configuration of a `Forecaster` (plain JSON values; see `TaskConfig`).

    Attributes:
        lookback: L, past steps a window sees.
        horizon: H, future steps to forecast.
        targets: Columns to forecast; None = every numeric column but the covariates.
        covariates: Extra past-only input columns (not forecast).
        date_column: Column holding timestamps when the frame has no `DatetimeIndex`; None
            looks for `date`/`datetime`/`timestamp`/`time`/`ds`.
        date_format: strftime pattern of that column (e.g. `"%d/%m/%Y %H:%M"`), passed to
            `pd.to_datetime(format=...)`; None lets pandas infer it.
        dayfirst: Read ambiguous dates day first (`13/07/2016`), `pd.to_datetime(dayfirst=...)`.
        fill: How to treat NaN: None refuses them (naming rows and columns), `"ffill"` carries
            the last valid value forward, `"interpolate"` interpolates linearly in time
            (leading NaN are then filled backwards). Infinite values are always refused.
        architecture: One of `ARCHITECTURES`: `"segrnn"`, `"lstm"`, `"gru"`, `"seq2seq"`,
            `"dlinear"`.
        units: Width of the recurrent layers (`lstm`/`gru`/`seq2seq`).
        num_layers: Depth of the recurrent stack (`lstm`/`gru`/`seq2seq`).
        instance_norm: Subtract each window's last value and add it back to the forecast
            (`lstm`/`gru`/`seq2seq`; always on for `segrnn`, off for `dlinear`).
        incremental: `lstm`/`gru` only: the network reads first differences and adds its
            forecast to the last value (`rnn_apps.layers.DifferenceRNN`, in place of
            `instance_norm`), so the export's `step` updates a recurrent state with each new
            observation (one cell call per layer) instead of re-reading the window.
        seg_len: W, SegRNN segment length.
        d_model: D, SegRNN width.
        channel_independent: SegRNN treats every channel as its own series.
        dropout: Dropout (SegRNN before its projection; input dropout of the RNN layers).
        kernel_size: DLinear moving-average window.
        loss: `"mse"`, `"mae"` or `"huber"`.
        learning_rate: Adam learning rate.
        lr_decay: The learning rate is `learning_rate * lr_decay ** epoch` (1.0 = constant).
        clipnorm: Gradient-norm clipping (None disables).
        batch_size: Training batch size (windows).
        epochs: Maximum epochs.
        patience: Early-stopping patience on the validation loss (restores the best weights).
        val_fraction: Fraction of the rows held out (at the end) for validation when `fit`
            gets no validation series.
        max_train_windows: Train on a random subset of at most this many windows.
        season: Period of the seasonal-naive baseline.
    """

    lookback: int = 96
    horizon: int = 24
    targets: list[str] | None = None
    covariates: list[str] = dataclasses.field(default_factory=list)
    date_column: str | None = None
    date_format: str | None = None
    dayfirst: bool = False
    fill: str | None = None
    architecture: str = "segrnn"
    units: int = 64
    num_layers: int = 1
    instance_norm: bool = True
    incremental: bool = False
    seg_len: int = 24
    d_model: int = 128
    channel_independent: bool = True
    dropout: float = 0.0
    kernel_size: int = 25
    loss: str = "mse"
    learning_rate: float = 1e-3
    lr_decay: float = 1.0
    clipnorm: float | None = 1.0
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    val_fraction: float = 0.2
    max_train_windows: int | None = None
    season: int = 24

    task_name: ClassVar[str] = "forecast"

    def check(self) -> None:
        self.require_positive(
            "lookback", "horizon", "units", "num_layers", "seg_len", "d_model", "kernel_size",
            "batch_size", "epochs", "season", "learning_rate", "lr_decay", "clipnorm",
            "max_train_windows",
        )  # fmt: skip
        self.require_choice("architecture", ARCHITECTURES)
        self.require_choice("loss", LOSSES)
        self.require_choice("fill", FILLS)
        self.require_range("val_fraction", 0.0, 1.0)
        self.require_range("dropout", 0.0, 1.0)
        if self.patience < 0:
            self.fail("patience", ">= 0")
        if self.targets is not None and not self.targets:
            self.fail("targets", "a non-empty list of columns or None (every column)")
        if self.incremental and self.architecture not in ("lstm", "gru"):
            self.fail("incremental", "False unless architecture is 'lstm' or 'gru'")
        both = set(self.targets or []) & set(self.covariates)
        if both:
            self.fail("covariates", f"columns that are not also targets (both: {sorted(both)})")
