"""`rnn-apps forecast ...`: the forecasting task's hooks of the shared verbs.

    rnn-apps forecast train [--data etth1|series.csv|tfds:NAME] [--targets OT ...]
        [--covariates ...]
        [--lookback N] [--horizon N] [--architecture segrnn|lstm|gru|seq2seq|dlinear]
        [--incremental]
        [--epochs N] [--batch-size N] [--fill ffill|interpolate] [--date-format FMT]
        [--dayfirst] --output-dir DIR
    rnn-apps forecast evaluate --model DIR|SAVED_MODEL [--data etth1|series.csv] [--output-dir out/]
    rnn-apps forecast predict --model DIR|SAVED_MODEL --data recent.csv [--output-dir out/] [--plot]
    rnn-apps forecast export --model DIR [--output-dir X]

With `--data etth1` (the default of `train` and `evaluate`), `train` uses the standard ETTh1
split (train / validation / test), evaluates the test split with the naive baselines and
plots `forecast.png` and `error_by_horizon.png`; `evaluate` scores the test split (reported as
`test`). `evaluate` on a CSV scores every window of the file (reported as `all_windows`, since
the model may have been trained on some of its rows). A CSV needs
a date column (`date`, `datetime`, `timestamp`, `time` or `ds`) and numeric columns; `train`
then holds out its last rows for validation and reports on them.

`--data tfds:NAME` reads a prepared TensorFlow Datasets dataset (`--tfds-data-dir`, never a
download) as a table of its scalar features (a date feature and numeric ones, as a CSV):
`train` its `train` split, with its `validation` and `test` splits when it has them,
`evaluate` its `test` split (else `validation`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnn_apps.cli.verbs import (
    DeprecatedAlias,
    TaskCLI,
    TrainData,
    add_tfds_args,
    tfds_examples,
    tfds_train_data,
)
from rnn_apps.data.tfds import is_tfds_name
from rnn_apps.errors import UserInputError

_TRAIN_FLAGS = {
    "lookback": (int, "past steps a window sees (L)"),
    "horizon": (int, "future steps to forecast (H)"),
    "epochs": (int, "maximum epochs (early stopping on the validation loss)"),
    "batch_size": (int, "windows per training batch"),
}


def _read_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date_format": getattr(args, "date_format", None),
        "dayfirst": True if getattr(args, "dayfirst", False) else None,
        "fill": getattr(args, "fill", None),
    }


def _series(args: argparse.Namespace, lookback: int) -> tuple[Any, str]:
    """The named series (ETTh1's test split with `lookback` context rows, or the CSV path)."""
    if args.data == "etth1":
        from rnn_apps.data.etth1 import load_etth1, split_etth1

        return split_etth1(load_etth1(args.data_dir), lookback).test, "ETTh1 test"
    if is_tfds_name(args.data):
        from rnn_apps.data.tfds import examples_frame

        examples = tfds_examples(args, args.data)
        return examples_frame(examples), examples.source
    return args.data, Path(args.data).name


def _plot_column(model: Any) -> str | None:
    """ETTh1's oil temperature when it is forecast, else the first target."""
    from rnn_apps.data.etth1 import ETTH1_TARGET

    return ETTH1_TARGET if ETTH1_TARGET in model.metadata["targets"] else None


def _summary_line(name: str, metrics: dict[str, Any]) -> str:
    base = metrics.get("baselines", {})
    names = {"repeat_last": "repeat-last", "seasonal_naive": "seasonal naive"}
    rest = ", ".join(f"{names.get(k, k)} {v['mse']:.2f}" for k, v in base.items())
    return (
        f"{name} MSE {metrics['mse']:.2f} (scaled), MAE {metrics['mae']:.2f} over "
        f"{metrics['num_windows']} windows" + (f" vs {rest}" if rest else "")
    )


class CLI(TaskCLI):
    name = "forecast"
    help = "multi-horizon time-series forecasting (ETTh1 or your CSV)"

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        what = "CSV file (a date column + numeric columns), or 'etth1' for the benchmark data"
        if verb == "predict":
            parser.add_argument(
                "--data", required=True, help="CSV of the recent rows (at least lookback)"
            )
        else:
            parser.add_argument(
                "--data",
                default="etth1",
                help=what + ", or tfds:NAME (a prepared TensorFlow Datasets dataset) "
                "(default: etth1)",
            )
            add_tfds_args(parser)
        parser.add_argument(
            "--date-format",
            default=None,
            help="strftime pattern of the dates, e.g. '%%d/%%m/%%Y %%H:%%M' (default: inferred)",
        )
        parser.add_argument(
            "--dayfirst", action="store_true", help="dates are day first (13/07/2016)"
        )
        parser.add_argument(
            "--fill", choices=["ffill", "interpolate"], default=None, help="how to fill NaN"
        )

    def add_train_args(self, parser: argparse.ArgumentParser) -> None:
        from rnn_apps.tasks.forecast.config import ARCHITECTURES

        parser.add_argument("--targets", nargs="+", default=None, help="columns to forecast")
        parser.add_argument("--covariates", nargs="+", default=None, help="past-only inputs")
        parser.add_argument(
            "--architecture", choices=ARCHITECTURES, default=None, help="network (default segrnn)"
        )
        parser.add_argument(
            "--model",
            dest="architecture",
            choices=ARCHITECTURES,
            action=DeprecatedAlias,
            new="--architecture",
            help=argparse.SUPPRESS,
        )
        parser.add_argument(
            "--incremental",
            action="store_const",
            const=True,
            default=None,
            help="lstm/gru: read first differences, so the export's streaming step updates a "
            "recurrent state with each observation instead of re-reading the window",
        )
        for key, (kind, text) in _TRAIN_FLAGS.items():
            parser.add_argument(
                "--" + key.replace("_", "-"), dest=key, type=kind, default=None, help=text
            )

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--plot", action="store_true", help="also write forecast.png (needs --output-dir)"
        )

    def config_overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        keys = ("targets", "covariates", "architecture", "incremental", *_TRAIN_FLAGS)
        return {**{k: getattr(args, k, None) for k in keys}, **_read_options(args)}

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        if args.data == "etth1":
            from rnn_apps.data.etth1 import load_etth1, split_etth1

            splits = split_etth1(load_etth1(args.data_dir), config.lookback)
            return TrainData(splits.train, splits.val, splits.test, source="ETTh1")
        if is_tfds_name(args.data):
            from rnn_apps.data.tfds import examples_frame

            return tfds_train_data(args, args.data, examples_frame)
        return TrainData(args.data, source=Path(args.data).name)

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        from rnn_apps.tasks.forecast import inference

        key, series = "test", data.test
        if series is None:
            key, series = "validation", getattr(task, "validation_frame_", None)
        if series is None:
            return {}
        report = inference.evaluate_series(task, series, return_forecasts=True)
        column = _plot_column(task)
        inference.plot_forecast(task, series, out / "forecast.png", column=column)
        inference.plot_error_by_horizon(task, series, out / "error_by_horizon.png", report=report)
        return {key: {k: v for k, v in report.items() if not k.startswith("_")}}

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.forecast import inference

        series, source = _series(args, inference.model_facts(model).lookback)
        options = _read_options(args)
        report = inference.evaluate_series(model, series, options=options, return_forecasts=True)
        if out is not None:
            inference.plot_forecast(
                model, series, out / "forecast.png", column=_plot_column(model), options=options
            )
            inference.plot_error_by_horizon(
                model, series, out / "error_by_horizon.png", report=report
            )
        # ETTh1: its standard test split. A CSV: every window of the file, whatever rows the
        # model was trained on, so it is not called a test score.
        key = "test" if args.data == "etth1" or is_tfds_name(args.data) else "all_windows"
        metrics = {k: v for k, v in report.items() if not k.startswith("_")}
        return {"data": source, "split": key, key: metrics}

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.forecast import inference

        options = _read_options(args)
        if args.plot and not args.output_dir:
            raise UserInputError("--plot writes forecast.png into --output-dir: give one.")
        pred = inference.predict_series(model, args.data, options)
        if getattr(args, "json", False) and not args.output_dir:
            return {
                "index": [str(i) for i in pred.index],
                "columns": [str(c) for c in pred.columns],
                "forecast": pred.to_numpy().tolist(),
            }
        if not args.output_dir:
            return pred.to_csv()
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        pred.to_csv(out / "forecast.csv")
        lines = [f"Wrote {out / 'forecast.csv'} ({len(pred)} steps x {pred.shape[1]} targets)"]
        if args.plot:
            path = inference.plot_forecast(
                model, args.data, out / "forecast.png", window=None, options=options
            )
            lines.append(f"Wrote {path}")
        return "\n".join(lines)

    def summary(self, report: dict[str, Any]) -> list[str]:
        lines = []
        titles = {
            "test": "Test",
            "validation": "Validation",
            "all_windows": f"Every window of {report.get('data', 'the file')} (training rows "
            "included, not a test score):",
        }
        for key, title in titles.items():
            if isinstance(report.get(key), dict) and "mse" in report[key]:
                lines.append(_summary_line(title, report[key]))
        return lines
