"""`rnn_apps.layers.text`: behaviour, config round trip, `.keras` round trip with
`safe_mode=True` in a process that imports only `rnn_apps`."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from rnn_apps.layers import CapIds, HeadTailCrop, LogitBlend, NgramHashing, TfidfBag
from rnn_apps.testing import run_layer_test, run_safe_mode_load_test

TOKENS = np.array([[2, 3, 4, 5, 6, 7, 0, 0], [9, 8, 7, 0, 0, 0, 0, 0]], dtype="int32")


def test_head_tail_crop():
    out = run_layer_test(HeadTailCrop(5, 2), TOKENS)
    assert out.tolist() == [[2, 3, 5, 6, 7], [9, 8, 7, 0, 0]]  # head 2 + tail 3; short row kept
    assert np.asarray(HeadTailCrop(5, 2)(TOKENS[:, :3])).tolist() == [[2, 3, 4], [9, 8, 7]]


def test_cap_ids():
    out = run_layer_test(CapIds(5, 1), np.array([[2, 7, 4, 0]], "int32"))
    assert out.tolist() == [[2, 1, 4, 0]]  # 7 -> [UNK], padding stays 0


def test_ngram_hashing_ids():
    ids = run_layer_test(NgramHashing(10, 7, 3), np.array([[2, 3, 4, 0], [5, 0, 0, 0]], "int32"))
    assert ids.shape == (2, 12)
    assert ids[0, :4].tolist() == [2, 3, 4, 0]  # unigrams
    bigrams, trigrams = ids[0, 4:8], ids[0, 8:]
    assert (bigrams[:2] >= 10).all() and (bigrams[2:] == 0).all()
    assert trigrams[0] >= 10 and (trigrams[1:] == 0).all()
    assert (ids < 17).all()
    assert (ids[1, 1:] == 0).all()  # a one-token text has no n-grams


def test_tfidf_bag_is_binary_idf_weighted_and_normalised():
    bag = TfidfBag(6, 1, scale=2.0)
    bag.build((None, None))
    bag.set_idf(np.array([0, 1, 3, 3, 3, 3]), num_docs=3)  # id 1 rare, others common
    bag.kernel.assign(np.array([[0.0], [1.0], [0.0], [0.0], [0.0], [0.0]], "float32"))
    once = run_layer_test(bag, np.array([[1, 2, 0]], "int32"))
    twice = np.asarray(bag(np.array([[1, 1, 2, 2, 0]], "int32")))
    np.testing.assert_allclose(once, twice, atol=1e-6)  # repeated ids count once
    idf = np.log(4.0 / np.array([2.0, 4.0])) + 1.0  # ids 1 and 2
    np.testing.assert_allclose(once[0, 0], 2.0 * idf[0] / np.linalg.norm(idf), rtol=1e-5)
    assert np.asarray(bag(np.zeros((1, 3), "int32"))).tolist() == [[0.0]]  # empty bag


def test_nb_ratio_weights_follow_the_classes():
    bag = TfidfBag(4, 1)
    bag.build((None, None))
    # id 1 only in positive docs, id 2 only in negative ones, id 3 in both equally.
    bag.set_nb_ratio(pos_freq=np.array([0, 9, 0, 5]), neg_freq=np.array([0, 0, 9, 5]))
    r = np.asarray(bag.idf)
    assert r[1] > 0 > r[2] and abs(r[3]) < 1e-6 and abs(r[1] + r[2]) < 1e-6


def test_logit_blend():
    blend = LogitBlend(2, 1)
    a, b = np.array([[1.0], [-2.0]], "float32"), np.array([[3.0], [0.5]], "float32")
    out = run_layer_test(blend, [a, b])
    np.testing.assert_allclose(out, a + b)  # weights start at 1, bias at 0


def test_keras_file_loads_with_safe_mode_after_import_rnn_apps_only(tmp_path):
    tokens = keras.Input(shape=(None,), dtype="int32")
    ids = NgramHashing(20, 16, 2)(CapIds(15)(HeadTailCrop(6, 2)(tokens)))
    bag = TfidfBag(36, 1, scale=3.0, l2=1e-4)
    z = bag(ids)
    model = keras.Model(tokens, LogitBlend(2, 1)([z, z]))
    bag.kernel.assign(np.linspace(-1, 1, 36, dtype="float32")[:, None])
    run_safe_mode_load_test(model, TOKENS, tmp_path)


@pytest.mark.parametrize("layer", [HeadTailCrop(4, 1), CapIds(3)])
def test_int_layers_keep_padding(layer):
    out = np.asarray(layer(TOKENS))
    assert (out[1, 3:] == 0).all()  # padding stays padding


def test_soft_binary_accuracy_thresholds_soft_targets():
    from rnn_apps.layers.text import SoftBinaryAccuracy

    metric = SoftBinaryAccuracy()
    y_true = np.array([[0.0], [1.0], [0.9], [0.2], [0.6]], np.float32)
    logits = np.array([[-1.0], [2.0], [0.5], [0.3], [-0.1]], np.float32)
    metric.update_state(y_true, logits)
    assert float(metric.result()) == pytest.approx(3 / 5)  # 0.2 vs +0.3 and 0.6 vs -0.1 miss
    hard = keras.metrics.BinaryAccuracy(threshold=0.0)
    hard.update_state(y_true[:2], logits[:2])
    metric.reset_state()
    metric.update_state(y_true[:2], logits[:2])
    assert float(metric.result()) == float(hard.result()) == 1.0
    assert SoftBinaryAccuracy.from_config(metric.get_config()).name == "accuracy"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, SoftBinaryAccuracy)
