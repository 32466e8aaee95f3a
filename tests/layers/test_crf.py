"""Tests of the linear-chain CRF layer against brute-force enumeration and the NumPy
references (`rnn_apps.reference.crf_log_likelihood`, `viterbi_decode`)."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from rnn_apps.layers.crf import CRF, FORBIDDEN, bio_constraints
from rnn_apps.reference import crf_log_likelihood, viterbi_decode
from rnn_apps.testing import run_layer_test, run_safe_mode_load_test


def _random_crf(k, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    crf = CRF(k, **kwargs)
    crf.build()
    crf.set_weights(
        [rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k)]
    )  # transitions, start, end
    return crf, rng


def _scores(crf):
    trans, start, end = (np.asarray(w, np.float64) for w in crf.get_weights())
    return trans + crf._penalty, start + crf._start_penalty, end


def test_log_likelihood_equals_brute_force_enumeration():
    crf, rng = _random_crf(3)
    potentials = rng.normal(size=(1, 3, 3)).astype("float32")
    trans, start, end = _scores(crf)

    def score(y):
        s = start[y[0]] + end[y[-1]] + sum(potentials[0, t, y[t]] for t in range(3))
        return s + sum(trans[y[t - 1], y[t]] for t in range(1, 3))

    every = list(itertools.product(range(3), repeat=3))
    log_z = np.log(sum(np.exp(score(y)) for y in every))
    for y in every:
        got = float(crf.log_likelihood(potentials, np.array([y]))[0])
        np.testing.assert_allclose(got, score(y) - log_z, atol=1e-4)
        ref = crf_log_likelihood(potentials[0], np.array(y), trans, start, end)
        np.testing.assert_allclose(ref, score(y) - log_z, atol=1e-9)
    # The probabilities of all sequences sum to one.
    total = sum(np.exp(float(crf.log_likelihood(potentials, np.array([y]))[0])) for y in every)
    np.testing.assert_allclose(total, 1.0, atol=1e-4)
    # Viterbi finds the best of them.
    best = max(every, key=score)
    tags, best_score = crf.decode(potentials)
    assert tuple(np.asarray(tags)[0]) == best
    np.testing.assert_allclose(float(best_score[0]), score(best), atol=1e-4)


def test_batched_masked_decode_and_likelihood_match_the_reference():
    crf, rng = _random_crf(5, seed=1)
    trans, start, end = _scores(crf)
    lengths = [7, 3, 1, 0, 5]
    potentials = rng.normal(size=(5, 7, 5)).astype("float32")
    mask = np.arange(7)[None, :] < np.array(lengths)[:, None]
    gold = rng.integers(0, 5, size=(5, 7))
    ll = np.asarray(crf.log_likelihood(potentials, gold, mask))
    tags = np.asarray(crf(potentials, mask=mask))
    assert tags.shape == (5, 7) and tags.dtype == np.int32
    for i, n in enumerate(lengths):
        if n == 0:
            assert ll[i] == 0.0 and not tags[i].any()
            continue
        ref = crf_log_likelihood(potentials[i, :n], gold[i, :n], trans, start, end)
        np.testing.assert_allclose(ll[i], ref, atol=1e-4)
        best, _ = viterbi_decode(potentials[i, :n], trans, start, end)
        assert tags[i, :n].tolist() == best.tolist() and not tags[i, n:].any()
    # Padded steps change nothing: other values there give the same answers.
    noisy = np.where(mask[:, :, None], potentials, 50.0).astype("float32")
    np.testing.assert_array_equal(np.asarray(crf(noisy, mask=mask)), tags)
    np.testing.assert_allclose(np.asarray(crf.log_likelihood(noisy, gold, mask)), ll, atol=1e-5)


def test_bio_constraints_never_decode_an_invalid_sequence():
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    allowed, start = bio_constraints(names)
    assert start.tolist() == [True, True, False, True, False]
    assert allowed[names.index("B-PER"), names.index("I-PER")]
    assert not allowed[names.index("O"), names.index("I-PER")]
    assert not allowed[names.index("B-LOC"), names.index("I-PER")]
    crf, rng = _random_crf(5, seed=2, allowed=allowed, allowed_start=start)
    # Potentials that favour I- tags everywhere: decoding still obeys BIO.
    potentials = rng.normal(size=(64, 6, 5)).astype("float32")
    potentials[:, :, [2, 4]] += 3.0
    for row in np.asarray(crf(potentials)):
        seq = [names[t] for t in row]
        for prev, cur in zip(["O", *seq], seq):
            if cur.startswith("I-"):
                assert prev[2:] == cur[2:] and prev != "O", seq
    assert FORBIDDEN < -1e3


def test_layer_config_round_trip_and_keras_file(tmp_path):
    allowed, start = bio_constraints(["O", "B-X", "I-X"])
    crf, rng = _random_crf(3, allowed=allowed, allowed_start=start)
    potentials = rng.normal(size=(2, 4, 3)).astype("float32")
    run_layer_test(crf, potentials)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, crf(inputs))
    run_safe_mode_load_test(model, potentials, tmp_path)
    with pytest.raises(ValueError, match=r"allowed must be \(3, 3\)"):
        CRF(3, allowed=np.ones((2, 2), bool))


def test_trains_to_prefer_the_observed_transitions():
    # Tag 1 always follows tag 0 and tag 0 follows tag 1; the potentials say nothing.
    crf = CRF(2)
    crf.build()
    optimizer = keras.optimizers.Adam(0.1)
    gold = np.array([[0, 1, 0, 1], [1, 0, 1, 0]] * 4)
    potentials = np.zeros((8, 4, 2), "float32")
    import tensorflow as tf

    for _ in range(30):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(crf.log_likelihood(potentials, gold))
        grads = tape.gradient(loss, crf.trainable_variables)
        optimizer.apply(grads, crf.trainable_variables)
    assert float(loss) < 1.0  # from 4 log 2 = 2.77 for a uniform model
    decoded = np.asarray(crf(potentials[:1]))[0].tolist()
    assert decoded in ([0, 1, 0, 1], [1, 0, 1, 0])


def test_one_token_sentences():
    crf, rng = _random_crf(4, seed=3)
    trans, start, end = _scores(crf)
    potentials = rng.normal(size=(2, 1, 4)).astype("float32")
    tags = np.asarray(crf(potentials))
    assert tags.shape == (2, 1)
    for i in range(2):
        assert tags[i, 0] == int(np.argmax(start + potentials[i, 0] + end))
        ref = crf_log_likelihood(potentials[i], tags[i], trans, start, end)
        got = float(crf.log_likelihood(potentials, tags)[i])
        np.testing.assert_allclose(got, ref, atol=1e-5)
