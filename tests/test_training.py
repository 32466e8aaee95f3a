import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.training import get_strategy, is_chief, set_seed


def test_default_and_unknown_strategy(monkeypatch):
    assert get_strategy(None) is tf.distribute.get_strategy()
    with pytest.raises(UserInputError, match="strategy='tpu_pod'.*'mirrored'"):
        get_strategy("tpu_pod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserInputError, match="TF_CONFIG"):
        get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        get_strategy("multi_worker")


def test_is_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert is_chief()
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    )
    assert not is_chief()


def test_seed_makes_initialisation_repeatable():
    set_seed(7)
    a = keras.random.normal((3,)).numpy()
    set_seed(7)
    b = keras.random.normal((3,)).numpy()
    np.testing.assert_array_equal(a, b)


def _tiny_regression(n: int = 64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5, 2)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None].astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16, drop_remainder=True)


def _compiled_model():
    from rnn_apps import build_stacked_rnn, compile_model

    set_seed(0)
    model = build_stacked_rnn(num_features=2, units=3, cell="gru")
    return compile_model(model, loss="mse", learning_rate=1e-2)


def test_distributed_fit_validates_stops_early_and_resumes(tmp_path):
    from rnn_apps._compat import distributed_fit
    from rnn_apps.training import resolve_strategy

    data = _tiny_regression()

    def run(epochs: int):  # a fresh model each time, the same backup folder
        return distributed_fit(
            _compiled_model(),
            data,
            epochs=epochs,
            strategy=resolve_strategy(None),
            global_batch_size=16,
            validation_data=data,
            backup_dir=tmp_path / "backup",
            verbose=0,
        )

    hist = run(2)
    assert len(hist["loss"]) == len(hist["val_loss"]) == 2
    assert hist["loss"][1] < hist["loss"][0]
    # Started again with the same backup folder: resumes after epoch 2, runs epochs 3-4 only.
    hist2 = run(4)
    assert len(hist2["loss"]) == 2
    assert hist2["val_loss"][0] < hist["val_loss"][0]  # carried on from the trained weights


def test_distributed_fit_restores_the_best_weights():
    from rnn_apps._compat import distributed_fit

    data = _tiny_regression()
    model = _compiled_model()
    model.optimizer.learning_rate = 5.0  # diverges after the first steps
    hist = distributed_fit(
        model,
        data,
        epochs=6,
        strategy=tf.distribute.get_strategy(),
        global_batch_size=16,
        validation_data=data,
        patience=2,
        verbose=0,
    )
    best = int(np.argmin(hist["val_loss"]))
    assert len(hist["val_loss"]) <= best + 3  # stopped `patience` epochs after the best
    final = float(model.evaluate(data, verbose=0))
    assert final == pytest.approx(hist["val_loss"][best], rel=1e-4)


def test_resolve_strategy_refuses_other_objects():
    from rnn_apps.training import resolve_strategy

    assert resolve_strategy("default") is tf.distribute.get_strategy()
    with pytest.raises(UserInputError, match="tf.distribute.Strategy, got int"):
        resolve_strategy(3)


def test_cli_multi_worker_without_tf_config_is_one_line(tmp_path, monkeypatch, capsys):
    from rnn_apps.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\ngood,pos\nbad,neg\nfine,pos\nawful,neg\n")
    code = main(["sentiment", "train", "--data", str(csv), "--strategy", "multi_worker"])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "TF_CONFIG" in err


def test_backup_survives_a_kill_during_the_next_backup_write(tmp_path):
    """A kill while a backup is written leaves the previous backup intact (atomic rename)."""
    from rnn_apps._compat import backup_and_restore

    model = _compiled_model()
    model.fit(_tiny_regression(), epochs=1, verbose=0)
    first = backup_and_restore(tmp_path)
    first.set_model(model)
    first._current_epoch = 3
    first._save_model()
    saved = [w.copy() for w in model.get_weights()]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "latest.weights.h5",
        "training_metadata.json",
    ]
    # The next backup is killed half-way: only its temporary file exists, truncated.
    (tmp_path / ".tmp-999.weights.h5").write_bytes(b"\x89HDF\r\n half a file")
    model.set_weights([np.zeros_like(w) for w in saved])
    restore = backup_and_restore(tmp_path)
    restore.set_model(model)
    restore.on_train_begin()
    for a, b in zip(model.get_weights(), saved):
        np.testing.assert_array_equal(a, b)
    assert model._initial_epoch == 3


@pytest.mark.parametrize("use_ema", [True, False])
def test_keep_better_average_keeps_the_weights_with_the_lower_validation_loss(use_ema):
    from rnn_apps.training import keep_better_average

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    # A high learning rate leaves the raw weights noisy; the average is smoother.
    opt = keras.optimizers.SGD(0.2, use_ema=use_ema, ema_momentum=0.9)
    model.compile(optimizer=opt, loss="mse")
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        validation_data=val,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(restore_best_weights=True)],
    )
    before = float(model.evaluate(val, verbose=0))
    info = keep_better_average(model, val)
    if not use_ema:
        assert info is None
        return
    after = float(model.evaluate(val, verbose=0))
    assert info["val_loss_raw"] == pytest.approx(before, rel=1e-5)
    best = min(info["val_loss_raw"], info["val_loss_average"])
    assert after == pytest.approx(best, rel=1e-5)
    assert info["kept_average"] == float(info["val_loss_average"] < info["val_loss_raw"])


@pytest.mark.parametrize("validate_on_average", [True, False])
def test_validate_on_average_ends_with_the_weights_early_stopping_scored(validate_on_average):
    """With the callback, training ends with exactly the weights whose validation loss was the
    best of the history (the best epoch's average); Keras' own `SwapEMAWeights` scores the
    average but restores raw weights, whose loss is another number."""
    from rnn_apps.callbacks import ValidateOnAverage

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    opt = keras.optimizers.SGD(0.2, use_ema=True, ema_momentum=0.9)  # noisy raw weights
    model.compile(optimizer=opt, loss="mse")
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    swap = ValidateOnAverage() if validate_on_average else keras.callbacks.SwapEMAWeights()
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        validation_data=val,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(restore_best_weights=True), swap],
    ).history
    final = float(model.evaluate(val, verbose=0))
    best = min(history["val_loss"])
    if validate_on_average:
        assert final == pytest.approx(best, rel=1e-5)
    else:
        assert final != pytest.approx(best, rel=1e-3)


def test_cluster_helpers_are_shared_by_training_and_compat(monkeypatch):
    """`rnn_apps.cluster` holds the TF_CONFIG helpers; `training` re-exports them and
    `_compat` uses the same functions (no import between `training` and `_compat`)."""
    import rnn_apps._compat as compat
    import rnn_apps.training as training
    from rnn_apps import cluster

    assert training.is_chief is cluster.is_chief is compat.is_chief
    assert training.worker_index is cluster.worker_index is compat.worker_index
    assert not hasattr(training, "distributed_fit")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cluster.tf_config() is None and cluster.worker_index() == 0
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "worker", "index": 2}}))
    assert cluster.worker_index() == 2 and not cluster.is_chief()
    with pytest.raises(UserInputError, match="cluster"):
        cluster.require_cluster()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserInputError, match="not valid JSON"):
        cluster.worker_index()
