"""Raw series -> tensors: reading and checking a series, windowing, scaling in the graph.

- `read_series` turns a DataFrame or a CSV file into a frame with a regular `DatetimeIndex`
  (dates as people write them: `date_format` / `dayfirst`), `check_values` refuses NaN / inf
  (or fills NaN) and `make_windows` cuts every stride-1 window out of it: the one windowing
  function, used by fit, evaluate and the plots.
- `ForecastPreprocessor` (a `keras.layers.Layer`, defined in
  `rnn_apps.layers.forecast_preprocessor` and re-exported here) owns the column order (targets
  first, then covariates) and the scaling: a `keras.layers.Normalization` adapted on the
  training rows only, and its inverse (`Normalization(invert=True)`) for the targets. Called on
  a real-unit window it returns the scaled one; it runs inside `tf.data` (training) and inside
  the export's graph (serving), so scaling exists once.

Shape legend: N rows, B batch, L lookback, H horizon, F features (targets first, then
covariates), T targets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError
from rnn_apps.layers.forecast_preprocessor import ForecastPreprocessor  # noqa: F401

DATE_COLUMNS = ("date", "datetime", "timestamp", "time", "ds")
DATE_HINT = (
    "give the format: date_format='%d/%m/%Y %H:%M' (CLI --date-format '%d/%m/%Y %H:%M') or "
    "dayfirst=True (CLI --dayfirst) for day-first dates like 13/07/2016"
)

# --------------------------------------------------------------------------- reading, checks


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserInputError(f"CSV file {str(path)!r} does not exist.")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserInputError(
            f"cannot read CSV file {str(path)!r} ({first}); give a comma-separated file with a "
            "header row, a date column and numeric columns."
        ) from err


def read_series(
    data: pd.DataFrame | str | os.PathLike,
    *,
    date_column: str | None = None,
    date_format: str | None = None,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Returns `data` (a DataFrame or a CSV path) as a frame with a regular `DatetimeIndex`.

    Args:
        data: A frame with a `DatetimeIndex` or a date column, or a CSV file of one.
        date_column: The date column; None looks for `date`/`datetime`/`timestamp`/`time`/`ds`.
        date_format: strftime pattern of the dates (`pd.to_datetime(format=...)`).
        dayfirst: Ambiguous dates are day first (`pd.to_datetime(dayfirst=...)`).

    Raises:
        UserInputError: an unreadable CSV, no timestamps, dates that do not parse (the message
            suggests `date_format` / `dayfirst`), unsorted, duplicate or irregular timestamps.
    """
    if isinstance(data, (str, os.PathLike)):
        data = _read_csv(Path(data))
    if not isinstance(data, pd.DataFrame):
        raise UserInputError(
            f"expected a pandas DataFrame or a CSV path, got {type(data).__name__}."
        )
    df, parsed = data, False
    if not isinstance(df.index, pd.DatetimeIndex):
        col = date_column
        if col is None:
            col = next((c for c in df.columns if str(c).lower() in DATE_COLUMNS), None)
        if col is None or col not in df.columns:
            raise UserInputError(
                "the series needs a DatetimeIndex or a date column "
                f"({'column ' + repr(date_column) + ' not found; ' if date_column else ''}"
                f"looked for {list(DATE_COLUMNS)}; columns are {list(df.columns)})."
            )
        try:
            index = pd.DatetimeIndex(
                pd.to_datetime(df[col], format=date_format, dayfirst=dayfirst), name=col
            )
        except (ValueError, TypeError, OverflowError) as err:
            first = (str(err).strip().splitlines() or ["?"])[0]
            raise UserInputError(
                f"column {col!r} does not hold dates pandas can read ({first}); {DATE_HINT}."
            ) from err
        df, parsed = df.drop(columns=[col]).set_index(index), date_format is None
    if len(df.index) and df.index.hasnans:
        rows = np.flatnonzero(df.index.isna())[:5].tolist()
        raise UserInputError(f"missing timestamps (NaT) at rows {rows}.")
    try:
        check_timestamps(df.index)
    except UserInputError as err:
        if not parsed:
            raise
        raise UserInputError(f"{err} If the dates were misread, {DATE_HINT}.") from None
    return df


