"""Many series in, validated arrays out: reading a panel and cutting it into windows.

`read_panel` takes what people hold: a long DataFrame or CSV (one row per series and time,
as statsforecast and neuralforecast take it), a dict or list of `pd.Series`, or a wide frame
(a time index, one series per numeric column). Every series becomes a float array on a
regular grid (gaps are NaN, then filled or kept missing as `fill` says), with its first time
(a timestamp, or an integer step when the data has none) and the panel's frequency. With
several target columns every series gives one entry per target, series-major (entry i is
target i % T of series i // T), so everything downstream handles one array per entry.
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
        covariates: Per series, the future covariates on the same grid: (n, C) float64 (NaN
            where the series is not observed); None without future covariates.
        static: Per series, its static covariate values (a tuple, in column order).
        future: Per series, the future covariates of the `horizon` steps after its end:
            (H, C); None when not given.
        past: Per series, the past covariates on the grid: (n, P); None without them.
        targets: The T target names when there are several (each series then has T
            consecutive entries, one per target, sharing its id, times and covariates);
            None for one target.
    """

    ids: list[str]
    values: list[np.ndarray]
    starts: list[Any]
    frequency: str | None
    covariates: list[np.ndarray] | None = None
    static: list[tuple] | None = None
    future: list[np.ndarray] | None = None
    past: list[np.ndarray] | None = None
    targets: list[str] | None = None

    @property
    def num_targets(self) -> int:
        """T, entries per series."""
        return len(self.targets) if self.targets else 1

    @property
    def num_series(self) -> int:
        """Distinct series (entries / T)."""
        return len(self.ids) // self.num_targets

    def label(self, i: int) -> str:
        """Entry `i` in messages and plot titles: its series id (and target)."""
        if not self.targets:
            return repr(self.ids[i])
        return f"{self.ids[i]!r} ({self.targets[i % len(self.targets)]})"

    def __len__(self) -> int:
        return len(self.ids)

    def future_times(self, i: int, horizon: int, after: int | None = None) -> list[Any]:
        """The `horizon` times after the first `after` steps of series `i` (default: after
        its last step)."""
        n = len(self.values[i]) if after is None else int(after)
        if self.frequency is None:
            return [int(self.starts[i]) + n + h for h in range(horizon)]
        index = pd.date_range(self.starts[i], periods=n + horizon, freq=self.frequency)
        return list(index[n:])

    def head(self, steps: int) -> Panel:
        """Every series without its last `steps` steps (empty when it has no more)."""

        def cut(arrays: list[np.ndarray] | None) -> list[np.ndarray] | None:
            return None if arrays is None else [a[: max(len(a) - steps, 0)] for a in arrays]

        return dataclasses.replace(
            self,
            values=cut(self.values),
            covariates=cut(self.covariates),
            past=cut(self.past),
            future=None,
        )

    def time_of(self, i: int, step: int) -> Any:
        """The time of step `step` (0 = first) of series `i`."""
        if self.frequency is None:
            return int(self.starts[i]) + step
        return pd.date_range(self.starts[i], periods=step + 1, freq=self.frequency)[-1]


def _long_from_wide(frame: pd.DataFrame, date_column: str) -> pd.DataFrame:
    """A time-indexed wide frame (one numeric column a series) -> long `unique_id, ds, y`."""
    if date_column in frame.columns:
        frame = frame.set_index(date_column)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise UserInputError("the frame has no numeric column to forecast.")
    long = frame[numeric].rename_axis("ds").reset_index().melt("ds", var_name="unique_id")
    return long.rename(columns={"value": "y"})[["unique_id", "ds", "y"]]


def target_columns(target: str | Sequence[str] | None) -> list[str]:
    """The internal names of the target columns in `as_long`'s frame: `y`, or `y:0`,
    `y:1`, ... for several targets."""
    names = [] if target is None else [target] if isinstance(target, str) else list(target)
    return ["y"] if len(names) == 1 else [f"y:{k}" for k in range(len(names))]


