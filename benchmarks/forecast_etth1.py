"""ETTh1 long-horizon forecasting benchmark: SegRNN vs. baselines, horizons 96/192/336/720.

Standard protocol (see `rnn_apps.data.etth1`): train 8,640 rows / val 2,880 / test 2,880, val
and test windows look back into the previous split, every column scaled with the train
mean/std; MSE and MAE on the scaled data over **every** test window (2,880 - H + 1 of them).

Multivariate (all 7 columns in, all 7 forecast) and univariate (OT in, OT forecast). Baselines
in the same run and on the same windows: repeat-last, seasonal naive (24) and DLinear (its
paper's recipe, same lookback). The H = 96 multivariate model is exported to
``saved_models/forecast_etth1`` with a model card.

Run (serialised on the shared machine):

    python benchmarks/forecast_etth1.py --data-dir ../shared/datasets

Writes ``benchmarks/results/forecast_etth1.json`` (rewritten after every horizon).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

#: Path options of the command line, as the recorded command shows a path outside the checkout.
PATH_OPTIONS = {"--export-dir": "<dir>", "--save-dir": "<dir>", "--output": "<file>"}
PUBLISHED = {
    "segrnn_L720": {"96": 0.351, "192": 0.392, "336": 0.423, "720": 0.466},
    "patchtst": {"96": 0.370, "192": 0.413, "336": 0.422, "720": 0.447},
    "dlinear_L336": {"96": 0.375, "192": 0.405, "336": 0.439, "720": 0.472},
    "gru_96": 1.135,
    "repeat_last_96": 1.295,
}
TEAM_GOAL = {"96": 0.350, "192": 0.390, "336": 0.420, "720": 0.440}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="folder with ETTh1.csv (or $RNN_APPS_DATA_DIR)")
    p.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    p.add_argument("--lookback", type=int, default=720)
    p.add_argument("--seg-len", type=int, default=48)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--loss", default="mae")
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument("--uni-epochs", type=int, default=6)
    p.add_argument("--uni-batch-size", type=int, default=128)
    p.add_argument("--dlinear-epochs", type=int, default=10)
    p.add_argument("--dlinear-batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deadline", default=None, help="HH:MM UTC: skip runs not started by then")
    p.add_argument("--no-univariate", action="store_true")
    p.add_argument("--export-dir", default=str(ROOT / "saved_models" / "forecast_etth1"))
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--save-dir", default=None, help="also save each multivariate model here")
    p.add_argument("--output", default=str(result_path("forecast_etth1")))
    p.add_argument("--verbose", type=int, default=2)
    return p.parse_args(argv)


def fit_dlinear_baseline(train: Any, validation: Any, config: Any, **overrides: Any) -> Any:
    """The DLinear baseline with the recipe of its paper (Adam 5e-3 halved every epoch, batch
    32, MSE, early stopping patience 3, at most 10 epochs), same windows and scaling as
    `config` (a `ForecastConfig`); returns the fitted `Forecaster`."""
    from rnn_apps.tasks.forecast import Forecaster

    params = {
        "architecture": "dlinear",
        "learning_rate": 5e-3,
        "batch_size": 32,
        "loss": "mse",
        "epochs": 10,
        "patience": 3,
        "clipnorm": None,
        "lr_decay": 0.5,
    }
    params.update(overrides)
    return Forecaster(config.replace(**params)).fit(train, validation)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rnn_apps.data.etth1 import ETTH1_COLUMNS, load_etth1, split_etth1
    from rnn_apps.tasks.forecast import ForecastConfig, Forecaster

    wall0 = time.perf_counter()
    df = load_etth1(args.data_dir)
    train, val, test = split_etth1(df, args.lookback)
    cfg_m = ForecastConfig(
        lookback=args.lookback,
        horizon=args.horizons[0],
        targets=list(ETTH1_COLUMNS),
        architecture="segrnn",
        seg_len=args.seg_len,
        d_model=args.d_model,
        dropout=args.dropout,
        channel_independent=True,
        loss=args.loss,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
        verbose=args.verbose,
    )
    cfg_u = cfg_m.replace(
        targets=["OT"], epochs=args.uni_epochs, batch_size=args.uni_batch_size, verbose=0
    )
    out_path = Path(args.output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    command = recorded_command(
        "forecast_etth1.py", sys.argv[1:] if argv is None else argv, path_options=PATH_OPTIONS
    )

    def empty(kind: str) -> dict:
        return {
            "kind": kind,
            "mse": {},
            "mae": {},
            "baselines": {
                name: {"mse": {}, "mae": {}}
                for name in ("repeat_last", "seasonal_naive_24", "dlinear")
            },
            "beats_all_baselines": {},
            "losses_to_baselines": [],
            "epochs_run": {},
            "train_seconds": {},
        }

    result = {
        "benchmark": "ETTh1 long-horizon forecasting (standard 12/4/4-month split)",
        "model": "segrnn",
        "lookback": args.lookback,
        "horizons": args.horizons,
        "metric_space": "scaled (train mean/std per column), every test window",
        "num_test_windows": {},
        "config": dataclasses.asdict(cfg_m),
        "univariate_config": dataclasses.asdict(cfg_u),
        "baseline_recipes": {
            "repeat_last": "the last observed value of each channel, repeated H times",
            "seasonal_naive_24": "y[t + h] = y[t + h - 24 * ceil(h / 24)] (last full day)",
            "dlinear": "DLinear (moving-average 25 trend + remainder, one L->H Dense each, "
            f"shared by channels), Adam 5e-3 halved every epoch, batch {args.dlinear_batch_size}, "
            f"MSE, <= {args.dlinear_epochs} epochs, "
            "early stopping patience 3 on val; same lookback and windows",
        },
        "published_reference_mse": PUBLISHED,
        "team_goal_mse": TEAM_GOAL,
        "command": command,
        "provenance": provenance(),
    }
    multi, uni = empty("multivariate: 7 columns in, 7 forecast"), empty("univariate: OT only")
    result.update({k: multi[k] for k in ("mse", "mae", "baselines")})
    result["multivariate"] = multi
    result["univariate"] = uni
    train_seconds = {"segrnn": {}, "dlinear": {}, "univariate_segrnn": {}, "univariate_dlinear": {}}
    result["train_seconds"] = train_seconds

    def record(block: dict, h: int, fc: Forecaster, dl: Forecaster) -> None:
        key = str(h)
        rep = fc.evaluate(test)
        dl_rep = dl.evaluate(test, baselines=False)
        assert rep["num_windows"] == len(test) - args.lookback - h + 1 == 2880 - h + 1
        result["num_test_windows"][key] = rep["num_windows"]
        block["mse"][key], block["mae"][key] = rep["mse"], rep["mae"]
        bl = block["baselines"]
        for src, name in (("repeat_last", "repeat_last"), ("seasonal_naive", "seasonal_naive_24")):
            bl[name]["mse"][key] = rep["baselines"][src]["mse"]
            bl[name]["mae"][key] = rep["baselines"][src]["mae"]
        bl["dlinear"]["mse"][key], bl["dlinear"]["mae"][key] = dl_rep["mse"], dl_rep["mae"]
        worse = [n for n in bl if bl[n]["mse"][key] <= rep["mse"]]
        block["beats_all_baselines"][key] = not worse
        for n in worse:
            msg = (
                f"SegRNN ({block['kind'].split(':')[0]}) LOSES to {n} at H={h}: "
                f"MSE {rep['mse']:.4f} vs {bl[n]['mse'][key]:.4f}"
            )
            block["losses_to_baselines"].append(msg)
            print("WARNING:", msg, flush=True)
        history = fc.history_["model"]
        block["epochs_run"][key] = len(history.get("loss", []))
        block.setdefault("best_val_loss", {})[key] = min(history.get("val_loss", [0.0]))
        block.setdefault("mse_real_units", {})[key] = rep["mse_real"]
        print(
            f"[{block['kind'].split(':')[0]} H={h}] segrnn mse {rep['mse']:.4f} mae "
            f"{rep['mae']:.4f} | dlinear {dl_rep['mse']:.4f} | repeat-last "
            f"{rep['baselines']['repeat_last']['mse']:.4f} | seasonal "
            f"{rep['baselines']['seasonal_naive']['mse']:.4f} | windows {rep['num_windows']} | "
            f"{fc.train_seconds_:.0f}s",
            flush=True,
        )

    def save() -> None:
        m96 = multi["mse"].get("96")
        result["targets_met"] = {
            "mse_96_le_0.40": None if m96 is None else m96 <= 0.40,
            "below_every_baseline_at_every_horizon": all(multi["beats_all_baselines"].values())
            and len(multi["beats_all_baselines"]) == len(args.horizons),
            "team_goal": {k: v <= TEAM_GOAL[k] for k, v in multi["mse"].items() if k in TEAM_GOAL},
        }
        totals = [s for d in train_seconds.values() for s in d.values()]
        result["train_seconds_total"] = sum(totals)
        result["wall_seconds"] = time.perf_counter() - wall0
        result["peak_rss_mb"] = peak_rss_mb()
        write_result(out_path, result, ensure_ascii=True)

    dl_kw = {"epochs": args.dlinear_epochs, "batch_size": args.dlinear_batch_size}

    def out_of_time(what: str) -> bool:
        if args.deadline is None:
            return False
        now = time.strftime("%H:%M", time.gmtime())
        if now < args.deadline:
            return False
        result.setdefault("skipped_for_deadline", []).append(what)
        print(f"deadline {args.deadline} UTC passed: skipping {what}", flush=True)
        return True

    # multivariate first (the headline numbers), then univariate
    for h in args.horizons:
        if out_of_time(f"multivariate H={h}"):
            continue
        cfg = cfg_m.replace(horizon=h)
        fc = Forecaster(cfg).fit(train, val)
        train_seconds["segrnn"][str(h)] = fc.train_seconds_
        dl = fit_dlinear_baseline(train, val, cfg, **dl_kw)
        train_seconds["dlinear"][str(h)] = dl.train_seconds_
        record(multi, h, fc, dl)
        save()
        if args.save_dir:
            fc.save(Path(args.save_dir) / f"multivariate_h{h}")
        if h == 96 and not args.no_export:
            export_h96(fc, test, args, result, command)
        del fc, dl
    for h in args.horizons:
        if not args.no_univariate and not out_of_time(f"univariate H={h}"):
            cfg = cfg_u.replace(horizon=h)
            fc = Forecaster(cfg).fit(train, val)
            train_seconds["univariate_segrnn"][str(h)] = fc.train_seconds_
            dl = fit_dlinear_baseline(train, val, cfg, **dl_kw)
            train_seconds["univariate_dlinear"][str(h)] = dl.train_seconds_
            record(uni, h, fc, dl)
            save()
    save()
    print(json.dumps({k: result[k] for k in ("mse", "mae", "targets_met")}, indent=2))
    print(
        f"wrote {out_path} ({result['wall_seconds']:.0f}s, peak RSS {result['peak_rss_mb']:.0f} MB)"
    )
    return 0


def export_h96(fc, test, args, result, command) -> None:
    """Exports the H = 96 multivariate model, its plots and the model card."""
    metrics = {
        "test_mse_scaled": result["mse"]["96"],
        "test_mae_scaled": result["mae"]["96"],
        "num_test_windows": result["num_test_windows"]["96"],
        "baselines_mse_scaled": {n: b["mse"]["96"] for n, b in result["baselines"].items()},
    }
    report = fc.export(
        args.export_dir,
        metadata={"dataset": "ETTh1", "metrics": metrics, "command": command},
    )
    res_dir = Path(args.output).parent
    fc.plot_forecast(test, res_dir / "forecast_etth1_h96_window.png", window=-1, column="OT")
    fc.plot_error_by_horizon(test, res_dir / "forecast_etth1_h96_error_by_step.png")
    write_model_card(Path(args.export_dir), fc, metrics, command, report.summary)
    print(f"exported {args.export_dir} (verified, max abs diff {report.max_abs_diff})", flush=True)


def write_model_card(path: Path, fc, metrics: dict, command: str, summary: str) -> None:
    cfg, pre = fc.config, fc.preprocessor_
    rows = "\n".join(
        f"| {c} | {m:.4f} | {s:.4f} |" for c, m, s in zip(pre.columns, pre.mean, pre.std)
    )
    base = "\n".join(f"| {n} | {v:.4f} |" for n, v in metrics["baselines_mse_scaled"].items())
    text = f"""# forecast_etth1: SegRNN, ETTh1 multivariate, L = {cfg.lookback}, H = {cfg.horizon}