def check_timestamps(index: pd.DatetimeIndex) -> str | None:
    """Checks that timestamps are sorted, unique and regular; returns the inferred frequency.

    Steps are reported in the data's own units (index differences as `pd.Timedelta`), whatever
    resolution pandas stores the index in.

    Raises:
        UserInputError: naming the first offending rows.
    """
    if len(index) < 2:
        return None
    deltas = pd.Series(index[1:] - index[:-1])  # Timedelta per step
    zero = pd.Timedelta(0)
    bad = np.flatnonzero((deltas < zero).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise UserInputError(
            f"timestamps are not sorted: row {i + 1} ({index[i + 1]}) comes before row {i} "
            f"({index[i]}); sort the frame by time first (df.sort_index())."
        )
    dup = np.flatnonzero((deltas == zero).to_numpy())
    if dup.size:
        rows = [int(i) + 1 for i in dup[:5]]
        raise UserInputError(
            f"duplicate timestamps at rows {rows} ({[str(index[r]) for r in rows]}); "
            "aggregate or drop duplicates first."
        )
    if len(index) < 3:
        return None
    freq = pd.infer_freq(index)
    if freq is None:
        common = deltas.mode().iloc[0]
        i = int(np.flatnonzero((deltas != common).to_numpy())[0])
        raise UserInputError(
            f"irregular timestamps: the usual step is {common}, but rows {i} -> {i + 1} "
            f"({index[i]} -> {index[i + 1]}) step {deltas.iloc[i]}; resample to a regular "
            "frequency first (e.g. df.resample('h').mean() then fill)."
        )
    return freq


#: Largest magnitude of a value in a series (larger ones overflow the float32 variance).
MAX_ABS_VALUE = 1e15


def check_values(frame: pd.DataFrame, *, fill: str | None = None) -> pd.DataFrame:
    """Checks for NaN / inf (or fills NaN as `fill` says) and returns float32 values.

    Raises:
        UserInputError: non-numeric columns, infinite values (also values beyond the float32
            range), values beyond ±`MAX_ABS_VALUE`, or NaN without `fill` (the message names
            rows and columns).
    """
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise UserInputError(f"columns {non_numeric} are not numeric.")
    out = frame.astype("float64")
    with np.errstate(over="ignore"):
        inf = ~np.isfinite(out.to_numpy().astype("float32")) & ~np.isnan(out.to_numpy())
    if inf.any():
        raise UserInputError(
            f"infinite values (or beyond the float32 range) at {_describe_cells(out, inf)}."
        )
    with np.errstate(invalid="ignore"):
        huge = np.abs(out.to_numpy()) > MAX_ABS_VALUE
    if huge.any():
        raise UserInputError(
            f"values beyond ±{MAX_ABS_VALUE:g} at {_describe_cells(out, huge)} (their variance "
            "overflows float32); rescale the column (e.g. to thousands) or drop the rows."
        )
    nan = np.isnan(out.to_numpy())
    if nan.any():
        if fill is None:
            raise UserInputError(
                f"NaN values at {_describe_cells(out, nan)}; clean them or pass "
                "fill='ffill' or fill='interpolate' (CLI --fill)."
            )
        out = out.ffill() if fill == "ffill" else out.interpolate(method="time")
        out = out.bfill()
        if out.isna().to_numpy().any():
            raise UserInputError(f"columns {list(out.columns[out.isna().all()])} are all NaN.")
    return out.astype("float32")


def _describe_cells(frame: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    rows, cols = np.nonzero(mask)
    cells = [f"row {r} ({frame.index[r]}), column {frame.columns[c]!r}" for r, c in zip(rows, cols)]
    more = f" and {len(cells) - limit} more" if len(cells) > limit else ""
    return "; ".join(cells[:limit]) + more


# --------------------------------------------------------------------------- windows


def make_windows(
    values: np.ndarray, lookback: int, horizon: int, num_targets: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every stride-1 window of a series: `n = N - L - H + 1` of them, none dropped.

    Args:
        values: (N, F) series (targets in the first `num_targets` columns).
        lookback: L.
        horizon: H (0: past windows only, `y` is empty).
        num_targets: T; None = F.

    Returns:
        `x` (n, L, F) past values and `y` (n, H, T) future target values (float32 copies).

    Raises:
        UserInputError: the series is shorter than one window.
    """
    values = np.asarray(values)
    n = len(values) - lookback - horizon + 1
    if n < 1:
        raise UserInputError(
            f"the series has {len(values)} rows; a window needs lookback + horizon = "
            f"{lookback} + {horizon} = {lookback + horizon}."
        )
    t = values.shape[1] if num_targets is None else num_targets
    view = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)
    view = view.transpose(0, 2, 1)  # (n, L + H, F)
    x = np.ascontiguousarray(view[:, :lookback], dtype="float32")
    y = np.ascontiguousarray(view[:, lookback:, :t], dtype="float32")
    return x, y


# --------------------------------------------------------------------------- preprocessor
# `ForecastPreprocessor` is a Keras layer, defined in `rnn_apps.layers.forecast_preprocessor`
# (registered on `import rnn_apps`) and re-exported here under its usual name.


def select_frame(data: Any, columns: Sequence[str], options: Mapping[str, Any]) -> pd.DataFrame:
    """`read_series` + the named `columns` (in order) + `check_values`.

    Args:
        data: A DataFrame or a CSV path.
        columns: The model's input columns.
        options: `date_column`, `date_format`, `dayfirst`, `fill` (missing keys: defaults).
    """
    df = read_series(
        data,
        date_column=options.get("date_column"),
        date_format=options.get("date_format"),
        dayfirst=bool(options.get("dayfirst", False)),
    )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise UserInputError(f"missing column(s) {missing}; the frame has {list(df.columns)}.")
    return check_values(df[list(columns)], fill=options.get("fill"))