def as_long(
    data: Any,
    id_column: str = "unique_id",
    date_column: str = "ds",
    target: str | Sequence[str] | None = "y",
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """`data` as a long frame with columns `unique_id`, `ds`, the target columns
    (`target_columns`: `y` for one) and the `extra` columns (covariates, long-format data
    only; `target=None`: no target, e.g. future covariates).

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
    targets = [] if target is None else [target] if isinstance(target, str) else list(target)
    long_only = list(extra) + (targets if len(targets) > 1 else [])
    if long_only and not (isinstance(data, pd.DataFrame) and id_column in data.columns):
        raise UserInputError(
            f"covariates and several targets ({', '.join(long_only)}) need long-format data: "
            f"one row per series and time with columns {id_column!r}, {date_column!r} and "
            "those columns."
        )
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
            f"({id_column}, {date_column}, {', '.join(targets)}), a dict of pd.Series, or a "
            "wide frame."
        )
    if id_column not in data.columns:
        return _long_from_wide(data, date_column)
    wanted = [date_column, *targets, *extra]
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise UserInputError(
            f"the data has no column {missing[0]!r}; name the columns with id_column / "
            f"date_column / target / the covariate options (--id-column, --date-column, "
            f"--target, --future-covariates, --static-covariates); it has "
            f"{list(data.columns)[:10]}."
        )
    names = ["unique_id", "ds"] + (target_columns(targets) if targets else []) + list(extra)
    return data[[id_column, *wanted]].set_axis(names, axis=1)


#: Calendar features `calendar=True` derives from timestamps: (name, pandas attribute, period).
CALENDAR = (("hour", "hour", 24), ("day_of_week", "dayofweek", 7), ("month", "month", 12))


def calendar_columns(frequency: str) -> list[str]:
    """The calendar covariates of a frequency: sin/cos of the hour (below a day), the day
    of the week (below a week) and the month of the year."""
    step = pd.tseries.frequencies.to_offset(frequency)
    try:
        span = pd.Timedelta(step)
    except ValueError:  # month-like offsets have no fixed length
        span = pd.Timedelta(days=31)
    keep = [n for n, _, _ in CALENDAR if n == "month" or (n == "hour" and span < pd.Timedelta(
        days=1)) or (n == "day_of_week" and span < pd.Timedelta(days=7))]  # fmt: skip
    return [f"{n}_{f}" for n in keep for f in ("sin", "cos")]


def calendar_features(times: pd.DatetimeIndex, columns: Sequence[str]) -> np.ndarray:
    """(n, K) values of the calendar `columns` (`calendar_columns`) at `times`."""
    out = []
    for name, attr, period in CALENDAR:
        if f"{name}_sin" in columns:
            angle = 2 * np.pi * np.asarray(getattr(times, attr), float) / period
            out += [np.sin(angle), np.cos(angle)]
    return np.stack(out, axis=1) if out else np.zeros((len(times), 0))


def _numeric(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """`frame[column]` as floats; a non-numeric or infinite cell is refused naming its row."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserInputError(
            f"row {row}: {what} holds {frame[column].iloc[row]!r}, not a number; clean the "
            "column (or name the numeric one)."
        )
    if np.isinf(values.to_numpy(dtype=float)).any():
        raise UserInputError(f"{what} holds inf; remove or replace those rows.")
    return values.astype(float)


def _times(long: pd.DataFrame, date_column: str) -> tuple[pd.DataFrame, bool]:
    """`long` with `ds` as int steps or datetimes; True when they are integer steps."""
    if pd.api.types.is_integer_dtype(long["ds"]):
        return long, True
    try:
        return long.assign(ds=pd.to_datetime(long["ds"])), False
    except (ValueError, TypeError) as err:
        raise UserInputError(
            f"column {date_column!r} holds neither integer steps nor dates ({err}); give "
            "integer steps or parseable dates."
        ) from None


