"""Training utilities shared by the pipelines: seeds, determinism, strategies, callbacks.

- `set_seed(seed, deterministic=...)`: seeds Python, NumPy and TensorFlow; with
  `deterministic=True` also turns on TF op determinism so two CPU runs give bitwise identical
  weights.
- `get_strategy(name)`: a `tf.distribute` strategy by name: `"default"` (one device),
  `"mirrored"` (all local GPUs) or `"multi_worker"` (`MultiWorkerMirroredStrategy`, configured
  by the `TF_CONFIG` environment variable).
- `resolve_strategy(name_or_strategy)`, `is_multi_worker(strategy)`: what the pipelines'
  `strategy=` argument (and the CLI's `--strategy`) go through.
- `is_chief()`, `worker_index()`: this process's place in the `TF_CONFIG` cluster (defined in
  `rnn_apps.cluster`, re-exported here).
- `keep_better_average(model, validation_data)`: after `fit` with an optimizer built with
  `use_ema=True`, keeps the moving average of the weights if it validates better.

Under `MultiWorkerMirroredStrategy` the pipelines train with `rnn_apps._compat.distributed_fit`
(Keras 3's `fit` does not run there, keras-team/keras#20585).

The standard callbacks every pipeline trains with are set by `rnn_apps.tasks.base.Task.train_model`.
"""

from __future__ import annotations

from typing import Any

from rnn_apps.cluster import is_chief, require_cluster, worker_index

__all__ = [
    "STRATEGIES",
    "get_strategy",
    "is_chief",
    "is_multi_worker",
    "keep_better_average",
    "resolve_strategy",
    "set_seed",
    "worker_index",
]

STRATEGIES = ("default", "mirrored", "multi_worker")


def set_seed(seed: int | None, *, deterministic: bool = False) -> None:
    """Seeds every random generator; optionally makes TF ops deterministic.

    Args:
        seed: The seed; None leaves the generators alone.
        deterministic: Also call `tf.config.experimental.enable_op_determinism()` (slower, but
            two runs on the same CPU give bitwise identical results).
    """
    import keras
    import tensorflow as tf

    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def get_strategy(name: str | None = "default") -> Any:
    """Returns a `tf.distribute.Strategy` by name.

    Args:
        name: `"default"` or None (the default strategy: one device), `"mirrored"`
            (synchronous data parallelism over the local GPUs) or `"multi_worker"`
            (`MultiWorkerMirroredStrategy` over the machines listed in `TF_CONFIG`).

    Raises:
        ValueError: unknown name, or `"multi_worker"` without a valid `TF_CONFIG`.
    """
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    name = name or "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        require_cluster()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserInputError(
        f"Invalid strategy={name!r}: allowed values are {', '.join(map(repr, STRATEGIES))}."
    )


def keep_better_average(model: Any, validation_data: Any) -> dict[str, float] | None:
    """Keeps the exponential moving average of the weights when it validates better.

    Keras swaps the average in at the end of `fit` when the optimizer has `use_ema=True`, but
    `EarlyStopping(restore_best_weights=True)` then puts the best epoch's raw weights back.
    This compares the two on `validation_data` (the compiled loss) and keeps the better.

    Args:
        model: A model trained by `fit` with an optimizer built with `use_ema=True`.
        validation_data: What `model.evaluate` takes (a `tf.data.Dataset`).

    Returns:
        `{"val_loss_raw", "val_loss_average", "kept_average"}` (1.0 / 0.0), or None when the
        optimizer keeps no average.
    """
    import warnings

    optimizer = model.optimizer
    if not getattr(optimizer, "use_ema", False):
        return None

    def val_loss() -> float:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            return float(model.evaluate(validation_data, verbose=0, return_dict=True)["loss"])

    raw = model.get_weights()
    loss_raw = val_loss()
    optimizer.finalize_variable_values(model.trainable_variables)  # the average, in place
    loss_avg = val_loss()
    kept = loss_avg < loss_raw
    if not kept:
        model.set_weights(raw)
    return {"val_loss_raw": loss_raw, "val_loss_average": loss_avg, "kept_average": float(kept)}


def resolve_strategy(strategy: Any = None) -> Any:
    """A `tf.distribute.Strategy` from a name (see `get_strategy`), a strategy, or None."""
    if strategy is None or isinstance(strategy, str):
        return get_strategy(strategy)
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    if not isinstance(strategy, tf.distribute.Strategy):
        raise UserInputError(
            f"strategy must be one of {', '.join(map(repr, STRATEGIES))} or a "
            f"tf.distribute.Strategy, got {type(strategy).__name__}."
        )
    return strategy


def is_multi_worker(strategy: Any) -> bool:
    """True for `MultiWorkerMirroredStrategy`, which trains with `distributed_fit` (Keras 3's
    `fit` does not run under it, keras-team/keras#20585)."""
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
