"""Inference written once for a `PanelForecaster` and its SavedModel predictor: both answer
`model.run("serving_default", window=...)` and `model.metadata`, so `rnn-apps panel evaluate`
and `predict` run the same code on a trained folder and on an export.

With T > 1 targets the panel holds one entry per (series, target) (`Panel.targets`) and
everything here works per entry; `forecast_rows` packs a series' T entries into one (L, T)
window of the export and splits its (H, T) outputs back.

Shape legend: N windows, L lookback, H horizon, Q quantile levels, T targets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.forecast import metrics as M


def _facts(model: Any) -> dict[str, Any]:
    """What a `PanelForecaster` (also mid-`fit`: `reading_facts`) or its export's metadata
    say about windows, quantiles, levels, columns and covariates."""
    meta = model.reading_facts() if hasattr(model, "reading_facts") else model.metadata
    target = meta["columns"]["target"]
    return {
        "targets": list(meta.get("targets") or ([target] if isinstance(target, str) else target)),
        "lookback": int(meta["lookback"]),
        "horizon": int(meta["horizon"]),
        "season": int(meta["season"]),
        "quantiles": [float(q) for q in meta["quantiles"]],
        "levels": [int(p) for p in meta["levels"]],
        "frequency": meta.get("frequency"),
        "columns": dict(meta["columns"]),
        "fill": meta.get("fill", "mask"),
        "covariates": dict(meta.get("covariates") or {}),
    }


def _covariates(model: Any) -> dict[str, list]:
    """The model's covariate names: `future`, `static`, `static_numeric`,
    `static_categorical` (empty lists when it has none)."""
    facts = _facts(model)["covariates"]
    keys = ("future", "calendar", "static", "static_numeric", "static_categorical", "past")
    return {k: list(facts.get(k) or []) for k in keys}


def _user_future(model: Any) -> list[str]:
    """The future covariates the caller supplies (all but the derived calendar ones)."""
    cov = _covariates(model)
    return [c for c in cov["future"] if c not in cov["calendar"]]


def read(model: Any, data: Any, future: Any = None) -> Any:
    """`data` (and `future`: covariates of the forecast steps) as a `Panel` read the way the
    model was trained (columns, covariates, fill, frequency)."""
    from rnn_apps.tasks.panel.data import SERIES_ID, read_panel, with_series_id

    f = _facts(model)
    c, cov = f["columns"], _covariates(model)
    user_static = [name for name in cov["static"] if name != SERIES_ID]
    panel = read_panel(
        data, id_column=c["id"], date_column=c["date"], target=c["target"], fill=f["fill"],
        frequency=f["frequency"], future_covariates=_user_future(model),
        static_covariates=user_static, past_covariates=cov["past"], future=future,
        horizon=f["horizon"], calendar=bool(cov["calendar"]),
    )  # fmt: skip
    return with_series_id(panel) if SERIES_ID in cov["static"] else panel


def static_inputs(panel: Any, covariates: dict[str, list]) -> dict[str, np.ndarray]:
    """Each series' static covariates as the export takes them: `static_numeric`
    (n_series, Sn) float32, `static_categorical` (n_series, Sc) str (only the kinds the model
    has)."""
    out: dict[str, np.ndarray] = {}
    order = covariates["static"]
    for key, dtype in (("static_numeric", "float32"), ("static_categorical", str)):
        names = covariates[key]
        if names:
            cols = [order.index(n) for n in names]
            rows = [[row[c] for c in cols] for row in panel.static]
            if dtype is str:
                out[key] = np.asarray([[str(v) for v in r] for r in rows], dtype=object).astype(str)
            else:
                out[key] = np.asarray(rows, dtype="float32").reshape(len(rows), len(names))
    return out


def window_inputs(model: Any, panel: Any, rows: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """The export's inputs for forecasting, for each `(series, n)` of `rows`, the `horizon`
    steps after the first `n` steps of the series: `window` (N, L), NaN-padded, and the
    covariates the model has (`future_covariates` (N, L + H, C) from the panel's covariates,
    or from `panel.future` past the series' end; `past_covariates` (N, L, P); the static
    ones). With T > 1 targets (one row per entry) also `context` (N, L, T), the windows of
    every target of the row's series, and `target_index` (N,), the row's target."""
    from rnn_apps.tasks.panel.data import last_window

    f, cov = _facts(model), _covariates(model)
    lookback, h, t = f["lookback"], f["horizon"], len(f["targets"])
    out = {
        "window": np.asarray(
            [last_window(panel.values[i][:n], lookback) for i, n in rows], "float32"
        ).reshape(-1, lookback)
    }
    if t > 1:
        out["context"] = np.asarray(
            [[last_window(panel.values[i - i % t + k][:n], lookback) for k in range(t)]
             for i, n in rows], "float32",
        ).reshape(-1, t, lookback).transpose(0, 2, 1)  # fmt: skip
        out["target_index"] = np.asarray([i % t for i, _ in rows], "int32")
    if cov["future"]:
        width = len(cov["future"])
        futures = []
        for i, n in rows:
            c = panel.covariates[i]
            ahead = c[n : n + h]
            if len(ahead) < h:  # past the series' end: the covariates given for the horizon
                if panel.future is None:
                    raise UserInputError(
                        f"series {panel.label(i)}: forecasting past its end needs the future "
                        f"covariates {cov['future']} of the next {h} steps (future=...)."
                    )
                ahead = np.concatenate([ahead, panel.future[i][: h - len(ahead)]])
            past = c[max(0, n - lookback) : n]
            past = np.concatenate([np.full((lookback - len(past), width), np.nan), past])
            futures.append(np.concatenate([past, ahead]))
        out["future_covariates"] = np.asarray(futures, "float32").reshape(-1, lookback + h, width)
    if cov["past"]:
        width = len(cov["past"])
        pasts = []
        for i, n in rows:
            past = panel.past[i][max(0, n - lookback) : n]
            pasts.append(np.concatenate([np.full((lookback - len(past), width), np.nan), past]))
        out["past_covariates"] = np.asarray(pasts, "float32").reshape(-1, lookback, width)
    index = np.asarray([i for i, _ in rows], dtype=int)
    out.update({k: v[index] for k, v in static_inputs(panel, cov).items()})
    return out


def forecast_rows(model: Any, panel: Any, rows: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    """The export's outputs for each `(entry, n)` of `rows` (see `window_inputs`), one row
    per entry: (N, H) and (N, H, Q). With T > 1 targets `rows` holds every target of a series
    in a run of T (`origin_rows` keeps them so), sent as one (L, T) window."""
    inputs = window_inputs(model, panel, rows)
    t = len(_facts(model)["targets"])
    if t == 1:
        return run_batches(model, inputs)
    entries = np.asarray([i for i, _ in rows]).reshape(-1, t)
    if (entries % t != np.arange(t)).any() or (entries // t != entries[:, :1] // t).any():
        raise ValueError("rows must hold every target of a series, in order")
    inputs["window"] = inputs.pop("context")[::t]  # (N / T, L, T)
    del inputs["target_index"]
    packed = {k: v if k == "window" else v[::t] for k, v in inputs.items()}
    out = run_batches(model, packed)  # (N / T, H, T, ...)
    return {
        k: np.moveaxis(v, 2, 1).reshape(-1, *v.shape[1:2], *v.shape[3:]) for k, v in out.items()
    }


def run_batches(model: Any, inputs: Any, *, batch_size: int = 1024) -> dict[str, np.ndarray]:
    """The export's outputs for its inputs (a dict of arrays with N rows, or the windows
    (N, L) of a model without covariates, (N, L, T) for T targets; real units, NaN = not
    observed), in batches.

    Raises:
        UserInputError: a wrong shape, a missing input, or a window the graph refuses (the
            graph's message).
    """
    import tensorflow as tf

    from rnn_apps.errors import graph_error

    f = _facts(model)
    lookback, t = f["lookback"], len(f["targets"])
    if not isinstance(inputs, dict):
        inputs = {"window": inputs}
    inputs = dict(inputs)
    windows = np.asarray(inputs["window"], dtype="float32")
    shape = (lookback,) + ((t,) if t > 1 else ())
    if windows.shape[1:] != shape:
        names = "(batch, lookback" + (", targets)" if t > 1 else ")")
        raise UserInputError(
            f"windows must have shape {(-1, *shape)} = {names}, got {windows.shape}; "
            "left-pad a shorter series with NaN."
        )
    inputs["window"] = windows
    outs = []
    try:
        for i in range(0, max(len(windows), 1), batch_size):
            chunk = {k: v[i : i + batch_size] for k, v in inputs.items()}
            outs.append(model.run("serving_default", **chunk))
    except tf.errors.InvalidArgumentError as err:
        raise UserInputError(f"cannot forecast from these windows: {graph_error(err)}") from None
    return {k: np.concatenate([o[k] for o in outs], axis=0) for k in outs[0]}


def origin_rows(panel: Any, horizon: int, cut: int) -> list[tuple[int, int, np.ndarray]]:
    """The forecasts of one origin, `cut` steps before each series' end: `(series, n,
    actuals)` with `n` the steps before the origin and the next `horizon` actuals, for the
    series long enough, with an observed step before the origin and all `horizon` actuals
    observed (of every target: a series is in with all its targets or not at all)."""
    rows = []
    for i, v in enumerate(panel.values):
        if len(v) <= cut:
            continue
        n = len(v) - cut
        history, future = v[:n], v[n : n + horizon]
        if np.isfinite(history).any() and np.isfinite(future).all():
            rows.append((i, n, future))
    t = panel.num_targets
    if t > 1:
        complete = {s for s in {i // t for i, _, _ in rows}
                    if sum(i // t == s for i, _, _ in rows) == t}  # fmt: skip
        rows = [r for r in rows if r[0] // t in complete]
    return rows


def _backtest(
    model: Any, panel: Any, windows: int, step: int | None
) -> tuple[list[tuple[int, int, np.ndarray]], dict[str, np.ndarray]]:
    """`origin_rows` of every origin of a rolling backtest of `panel` (latest last) and the
    export's outputs for them (see `backtest`)."""
    h = _facts(model)["horizon"]
    step = h if step is None else int(step)
    if int(windows) < 1 or step < 1:
        raise UserInputError(f"backtest windows ({windows}) and step ({step}) must be >= 1.")
    rows = [
        row for k in range(int(windows) - 1, -1, -1) for row in origin_rows(panel, h, h + step * k)
    ]
    if not rows:
        raise UserInputError(
            f"no series is longer than the horizon ({h}) plus the backtest span: give longer "
            "series or fewer windows."
        )
    return rows, forecast_rows(model, panel, [(i, n) for i, n, _ in rows])


def backtest(model: Any, data: Any, *, windows: int = 1, step: int | None = None) -> pd.DataFrame:
    """Rolling-origin forecasts without refitting, as neuralforecast's `cross_validation`:
    for each of `windows` cutoffs (`step` steps apart, default the horizon; the last one
    `horizon` steps before each series' end) the model forecasts the next `horizon` steps from
    the history up to the cutoff.

    Returns:
        A long DataFrame: `unique_id` (and `target`, the target's column, for a model of
        several), `cutoff` (the last time seen), `ds`, `y`, `forecast`,
        `q<level>` per quantile, `lower_<p>` / `upper_<p>`; series without history before a
        cutoff, or without a fully observed horizon after it, are left out of that cutoff.

    Raises:
        UserInputError: `windows` or `step` not positive, or no series long enough.
    """
    panel = read(model, data)
    return _backtest_frame(model, panel, *_backtest(model, panel, windows, step))


def _backtest_frame(
    model: Any, panel: Any, rows: list[tuple[int, int, np.ndarray]], out: dict[str, np.ndarray]
) -> pd.DataFrame:
    f = _facts(model)
    frames = []
    for k, (i, n, future) in enumerate(rows):
        cols = {
            **_entry_columns(panel, i),
            "cutoff": panel.time_of(i, n - 1),
            "ds": panel.future_times(i, f["horizon"], after=n),
            "y": future,
            **_output_columns(out, k, f),
        }
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def _entry_columns(panel: Any, i: int) -> dict[str, str]:
    """`unique_id` of entry `i`, and its `target` when the panel has several."""
    cols = {"unique_id": panel.ids[i]}
    if panel.targets:
        cols["target"] = panel.targets[i % panel.num_targets]
    return cols


def _output_columns(out: dict[str, np.ndarray], k: int, f: dict[str, Any]) -> dict[str, Any]:
    """Window `k`'s outputs as columns: `forecast`, `q<level>` per quantile, `lower_<p>` /
    `upper_<p>` per interval level, each (H,)."""
    cols = {"forecast": out["forecast"][k]}
    for j, q in enumerate(f["quantiles"]):
        cols[f"q{q:g}"] = out["quantiles"][k, :, j]
    for p in f["levels"]:
        cols[f"lower_{p}"] = out[f"lower_{p}"][k]
        cols[f"upper_{p}"] = out[f"upper_{p}"][k]
    return cols


def evaluate_panel(
    model: Any, data: Any, *, backtest: int = 1, step: int | None = None
) -> dict[str, Any]:
    """Scores the model on the last `horizon` steps of each series of `data` (M4's protocol
    when `data` is the training series followed by the test steps), and on `backtest - 1`
    earlier origins. Reported over every (series, origin): sMAPE, MASE (in-sample seasonal
    naive scale), OWA against Naive2, MAE and MSE in real units (dominated by the largest
    series), per interval level MSIS and coverage, the mean pinball loss of the quantiles
    (divided by the MASE scale), with Naive2 and seasonal naive forecast from the same
    histories. With several targets every (series, target) is scored on its own scale, and
    `by_target` reports each target's sMAPE, MASE and OWA.
    """
    f = _facts(model)
    h, m = f["horizon"], f["season"]
    panel = read(model, data)
    rows, out = _backtest(model, panel, backtest, step)
    ours = {"smape": [], "mase": [], "pinball": [], "mae": [], "mse": []}
    base = {b: {"smape": [], "mase": []} for b in ("naive2", "seasonal_naive")}
    intervals = {p: {"msis": [], "coverage": []} for p in f["levels"]}
    by_step = np.zeros(h)
    target_of = []
    for k, (i, n, y) in enumerate(rows):
        history = np.asarray(panel.values[i][:n], dtype="float64")
        history = history[np.isfinite(history)]
        scale = M.mase_scale(history, m) if len(history) > m else np.nan
        if not np.isfinite(scale) or scale == 0:
            scale = np.mean(np.abs(np.diff(history))) if len(history) > 1 else np.nan
        if not np.isfinite(scale) or scale == 0:
            continue  # a constant history: MASE is undefined
        fc = out["forecast"][k]
        target_of.append(i % panel.num_targets)
        ours["smape"].append(M.smape(y, fc))
        ours["mase"].append(float(np.mean(np.abs(y - fc)) / scale))
        ours["mae"].append(float(np.mean(np.abs(y - fc))))
        ours["mse"].append(float(np.mean((y - fc) ** 2)))
        by_step += np.abs(y - fc) / scale
        ours["pinball"].append(
            float(np.mean([M.pinball(y, out["quantiles"][k, :, j], q)
                           for j, q in enumerate(f["quantiles"])]))
            / scale
        )  # fmt: skip
        for name, fn in (("naive2", M.naive2), ("seasonal_naive", M.seasonal_naive)):
            b = fn(history, h, m)
            base[name]["smape"].append(M.smape(y, b))
            base[name]["mase"].append(float(np.mean(np.abs(y - b)) / scale))
        for p in f["levels"]:
            lo, hi = out[f"lower_{p}"][k], out[f"upper_{p}"][k]
            alpha = 1 - p / 100
            score = (hi - lo) + (2 / alpha) * ((lo - y) * (y < lo) + (y - hi) * (y > hi))
            intervals[p]["msis"].append(float(np.mean(score)) / scale)
            intervals[p]["coverage"].append(M.coverage(y, lo, hi))
    n = len(ours["smape"])
    if not n:
        raise UserInputError("no series could be scored (every history is constant).")

    def owa(s: dict) -> float:
        return M.owa(s["smape"], s["mase"], base["naive2"]["smape"], base["naive2"]["mase"])

    report: dict[str, Any] = {
        "num_series": len({panel.ids[i] for i, _, _ in rows}),
        "num_forecasts": n,
        "backtest_windows": int(backtest),
        "horizon": h,
        "smape": float(np.mean(ours["smape"])),
        "mase": float(np.mean(ours["mase"])),
        "owa": owa(ours),
        "mae": float(np.mean(ours["mae"])),
        "mse": float(np.mean(ours["mse"])),
        "scaled_pinball": float(np.mean(ours["pinball"])),
        "intervals": {
            str(p): {
                "msis": float(np.mean(v["msis"])),
                "coverage": float(np.mean(v["coverage"])),
                "nominal": p / 100,
            }
            for p, v in intervals.items()
        },
        "mase_by_step": (by_step / n).tolist(),
        "baselines": {
            k: {
                "smape": float(np.mean(v["smape"])),
                "mase": float(np.mean(v["mase"])),
                "owa": owa(v),
            }
            for k, v in base.items()
        },  # fmt: skip
    }
    if panel.targets:
        report["targets"] = list(panel.targets)
        report["by_target"] = {}
        for j, name in enumerate(panel.targets):
            pick = np.asarray(target_of) == j
            if pick.any():
                part = {k: list(np.asarray(ours[k])[pick]) for k in ("smape", "mase")}
                b2 = {k: list(np.asarray(base["naive2"][k])[pick]) for k in ("smape", "mase")}
                report["by_target"][name] = {
                    "smape": float(np.mean(part["smape"])),
                    "mase": float(np.mean(part["mase"])),
                    "owa": M.owa(part["smape"], part["mase"], b2["smape"], b2["mase"]),
                }
    return report


def predict_panel(model: Any, data: Any, future: Any = None) -> pd.DataFrame:
    """The `horizon` steps after each series of `data`: long DataFrame `unique_id` (and
    `target` for a model of several), `ds`, `forecast`, `q<level>` per quantile, `lower_<p>` /
    `upper_<p>`, real units. A model with
    future covariates needs `future`: a long frame or CSV of their values for those steps."""
    f = _facts(model)
    h = f["horizon"]
    if _user_future(model) and future is None:
        raise UserInputError(
            f"this model uses future covariates {_user_future(model)}: give their "
            f"values for the {h} steps after each series (future=..., --future FILE)."
        )
    panel = read(model, data, future=future)
    empty = [i for i, v in enumerate(panel.values) if not np.isfinite(v).any()]
    if empty:
        raise UserInputError(f"series {panel.label(empty[0])} has no observed value; drop it.")
    out = forecast_rows(model, panel, [(i, len(v)) for i, v in enumerate(panel.values)])
    frames = []
    for i in range(len(panel)):
        cols = {**_entry_columns(panel, i), "ds": panel.future_times(i, h),
                **_output_columns(out, i, f)}  # fmt: skip
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)


def plot_fan_chart(
    model: Any,
    data: Any,
    path: str | os.PathLike,
    *,
    series: list[str] | None = None,
    max_series: int = 4,
    history: int | None = None,
) -> Path:
    """PNG of a few series (default the first `max_series`): the last `history` steps
    (default 3 x horizon), the held-out last horizon, the median forecast of it and the
    calibrated interval bands, one panel per series (per target of each, for a model of
    several)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = _facts(model)
    h = f["horizon"]
    panel = read(model, data)
    rows, out = _backtest(model, panel, 1, None)
    ids = list(series or list(dict.fromkeys(panel.ids[i] for i, _, _ in rows))[:max_series])
    unknown = [s for s in ids if s not in panel.ids]
    if unknown:
        raise UserInputError(f"no series {unknown[0]!r} in the data.")
    shown = {i: k for k, (i, _, _) in enumerate(rows) if panel.ids[i] in ids}
    missing = [s for s in ids if s not in {panel.ids[i] for i in shown}]
    if missing:
        raise UserInputError(f"series {missing[0]!r} has no fully observed last horizon to plot.")
    panels = sorted(shown, key=lambda i: (ids.index(panel.ids[i]), i))
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.4 * len(panels)), squeeze=False)
    span = history or 3 * h
    for ax, i in zip(axes[:, 0], panels):
        k = shown[i]
        v = panel.values[i]
        past = v[max(0, len(v) - h - span) : len(v) - h]
        t0 = len(v) - h - len(past)
        ax.plot(np.arange(t0, len(v) - h), past, color="0.3", lw=1, label="history")
        t = np.arange(len(v) - h, len(v))
        for p, alpha in zip(sorted(f["levels"], reverse=True), (0.2, 0.35, 0.5)):
            ax.fill_between(t, out[f"lower_{p}"][k], out[f"upper_{p}"][k], color="C0",
                            alpha=alpha, lw=0, label=f"{p}% interval")  # fmt: skip
        ax.plot(t, out["forecast"][k], color="C0", lw=1.5, label="median forecast")
        ax.plot(t, rows[k][2], color="C3", lw=1, ls="--", label="actual")
        title = " · ".join(str(c) for c in _entry_columns(panel, i).values())
        ax.set_title(title, fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left", ncol=5)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_error_by_horizon(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """PNG of the MASE per horizon step of an `evaluate_panel` report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.asarray(report["mase_by_step"])
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(np.arange(1, len(steps) + 1), steps, color="C0", label="panel model")
    ax.axhline(report["mase"], color="0.5", lw=0.8, ls=":", label=f"mean {report['mase']:.3f}")
    ax.set_xlabel("steps ahead")
    ax.set_ylabel("MASE")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
