"""Tests of the M4 loader on a tiny wide file and the mirror's layout."""

from __future__ import annotations

import pytest

from rnn_apps.data.m4 import load_m4
from rnn_apps.errors import UserInputError


def test_load_m4_reads_ragged_rows_into_long_frames_with_continuing_steps(tmp_path):
    (tmp_path / "m4").mkdir()
    (tmp_path / "m4" / "Hourly-train.csv").write_text(
        '"V1","V2","V3","V4"\n"H1","1","2","3"\n"H2","5","6",\n'
    )
    (tmp_path / "m4" / "Hourly-test.csv").write_text('"V1","V2","V3"\n"H1","4","4"\n"H2","7","8"\n')
    data = load_m4("Hourly", data_dir=tmp_path)
    assert data.series("train")["H1"].tolist() == [1, 2, 3]
    assert data.series("train")["H2"].tolist() == [5, 6]  # the empty trailing cell dropped
    h2 = data.test[data.test["unique_id"] == "H2"]
    assert h2["ds"].tolist() == [2, 3] and h2["y"].tolist() == [7, 8]
    assert list(data.train.columns) == ["unique_id", "ds", "y"]
    with pytest.raises(UserInputError, match="frequency='hourly': expected one of Hourly"):
        load_m4("hourly", data_dir=tmp_path)
