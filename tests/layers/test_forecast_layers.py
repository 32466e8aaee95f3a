"""Forecasting layers (`rnn_apps.layers.segrnn`, `dlinear`, `difference_rnn`, `window_norm`):
behaviour, config
round trip, `.keras` round trip with `safe_mode=True` in a process that imports only
`rnn_apps`."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from rnn_apps.layers import (
    AddLastValue,
    DifferenceRNN,
    DLinear,
    LastValueCentering,
    SegRNN,
    TakeTargets,
)

X = np.random.default_rng(0).standard_normal((3, 30, 2)).astype("float32")  # (B, L, F)


def run_layer_test(layer: keras.layers.Layer, inputs) -> np.ndarray:
    """Runs `layer`, rebuilds it from its config and checks the clone gives the same output
    (weights copied) and the declared output shape."""
    out = np.asarray(layer(inputs))
    clone = type(layer).from_config(layer.get_config())
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(inputs)), out, atol=1e-6)
    assert clone.get_config() == layer.get_config()
    in_shape = [x.shape for x in inputs] if isinstance(inputs, list) else inputs.shape
    declared = layer.compute_output_shape(in_shape)
    assert all(d is None or d == o for d, o in zip(declared, out.shape)), (declared, out.shape)
    return out


def test_last_value_centering_and_inverse():
    centered = run_layer_test(LastValueCentering(), X)
    np.testing.assert_allclose(centered, X - X[:, -1:, :])
    assert (centered[:, -1] == 0).all()
    seq = np.ones((3, 5, 1), "float32")  # relative to another window's last target value
    np.testing.assert_allclose(LastValueCentering()([seq, X]), seq - X[:, -1:, :1])
    y = np.zeros((3, 4, 1), "float32")
    back = run_layer_test(AddLastValue(1), [y, X])
    np.testing.assert_allclose(back, np.repeat(X[:, -1:, :1], 4, axis=1))


def test_add_last_value_drops_a_mask():
    layer = AddLastValue(1)
    assert layer.compute_mask([X[:, :4, :1], X], [np.ones((3, 4), bool), None]) is None


def test_take_targets():
    out = run_layer_test(TakeTargets(1), X)
    np.testing.assert_array_equal(out, X[:, :, :1])


@pytest.mark.parametrize("ci", [True, False])
def test_segrnn(ci):
    out = run_layer_test(SegRNN(30, 7, 2, seg_len=8, d_model=8, channel_independent=ci), X)
    assert out.shape == (3, 7, 2)  # lookback 30 padded to 4 segments, 1 output segment cut to 7


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_difference_rnn_streams_what_it_computes_on_the_whole_sequence(cell):
    layer = DifferenceRNN(7, 2, 1, cell=cell, units=6, num_layers=2, dropout=0.2)
    out = run_layer_test(layer, X)
    assert out.shape == (3, 7, 1)
    # Blind to the level: a constant added to the series moves the forecast by that constant.
    np.testing.assert_allclose(layer(X + 5.0), out + 5.0, atol=1e-4)
    y, state = layer.encode(X[:, :10])
    assert state.shape == (3, layer.state_size) == (3, 2 + 2 * (2 if cell == "lstm" else 1) * 6)
    along = np.asarray(layer.forecasts(X))  # (B, L - 1, H, T)
    for t in range(10, 30):
        y, state = layer.step(X[:, t], state)
        np.testing.assert_allclose(y, along[:, t - 1], atol=1e-5)
    np.testing.assert_allclose(y, out, atol=1e-5)
    np.testing.assert_allclose(state, layer.encode(X)[1], atol=1e-5)
    with pytest.raises(ValueError, match="cell must be one of"):
        DifferenceRNN(7, 2, cell="simple")


def test_dlinear_is_linear_in_its_input():
    layer = DLinear(30, 5, kernel_size=5)
    out = run_layer_test(layer, X)
    assert out.shape == (3, 5, 2)
    np.testing.assert_allclose(layer(2 * X) - layer(0 * X), 2 * (out - layer(0 * X)), atol=1e-5)


_LOAD = """
import sys, numpy as np, keras, rnn_apps
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
np.save(sys.argv[2], np.asarray(model(np.load(sys.argv[3]))))
"""


def test_keras_file_loads_with_safe_mode_after_import_rnn_apps_only(tmp_path):
    window = keras.Input((30, 2))
    seg = SegRNN(30, 6, 2, seg_len=10, d_model=8)(LastValueCentering()(window))
    lin = DLinear(30, 6, kernel_size=5)(window)
    diff = DifferenceRNN(6, 2, units=4)(window)
    y = AddLastValue(1)([TakeTargets(1)(keras.layers.Add()([seg, lin, diff])), window])
    model = keras.Model(window, y)
    path, x = tmp_path / "m.keras", tmp_path / "x.npy"
    model.save(path)
    np.save(x, X)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD, str(path), str(tmp_path / "y.npy"), str(x)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), np.asarray(model(X)), atol=1e-5)
