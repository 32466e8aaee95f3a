"""M4 hourly benchmark: one global recurrent model for the 414 series vs the statistical
models a forecaster would otherwise fit, in the same run on the same series.

Protocol (the competition's): fit on each series' training part, forecast the next 48 hours,
score the 48 test hours. sMAPE, MASE (in-sample seasonal-naive scale, m = 24), OWA (relative to
Naive2), and for 95% intervals MSIS (alpha = 0.05) and coverage; the same for 80% intervals.

Models, each scored on every series:

- `panel_conformal`: `rnn_apps.tasks.panel.PanelForecaster` (trained within
  `--max-train-minutes`), median forecast, quantile intervals widened by split-conformal
  offsets calibrated on each series' last 48 training hours;
- `panel_quantiles`: the same network's raw quantile intervals (2.5/97.5%, 10/90%);
- Naive2 and seasonal naive (M4's benchmarks, `rnn_apps.tasks.forecast.metrics`);
- statsforecast's `AutoETS`, `AutoTheta`, `AutoARIMA` (season 24; the `[bench]` extra) with
  their own 80% / 95% intervals (`--baselines` picks them). AutoARIMA fits with
  `approximation=True`, as R's `auto.arima` does for a seasonal period above 12 (the exact
  likelihood in its stepwise search costs about 40 s per series per core here).

Writes `benchmarks/results/forecast_m4_hourly.json` (scores, seconds, series per second at
prediction through the SavedModel) and `forecast_m4_hourly_fan_chart.png` beside it; with
`--export-dir`, the model is exported there with a
`MODEL_CARD.md` (the committed `saved_models/forecast_m4_hourly`).

    python benchmarks/forecast_m4_hourly.py --data-dir ../shared/datasets \
        [--export-dir saved_models/forecast_m4_hourly]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    dir_size_mb,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

STATS_MODELS = ("AutoETS", "AutoTheta", "AutoARIMA")
#: The fan chart README shows, written beside the JSON: four series, through the SavedModel.
FAN_CHART = "forecast_m4_hourly_fan_chart.png"
FAN_SERIES = ["H1", "H150", "H250", "H400"]
LEVELS = (80, 95)
#: Published M4 hourly figures (the organisers' table; the mirror's README).
PUBLISHED = {
    "es_rnn_smyl": {"smape": 9.328, "mase": 0.893, "owa": 0.440, "msis_95": 7.9},
    "best_submission": {"smape": 8.913, "mase": 0.801, "owa": 0.410},
    "naive2": {"smape": 18.383, "mase": 2.395, "owa": 1.0},
}


def score(
    actual: dict[str, np.ndarray],
    insample: dict[str, np.ndarray],
    forecast: dict[str, np.ndarray],
    intervals: dict[int, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
    naive2: dict[str, np.ndarray],
    season: int,
) -> dict[str, Any]:
    """sMAPE, MASE, OWA and per level MSIS and coverage of one method over every series."""
    from rnn_apps.tasks.forecast import metrics as M

    ids = list(actual)
    sm = [M.smape(actual[k], forecast[k]) for k in ids]
    ma = [M.mase(actual[k], forecast[k], insample[k], season) for k in ids]
    out: dict[str, Any] = {
        "smape": float(np.mean(sm)),
        "mase": float(np.mean(ma)),
        "owa": M.owa(
            sm, ma,
            [M.smape(actual[k], naive2[k]) for k in ids],
            [M.mase(actual[k], naive2[k], insample[k], season) for k in ids],
        ),
    }  # fmt: skip
    for level, (lo, hi) in intervals.items():
        alpha = 1 - level / 100
        out[f"msis_{level}"] = float(
            np.mean([M.msis(actual[k], lo[k], hi[k], insample[k], season, alpha) for k in ids])
        )
        out[f"coverage_{level}"] = float(
            np.mean([M.coverage(actual[k], lo[k], hi[k]) for k in ids])
        )
    return {k: round(v, 4) for k, v in out.items()}


def statsforecast_baselines(
    train, horizon: int, season: int, names: list[str], n_jobs: int
) -> dict[str, dict]:
    """Point forecasts and 80/95% intervals of statsforecast's models, with seconds each."""
    import statsforecast
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    out = {}
    for name in names:
        kwargs = {"approximation": True} if name == "AutoARIMA" else {}
        model = getattr(sf_models, name)(season_length=season, **kwargs)
        sf = StatsForecast(models=[model], freq=1, n_jobs=n_jobs)
        start = time.monotonic()
        with warnings.catch_warnings():  # AutoARIMA's "possible convergence problem", per fit
            warnings.simplefilter("ignore", UserWarning)
            fc = sf.forecast(df=train, h=horizon, level=list(LEVELS))
        seconds = time.monotonic() - start
        col = str(model)
        groups = {k: g for k, g in fc.groupby("unique_id", sort=False)}
        out[name] = {
            "forecast": {k: g[col].to_numpy() for k, g in groups.items()},
            "intervals": {
                p: (
                    {k: g[f"{col}-lo-{p}"].to_numpy() for k, g in groups.items()},
                    {k: g[f"{col}-hi-{p}"].to_numpy() for k, g in groups.items()},
                )
                for p in LEVELS
            },
            "seconds": round(seconds, 1),
            "version": statsforecast.__version__,
        }
        print(f"{name}: {seconds:.0f} s", flush=True)
    return out


