"""Tests of the forecasting scores and the M4 benchmarks (`rnn_apps.tasks.forecast.metrics`):
hand-worked values, and the organisers' published M4 hourly figures of Naive2 and seasonal
naive reproduced on the mirror."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_apps.tasks.forecast import metrics as M
from rnn_apps.testing import require_mirror_file


def test_point_and_interval_scores_by_hand():
    y, f = np.array([100.0, 0.0, 50.0]), np.array([110.0, 0.0, 40.0])
    assert M.smape(y, f) == pytest.approx(100 / 3 * (20 / 210 + 0 + 20 / 90))
    insample = np.array([1.0, 2.0, 4.0, 8.0])  # lag-1 errors 1, 2, 4: scale 7/3
    assert M.mase_scale(insample, 1) == pytest.approx(7 / 3)
    assert M.mase(y, f, insample, 1) == pytest.approx((20 / 3) / (7 / 3))
    assert M.mase_scale(insample, 2) == pytest.approx((3 + 6) / 2)
    lo, hi = np.array([90.0, -1.0, 55.0]), np.array([105.0, 1.0, 60.0])
    # widths 15, 2, 5; y=50 is 5 below its interval: 2/0.05 * 5 = 200
    assert M.msis(y, lo, hi, insample, 1, alpha=0.05) == pytest.approx((22 + 200) / 3 / (7 / 3))
    assert M.coverage(y, lo, hi) == pytest.approx(2 / 3)
    assert M.pinball([10.0], [8.0], 0.9) == pytest.approx(1.8)
    assert M.pinball([10.0], [12.0], 0.9) == pytest.approx(0.2)
    assert M.owa([10, 20], [1, 3], [20, 20], [2, 2]) == pytest.approx(0.5 * 0.75 + 0.5 * 1.0)
    with pytest.raises(ValueError, match="need more than season=4"):
        M.mase_scale(insample, 4)


def test_naive2_follows_a_clear_seasonal_pattern_and_stays_flat_without_one():
    pattern = np.array([1.0, 2.0, 4.0, 2.0])
    x = np.tile(pattern, 12) * 10  # seasonal, no trend
    assert M.seasonality_test(x, 4)
    np.testing.assert_allclose(M.seasonal_indices(x, 4), pattern / pattern.mean())
    np.testing.assert_allclose(M.naive2(x, 6, 4), np.resize(pattern * 10, 6), rtol=1e-9)
    flat = np.random.default_rng(0).normal(10, 1, 48)
    assert not M.seasonality_test(flat, 4)
    np.testing.assert_array_equal(M.naive2(flat, 3, 4), [flat[-1]] * 3)
    assert not M.seasonality_test(x[:11], 4)  # shorter than 3 seasons
    np.testing.assert_array_equal(M.seasonal_naive(x, 6, 4), np.resize(x[-4:], 6))


def test_m4_hourly_naive2_and_seasonal_naive_match_the_published_figures():
    from rnn_apps.data.m4 import load_m4

    mirror = require_mirror_file("m4/Hourly-train.csv").parents[1]
    data = load_m4("Hourly", data_dir=mirror)
    train, test = data.series("train"), data.series("test")
    assert len(train) == 414 and {len(v) for v in test.values()} == {48}
    assert (data.horizon, data.season) == (48, 24)
    n2 = {k: M.naive2(v, 48, 24) for k, v in train.items()}
    sn = {k: M.seasonal_naive(v, 48, 24) for k, v in train.items()}
    # The organisers' evaluation table: Naive2 sMAPE 18.383, MASE 2.395; seasonal naive
    # sMAPE 13.912, MASE 1.193.
    s2, ss = M.score_series(test, n2, train, 24), M.score_series(test, sn, train, 24)
    assert (round(s2["smape"], 3), round(s2["mase"], 3)) == (18.383, 2.395)
    assert (round(ss["smape"], 3), round(ss["mase"], 3)) == (13.912, 1.193)
    owa = M.owa(
        [M.smape(test[k], sn[k]) for k in test],
        [M.mase(test[k], sn[k], train[k], 24) for k in test],
        [M.smape(test[k], n2[k]) for k in test],
        [M.mase(test[k], n2[k], train[k], 24) for k in test],
    )
    assert owa == pytest.approx(0.5 * 13.912 / 18.383 + 0.5 * 1.193 / 2.395, abs=1e-3)
