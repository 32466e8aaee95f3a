"""`rnn-apps panel ...`: forecasting many series with one model (the `panel` task's hooks).

    rnn-apps panel train --data long.csv|m4-hourly [--id-column unique_id] [--date-column ds]
        [--target y [z ...]] [--future-covariates promo price] [--static-covariates region]
        [--past-covariates temperature] [--calendar] [--series-embedding]
        [--lookback N] [--horizon N] [--season N] [--transform log] [--quantiles 0.1 0.5 0.9]
        [--level 80 95] [--epochs N] [--max-train-minutes M] --output-dir DIR
    rnn-apps panel evaluate --model DIR|SAVED_MODEL --data long.csv|m4-hourly [--backtest N]
        [--output-dir out/]
    rnn-apps panel predict --model DIR|SAVED_MODEL --data long.csv [--future future.csv]
        [--output-dir out/]
    rnn-apps panel export --model DIR [--output-dir X]

A CSV holds one row per (series, time): an id column, a time column (dates, or integer steps
when there are none) and the value column (or several, `--target a b`: forecasts then have a
`target` column). `train` holds out the last 2 x horizon steps of
every series (validation, then conformal calibration of the intervals). `evaluate` scores the
last horizon steps of each series (plus `--backtest N - 1` earlier origins) against Naive2
and seasonal naive; with `--output-dir` it writes `fan_chart.png` and `error_by_horizon.png`.
`--data m4-hourly` is the M4 hourly competition set (`--data-dir` or `$RNN_APPS_DATA_DIR`,
else a download): `train` its training series, `evaluate` the training series followed by the
test steps (the competition's scoring).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnn_apps.cli.verbs import TaskCLI, TrainData

_M4 = "m4-hourly"
_TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "--lookback": ("lookback", int),
    "--horizon": ("horizon", int),
    "--season": ("season", int),
    "--epochs": ("epochs", int),
    "--units": ("units", int),
    "--batch-size": ("batch_size", int),
    "--max-train-minutes": ("max_train_minutes", float),
    "--transform": ("transform", str),
    "--num-models": ("num_models", int),
}

#: `train`'s flags naming columns, covariates, quantiles and levels: `{flag: (config key,
#: argparse keywords, help)}`; given ones override the config key.
_COLUMN_FLAGS: dict[str, tuple[str, dict[str, Any], str]] = {
    "--id-column": ("id_column", {}, "series id column (unique_id)"),
    "--date-column": ("date_column", {}, "time column (ds)"),
    "--target": (
        "target", {"nargs": "+"},
        "value column (y), or several: one model forecasting each from all their histories",
    ),
    "--future-covariates": (
        "future_covariates", {"nargs": "+"},
        "numeric columns known ahead (for the history and the horizon)",
    ),
    "--static-covariates": (
        "static_covariates", {"nargs": "+"},
        "columns with one value per series (numbers or categories)",
    ),
    "--past-covariates": (
        "past_covariates", {"nargs": "+"},
        "numeric columns known only up to now (read over the window)",
    ),
    "--series-embedding": (
        "series_embedding", {"action": "store_true"},
        "give the network each series' id (a learned vector per series)",
    ),
    "--calendar": (
        "calendar", {"action": "store_true"},
        "add hour / weekday / month features derived from the timestamps",
    ),
    "--quantiles": (
        "quantiles", {"nargs": "+", "type": float},
        "quantile levels, increasing, with 0.5 (default 0.025 0.1 0.5 0.9 0.975)",
    ),
    "--level": (
        "levels", {"nargs": "+", "type": int},
        "calibrated interval levels in percent (default 80 95)",
    ),
}  # fmt: skip


def _data(args: argparse.Namespace, part: str) -> tuple[Any, str]:
    """`--data` as the panel task reads it: a CSV path, or M4 hourly's `part` (`train`, or
    `full` = train followed by test)."""
    if args.data != _M4:
        return args.data, Path(args.data).name
    import pandas as pd

    from rnn_apps.data.m4 import load_m4

    m4 = load_m4("Hourly", data_dir=getattr(args, "data_dir", None))
    if part == "train":
        return m4.train, "M4 hourly (train)"
    return pd.concat([m4.train, m4.test]), "M4 hourly (train + test)"


class CLI(TaskCLI):
    name = "panel"
    help = "forecasting many series with one model: quantiles, calibrated intervals (M4)"
    strategies = ("default", "mirrored")
    train_flags = _TRAIN_FLAGS
    flag_choices = {"--transform": ("none", "log")}

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        parser.add_argument(
            "--data",
            required=True,
            help="a CSV of long-format rows (id, time, value), or 'm4-hourly'",
        )
        if verb == "predict":
            parser.add_argument(
                "--future",
                default=None,
                help="CSV of the future covariates (id, time, covariates) of the horizon steps "
                "after each series (models trained with --future-covariates)",
            )
        if verb == "evaluate":
            parser.add_argument(
                "--backtest",
                type=int,
                default=1,
                help="origins scored (rolling, one horizon apart; default 1: the last horizon)",
            )

    def add_train_args(self, parser: argparse.ArgumentParser) -> None:
        super().add_train_args(parser)
        for flag, (key, kwargs, text) in _COLUMN_FLAGS.items():
            parser.add_argument(flag, dest=key, default=None, help=text, **kwargs)

    def config_overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        out = super().config_overrides(args)
        for key, _, _ in _COLUMN_FLAGS.values():
            if getattr(args, key, None) is not None:
                out[key] = getattr(args, key)
        if isinstance(out.get("target"), list) and len(out["target"]) == 1:
            out["target"] = out["target"][0]
        return out

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        data, source = _data(args, "train")
        test = _data(args, "full")[0] if args.data == _M4 else None
        return TrainData(data, None, test, source)

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        report: dict[str, Any] = {
            "num_series": task.num_series_,
            "num_short_series": task.num_short_series_,
            "calibration": task.calibration_,
        }
        if data.test is not None:
            from rnn_apps.tasks.panel import inference

            report["test"] = task.evaluate(data.test)
            task.plot_fan_chart(data.test, out / "fan_chart.png")
            inference.plot_error_by_horizon(report["test"], out / "error_by_horizon.png")
        return report

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.panel import inference

        data, source = _data(args, "full")
        report = inference.evaluate_panel(model, data, backtest=args.backtest)
        if out is not None:
            inference.plot_fan_chart(model, data, out / "fan_chart.png")
            inference.plot_error_by_horizon(report, out / "error_by_horizon.png")
        split = "test" if args.data == _M4 else "last horizon of each series"
        return {"data": source, "split": split, "metrics": report}

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.panel import inference

        pred = inference.predict_panel(model, _data(args, "train")[0], future=args.future)
        if args.output_dir:
            out = Path(args.output_dir)
            out.mkdir(parents=True, exist_ok=True)
            pred.to_csv(out / "forecast.csv", index=False)
            return f"Wrote {out / 'forecast.csv'} ({pred['unique_id'].nunique()} series)"
        if getattr(args, "json", False):
            return {
                "columns": list(pred.columns),
                "rows": pred.astype({"ds": str}).to_numpy().tolist(),
            }
        return pred.to_csv(index=False)

    def summary(self, report: dict[str, Any]) -> list[str]:
        m = report.get("test") or report.get("metrics")
        if not m:
            return []
        line = (
            f"{m['num_series']} series: sMAPE {m['smape']:.3f}, MASE {m['mase']:.3f}, "
            f"OWA {m['owa']:.3f} (Naive2 1.000, seasonal naive "
            f"{m['baselines']['seasonal_naive']['owa']:.3f})"
        )
        for p, v in m["intervals"].items():
            line += f"; {p}%: coverage {100 * v['coverage']:.1f}%, MSIS {v['msis']:.2f}"
        return [line]
