"""The NumPy cell equations of `rnn_apps.reference` against the Keras layers and TF gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps import reference

B, T, F, U = 3, 6, 4, 5
RNG = np.random.default_rng(3)
X = RNG.normal(size=(B, T, F)).astype("float32")
H0 = RNG.normal(size=(B, U)).astype("float32") * 0.5
C0 = RNG.normal(size=(B, U)).astype("float32") * 0.5


def _layer(cls):
    layer = cls(
        U,
        return_sequences=True,
        return_state=True,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=1),
        recurrent_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=2),
        bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=3),
    )
    layer.build((None, T, F))
    return layer


def test_simple_rnn_forward_matches_keras():
    layer = _layer(keras.layers.SimpleRNN)
    out, h = layer(X, initial_state=[H0])
    ref_out, ref_h = reference.simple_rnn_forward(X.astype("float64"), *layer.get_weights(), H0)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)


def test_lstm_forward_matches_keras():
    layer = _layer(keras.layers.LSTM)
    out, h, c = layer(X, initial_state=[H0, C0])
    ref_out, ref_h, ref_c = reference.lstm_forward(
        X.astype("float64"), *layer.get_weights(), H0, C0
    )
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)
    np.testing.assert_allclose(c, ref_c, atol=1e-5)


def test_gru_forward_matches_keras():
    layer = _layer(keras.layers.GRU)
    assert layer.reset_after
    out, h = layer(X, initial_state=[H0])
    ref_out, ref_h = reference.gru_forward(X.astype("float64"), *layer.get_weights(), H0)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(h, ref_h, atol=1e-5)


def test_reference_golden_values():
    """Pinned weights give pinned outputs (guards the equations against silent edits)."""
    x = np.array([[[1.0], [-1.0]]])
    out, h = reference.simple_rnn_forward(x, np.array([[0.5]]), np.array([[2.0]]), np.array([0.1]))
    h1 = np.tanh(0.5 + 0.1)
    np.testing.assert_allclose(out[0, :, 0], [h1, np.tanh(-0.5 + 2.0 * h1 + 0.1)])
    np.testing.assert_allclose(h, out[:, -1])


@pytest.mark.parametrize("last_only", [False, True])
def test_simple_rnn_bptt_matches_tensorflow_gradients(last_only):
    layer = _layer(keras.layers.SimpleRNN)
    upstream = RNG.normal(size=(B, T, U)).astype("float32")
    if last_only:
        upstream[:, :-1] = 0.0
    x = tf.constant(X)
    h0 = tf.constant(H0)
    with tf.GradientTape() as tape:
        tape.watch([x, h0])
        out, _ = layer(x, initial_state=[h0])
        loss = tf.reduce_sum(out * upstream)  # dL/dh_t = upstream
    want = tape.gradient(loss, [*layer.trainable_variables, x, h0])
    got = reference.simple_rnn_backward(
        X.astype("float64"), *layer.get_weights(), upstream.astype("float64"), H0
    )
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), atol=1e-4, rtol=1e-4)