A TensorFlow SavedModel that forecasts the next {cfg.horizon} hours of all 7 ETTh1 columns
from the previous {cfg.lookback} hours. Written and verified (reloaded in a clean process without
rnn_apps, outputs compared) by `rnn_apps.export`.

## Signature

`serving_default`: `window` float32 `[batch, {cfg.lookback}, 7]` (real units, columns in the
order below, oldest hour first) -> `forecast` float32 `[batch, {cfg.horizon}, 7]` (real units,
same columns, hour t+1 first). The input shape is fixed in the signature: a window with another
number of hours or columns is refused; NaN, inf or absurdly large values (such as 3e38) in a
window raise `InvalidArgumentError`; an empty batch gives an empty forecast.

```python
import tensorflow as tf
serve = tf.saved_model.load("saved_models/forecast_etth1").signatures["serving_default"]
forecast = serve(window=tf.constant(window_float32))["forecast"]  # (B, {cfg.horizon}, 7)
```

## Columns and scaling

Scaling lives inside the graph: `(window - mean) / std`, model, then `* std + mean`
(`keras.layers.Normalization` and its inverse), with mean/std adapted on the training rows only
(first 8,640 hours).

| column | mean | std |
| --- | --- | --- |
{rows}

## Model

SegRNN (Lin et al., 2023), channel independent: each window minus its last value, cut into
{cfg.lookback // cfg.seg_len} segments of {cfg.seg_len} hours, each embedded (Dense {cfg.d_model},
ReLU) and fed to a GRU({cfg.d_model}); parallel decoding: one GRU step per output segment from
the encoder state with position + channel embeddings, Dense({cfg.seg_len}) per segment, the last
value added back. Trained with {cfg.loss.upper()} loss, Adam {cfg.learning_rate:g},
batch {cfg.batch_size} windows (x 7 channels), dropout {cfg.dropout}, at most {cfg.epochs} epochs
with early stopping on the validation loss (patience {cfg.patience}, best weights restored).

## Metrics (test split, every one of the {metrics["num_test_windows"]} windows, scaled units)

| model | MSE | MAE |
| --- | --- | --- |
| this model | {metrics["test_mse_scaled"]:.4f} | {metrics["test_mae_scaled"]:.4f} |

Baselines on the same windows (MSE):

| baseline | MSE |
| --- | --- |
{base}

Other horizons and the univariate (OT) results: `benchmarks/results/forecast_etth1.json`.

## Data and protocol

ETTh1 (`https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv`,
CC BY-ND 4.0): train = first 12 months (8,640 rows), validation = next 4 (2,880), test = next 4
(2,880); validation/test windows look back into the preceding split.

## Reproduce

```
{command}
```

## Signature summary

```
{summary}
```
"""
    (path / "MODEL_CARD.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
