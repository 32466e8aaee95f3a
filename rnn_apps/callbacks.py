"""Keras callbacks shared by the pipelines.

- `WarmupCosineSchedule`: linear warm-up, then cosine decay over the planned steps or the
  time budget, whichever runs out first (text generation).
- `TimeBudget`: stops training once a wall-clock deadline has passed (`max_train_minutes`).
- `ValidateOnAverage`: validation, early stopping and the kept weights all use the optimizer's
  moving average of the weights (sentiment).

It reads the step from the optimizer (`optimizer.iterations`), which `BackupAndRestore`
restores, so a resumed run continues the schedule where the killed one stopped.
"""

from __future__ import annotations

import time
from typing import Any

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training after the current batch once `deadline` (a `time.monotonic()` value)
    has passed; `exhausted` tells whether it did."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = float(deadline)
        self.exhausted = False

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if time.monotonic() >= self.deadline:
            self.exhausted = True
            self.model.stop_training = True


class WarmupCosineSchedule(keras.callbacks.Callback):
    """Linear warm-up to `learning_rate`, then cosine decay to `min_lr_ratio * learning_rate`
    (`keras.optimizers.schedules.CosineDecay` with `warmup_target`), set every batch.

    With a time budget the decay follows whichever runs out first, the planned steps or the
    time: the schedule is read at the larger of the step done and the step the time spent
    stands for (the base's time-budget callback stops training when the time is up).

    Args:
        config: Any config with `learning_rate`, `min_lr_ratio` and `warmup_steps`.
        total_steps: Planned steps (epochs x steps per epoch).
        deadline: `time.monotonic()` value at which the budget is spent, or None.
    """

    def __init__(self, config: Any, total_steps: int, deadline: float | None = None) -> None:
        super().__init__()
        self.warmup = int(config.warmup_steps)
        self.decay_steps = max(int(total_steps) - self.warmup, 1)
        self.schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / (self.warmup + 1),
            decay_steps=self.decay_steps,
            alpha=config.min_lr_ratio,
            warmup_target=config.learning_rate,
            warmup_steps=self.warmup,
        )
        self.deadline = deadline
        self.start = time.monotonic()

    def effective_step(self, step: int) -> float:
        """`step`, or later on the decay when the time budget is spent faster."""
        if self.deadline is None or step < self.warmup:
            return float(step)
        spent = (time.monotonic() - self.start) / max(self.deadline - self.start, 1e-9)
        return max(float(step), self.warmup + min(spent, 1.0) * self.decay_steps)

    def _update(self) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        lr = float(self.schedule(self.effective_step(step)))
        self.model.optimizer.learning_rate.assign(lr)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._update()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._update()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:  # the history records the schedule, as with ReduceLROnPlateau
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class ValidateOnAverage(keras.callbacks.SwapEMAWeights):
    """Validates the optimizer's moving average of the weights and lets the callbacks before
    it in the list keep that average.

    Keras' `SwapEMAWeights` swaps the average in for validation and back right after it, so
    `EarlyStopping(restore_best_weights=True)` then stores the raw weights under the
    average's validation loss. This callback leaves the average in the model until the end
    of the epoch: `EarlyStopping`, `ReduceLROnPlateau` and checkpoints listed before it see
    the weights that were validated, and the best epoch's average is what training ends
    with. Put it last in the list; the optimizer needs `use_ema=True`.
    """

    def __init__(self) -> None:
        super().__init__(swap_on_epoch=False)

    def on_test_end(self, logs: dict | None = None) -> None:
        pass  # keep the average in place until `on_epoch_end`

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._ema_weights_in_model:  # back to the raw weights to train on
            self._swap_variables()
            self._ema_weights_in_model = False
