"""What to forecast across many series and how to train: `PanelConfig`."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rnn_apps.tasks.base import TaskConfig

CELLS = ("gru", "lstm")
FILLS = ("mask", "ffill", "interpolate")
TRANSFORMS = ("none", "log")


@dataclasses.dataclass
class PanelConfig(TaskConfig):
    """Configuration of a `PanelForecaster` (plain JSON values; see `TaskConfig`).

    Attributes:
        id_column: Column naming the series in long-format data.
        date_column: Column of the time stamps (datetimes) or integer steps.
        target: Column of the values to forecast, or a list of columns (several targets
            per series: windows (B, L, T) in, forecasts (B, H, T) out). Each target is
            scaled and forecast on its own, reading the history of every target of its
            series and knowing which target it forecasts; intervals are calibrated per
            horizon step over all targets.
        lookback: L, past steps a window sees (a multiple of `seg_len`); shorter series are
            left-padded with NaN and masked. A training window has at least `season`
            observed steps (fewer make its scale statistics noise); any series can be
            forecast.
        horizon: H, future steps to forecast.
        season: Seasonal period m (the level's span, the seasonal-naive and MASE lag).
        quantiles: Quantile levels the network forecasts (strictly increasing in (0, 1));
            the point forecast is the median, so 0.5 must be one of them.
        levels: Prediction-interval levels in percent, each calibrated by split conformal on
            the last `horizon` steps of every series (held out of training), per horizon
            step: an interval starts from the quantiles (1 - p) / 2 and (1 + p) / 2 when both
            are levels (widened in proportion to its width), else from the median (widened
            in proportion to the window's scale).
        future_covariates: Numeric columns known ahead, for the history and the horizon
            (promotions, prices, holidays, calendar features): `predict` then needs their
            values for the forecast steps (`future=`).
        past_covariates: Numeric columns known only up to each series' last step (measured
            temperature, traffic elsewhere): the network reads them over the window.
        static_covariates: Columns with one value per series (a number, or a category such as
            a region or a product group).
        series_embedding: Give the network each series' id (one-hot, a learned vector per
            series; a series unseen in training gets the shared unknown one), as the static
            covariate `series_id`.
        calendar: Add calendar features derived from the timestamps (sin/cos of the hour,
            the day of the week and the month, as the frequency has them) to the future
            covariates; `predict` derives the horizon's itself.
        transform: `"log"` models the logarithm of the series (positive data whose errors
            are relative, such as sales, traffic or load: what sMAPE scores); `"none"` the
            values themselves.
        fill: Missing steps (gaps, NaN): `"mask"` keeps them missing (masked in windows,
            never a target), `"ffill"` carries the last value forward, `"interpolate"`
            interpolates linearly.
        seg_len: W, steps per segment the recurrent network reads at once.
        d_model: Width of the segment embedding.
        cell: `"gru"` or `"lstm"`.
        units: Width of the recurrent layers.
        num_layers: Depth of the recurrent stack.
        dropout: Input dropout of the recurrent layers.
        num_models: Networks trained with seeds `seed`, `seed + 1`, ... (each with its own
            early stopping and an equal share of `max_train_minutes`) whose scaled quantiles
            are averaged (an average of ordered quantiles stays ordered).
        learning_rate: Adam learning rate (halved after 2 epochs without progress).
        clipnorm: Gradient-norm clipping.
        batch_size: Windows per training batch.
        epochs: Maximum epochs.
        steps_per_epoch: Batches per epoch (the shuffled windows repeat); None = one
            pass over the training windows.
        patience: Early-stopping patience on the validation windows (the `horizon` steps
            before the calibration ones).
        max_train_windows: Train on a random subset of at most this many windows.
    """

    id_column: str = "unique_id"
    date_column: str = "ds"
    target: str | list[str] = "y"
    lookback: int = 96
    horizon: int = 24
    season: int = 24
    quantiles: list[float] = dataclasses.field(
        default_factory=lambda: [0.025, 0.1, 0.5, 0.9, 0.975]
    )
    levels: list[int] = dataclasses.field(default_factory=lambda: [80, 95])
    future_covariates: list[str] = dataclasses.field(default_factory=list)
    static_covariates: list[str] = dataclasses.field(default_factory=list)
    past_covariates: list[str] = dataclasses.field(default_factory=list)
    series_embedding: bool = False
    calendar: bool = False
    transform: str = "none"
    fill: str = "mask"
    seg_len: int = 24
    d_model: int = 128
    cell: str = "gru"
    units: int = 128
    num_layers: int = 2
    dropout: float = 0.0
    num_models: int = 1
    learning_rate: float = 1e-3
    clipnorm: float = 1.0
    batch_size: int = 256
    epochs: int = 50
    steps_per_epoch: int | None = None
    patience: int = 4
    max_train_windows: int | None = None

    task_name: ClassVar[str] = "panel"

    @property
    def targets(self) -> list[str]:
        """The T target columns (one for a single `target` name)."""
        return [self.target] if isinstance(self.target, str) else [str(t) for t in self.target]

    def check(self) -> None:
        self.require_positive(
            "lookback", "horizon", "season", "seg_len", "d_model", "units", "num_layers",
            "num_models", "learning_rate", "clipnorm", "batch_size", "epochs", "steps_per_epoch",
            "max_train_windows",
        )  # fmt: skip
        self.require_choice("cell", CELLS)
        self.require_choice("fill", FILLS)
        self.require_choice("transform", TRANSFORMS)
        self.require_range("dropout", 0.0, 1.0)
        if self.patience < 0:
            self.fail("patience", ">= 0")
        if self.lookback % self.seg_len:
            self.fail("lookback", f"a multiple of seg_len={self.seg_len}")
        q = self.quantiles
        if not q or any(not 0.0 < x < 1.0 for x in q) or any(a >= b for a, b in zip(q, q[1:])):
            self.fail("quantiles", "strictly increasing levels inside (0, 1), e.g. [0.1, 0.5, 0.9]")
        if 0.5 not in q:
            self.fail("quantiles", "levels that include 0.5 (the median is the point forecast)")
        if any(not 0 < p < 100 for p in self.levels) or len(set(self.levels)) != len(self.levels):
            self.fail(
                "levels", "distinct interval levels in percent inside (0, 100), e.g. [80, 95]"
            )
        targets = self.targets
        if not targets or len(set(targets)) != len(targets):
            self.fail("target", "a column name, or a list of distinct column names")
        if {self.id_column, self.date_column} & set(targets) or self.id_column == self.date_column:
            self.fail("target", "columns other than id_column and date_column")
        named = [self.id_column, self.date_column, *targets]
        covariates = [*self.future_covariates, *self.static_covariates, *self.past_covariates]
        if len(set(covariates)) != len(covariates) or set(covariates) & set(named):
            self.fail(
                "static_covariates",
                "columns named once, and not the id, date or target column "
                f"(future_covariates={self.future_covariates})",
            )