def read_panel(
    data: Any,
    *,
    id_column: str = "unique_id",
    date_column: str = "ds",
    target: str | Sequence[str] = "y",
    fill: str = "mask",
    frequency: str | None = None,
    future_covariates: Sequence[str] = (),
    static_covariates: Sequence[str] = (),
    past_covariates: Sequence[str] = (),
    future: Any = None,
    horizon: int | None = None,
    calendar: bool = False,
) -> Panel:
    """Reads and validates a panel (see `as_long` for the forms of `data`).

    Args:
        target: The value column, or several (one entry per series and target,
            `Panel.targets`).
        fill: `"mask"` (keep gaps missing), `"ffill"` or `"interpolate"`.
        frequency: The expected frequency (a trained model's); None infers it.
        future_covariates: Numeric columns known ahead (for the history and the horizon).
        static_covariates: Columns constant within a series (numbers or categories).
        past_covariates: Numeric columns known only up to each series' last step.
        future: A long frame or CSV (`id_column`, `date_column`, the future covariates) of
            the `horizon` steps after each series' end, to forecast with.
        horizon: H, needed with `future` (and with `calendar` to derive the horizon's).
        calendar: Append calendar covariates (`calendar_columns` of the frequency) to the
            future covariates, derived from the timestamps (for the horizon too).

    Raises:
        UserInputError: duplicate (id, time) rows, missing ids, non-numeric or infinite
            values, times that are neither all datetimes nor all integers, series of different
            frequencies (or not the model's), a covariate missing at an observed step (or at
            a step of `future`), a static covariate that varies within a series, or a panel
            over the size caps.
    """
    if isinstance(data, Panel):
        return data
    cov, stat, past = list(future_covariates), list(static_covariates), list(past_covariates)
    long = as_long(data, id_column, date_column, target, extra=cov + past + stat)
    if len(long) > MAX_ROWS:
        raise UserInputError(f"{len(long)} rows: the cap is {MAX_ROWS:,}; split the panel.")
    if long.empty:
        raise UserInputError("the panel holds no rows.")
    if long["unique_id"].isna().any():
        row = int(np.flatnonzero(long["unique_id"].isna().to_numpy())[0])
        raise UserInputError(
            f"row {row}: the id column {id_column!r} is empty (NaN); every row needs a series id."
        )
    names = [target] if isinstance(target, str) else list(target)
    ycols = target_columns(names)
    long = long.assign(unique_id=long["unique_id"].astype(str))
    for col, name in zip(ycols, names):
        long[col] = _numeric(long, col, f"target {name!r}")
    for c in cov:
        long[c] = _numeric(long, c, f"future covariate {c!r}")
    for c in past:
        long[c] = _numeric(long, c, f"past covariate {c!r}")
    long, integer = _times(long, date_column)
    dup = long.duplicated(["unique_id", "ds"])
    if dup.any():
        r = long[dup].iloc[0]
        raise UserInputError(
            f"series {r['unique_id']!r} has more than one row at {r['ds']}; keep one row per "
            "(series, time), e.g. aggregate with groupby([id, date]).mean()."
        )
    ids, values, starts, freqs, covs, statics, pasts = [], [], [], set(), [], [], []
    for key, g in long.sort_values(["unique_id", "ds"], kind="stable").groupby(
        "unique_id", sort=False
    ):
        t = g["ds"]
        if integer:
            index = np.arange(int(t.iloc[0]), int(t.iloc[-1]) + 1)
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
            index = pd.date_range(t.iloc[0], t.iloc[-1], freq=freq)
            if not t.isin(index).all():
                raise UserInputError(
                    f"series {key!r}: times off the {freq!r} grid (e.g. "
                    f"{t[~t.isin(index)].iloc[0]}); resample every series to one frequency."
                )
            start = t.iloc[0]
            freqs.add(freq)
        if len(index) > MAX_STEPS:
            raise UserInputError(
                f"series {key!r} has {len(index)} steps; the cap is {MAX_STEPS:,}."
            )
        on_grid = g.set_index("ds").reindex(index)
        grids = []
        for col in ycols:
            grid = on_grid[col].to_numpy(dtype=float)
            if fill == "ffill":
                grid = pd.Series(grid).ffill().to_numpy()
            elif fill == "interpolate":
                grid = pd.Series(grid).interpolate(limit_direction="both").to_numpy()
            grids.append(grid)
        observed = np.isfinite(np.stack(grids)).any(axis=0)  # (n,) any target observed
        for cols, kind, out in ((cov, "future", covs), (past, "past", pasts)):
            if cols:
                c = on_grid[cols].to_numpy(dtype=float)  # (n, C) or (n, P)
                gap = np.isnan(c) & observed[:, None]
                if gap.any():
                    step, col = np.argwhere(gap)[0]
                    raise UserInputError(
                        f"series {key!r} has no value of {kind} covariate {cols[col]!r} at "
                        f"{index[step]}; every observed step needs every covariate (fill them)."
                    )
                out += [c] * len(grids)
        if stat:
            row = []
            for col in stat:
                seen = g[col].dropna().unique()
                if len(seen) != 1:
                    raise UserInputError(
                        f"static covariate {col!r} of series {key!r} has {len(seen)} distinct "
                        "values; it must have exactly one per series."
                    )
                row.append(seen[0].item() if hasattr(seen[0], "item") else seen[0])
            statics += [tuple(row)] * len(grids)
        ids += [str(key)] * len(grids)
        values += grids
        starts += [start] * len(grids)
    if len(ids) // len(grids) > MAX_SERIES:
        raise UserInputError(
            f"{len(ids) // len(grids)} series: the cap is {MAX_SERIES:,}; split the panel."
        )
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
    panel = Panel(
        ids, values, starts, freq, covs or None, statics or None, past=pasts or None,
        targets=names if len(names) > 1 else None,
    )  # fmt: skip
    if future is not None:
        panel.future = read_future(panel, future, cov, horizon, id_column, date_column)
    if calendar:
        add_calendar(panel, horizon)
    return panel


