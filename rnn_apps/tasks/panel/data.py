"""Many series in, validated arrays out: reading a panel and cutting it into windows.

`read_panel` takes what people hold: a long DataFrame or CSV (one row per series and time,
as statsforecast and neuralforecast take it), a dict or list of `pd.Series`, or a wide frame
(a time index, one series per numeric column). Every series becomes a float array on a
regular grid (gaps are NaN, then filled or kept missing as `fill` says), with its first time
(a timestamp, or an integer step when the data has none) and the panel's frequency.
`windows` cuts training / evaluation windows, left-padding series shorter than the lookback
with NaN (masked by the network's scaler, never dropped).

Shape legend: N windows, L lookback, H horizon.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError

#: Series per panel and steps per series that `read_panel` accepts.
MAX_SERIES = 1_000_000
MAX_STEPS = 1_000_000
#: Rows of a long frame (all series together).
MAX_ROWS = 50_000_000


@dataclasses.dataclass
class Panel:
    """Validated series on a regular grid.

    Attributes:
        ids: Series ids (strings), in data order.
        values: One float64 array per series (NaN = missing).
        starts: First time of each series: a `pd.Timestamp` or an int step.
        frequency: pandas frequency alias of the timestamps, or None for integer steps.
    """

    ids: list[str]
    values: list[np.ndarray]
    starts: list[Any]
    frequency: str | None

    def __len__(self) -> int:
        return len(self.ids)

    def future_times(self, i: int, horizon: int) -> list[Any]:
        """The `horizon` times after series `i`'s last step."""
        n = len(self.values[i])
        if self.frequency is None:
            return [int(self.starts[i]) + n + h for h in range(horizon)]
        index = pd.date_range(self.starts[i], periods=n + horizon, freq=self.frequency)
        return list(index[n:])

    def head(self, steps: int) -> Panel:
        """Every series without its last `steps` steps."""
        return dataclasses.replace(self, values=[v[: len(v) - steps] for v in self.values])


