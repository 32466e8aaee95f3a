"""Training utilities shared by the pipelines: seeds, determinism, strategies, callbacks.

- `set_seed(seed, deterministic=...)`: seeds Python, NumPy and TensorFlow; with
  `deterministic=True` also turns on TF op determinism so two CPU runs give bitwise identical
  weights.
- `get_strategy(name)`: a `tf.distribute` strategy by name: `"default"` (one device),
  `"mirrored"` (all local GPUs) or `"multi_worker"` (`MultiWorkerMirroredStrategy`, configured
  by the `TF_CONFIG` environment variable).
- `resolve_strategy(name_or_strategy)`, `is_multi_worker(strategy)`: what the pipelines'
  `strategy=` argument (and the CLI's `--strategy`) go through.
- `distributed_fit(...)`: the training loop used under `MultiWorkerMirroredStrategy`, where
  Keras 3's `fit` does not run (validation, early stopping, per-epoch backup and resume).
- `standard_callbacks(...)`: `EarlyStopping` (restoring the best weights),
  `ReduceLROnPlateau`, `BackupAndRestore` (an interrupted run resumes where it stopped) and,
  optionally, `TensorBoard`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
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


def _task() -> dict[str, Any]:
    """The `task` entry of `TF_CONFIG` ({} without TF_CONFIG)."""
    raw = os.environ.get("TF_CONFIG", "")
    return json.loads(raw).get("task", {}) if raw else {}


def is_chief() -> bool:
    """True on the worker that writes models and reports (index 0, or no TF_CONFIG)."""
    task = _task()
    return task.get("type", "worker") in ("chief", "worker") and worker_index() == 0


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


def worker_index() -> int:
    """This process's worker index in `TF_CONFIG` (0 without TF_CONFIG)."""
    return int(_task().get("index", 0))


def _per_example_loss(loss: Any, y: Any, y_pred: Any) -> Any:
    """Unreduced loss (B,) of a Keras loss object, whatever its reduction."""
    import keras
    import tensorflow as tf

    y = tf.convert_to_tensor(y)
    sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
    if not sparse and y.shape.rank is not None and y.shape.rank < y_pred.shape.rank:
        y = tf.expand_dims(y, -1)  # (B,) labels against (B, 1) logits
    values = tf.convert_to_tensor(
        loss.call(y, y_pred) if hasattr(loss, "call") else loss(y, y_pred)
    )
    if values.shape.rank and values.shape.rank > 1:
        values = tf.reduce_mean(values, axis=list(range(1, values.shape.rank)))
    return values


