"""Tests of the quantile head and loss, and of split-conformal calibration."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from rnn_apps.layers import NonCrossingQuantiles, PinballLoss
from rnn_apps.tasks.forecast import metrics
from rnn_apps.tasks.forecast.conformal import calibrate, conformal_offsets, conformity_scores
from rnn_apps.testing import run_layer_test, run_safe_mode_load_test


def test_quantiles_never_cross_and_the_anchor_is_the_median():
    layer = NonCrossingQuantiles([0.1, 0.5, 0.9])
    raw = np.random.default_rng(0).normal(0, 5, size=(64, 12, 3)).astype("float32")
    out = run_layer_test(layer, raw)
    assert np.all(np.diff(out, axis=-1) >= 0)  # never cross (equal where a step underflows)
    np.testing.assert_allclose(out[..., 1], raw[..., 1])
    assert NonCrossingQuantiles([0.05, 0.2, 0.4, 0.7]).anchor == 2  # the level nearest 0.5
    with pytest.raises(ValueError, match="strictly increasing"):
        NonCrossingQuantiles([0.9, 0.1])


def test_pinball_loss_matches_the_metric_and_learns_the_quantiles(tmp_path):
    levels = [0.1, 0.5, 0.9]
    y = np.array([[10.0, 0.0]], "float32")
    pred = np.array([[[8.0, 9.0, 12.0], [-1.0, 0.0, 2.0]]], "float32")
    loss = float(PinballLoss(levels)(y, pred))
    expect = np.mean([metrics.pinball(y[0, h], pred[0, h, i], q)
                      for h in range(2) for i, q in enumerate(levels)])  # fmt: skip
    assert loss == pytest.approx(expect, rel=1e-6)
    # A constant model on N(0, 1) targets learns the normal quantiles (+-1.28 at 10/90%).
    rng = np.random.default_rng(0)
    x = np.ones((4096, 1), "float32")
    targets = rng.normal(size=(4096, 1)).astype("float32")
    inputs = keras.Input((1,))
    raw = keras.layers.Dense(3)(inputs)[:, None, :]  # (B, 1, Q)
    model = keras.Model(inputs, NonCrossingQuantiles(levels)(raw))
    model.compile(keras.optimizers.Adam(0.05), loss=PinballLoss(levels))
    model.fit(x, targets, epochs=30, batch_size=512, verbose=0)
    q = model.predict(x[:1], verbose=0)[0, 0]
    np.testing.assert_allclose(q, [-1.2816, 0.0, 1.2816], atol=0.15)
    run_safe_mode_load_test(model, x[:2], tmp_path)


def test_split_conformal_intervals_reach_the_nominal_coverage():
    rng = np.random.default_rng(1)
    # Point forecasts whose error grows with the horizon step: 2000 calibration windows,
    # 2000 new ones.
    scale = np.linspace(1, 3, 6)
    cal_err, new_err = (rng.normal(size=(2000, 6)) * scale for _ in range(2))
    scores = conformity_scores(cal_err, np.zeros(6), np.zeros(6))  # y - f, f = 0
    for level in (0.8, 0.95):
        c = conformal_offsets(scores, level)
        assert c.shape == (6,) and np.all(np.diff(c) > 0)  # wider further out
        lo, hi = calibrate(np.zeros((2000, 6)), np.zeros((2000, 6)), c)
        cover = metrics.coverage(new_err, lo, hi)
        assert abs(cover - level) < 0.02, (level, cover)
    with pytest.raises(ValueError, match="at least 19"):
        conformal_offsets(scores[:10], 0.95)
