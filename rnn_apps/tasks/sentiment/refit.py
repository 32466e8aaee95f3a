"""The refit: both branches trained again on all the labelled texts after the model selection.

With `config.refit`, when the validation split was held out of the training texts, the
branches are trained again from scratch on the training texts plus the validation split, for
the epochs the selection run chose (up to its best validation loss) at the learning rates
those epochs had, and joined behind the blend weights fitted on the validation split. It is
skipped, with the reason, under multi-worker training, when the time budget ran out, or when
the time left is shorter than the selection run's epochs took (plus a quarter).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment import model as model_lib
from rnn_apps.tasks.sentiment.branches import train_ngram_branch, train_rnn_branch


def selected_epochs(
    history: dict[str, list[float]], learning_rate: float
) -> tuple[int, list[float]]:
    """The epochs a selection run kept and their learning rates.

    Args:
        history: The branch's `{metric: [value per epoch]}` (`EarlyStopping` kept the weights
            of the epoch with the lowest `val_loss`).
        learning_rate: The configured rate, when the history has no `learning_rate`.

    Returns:
        (epochs up to the best validation loss, [learning rate of each of them]).
    """
    losses = history.get("val_loss") or history["loss"]
    epochs = int(np.argmin(losses)) + 1
    rates = history.get("learning_rate") or [learning_rate]
    return epochs, [float(r) for r in rates[:epochs]]


def refit(task: Any, srun: Any, *, distil: bool) -> tuple[dict[str, Any], Any]:
    """Trains the branches of `task.model_` again on all the labelled texts.

    Args:
        task: The `SentimentClassifier` after its model selection (`model_`, `history_`,
            `time_budget_exhausted_`).
        srun: The fit's `SentimentRun` (its fitting and validation texts, step seconds).
        distil: The RNN branch learns the new n-gram branch's targets on the unlabelled
            texts, as in the selection run.

    Returns:
        (record, model): record holds `num_texts`, `epochs` per branch and `seconds`, or
        `skipped` with the reason; model is the refit model ((B, T) token ids -> (B, O)
        logits), or None when skipped.
    """
    cfg = srun.config
    plan: dict[str, tuple[int, list[float]]] = {}
    if cfg.ngram_branch:
        plan["ngram"] = selected_epochs(task.history_["ngram"], cfg.ngram_learning_rate)
    plan["rnn"] = selected_epochs(task.history_["rnn"], cfg.learning_rate)
    why = _why_not(task, srun, plan)
    if why is not None:
        if cfg.verbose:
            print(f"Refit on all labelled texts skipped: {why}.", file=sys.stderr)
        return {"skipped": why}, None
    texts = list(srun.texts) + list(srun.val_texts)
    y = np.concatenate([srun.y, srun.y_val])
    if cfg.verbose:
        epochs = ", ".join(f"{n} {e}" for n, (e, _) in plan.items())
        print(
            f"Refitting on all {len(texts)} labelled texts for the selected epochs ({epochs}) ...",
            file=sys.stderr,
            flush=True,
        )
    start = time.monotonic()
    all_ds = srun.dataset(texts, y, train=True)
    branches = []
    if cfg.ngram_branch:
        epochs, rates = plan["ngram"]
        branches.append(
            train_ngram_branch(
                task, srun, "ngram_refit", all_ds, None, epochs=epochs, learning_rates=rates
            )
        )
    epochs, rates = plan["rnn"]
    teacher = branches[0] if distil else None
    rnn = train_rnn_branch(
        task,
        srun,
        "rnn_refit",
        texts,
        y,
        all_ds,
        teacher,
        None,
        epochs=epochs,
        learning_rates=rates,
    )
    if task.time_budget_exhausted_:
        return {"skipped": "the time budget ran out during the refit"}, None
    model = model_lib.build_sentiment_model([*branches, rnn], srun.pre.output_dim)
    model.get_layer("logits").set_weights(task.model_.get_layer("logits").get_weights())
    record = {
        "num_texts": len(texts),
        "epochs": {name: plan[name][0] for name in plan},
        "seconds": round(time.monotonic() - start, 1),
    }
    return record, model


def _why_not(task: Any, srun: Any, plan: dict[str, tuple[int, list[float]]]) -> str | None:
    """Why the refit is skipped, or None: multi-worker training, no time left, or less time
    left than the selected epochs took in the selection run (plus a quarter)."""
    run = srun.fit_run
    seconds = {
        name: srun.step_seconds.get(name, 0.0) / max(len(task.history_[name]["loss"]), 1)
        for name in plan
    }
    estimate = sum(seconds[n] * plan[n][0] * 1.25 for n in plan)
    left = run.minutes_left()
    if run.multi_worker:
        return "multi-worker training"
    if task.time_budget_exhausted_:
        return "the time budget ran out before the model selection ended"
    if left is not None and estimate > 60.0 * left:
        return f"it needs about {estimate / 60:.1f} min and {left:.1f} min are left"
    return None