def distributed_fit(
    model: Any,
    dataset: Any,
    *,
    epochs: int,
    strategy: Any,
    global_batch_size: int,
    loss: Any = None,
    optimizer: Any = None,
    validation_data: Any = None,
    patience: int | None = None,
    backup_dir: str | os.PathLike | None = None,
    on_epoch_begin: Callable[[int], None] | None = None,
    verbose: int = 1,
) -> dict[str, list[float]]:
    """Synchronous data-parallel training with a custom loop (`strategy.run`).

    Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585:
    its symbolic build reduces the first input batch across workers), so multi-worker training
    goes through this loop instead. Every worker runs the same program; gradients are summed
    across replicas by the strategy, so all workers end with identical weights. The loop
    offers what the pipelines use from `fit`'s callbacks: validation loss per epoch, early
    stopping that restores the best weights, and a backup every epoch from which a restarted
    run resumes (the `BackupAndRestore` behaviour).

    Args:
        model: A Keras model whose variables were created under `strategy.scope()`; if it is
            compiled, its loss and optimizer are the defaults of `loss` and `optimizer`.
        dataset: A `tf.data.Dataset` of `(x, y)` global batches of exactly
            `global_batch_size` (use `drop_remainder=True`); it is sharded by data.
        epochs: Passes over the dataset.
        strategy: The `tf.distribute.Strategy`.
        global_batch_size: Examples per step across all replicas (averages the loss).
        loss: A Keras loss (its unreduced per-example values are used).
        optimizer: A Keras optimizer created under `strategy.scope()`.
        validation_data: A `tf.data.Dataset` of `(x, y)` batches, scored in full on every
            worker after each epoch (the workers average their figures, so they agree).
        patience: Stop after this many epochs without a better validation loss and restore
            the best weights (needs `validation_data`). None = run all epochs.
        backup_dir: Folder for the per-epoch backup (model, optimizer, epoch, early-stopping
            state). Worker 0 writes it; the other workers write `backup_dir/worker-<i>`. A run
            started again with the same folder resumes after the last completed epoch.
        on_epoch_begin: Called with the epoch index (from 0) before each epoch, e.g. to set
            the optimizer's learning rate.
        verbose: Print one line per epoch (chief only).

    Returns:
        `{"loss": [...], "val_loss": [...]}`: mean losses per epoch (`val_loss` only with
        `validation_data`).
    """
    import numpy as np
    import tensorflow as tf

    loss = loss if loss is not None else getattr(model, "loss", None)
    optimizer = optimizer if optimizer is not None else getattr(model, "optimizer", None)
    if loss is None or optimizer is None:
        raise ValueError("distributed_fit needs a loss and an optimizer (or a compiled model).")
    if isinstance(loss, str):
        import keras

        loss = keras.losses.get(loss)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dist = strategy.experimental_distribute_dataset(dataset.with_options(options))
    with strategy.scope():
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        best_var = tf.Variable(np.inf, dtype=tf.float64, trainable=False, name="best_val_loss")
        wait_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = _per_example_loss(loss, y, model(x, training=True))
            batch_loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=global_batch_size
            )
            if model.losses:  # weight regularisers
                batch_loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(batch_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return batch_loss

    @tf.function
    def train_step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce("SUM", per_replica, axis=None)

    @tf.function
    def val_step(x, y):
        return tf.reduce_sum(_per_example_loss(loss, y, model(x, training=False)))

    def agree(value: float) -> float:
        """The mean of `value` over the workers (all of them then take the same decision)."""
        per_replica = strategy.run(lambda: tf.constant(value, tf.float32))
        return float(strategy.reduce("MEAN", per_replica, axis=None))

    manager = None
    if backup_dir is not None:
        folder = Path(backup_dir)
        if not is_chief():
            folder = folder / f"worker-{worker_index()}"
        ckpt = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=epoch_var, best=best_var, wait=wait_var
        )
        manager = tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=1)
        if manager.latest_checkpoint:
            ckpt.restore(manager.latest_checkpoint)
            if verbose and is_chief():
                print(f"Resuming after epoch {int(epoch_var.numpy())} ({folder})", flush=True)

    history: dict[str, list[float]] = {"loss": []}
    if validation_data is not None:
        history["val_loss"] = []
    best_weights = None
    for epoch in range(int(epoch_var.numpy()), epochs):
        if on_epoch_begin is not None:
            on_epoch_begin(epoch)
        total, steps = 0.0, 0
        for batch in dist:
            total += float(train_step(batch))
            steps += 1
        history["loss"].append(total / max(steps, 1))
        line = f"Epoch {epoch + 1}/{epochs} - loss: {history['loss'][-1]:.4f}"
        stop = False
        if validation_data is not None:
            val_total, count = 0.0, 0
            for x, y in validation_data:
                val_total += float(val_step(x, y))
                count += int(tf.shape(y)[0])
            val_loss = agree(val_total / max(count, 1))
            history["val_loss"].append(val_loss)
            line += f" - val_loss: {val_loss:.4f}"
            if val_loss < float(best_var.numpy()):
                best_var.assign(val_loss)
                wait_var.assign(0)
                best_weights = model.get_weights()
            else:
                wait_var.assign_add(1)
                stop = patience is not None and int(wait_var.numpy()) >= patience
        epoch_var.assign(epoch + 1)
        if manager is not None:
            manager.save()
        if verbose and is_chief():
            print(line, flush=True)
        if stop:
            break
    if patience is not None and best_weights is not None:
        model.set_weights(best_weights)
    return history
