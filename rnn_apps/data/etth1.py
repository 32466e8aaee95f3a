"""ETTh1 (Electricity Transformer Temperature, hourly, station 1) and its standard split.

The standard long-horizon forecasting protocol (Zhou et al., Informer, 2021; reused by
Autoformer, DLinear, PatchTST, SegRNN ...):

- train = the first 12 months = 12 * 30 * 24 = 8,640 rows,
- validation = the next 4 months = 2,880 rows,
- test = the next 4 months = 2,880 rows (the remaining rows of the file are unused),
- validation and test windows may look back ``lookback`` rows into the preceding split,
  so every split yields ``split_rows - horizon + 1`` windows (train: ``8640 - L - H + 1``),
- every column is scaled with mean / std fitted on the training rows only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd

ETTH1_FNAME = "ETTh1.csv"
ETTH1_ORIGIN = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"
ETTH1_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
ETTH1_TARGET = "OT"
ETTH1_NUM_ROWS = 17_420

TRAIN_ROWS = 12 * 30 * 24  # 8,640
VAL_ROWS = 4 * 30 * 24  # 2,880
TEST_ROWS = 4 * 30 * 24  # 2,880


class ETTSplits(NamedTuple):
    """The three frames of the standard protocol (val / test include ``lookback`` context rows)."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame


def _resolve_file(data_dir: str | os.PathLike | None) -> Path:
    from rnn_apps.data import get_dataset_file

    return Path(get_dataset_file(ETTH1_FNAME, ETTH1_ORIGIN, data_dir=data_dir))


def load_etth1(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Loads ETTh1 as a DataFrame.

    Args:
        data_dir: directory holding ``ETTh1.csv`` (else ``RNN_APPS_DATA_DIR``, else download).

    Returns:
        DataFrame with a ``DatetimeIndex`` named ``date`` (hourly) and the float32 columns
        ``HUFL, HULL, MUFL, MULL, LUFL, LULL, OT`` (17,420 rows).
    """
    path = _resolve_file(data_dir)
    df = pd.read_csv(path, parse_dates=["date"], index_col="date")
    missing = [c for c in ETTH1_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks the ETTh1 columns {missing}")
    return df[list(ETTH1_COLUMNS)].astype("float32")


def split_borders(lookback: int, num_rows: int = ETTH1_NUM_ROWS) -> dict[str, tuple[int, int]]:
    """Row borders ``[start, end)`` of the standard splits, with ``lookback`` rows of context.

    Args:
        lookback: L, the number of past rows a window sees.
        num_rows: length of the series (checked to hold all 14,400 protocol rows).

    Returns:
        ``{"train": (0, 8640), "val": (8640 - L, 11520), "test": (11520 - L, 14400)}``.
    """
    if lookback < 1 or lookback > TRAIN_ROWS:
        raise ValueError(f"lookback must be in [1, {TRAIN_ROWS}], got {lookback}")
    end = TRAIN_ROWS + VAL_ROWS + TEST_ROWS
    if num_rows < end:
        raise ValueError(f"the series has {num_rows} rows, the ETT protocol needs {end}")
    return {
        "train": (0, TRAIN_ROWS),
        "val": (TRAIN_ROWS - lookback, TRAIN_ROWS + VAL_ROWS),
        "test": (TRAIN_ROWS + VAL_ROWS - lookback, end),
    }


def num_windows(num_rows: int, lookback: int, horizon: int) -> int:
    """Number of (lookback, horizon) windows with stride 1 in ``num_rows`` rows (0 if none)."""
    return max(num_rows - lookback - horizon + 1, 0)


def split_etth1(df: pd.DataFrame, lookback: int) -> ETTSplits:
    """Cuts a loaded ETTh1 frame into the standard train / val / test frames.

    The val and test frames start ``lookback`` rows early, so they hold
    ``2880 - H + 1`` windows each for horizon H; the train frame holds ``8640 - L - H + 1``.
    """
    b = split_borders(lookback, len(df))
    return ETTSplits(*(df.iloc[s:e] for s, e in (b["train"], b["val"], b["test"])))
