"""Workarounds for upstream bugs, kept in one place, each with its issue and when to remove it.

- `flatten_layers(layer)`: every sublayer of a Keras layer or model. `export_saved_model`
  walks them to track only the TF resources (lookup tables) of Keras layers, because
  `ExportArchive.track(model)` stores every variable a second time (keras-team/keras#23553).
  Keras has no public API for the recursive walk; `Layer._flatten_layers` is private.
  Remove when keras-team/keras#23553 is fixed in the oldest Keras we support (then track the
  layers themselves).
- `distributed_fit(...)`: a `strategy.run` training loop for `MultiWorkerMirroredStrategy`,
  because Keras 3's `model.fit` fails under it (keras-team/keras#20585: its symbolic build
  reduces the first input batch across workers). Remove when keras-team/keras#20585 is fixed
  in the oldest Keras we support (then `Task.train_model` calls `model.fit` for every
  strategy).
- `AtomicBackupAndRestore`: `keras.callbacks.BackupAndRestore` writes its backup in place, so
  a process killed during the write leaves a corrupt `latest.weights.h5` and the resumed run
  crashes (h5py "bad object header"). This subclass writes the backup under temporary names
  and renames them into place. Remove when Keras writes its backups atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnn_apps.cluster import is_chief, worker_index


def flatten_layers(layer: Any) -> Iterator[Any]:
    """`layer` and all its sublayers, recursively (keras-team/keras#23553 workaround)."""
    yield from layer._flatten_layers(include_self=True, recursive=True)


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


def _atomic_backup_class():
    import json

    import keras

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        """`BackupAndRestore` whose backup files are replaced atomically (write, then rename):
        a kill at any moment leaves the previous complete backup or the new one. A kill
        between the two renames pairs the new weights with the previous epoch count, so the
        resumed run repeats one epoch; nothing is corrupted."""

        def _save_model(self):
            os.makedirs(self.backup_dir, exist_ok=True)
            tmp_weights = os.path.join(self.backup_dir, f".tmp-{os.getpid()}.weights.h5")
            tmp_meta = os.path.join(self.backup_dir, f".tmp-{os.getpid()}.json")
            self.model.save_weights(filepath=tmp_weights, overwrite=True)
            with open(tmp_meta, "w") as f:
                f.write(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
            os.replace(tmp_weights, self._weights_path)
            os.replace(tmp_meta, self._training_metadata_path)

    return AtomicBackupAndRestore


def backup_and_restore(backup_dir: str | os.PathLike) -> Any:
    """An `AtomicBackupAndRestore` callback writing to `backup_dir`."""
    return _atomic_backup_class()(str(backup_dir))
