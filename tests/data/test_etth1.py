"""ETTh1 loader and the standard split arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnn_apps.data.etth1 import (
    ETTH1_COLUMNS,
    ETTH1_NUM_ROWS,
    TEST_ROWS,
    TRAIN_ROWS,
    VAL_ROWS,
    load_etth1,
    num_windows,
    split_borders,
    split_etth1,
)
from rnn_apps.tasks.forecast import make_windows
from rnn_apps.testing import require_mirror_file

HORIZONS = (96, 192, 336, 720)


def test_protocol_sizes():
    assert (TRAIN_ROWS, VAL_ROWS, TEST_ROWS) == (8640, 2880, 2880)


@pytest.mark.parametrize("lookback", [96, 336, 720])
def test_split_borders(lookback):
    b = split_borders(lookback)
    assert b["train"] == (0, 8640)
    assert b["val"] == (8640 - lookback, 11520)
    assert b["test"] == (11520 - lookback, 14400)


@pytest.mark.parametrize("lookback", [336, 720])
@pytest.mark.parametrize("horizon", HORIZONS)
def test_window_counts(lookback, horizon):
    b = split_borders(lookback)
    rows = {k: e - s for k, (s, e) in b.items()}
    assert num_windows(rows["test"], lookback, horizon) == 2880 - horizon + 1
    assert num_windows(rows["val"], lookback, horizon) == 2880 - horizon + 1
    assert num_windows(rows["train"], lookback, horizon) == 8640 - lookback - horizon + 1


def test_split_on_synthetic_frame_keeps_context_rows():
    idx = pd.date_range("2016-07-01", periods=ETTH1_NUM_ROWS, freq="h")
    df = pd.DataFrame({"OT": np.arange(ETTH1_NUM_ROWS, dtype="float32")}, index=idx)
    train, val, test = split_etth1(df, 96)
    assert len(train) == 8640 and len(val) == 2880 + 96 and len(test) == 2880 + 96
    # the first forecast step of the first test window is row 11520, the last one row 14399
    x, y = make_windows(test.to_numpy(), 96, 96)
    assert len(x) == 2880 - 96 + 1
    assert y[0, 0, 0] == 11520 and y[-1, -1, 0] == 14399
    assert x[0, -1, 0] == 11519


def test_bad_lookback_and_short_series():
    with pytest.raises(ValueError, match="lookback"):
        split_borders(0)
    with pytest.raises(ValueError, match="14400"):
        split_borders(96, num_rows=10_000)


@pytest.mark.mirror
def test_load_real_etth1():
    path = require_mirror_file("ETTh1.csv")
    df = load_etth1(path.parent)
    assert df.shape == (ETTH1_NUM_ROWS, 7)
    assert tuple(df.columns) == ETTH1_COLUMNS
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "date"
    assert df.index[0] == pd.Timestamp("2016-07-01 00:00")
    assert df.index[-1] == pd.Timestamp("2018-06-26 19:00")
    assert pd.infer_freq(df.index) in ("h", "H")
    assert np.isfinite(df.to_numpy()).all()
    train, val, test = split_etth1(df, 336)
    assert train.index[-1] == pd.Timestamp("2017-06-25 23:00")
    assert val.index[336] == pd.Timestamp("2017-06-26 00:00")
    assert test.index[336] == pd.Timestamp("2017-10-24 00:00")
    assert len(test) - 336 == 2880
