import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.training import get_strategy, is_chief, set_seed, standard_callbacks


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


def test_standard_callbacks(tmp_path):
    names = [type(c).__name__ for c in standard_callbacks(tmp_path, tensorboard=True)]
    assert names == ["EarlyStopping", "ReduceLROnPlateau", "BackupAndRestore", "TensorBoard"]
    assert [type(c).__name__ for c in standard_callbacks(None)] == [
        "EarlyStopping",
        "ReduceLROnPlateau",
    ]
