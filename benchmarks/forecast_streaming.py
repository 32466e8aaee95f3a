"""ETTh1 streaming forecasts: an incremental LSTM (one cell update per observation) against
the windowed networks whose `step` re-reads the window.

Standard ETTh1 protocol (`rnn_apps.data.etth1`: train 8,640 rows / val 2,880 / test 2,880,
scaled with the train mean/std, MSE over every test window), horizon 96, all 7 columns in and
out. Trained and measured in the same run:

- `incremental_lstm`: `ForecastConfig(architecture="lstm", incremental=True)`, a
  `DifferenceRNN`; its SavedModel `step` updates a (1, S) state;
- `windowed_lstm`: the same LSTM with last-value centring over each window;
- `segrnn`: the shipped ETTh1 architecture and recipe (lookback 720);
- the baselines repeat-last and seasonal naive (24) on the same windows.

For the incremental LSTM the test MSE is given twice: from each test window alone
(`serving_default`, the state starting at the window) and as a deployed stream sees it (the
state carried from the first row of the series through every observation up to each test
forecast origin, `DifferenceRNN.forecasts`). The SavedModel's `step` is checked against that
backtest over the first `--check-steps` test rows, and one `step` (batch 1) is timed for each
model's SavedModel and its LiteRT and ONNX cores.

Run (serialised on the shared machine):

    python benchmarks/forecast_streaming.py --data-dir ../shared/datasets

Writes ``benchmarks/results/forecast_streaming.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    latency_summary,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

HORIZON = 96


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="folder with ETTh1.csv (or $RNN_APPS_DATA_DIR)")
    p.add_argument("--lookback", type=int, default=96, help="the LSTMs' training window")
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--segrnn-epochs", type=int, default=5, help="the shipped recipe: 5")
    p.add_argument("--check-steps", type=int, default=200, help="SavedModel steps checked")
    p.add_argument("--timed-steps", type=int, default=300, help="step calls timed per model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(result_path("forecast_streaming")))
    return p.parse_args(argv)


def time_steps(path: Path, window: Any, observations: Any) -> dict[str, float]:
    """p50/p99/mean ms of one `step` call (batch 1) of the SavedModel at `path`."""
    import tensorflow as tf

    sigs = tf.saved_model.load(str(path)).signatures
    state = sigs["initial_state"](window=tf.constant(window[None]))["state"]
    times = []
    for obs in observations:
        t0 = time.perf_counter()
        state = sigs["step"](observation=tf.constant(obs[None]), state=state)["state"]
        times.append((time.perf_counter() - t0) * 1e3)
    return latency_summary(times[10:])  # the first calls trace and warm caches


def time_portable_steps(fc: Any, work: Path, calls: int) -> dict[str, Any]:
    """p50/p99/mean ms of one `step` call (batch 1) of the LiteRT and ONNX cores (each
    verified against TensorFlow by `export`), on the task's sample step inputs."""
    import numpy as np

    from rnn_apps.runtime import PortableModel

    one = {k: np.asarray(v)[:1] for k, v in fc.sample_inputs()["step"].items()}
    out = {}
    for fmt in ("litert", "onnx"):
        report = fc.export(work / fmt, format=fmt)
        model = PortableModel(work / fmt, signature="step")
        model(**one)  # warm
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            model(**one)
            times.append((time.perf_counter() - t0) * 1e3)
        out[fmt] = {
            **latency_summary(times),
            "max_abs_diff_vs_tensorflow": max(
                (v for k, v in report.max_abs_diff.items() if k.startswith("step/")), default=0.0
            ),
        }
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    from rnn_apps.data.etth1 import ETTH1_COLUMNS, load_etth1, split_etth1
    from rnn_apps.tasks.base import open_model
    from rnn_apps.tasks.forecast import ForecastConfig, Forecaster

    wall0 = time.perf_counter()
    command = recorded_command(
        "forecast_streaming.py",
        sys.argv[1:] if argv is None else argv,
        path_options={"--output": "<file>"},
    )
    df = load_etth1(args.data_dir)
    columns = list(ETTH1_COLUMNS)
    lstm = ForecastConfig(
        lookback=args.lookback, horizon=HORIZON, targets=columns, architecture="lstm",
        units=args.units, num_layers=args.num_layers, loss="mse",
        learning_rate=args.learning_rate, batch_size=args.batch_size, epochs=args.epochs,
        patience=args.patience, seed=args.seed, verbose=2,
    )  # fmt: skip
    configs = {
        "incremental_lstm": lstm.replace(incremental=True),
        "windowed_lstm": lstm,
        "segrnn": ForecastConfig(
            lookback=720,
            horizon=HORIZON,
            targets=columns,
            architecture="segrnn",
            seg_len=48,
            d_model=128,
            dropout=0.5,
            loss="mae",
            learning_rate=2e-3,
            batch_size=256,
            epochs=args.segrnn_epochs,
            patience=2,
            seed=args.seed,
            verbose=2,
        ),  # fmt: skip
    }
    result: dict[str, Any] = {
        "benchmark": "ETTh1 streaming forecasts, H = 96, 7 columns in and out",
        "metric_space": "scaled (train mean/std per column), every test window",
        "command": command,
        "provenance": provenance(),
        "configs": {k: c.to_dict() for k, c in configs.items()},
        "models": {},
    }
    out = Path(args.output)
    work = Path(tempfile.mkdtemp(prefix="forecast_streaming-"))
    for name, cfg in configs.items():
        tf.keras.utils.set_random_seed(args.seed)
        train, val, test = split_etth1(df, cfg.lookback)
        fc = Forecaster(cfg).fit(train, val)
        rep = fc.evaluate(test)
        row: dict[str, Any] = {
            "mse": rep["mse"],
            "mae": rep["mae"],
            "num_test_windows": rep["num_windows"],
            "train_seconds": round(fc.train_seconds_, 1),
            "epochs": len(fc.history_["model"]["loss"]),
        }
        result.setdefault(
            "baselines",
            {k: {"mse": v["mse"], "mae": v["mae"]} for k, v in rep["baselines"].items()},
        )
        path = work / name
        fc.export(path)
        origin0 = df.index.get_loc(test.index[0]) + cfg.lookback - 1  # first forecast origin
        values = df[columns].to_numpy("float32")
        row["step_latency_ms"] = time_steps(
            path, values[origin0 + 1 - cfg.lookback : origin0 + 1],
            values[origin0 + 1 : origin0 + 1 + args.timed_steps],
        )  # fmt: skip
        row["portable_step_latency_ms"] = time_portable_steps(fc, work / f"{name}_cores", 300)
        if fc.network_.stream is not None:
            pre, layer = fc.preprocessor_, fc.network_.stream
            scaled = np.asarray(pre.normalize(values[None]))[0]  # (N, F)
            n_origins = rep["num_windows"]
            # Forecast after every row from the second on: (N - 1, H, T), scaled.
            backtest = np.asarray(layer.forecasts(scaled[None]))[0]
            origins = origin0 + np.arange(n_origins)
            truth = np.stack([scaled[o + 1 : o + 1 + HORIZON] for o in origins])
            row["stream_mse"] = float(np.mean((backtest[origins - 1] - truth) ** 2))
            row["stream_mae"] = float(np.mean(np.abs(backtest[origins - 1] - truth)))
            row["stream_starts_at_row"] = 0
            # The SavedModel stepping through the first test rows, against the backtest of a
            # stream that starts at the first test window.
            model = open_model(path)
            start = origin0 + 1 - cfg.lookback
            step = model.run("initial_state", window=values[None, start : origin0 + 1])
            seg = np.asarray(layer.forecasts(scaled[None, start:]))[0]  # after rows start+1..
            worst = 0.0
            for k in range(1, args.check_steps + 1):
                step = model.run("step", observation=values[None, origin0 + k], state=step["state"])
                want = np.asarray(pre.denormalize(seg[None, cfg.lookback - 2 + k]))[0]
                worst = max(worst, float(np.max(np.abs(step["forecast"][0] - want))))
            row["saved_model_step_vs_backtest_max_abs_diff_real_units"] = worst
            row["steps_checked"] = args.check_steps
            row["state_floats_per_stream"] = layer.state_size
        result["models"][name] = row
        print(name, {k: v for k, v in row.items() if "latency" not in k}, flush=True)
        write_result(out, result)
    inc = result["models"]["incremental_lstm"]
    result["ratios"] = {
        "incremental_window_mse_over_windowed_lstm": inc["mse"]
        / result["models"]["windowed_lstm"]["mse"],
        "incremental_stream_mse_over_windowed_lstm": inc["stream_mse"]
        / result["models"]["windowed_lstm"]["mse"],
        "incremental_stream_mse_over_segrnn": inc["stream_mse"] / result["models"]["segrnn"]["mse"],
        "windowed_lstm_step_p50_over_incremental": result["models"]["windowed_lstm"][
            "step_latency_ms"
        ]["p50_ms"]
        / inc["step_latency_ms"]["p50_ms"],
        "segrnn_step_p50_over_incremental": result["models"]["segrnn"]["step_latency_ms"]["p50_ms"]
        / inc["step_latency_ms"]["p50_ms"],
    }
    result["wall_seconds"] = round(time.perf_counter() - wall0, 1)
    result["peak_rss_mb"] = peak_rss_mb()
    write_result(out, result)
    print(result["ratios"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