def add_calendar(panel: Panel, horizon: int | None) -> None:
    """Appends the calendar covariates of every step (and of the `horizon` steps after each
    series) to the panel's future covariates, in place.

    Raises:
        UserInputError: the panel has integer steps, not timestamps.
    """
    if panel.frequency is None:
        raise UserInputError(
            "calendar=True derives hour, weekday and month from timestamps, but the data has "
            "integer steps; give dates in the time column or drop calendar."
        )
    columns = calendar_columns(panel.frequency)
    covs, futures = [], []
    for i, v in enumerate(panel.values):
        times = pd.date_range(panel.starts[i], periods=len(v), freq=panel.frequency)
        cal = calendar_features(times, columns)
        covs.append(cal if panel.covariates is None else np.hstack([panel.covariates[i], cal]))
        if horizon:
            ahead = calendar_features(pd.DatetimeIndex(panel.future_times(i, horizon)), columns)
            given = None if panel.future is None else panel.future[i]
            futures.append(ahead if given is None else np.hstack([given, ahead]))
    panel.covariates = covs
    panel.future = futures or panel.future


def read_future(
    panel: Panel,
    data: Any,
    columns: Sequence[str],
    horizon: int | None,
    id_column: str = "unique_id",
    date_column: str = "ds",
) -> list[np.ndarray]:
    """The future covariates of the `horizon` steps after each series' end, from a long frame
    or CSV: one (H, C) array per series.

    Raises:
        UserInputError: a series or a step without a value of some covariate (named).
    """
    if not columns:
        raise UserInputError("this model takes no future covariates; do not pass future=.")
    if horizon is None:
        raise UserInputError("reading future covariates needs the horizon.")
    long = as_long(data, id_column, date_column, None, extra=list(columns))
    for c in columns:
        long[c] = _numeric(long, c, f"future covariate {c!r}")
    long, _ = _times(long.assign(unique_id=long["unique_id"].astype(str)), date_column)
    by_id = {k: g.set_index("ds") for k, g in long.groupby("unique_id", sort=False)}
    out = []
    for i, uid in enumerate(panel.ids):
        times = panel.future_times(i, horizon)
        g = by_id.get(uid)
        rows = (
            g[~g.index.duplicated()].reindex(times)[list(columns)]
            if g is not None
            else pd.DataFrame(np.nan, index=times, columns=list(columns))
        )
        values = rows.to_numpy(dtype=float)
        if np.isnan(values).any():
            step, col = np.argwhere(np.isnan(values))[0]
            raise UserInputError(
                f"series {uid!r} has no value of future covariate {columns[col]!r} at "
                f"{times[step]} (horizon step {step + 1}); give every future covariate for "
                f"the {horizon} steps after each series' end."
            )
        out.append(values)
    return out


#: The static covariate `series_embedding=True` adds: the series id, one-hot.
SERIES_ID = "series_id"


def with_series_id(panel: Panel) -> Panel:
    """The panel with each series' id appended to its static covariates (`SERIES_ID`)."""
    static = panel.static or [() for _ in panel.ids]
    return dataclasses.replace(panel, static=[(*row, uid) for row, uid in zip(static, panel.ids)])


def last_window(values: np.ndarray, lookback: int) -> np.ndarray:
    """The last `lookback` steps of a series, left-padded with NaN: (L,)."""
    x = np.asarray(values[-lookback:], dtype="float64")
    return np.concatenate([np.full(lookback - len(x), np.nan), x])


def windows(
    values: Sequence[np.ndarray],
    lookback: int,
    horizon: int,
    *,
    min_history: int = 1,
    covariates: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Every (window, target) pair of the series with a fully observed target and at least
    `min_history` observed steps in the window: x (N, L), y (N, H) float32, left-padded with
    NaN where a series is shorter than the lookback; with `covariates` ((n, C) per series)
    also their (N, L + H, C) windows (NaN-padded alike)."""
    from numpy.lib.stride_tricks import sliding_window_view

    xs, ys, cs = [], [], []
    for k, v in enumerate(values):
        v = np.asarray(v, dtype="float64")
        if len(v) < horizon + 1:
            continue
        padded = np.concatenate([np.full(lookback, np.nan), v])
        both = sliding_window_view(padded, lookback + horizon)  # (n - H + 1, L + H)
        x, y = both[:, :lookback], both[:, lookback:]
        keep = np.isfinite(y).all(axis=1) & (np.isfinite(x).sum(axis=1) >= min_history)
        xs.append(x[keep])
        ys.append(y[keep])
        if covariates is not None:
            c = np.asarray(covariates[k], dtype="float64")
            c = np.concatenate([np.full((lookback, c.shape[1]), np.nan), c])
            view = sliding_window_view(c, lookback + horizon, axis=0)  # (., C, L + H)
            cs.append(np.swapaxes(view, 1, 2)[keep])
    c_width = 0 if not covariates else np.asarray(covariates[0]).shape[1]
    if not xs:
        empty = (np.zeros((0, lookback), "float32"), np.zeros((0, horizon), "float32"))
        if covariates is None:
            return empty
        return (*empty, np.zeros((0, lookback + horizon, c_width), "float32"))
    out = (np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("float32"))
    if covariates is None:
        return out
    return (*out, np.concatenate(cs).astype("float32"))
