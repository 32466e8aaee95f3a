"""Training utilities shared by the pipelines: seeds, determinism, strategies, callbacks.

- `set_seed(seed, deterministic=...)`: seeds Python, NumPy and TensorFlow; with
  `deterministic=True` also turns on TF op determinism so two CPU runs give bitwise identical
  weights.
- `get_strategy(name)`: a `tf.distribute` strategy by name: `"default"` (one device),
  `"mirrored"` (all local GPUs) or `"multi_worker"` (`MultiWorkerMirroredStrategy`, configured
  by the `TF_CONFIG` environment variable).
- `standard_callbacks(...)`: `EarlyStopping` (restoring the best weights),
  `ReduceLROnPlateau`, `BackupAndRestore` (an interrupted run resumes where it stopped) and,
  optionally, `TensorBoard`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
        raw = os.environ.get("TF_CONFIG", "")
        try:
            config = json.loads(raw) if raw else None
        except json.JSONDecodeError as err:
            raise UserInputError(f"TF_CONFIG is not valid JSON ({err}).") from err
        if not config or "cluster" not in config or "task" not in config:
            raise UserInputError(
                "strategy 'multi_worker' needs TF_CONFIG with 'cluster' and 'task', e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserInputError(
        f"Invalid strategy={name!r}: allowed values are {', '.join(map(repr, STRATEGIES))}."
    )


def is_chief() -> bool:
    """True on the worker that writes models and reports (index 0, or no TF_CONFIG)."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return True
    task = json.loads(raw).get("task", {})
    return task.get("type", "worker") in ("chief", "worker") and int(task.get("index", 0)) == 0


def standard_callbacks(
    output_dir: str | os.PathLike | None,
    *,
    monitor: str = "val_loss",
    patience: int = 3,
    reduce_lr_patience: int = 1,
    backup: bool = True,
    tensorboard: bool = False,
    restore_best_weights: bool = True,
) -> list[Any]:
    """The callbacks every pipeline trains with.

    Args:
        output_dir: Run folder; `backup/` (BackupAndRestore) and `logs/` (TensorBoard) go
            under it. None disables both.
        monitor: Quantity to watch.
        patience: EarlyStopping patience in epochs.
        reduce_lr_patience: ReduceLROnPlateau patience (halves the learning rate).
        backup: Write a backup every epoch so a killed run resumes when started again.
        tensorboard: Write TensorBoard logs.
        restore_best_weights: Restore the best epoch's weights at the end.

    Returns:
        A list of `keras.callbacks.Callback`.
    """
    import keras

    callbacks: list[Any] = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=patience, restore_best_weights=restore_best_weights
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.5, patience=reduce_lr_patience, min_lr=1e-5
        ),
    ]
    if output_dir is not None:
        out = Path(output_dir)
        if backup:
            callbacks.append(keras.callbacks.BackupAndRestore(str(out / "backup")))
        if tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(out / "logs")))
    return callbacks


def distributed_fit(
    model: Any,
    dataset: Any,
    *,
    loss: Any,
    optimizer: Any,
    epochs: int,
    strategy: Any,
    global_batch_size: int,
    verbose: int = 1,
) -> dict[str, list[float]]:
    """Synchronous data-parallel training with a custom loop (`strategy.run`).

    Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585:
    its symbolic build reduces the first input batch across workers), so multi-worker training
    goes through this loop instead. Every worker runs the same program; gradients are summed
    across replicas by the strategy, so all workers end with identical weights.

    Args:
        model: A Keras model whose variables were created under `strategy.scope()`.
        dataset: A `tf.data.Dataset` of `(x, y)` global batches of exactly
            `global_batch_size` (use `drop_remainder=True`); it is sharded by data.
        loss: A Keras loss built with `reduction="none"` (per-example losses).
        optimizer: A Keras optimizer created under `strategy.scope()`.
        epochs: Passes over the dataset.
        strategy: The `tf.distribute.Strategy`.
        global_batch_size: Examples per step across all replicas (averages the loss).
        verbose: Print one line per epoch (chief only).

    Returns:
        `{"loss": [mean loss per epoch]}`.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dist = strategy.experimental_distribute_dataset(dataset.with_options(options))
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = loss(y, model(x, training=True))
            batch_loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=global_batch_size
            )
        grads = tape.gradient(batch_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return batch_loss

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce("SUM", per_replica, axis=None)

    history: dict[str, list[float]] = {"loss": []}
    for epoch in range(epochs):
        total, steps = 0.0, 0
        for batch in dist:
            total += float(train_step(batch))
            steps += 1
        history["loss"].append(total / max(steps, 1))
        if verbose and is_chief():
            print(f"Epoch {epoch + 1}/{epochs} - loss: {history['loss'][-1]:.4f}", flush=True)
    return history