def write_model_card(export_dir: Path, result: dict[str, Any]) -> None:
    """`MODEL_CARD.md` of the exported model: data, model, the scores of this run."""
    m = result["models"]
    cfg = result["config"]
    rows = [
        "| model (all 414 series) | sMAPE | MASE | OWA | MSIS 95% | coverage 95% | coverage 80% |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, e in m.items():
        cells = [f"{e[k]:.3f}" for k in ("smape", "mase", "owa")]
        cells += [
            f"{e[k]:.3f}" if k in e else "-" for k in ("msis_95", "coverage_95", "coverage_80")
        ]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    lines = [
        "# forecast_m4_hourly",
        "",
        "One global recurrent forecaster for the 414 hourly series of the M4 competition "
        "(`rnn_apps.tasks.panel.PanelForecaster`, task `panel`).",
        "",
        "- **Input** `window`: float32 `[batch, "
        f"{cfg['lookback']}]`, the last {cfg['lookback']} hourly values of a series in its own "
        "units (NaN = not observed; left-pad a shorter series with NaN).",
        f"- **Outputs** (real units): `forecast` `[batch, {cfg['horizon']}]` (the median), "
        f"`quantiles` `[batch, {cfg['horizon']}, {len(cfg['quantiles'])}]` (levels "
        f"{cfg['quantiles']}), `lower_80`/`upper_80`, `lower_95`/`upper_95`.",
        "- **Streaming**: signatures `initial_state` (`window` -> `state` and the outputs) and "
        "`step` (`observation` `[batch]` (NaN = not observed), `state` `[batch, "
        f"{cfg['lookback']}]` -> the new `state` and the outputs): the state is the last "
        f"{cfg['lookback']} values of each series, and each step gives what `serving_default` "
        "gives for that window.",
        "- **Model**: each window scaled by its own level and spread inside the graph"
        + (" (of the logarithm)" if cfg["transform"] == "log" else "")
        + f"; the average of {cfg['num_models']} networks, each a "
        f"{cfg['num_layers']}-layer {cfg['cell'].upper()} ({cfg['units']} units) over "
        f"{cfg['seg_len']}-hour segments; non-crossing quantiles trained with the pinball loss; "
        "intervals calibrated by split conformal on the last 48 training hours of every series.",
        f"- **Training**: M4 hourly training series, {result['train_seconds']:.0f} s on "
        f"{result['versions']['cpu_count']} CPU cores.",
        f"- **Command**: `{result['command']}`",
        "",
        "## Test scores (the competition's 48 test hours of every series, same run)",
        "",
        *rows,
        "",
        "Published: ES-RNN (the M4 winner) OWA 0.440, MSIS 7.9; best hourly submission OWA "
        "0.410. Data: M4 (Makridakis et al., IJF 2020), research use.",
    ]
    (export_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("RNN_APPS_DATA_DIR"))
    p.add_argument("--lookback", type=int, default=336)
    p.add_argument("--transform", default="log", choices=("log", "none"))
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--num-models", type=int, default=3)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--steps-per-epoch", type=int, default=400)
    p.add_argument("--max-train-minutes", type=float, default=25.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baselines", nargs="*", default=list(STATS_MODELS), choices=STATS_MODELS)
    p.add_argument("--n-jobs", type=int, default=2, help="statsforecast processes")
    p.add_argument("--max-series", type=int, default=None, help="the first N series (a smoke run)")
    p.add_argument("--export-dir", default=None)
    p.add_argument("--output", default=str(result_path("forecast_m4_hourly")))
    args = p.parse_args(argv)
    start = time.monotonic()

    import pandas as pd

    from rnn_apps.data.m4 import load_m4
    from rnn_apps.tasks.forecast import metrics as M
    from rnn_apps.tasks.panel import PanelConfig, PanelForecaster, backtest
    from rnn_apps.tasks.panel.inference import plot_fan_chart
    from rnn_apps.tasks.predictor import SavedModelPredictor

    m4 = load_m4("Hourly", data_dir=args.data_dir)
    if args.max_series:
        keep = m4.train["unique_id"].unique()[: args.max_series]
        m4 = dataclasses.replace(
            m4,
            train=m4.train[m4.train["unique_id"].isin(keep)],
            test=m4.test[m4.test["unique_id"].isin(keep)],
        )
    h, season = m4.horizon, m4.season
    insample, actual = m4.series("train"), m4.series("test")
    ids = list(insample)
    naive2 = {k: M.naive2(insample[k], h, season) for k in ids}
    result: dict[str, Any] = {
        "benchmark": "forecast_m4_hourly",
        "command": recorded_command(
            "forecast_m4_hourly.py",
            sys.argv[1:] if argv is None else argv,
            path_options={"--export-dir": "<dir>"},
            drop_options=("--output",),
        ),  # fmt: skip
        "protocol": "M4 hourly: fit on the training part of each of the 414 series, forecast "
        "48 steps, score the test part (sMAPE, MASE m=24, OWA vs Naive2; MSIS and coverage of "
        "80% / 95% intervals)",
        "num_series": len(ids),
        "published": PUBLISHED,
        "versions": provenance(),
        "models": {},
    }
    models = result["models"]
    models["naive2"] = score(actual, insample, naive2, {}, naive2, season)
    snaive = {k: M.seasonal_naive(insample[k], h, season) for k in ids}
    models["seasonal_naive"] = score(actual, insample, snaive, {}, naive2, season)

    cfg = PanelConfig(
        lookback=args.lookback, horizon=h, season=season, transform=args.transform,
        units=args.units, d_model=args.units, num_layers=args.num_layers,
        num_models=args.num_models, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        max_train_minutes=args.max_train_minutes, seed=args.seed, levels=list(LEVELS), verbose=2,
    )  # fmt: skip
    print(f"panel model: {len(ids)} series, lookback {cfg.lookback}", flush=True)
    fc = PanelForecaster(cfg).fit(m4.train)
    result["config"] = cfg.to_dict()
    result["train_seconds"] = round(fc.train_seconds_, 1)
    result["epochs"] = {k: len(v["loss"]) for k, v in fc.history_.items()}
    result["calibration"] = fc.calibration_
    full = pd.concat([m4.train, m4.test], ignore_index=True)
    frame = backtest(fc, full, windows=1)
    groups = {k: g for k, g in frame.groupby("unique_id", sort=False)}

    def col(name: str) -> dict[str, np.ndarray]:
        return {k: groups[k][name].to_numpy() for k in ids}

    conformal = {p: (col(f"lower_{p}"), col(f"upper_{p}")) for p in LEVELS}
    raw = {p: (col(f"q{(100 - p) / 200:g}"), col(f"q{(100 + p) / 200:g}")) for p in LEVELS}
    models["panel_conformal"] = score(actual, insample, col("forecast"), conformal, naive2, season)
    models["panel_quantiles"] = score(actual, insample, col("forecast"), raw, naive2, season)
    models["panel_conformal"]["train_seconds"] = result["train_seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = Path(args.export_dir or Path(tmp) / "sm")
        fc.export(export_dir)
        predictor = SavedModelPredictor(export_dir)
        from rnn_apps.tasks.panel import predict_panel

        predict_panel(predictor, m4.train)  # warm up
        t0 = time.monotonic()
        predict_panel(predictor, m4.train)
        seconds = time.monotonic() - t0
        models["panel_conformal"]["series_per_second"] = round(len(ids) / seconds, 1)
        result["saved_model_mb"] = dir_size_mb(export_dir)
        shown = [k for k in FAN_SERIES if k in insample] or ids[:4]
        plot_fan_chart(predictor, full, Path(args.output).with_name(FAN_CHART), series=shown)
    write_result(args.output, result)  # what is done so far survives a kill

    for name in args.baselines:
        b = statsforecast_baselines(m4.train, h, season, [name], args.n_jobs)[name]
        models[name] = {
            **score(actual, insample, b["forecast"], b["intervals"], naive2, season),
            "fit_predict_seconds": b["seconds"],
        }
        result["statsforecast_version"] = b["version"]
        write_result(args.output, result)
    ours = models["panel_conformal"]
    stats = [models[n]["owa"] < ours["owa"] for n in args.baselines]
    result["targets"] = {
        "owa_le_0.440": ours["owa"] <= 0.440,
        "owa_below_every_statsforecast_baseline": bool(stats) and not any(stats),
        "msis_95_le_7.9": ours["msis_95"] <= 7.9,
        "coverage_95_within_2_points": abs(ours["coverage_95"] - 0.95) <= 0.02,
        "train_le_30_minutes": result["train_seconds"] <= 1800,
    }
    result["peak_rss_mb"] = peak_rss_mb()
    result["total_seconds"] = round(time.monotonic() - start, 1)
    write_result(args.output, result)
    if args.export_dir:
        write_model_card(Path(args.export_dir), result)
    for name, e in models.items():
        print(f"{name}: sMAPE {e['smape']:.3f} MASE {e['mase']:.3f} OWA {e['owa']:.3f}"
              + (f" MSIS95 {e['msis_95']:.2f} cov95 {e['coverage_95']:.3f}"
                 if "msis_95" in e else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
