"""The Keras callbacks of `TextGenerator.fit`: the learning-rate schedule
(`rnn_apps.callbacks.WarmupCosineSchedule`), the state reset of
truncated BPTT, and the end-of-epoch validation with the state carried through the text.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from rnn_apps.callbacks import WarmupCosineSchedule

__all__ = ["EpochValidation", "ResetStates", "WarmupCosineSchedule"]


class ResetStates(keras.callbacks.Callback):
    """Resets stateful recurrent layers at the start of every epoch (truncated BPTT)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        for layer in self.model.layers:
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
                layer.reset_state()


class EpochValidation(keras.callbacks.Callback):
    """At the end of every epoch: scores the validation text with the state carried (written
    to the logs as `val_loss`, nats/token) and records the learning rate `lr`.

    Args:
        task: The `TextGenerator` being trained (its `evaluate` runs the `score` signature).
        eval_model: The stateless model `task` scores with; receives the training model's
            weights first when it is another model (stateful training).
        val_text: Validation text, or None.
    """

    def __init__(self, task: Any, eval_model: Any, val_text: str | None) -> None:
        super().__init__()
        self.task, self.eval_model, self.val_text = task, eval_model, val_text

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        if self.val_text:
            if self.eval_model is not self.model:
                self.eval_model.set_weights(self.model.get_weights())
            logs["val_loss"] = self.task.evaluate(self.val_text)["nats_per_token"]
        logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))
