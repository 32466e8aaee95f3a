"""`MaskedWindowScale` / `UnscaleForecast`: the global forecaster's per-window scaling."""

from __future__ import annotations

import numpy as np

from rnn_apps.layers.window_scale import MaskedWindowScale, UnscaleForecast


def test_window_scale_masks_missing_steps():
    x = np.array([[np.nan, np.nan, 1.0, 3.0, 5.0, 7.0]], "float32")
    layer = MaskedWindowScale(season=2)
    features, level, scale = (np.asarray(t) for t in layer(x))
    assert features.shape == (1, 6, 2)
    np.testing.assert_allclose(level, [[6.0]])  # the last 2 observed steps
    np.testing.assert_allclose(scale, [[np.std([1, 3, 5, 7])]], rtol=1e-6)
    np.testing.assert_array_equal(features[0, :, 1], [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(features[0, :2, 0], [0, 0])  # masked steps carry nothing
    # the same series padded further is scaled the same
    longer = np.array([[np.nan] * 4 + [1.0, 3.0, 5.0, 7.0]], "float32")
    f2, l2, s2 = (np.asarray(t) for t in layer(longer))
    np.testing.assert_allclose(f2[0, 2:], features[0], rtol=1e-6)
    np.testing.assert_allclose(l2, level)
    clone = MaskedWindowScale.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    for a, b in zip(clone(x), layer(x)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert layer.compute_output_shape((None, 6)) == [(None, 6, 2), (None, 1), (None, 1)]


def test_unscale_forecast_inverts_the_scaling():
    level, scale = np.array([[5.0]], "float32"), np.array([[2.0]], "float32")
    q = np.ones((1, 3, 4), "float32")
    np.testing.assert_allclose(np.asarray(UnscaleForecast()([q, level, scale])), 7.0)