def _long_from_wide(frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
    """A time-indexed wide frame (one numeric column a series) -> long `unique_id, ds, y`."""
    if date_column in frame.columns:
        frame = frame.set_index(date_column)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise UserInputError("the frame has no numeric column to forecast.")
    long = frame[numeric].rename_axis("ds").reset_index().melt("ds", var_name="unique_id")
    return long.rename(columns={"value": "y"})[["unique_id", "ds", "y"]]


def as_long(
    data: Any, id_column: str = "unique_id", date_column: str = "ds", target: str = "y"
) -> pd.DataFrame:
    """`data` as a long frame with columns `unique_id`, `ds`, `y`.

    Args:
        data: A long DataFrame or CSV path (columns `id_column`, `date_column`, `target`); a
            dict `{id: pd.Series or array}` or a list of named `pd.Series`; or a wide frame
            without `id_column` (a time index or `date_column`, one series per numeric column).
        id_column, date_column, target: Column names of the long form.

    Raises:
        UserInputError: a missing file or column, or an empty panel.
    """
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.isfile(path):
            raise UserInputError(f"no such file: {path!r} (expected a CSV of long-format rows).")
        data = pd.read_csv(path)
    if isinstance(data, (list, tuple)) and all(isinstance(s, pd.Series) for s in data):
        names = [str(s.name) if s.name is not None else str(i) for i, s in enumerate(data)]
        data = dict(zip(names, data))
    if isinstance(data, Mapping):
        parts = []
        for key, s in data.items():
            s = s if isinstance(s, pd.Series) else pd.Series(np.asarray(s))
            parts.append(pd.DataFrame({"unique_id": str(key), "ds": s.index, "y": s.to_numpy()}))
        if not parts:
            raise UserInputError("the panel holds no series.")
        return pd.concat(parts, ignore_index=True)
    if not isinstance(data, pd.DataFrame):
        raise UserInputError(
            f"cannot read a panel from {type(data).__name__}: give a long DataFrame or CSV "
            f"({id_column}, {date_column}, {target}), a dict of pd.Series, or a wide frame."
        )
    if id_column not in data.columns:
        return _long_from_wide(data, date_column)
    missing = [c for c in (date_column, target) if c not in data.columns]
    if missing:
        raise UserInputError(
            f"the data has no column {missing[0]!r}; name the columns with id_column / "
            f"date_column / target (--id-column, --date-column, --target); it has "
            f"{list(data.columns)[:10]}."
        )
    return data[[id_column, date_column, target]].set_axis(["unique_id", "ds", "y"], axis=1)


def read_panel(
    data: Any,
    *,
    id_column: str = "unique_id",
    date_column: str = "ds",
    target: str = "y",
    fill: str = "mask",
    frequency: str | None = None,
) -> Panel:
    """Reads and validates a panel (see `as_long` for the forms of `data`).

    Args:
        fill: `"mask"` (keep gaps missing), `"ffill"` or `"interpolate"`.
        frequency: The expected frequency (a trained model's); None infers it.

    Raises:
        UserInputError: duplicate (id, time) rows, missing ids, non-numeric or infinite
            values, times that are neither all datetimes nor all integers, series of different
            frequencies (or not the model's), or a panel over the size caps.
    """
    if isinstance(data, Panel):
        return data
    long = as_long(data, id_column, date_column, target)
    if len(long) > MAX_ROWS:
        raise UserInputError(f"{len(long)} rows: the cap is {MAX_ROWS:,}; split the panel.")
    if long.empty:
        raise UserInputError("the panel holds no rows.")
    if long["unique_id"].isna().any():
        row = int(np.flatnonzero(long["unique_id"].isna().to_numpy())[0])
        raise UserInputError(
            f"row {row}: the id column {id_column!r} is empty (NaN); every row needs a series id."
        )
    y = pd.to_numeric(long["y"], errors="coerce")
    bad = y.isna() & long["y"].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserInputError(
            f"row {row}: target {target!r} holds {long['y'].iloc[row]!r}, not a number; "
            "clean the column (or name the numeric one with target=...)."
        )
    if np.isinf(y.to_numpy(dtype=float)).any():
        raise UserInputError(f"target {target!r} holds inf; remove or replace those rows.")
    long = long.assign(unique_id=long["unique_id"].astype(str), y=y.astype(float))
    ds = long["ds"]
    integer = pd.api.types.is_integer_dtype(ds)
    if not integer:
        try:
            ds = pd.to_datetime(ds)
        except (ValueError, TypeError) as err:
            raise UserInputError(
                f"column {date_column!r} holds neither integer steps nor dates ({err}); "
                "give integer steps or parseable dates."
            ) from None
        long = long.assign(ds=ds)
    dup = long.duplicated(["unique_id", "ds"])
    if dup.any():
        r = long[dup].iloc[0]
        raise UserInputError(
            f"series {r['unique_id']!r} has more than one row at {r['ds']}; keep one row per "
            "(series, time), e.g. aggregate with groupby([id, date]).mean()."
        )
    ids, values, starts, freqs = [], [], [], set()
    for key, g in long.sort_values(["unique_id", "ds"], kind="stable").groupby(
        "unique_id", sort=False
    ):
        t, v = g["ds"], g["y"].to_numpy()
        if integer:
            steps = t.to_numpy() - t.iloc[0]
            grid = np.full(int(steps[-1]) + 1, np.nan)
            grid[steps] = v
            start, freq = int(t.iloc[0]), None
        else:
            freq = frequency or (pd.infer_freq(t) if len(t) >= 3 else None)
            if freq is None:
                diffs = t.diff().dropna()
                freq = pd.tseries.frequencies.to_offset(diffs.min()).freqstr if len(diffs) else None
            if freq is None:
                raise UserInputError(
                    f"series {key!r} has too few rows to tell its frequency; give it more rows."
                )
            full = pd.date_range(t.iloc[0], t.iloc[-1], freq=freq)
            if not t.isin(full).all():
                raise UserInputError(
                    f"series {key!r}: times off the {freq!r} grid (e.g. "
                    f"{t[~t.isin(full)].iloc[0]}); resample every series to one frequency."
                )
            grid = pd.Series(v, index=t.to_numpy()).reindex(full).to_numpy(dtype=float)
            start = t.iloc[0]
            freqs.add(freq)
        if len(grid) > MAX_STEPS:
            raise UserInputError(f"series {key!r} has {len(grid)} steps; the cap is {MAX_STEPS:,}.")
        if fill == "ffill":
            grid = pd.Series(grid).ffill().to_numpy()
        elif fill == "interpolate":
            grid = pd.Series(grid).interpolate(limit_direction="both").to_numpy()
        ids.append(str(key))
        values.append(grid)
        starts.append(start)
    if len(ids) > MAX_SERIES:
        raise UserInputError(f"{len(ids)} series: the cap is {MAX_SERIES:,}; split the panel.")
    if len(freqs) > 1:
        raise UserInputError(
            f"the series have different frequencies ({', '.join(sorted(freqs))}); resample "
            "them to one (pandas resample) or train one model per frequency."
        )
    freq = next(iter(freqs)) if freqs else None
    if frequency is not None and freq is not None and freq != frequency:
        raise UserInputError(
            f"the data's frequency is {freq!r} but the model was trained on {frequency!r}."
        )
    return Panel(ids, values, starts, freq)


def last_window(values: np.ndarray, lookback: int) -> np.ndarray:
    """The last `lookback` steps of a series, left-padded with NaN: (L,)."""
    x = np.asarray(values[-lookback:], dtype="float64")
    return np.concatenate([np.full(lookback - len(x), np.nan), x])


def windows(
    values: Sequence[np.ndarray], lookback: int, horizon: int, *, min_history: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Every (window, target) pair of the series with a fully observed target and at least
    `min_history` observed steps in the window: x (N, L), y (N, H) float32, left-padded with
    NaN where a series is shorter than the lookback."""
    from numpy.lib.stride_tricks import sliding_window_view

    xs, ys = [], []
    for v in values:
        v = np.asarray(v, dtype="float64")
        if len(v) < horizon + 1:
            continue
        padded = np.concatenate([np.full(lookback, np.nan), v])
        both = sliding_window_view(padded, lookback + horizon)  # (n - H + 1, L + H)
        x, y = both[:, :lookback], both[:, lookback:]
        keep = np.isfinite(y).all(axis=1) & (np.isfinite(x).sum(axis=1) >= min_history)
        xs.append(x[keep])
        ys.append(y[keep])
    if not xs:
        return np.zeros((0, lookback), "float32"), np.zeros((0, horizon), "float32")
    return np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("float32")
