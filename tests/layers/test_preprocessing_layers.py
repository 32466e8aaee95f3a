"""The task preprocessors as Keras layers (`rnn_apps.layers.*_preprocessor`): adapted on tiny
data, config round trip (`run_layer_test`), inside a `tf.data` pipeline (`ds.map(layer)`) and a
functional Keras model (saved and reloaded as `.keras`), registered by `import rnn_apps`, and
found by the default `Task.track` without a per-task hook."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_apps
from rnn_apps.layers import (
    ForecastPreprocessor,
    SentimentPreprocessor,
    TextGenPreprocessor,
    TranslatePreprocessor,
)
from rnn_apps.testing import run_layer_test, run_model_saving_test

TEXTS = ["the film was great", "an awful, boring film", "great great acting", "Où est Tom ?"]
RAW = np.array([b"the great film", b"", b"zzz unknown great", "où est tom".encode()], dtype=object)


def _dataset_outputs(layer: keras.layers.Layer, raw: np.ndarray, batch: int = 2) -> np.ndarray:
    """`layer` mapped over `raw` in a `tf.data` pipeline, batches padded and stacked."""
    ds = tf.data.Dataset.from_tensor_slices(raw).batch(batch).map(layer)
    parts = [np.asarray(x) for x in ds]
    if parts[0].ndim == 2:  # token ids (B, T): right-pad to the longest batch
        width = max(p.shape[1] for p in parts)
        parts = [np.pad(p, [(0, 0), (0, width - p.shape[1])]) for p in parts]
    return np.concatenate(parts)


def _same_ids(a: np.ndarray, b: np.ndarray) -> None:
    """Equal token ids up to trailing padding."""
    width = max(a.shape[1], b.shape[1])
    pad = lambda x: np.pad(x, [(0, 0), (0, width - x.shape[1])])  # noqa: E731
    np.testing.assert_array_equal(pad(a), pad(b))


def _string_model(layer: keras.layers.Layer) -> keras.Model:
    inp = keras.Input(shape=(), dtype="string", name="text")
    return keras.Model(inp, layer(inp))


# --------------------------------------------------------------------------- registration


@pytest.mark.parametrize(
    "cls",
    [ForecastPreprocessor, SentimentPreprocessor, TextGenPreprocessor, TranslatePreprocessor],
)
def test_import_rnn_apps_registers_the_preprocessor_layers(cls):
    assert rnn_apps.layers.__dict__[cls.__name__] is cls
    assert keras.saving.get_registered_object(f"rnn_apps>{cls.__name__}") is cls
    assert issubclass(cls, keras.layers.Layer)


def test_task_modules_re_export_the_layers_under_their_names():
    from rnn_apps.tasks.forecast.preprocessor import ForecastPreprocessor as F
    from rnn_apps.tasks.sentiment.preprocessor import SentimentPreprocessor as S
    from rnn_apps.tasks.textgen.preprocessor import Vocabulary
    from rnn_apps.tasks.translate.preprocessor import TranslatePreprocessor as T

    assert (F, S, Vocabulary, T) == (
        ForecastPreprocessor,
        SentimentPreprocessor,
        TextGenPreprocessor,
        TranslatePreprocessor,
    )


# --------------------------------------------------------------------------- forecast


def test_forecast_preprocessor_scales_windows_in_tf_data_and_a_model(tmp_path):
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((64, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -3.0]).astype("float32")
    rows[:, 2] = 7.0  # constant in training: variance 1, not ~0
    pre = ForecastPreprocessor(["a", "b", "c"], ["a"], "h", name="scale_window").adapt(rows)
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std[2] = 1.0
    windows = rows[: 4 * 8].reshape(4, 8, 3)  # (B, L, F)

    out = run_layer_test(pre, windows)
    np.testing.assert_allclose(out, (windows - mean) / std, atol=1e-4)
    assert pre.get_config()["columns"] == ["a", "b", "c"]
    np.testing.assert_allclose(pre.denormalize(out[..., :1]), windows[..., :1], atol=1e-4)

    np.testing.assert_allclose(_dataset_outputs(pre, windows), out, atol=1e-6)
    inp = keras.Input((8, 3))
    model = keras.Model(inp, keras.layers.Dense(1)(pre(inp)))
    np.testing.assert_allclose(keras.Model(inp, pre(inp)).predict(windows, verbose=0), out)
    run_model_saving_test(model, windows, tmp_path, atol=1e-6)

    again = ForecastPreprocessor.from_state(pre.get_state())  # the pipeline JSON state
    np.testing.assert_array_equal(np.asarray(again(windows)), out)


def test_forecast_preprocessor_refuses_a_call_before_adapt():
    with pytest.raises(rnn_apps.UserInputError, match="not adapted"):
        ForecastPreprocessor(["a"], ["a"], None)(np.zeros((1, 2, 1), "float32"))


# --------------------------------------------------------------------------- sentiment


def test_sentiment_preprocessor_maps_texts_in_tf_data_and_a_model(tmp_path):
    pre = SentimentPreprocessor(20, 3, ["neg", "pos"]).adapt(TEXTS)
    vocab = pre.get_vocabulary()
    ids = run_layer_test(pre, RAW)
    assert ids.dtype == np.int32 and ids.shape == (4, 3)
    assert ids[0].tolist() == [vocab.index(w) for w in ("the", "great", "film")]
    assert ids[1].tolist() == [1, 0, 0]  # an empty text: one [UNK]
    assert ids[2].tolist() == [1, 1, vocab.index("great")]

    _same_ids(_dataset_outputs(pre, RAW), ids)
    model = _string_model(pre)
    np.testing.assert_array_equal(model.predict(tf.constant(RAW), verbose=0), ids)
    inp = keras.Input(shape=(), dtype="string")
    scorer = keras.Model(inp, keras.layers.Embedding(pre.vocabulary_size, 2)(pre(inp)))
    run_model_saving_test(scorer, tf.constant(RAW), tmp_path)

    again = SentimentPreprocessor.from_state(pre.get_state(), 20, 3)
    np.testing.assert_array_equal(np.asarray(again(tf.constant(RAW))), ids)


# --------------------------------------------------------------------------- translate


def test_translate_preprocessor_maps_sources_in_tf_data_and_a_model():
    pre = TranslatePreprocessor(30, 30, 4, "fr").adapt(TEXTS, TEXTS)
    vocab = pre.source_vectorizer.get_vocabulary()
    ids = run_layer_test(pre, RAW)
    assert ids.dtype == np.int32 and ids.shape[1] <= 4
    assert ids[0, :3].tolist() == [vocab.index(w) for w in ("the", "great", "film")]
    assert (ids[1] == 0).all()  # blank: a row of padding
    assert ids[3, :3].tolist() == [vocab.index(w) for w in ("où", "est", "tom")]
    assert pre.get_config()["truecase"] == pre.truecase == {}

    _same_ids(_dataset_outputs(pre, RAW), ids)
    np.testing.assert_array_equal(_string_model(pre).predict(tf.constant(RAW), verbose=0), ids)

    targets = pre.target_ragged(tf.constant(["Où est Tom ?"])).to_tensor()
    assert pre.detokenize(targets).numpy()[0].decode() == "Où est tom ?"


# --------------------------------------------------------------------------- textgen


@pytest.mark.parametrize("level", ["char", "word"])
def test_textgen_preprocessor_maps_texts_in_tf_data_and_a_model(level):
    pre = TextGenPreprocessor.build(" ".join(TEXTS), level, max_vocab=100)
    assert isinstance(pre, TextGenPreprocessor) and pre.level == level
    ids = run_layer_test(pre, RAW)
    ragged = pre.encode(tf.constant(RAW))
    np.testing.assert_array_equal(ids, ragged.to_tensor(0).numpy())
    assert (ids[1] == 0).all()  # an empty text: padding only
    if level == "word":
        assert ids[0, 1] == pre.tokens.index("great") + 2 and ids[2, 0] == 1  # OOV

    _same_ids(_dataset_outputs(pre, RAW), ids)
    np.testing.assert_array_equal(_string_model(pre).predict(tf.constant(RAW), verbose=0), ids)

    decoded = pre.decode(tf.constant(["", ""]), ragged.to_tensor(0)[:1].numpy().repeat(2, 0))
    assert decoded.numpy()[0].decode().replace(" ", "") == "thegreatfilm"
    again = TextGenPreprocessor.from_dict(pre.to_dict())  # the pipeline JSON state
    np.testing.assert_array_equal(np.asarray(again(tf.constant(RAW))), ids)


# --------------------------------------------------------------------------- Task.track


def test_default_track_finds_learned_layers_and_their_tables():
    from rnn_apps.export import _resources_to_track
    from rnn_apps.tasks.base import Task

    task = Task()
    task.preprocessor_ = TranslatePreprocessor(30, 30, 4, "fr").adapt(TEXTS, TEXTS)
    inp = keras.Input((3,))
    task.model_ = keras.Model(inp, keras.layers.Dense(1)(inp))
    task.encoder_ = task.model_  # the same model under two names: tracked once
    task.history_ = {"model": {}}
    task.table_ = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(["a"], [1]), default_value=0
    )
    task._private = keras.layers.Dense(1)  # not learned state: left alone
    tracked = task.track()
    assert tracked == [task.model_, task.preprocessor_, task.table_]  # name order
    tables = [r for obj in tracked for r in _resources_to_track(obj)]
    # Of a layer, only its TF resources: what the per-task hook listed (both vectorizers'
    # tables and the true-casing table), and the task's own table.
    listed = [r for obj in task.preprocessor_.trackables() for r in _resources_to_track(obj)]
    assert {id(t) for t in tables} == {id(t) for t in [*listed, task.table_]}
    assert task.preprocessor_._table in tables
    assert not any(isinstance(t, tf.Variable) for t in tables)
