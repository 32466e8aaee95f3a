"""`rnn-apps sentiment ...`: the sentiment task's hooks of the shared verbs.

    rnn-apps sentiment train [--data reviews.csv|folder/|tfds:imdb_reviews] [--text-column text]
        [--label-column label] [--group-column movie] [--unlabelled] [--epochs N]
        [--max-tokens N] [--sequence-length N] [--units N] [--batch-size N]
        [--max-train-minutes M] --output-dir DIR
    rnn-apps sentiment evaluate --model DIR|SAVED_MODEL [--data ...] [--output-dir out/]
    rnn-apps sentiment predict --model DIR|SAVED_MODEL "text" ... [--input texts.txt]
    rnn-apps sentiment export --model DIR [--output-dir X]

Without `--data`, `train` reads the IMDB train split and `evaluate` the IMDB test split
(`--data-dir` or `$RNN_APPS_DATA_DIR`, else a download); the IMDB validation split holds out
whole movies, and `--unlabelled` adds the 50,000 unlabelled IMDB reviews (distillation, word
vectors and language-model pretraining; slower). After the model
selection both branches are refit on all the labelled texts (`refit: false` in a `--config`
file turns that off). With `--data`, `--group-column` names a column
whose groups (e.g. movies) the validation split keeps together. `train` reports the metrics on
its validation split (and writes their `confusion_matrix.png`); the IMDB test metrics come
from `rnn-apps sentiment evaluate --model DIR`.

`--data tfds:NAME` reads a prepared TensorFlow Datasets dataset (`--tfds-data-dir`, never a
download): `train` its `train` split (and `validation` when it has one), `evaluate` its `test`
split; `--text-column`/`--label-column` name its features (default `text`/`label`, those of
`imdb_reviews`; `ClassLabel` labels become their class names).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnn_apps.cli.verbs import (
    TaskCLI,
    TrainData,
    add_text_inputs,
    add_tfds_args,
    read_text_inputs,
    tfds_examples,
    tfds_train_data,
)
from rnn_apps.data.tfds import is_tfds_name

_TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "--" + key.replace("_", "-"): (key, kind)
    for key, kind in {
        "epochs": int,
        "max_tokens": int,
        "sequence_length": int,
        "units": int,
        "batch_size": int,
        "max_train_minutes": float,
        "word_vectors": str,
    }.items()
}


def _load_labelled(args: argparse.Namespace, split: str) -> tuple[list[str], list[str], str]:
    """(texts, labels, source) from `--data`, else the IMDB `split`."""
    texts, labels, _, source = _load_with_groups(args, split)
    return texts, labels, source


def _load_with_groups(
    args: argparse.Namespace, split: str
) -> tuple[list[str], list[str], list[str] | None, str]:
    """(texts, labels, groups or None, source) from `--data`, else the IMDB `split` (groups:
    the movie ids)."""
    from rnn_apps.errors import UserInputError
    from rnn_apps.tasks.sentiment import load_text_data

    group_column = getattr(args, "group_column", None)
    if is_tfds_name(args.data):
        from rnn_apps.data.tfds import labelled_texts

        if group_column is not None:
            raise UserInputError("--group-column needs a CSV file as --data, not a TFDS name.")
        role = "train" if split == "train" else "evaluate"
        examples = tfds_examples(args, args.data, role)
        texts, labels = labelled_texts(examples, args.text_column, args.label_column)
        return texts, labels, None, examples.source
    if args.data:
        if group_column is None:
            texts, labels = load_text_data(args.data, args.text_column, args.label_column)
            return texts, labels, None, Path(args.data).name
        from rnn_apps.tasks.sentiment.data import load_text_dataframe, read_csv_file

        if not str(args.data).lower().endswith(".csv"):
            raise UserInputError("--group-column needs a CSV file as --data.")
        df = read_csv_file(args.data)
        if group_column not in df.columns:
            raise UserInputError(
                f"--group-column {group_column!r} is not a column of {Path(args.data).name}; "
                f"it has {list(df.columns)}."
            )
        texts, labels = load_text_dataframe(df, args.text_column, args.label_column)
        groups = df[group_column].fillna("").astype(str).tolist()
        return texts, labels, groups, Path(args.data).name
    from rnn_apps.data.imdb import load_imdb

    df = load_imdb(args.data_dir, splits=(split,))[split]
    groups = df["movie_id"].tolist()
    return df["text"].tolist(), df["label"].tolist(), groups, f"IMDB {split}"


class CLI(TaskCLI):
    name = "sentiment"
    help = "text classification (IMDB or your CSV / folder of texts)"
    train_flags = _TRAIN_FLAGS

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        if verb == "predict":
            return
        parser.add_argument(
            "--data",
            default=None,
            help="CSV file, folder with one subfolder of text files per class, or tfds:NAME "
            "(a prepared TensorFlow Datasets dataset) (default: "
            + ("the IMDB train split)" if verb == "train" else "the IMDB test split)"),
        )
        parser.add_argument(
            "--text-column", default="text", help="CSV column (TFDS feature) of the texts"
        )
        parser.add_argument(
            "--label-column", default="label", help="CSV column (TFDS feature) of the labels"
        )
        add_tfds_args(parser)
        if verb == "train":
            parser.add_argument(
                "--group-column",
                default=None,
                help="CSV column of a group (e.g. movie) the validation split keeps together",
            )
            parser.add_argument(
                "--unlabelled",
                action="store_true",
                help="also learn from the 50,000 unlabelled IMDB reviews (IMDB only; slower)",
            )

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        add_text_inputs(parser, "texts")

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        from rnn_apps.errors import UserInputError

        if is_tfds_name(args.data) and not args.unlabelled and args.group_column is None:
            from rnn_apps.data.tfds import labelled_texts

            self._groups, self._unlabelled = None, None
            return tfds_train_data(
                args,
                args.data,
                lambda ex: labelled_texts(ex, args.text_column, args.label_column),
                roles=("validation",),
            )
        texts, labels, groups, source = _load_with_groups(args, "train")
        self._groups, self._unlabelled = groups, None
        if args.unlabelled:
            if args.data:
                raise UserInputError(
                    "--unlabelled reads the IMDB unlabelled reviews and cannot go with --data; "
                    "pass your own with SentimentClassifier.fit(..., unlabelled=texts)."
                )
            from rnn_apps.data.imdb import load_imdb

            self._unlabelled = load_imdb(args.data_dir, splits=("unsup",))["unsup"]["text"]
            source += f" + {len(self._unlabelled):,} unlabelled"
        return TrainData(train=(texts, labels), source=source)

    def fit_kwargs(self, args: argparse.Namespace, data: TrainData) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if getattr(self, "_groups", None) is not None:
            out["groups"] = self._groups
        if getattr(self, "_unlabelled", None) is not None:
            out["unlabelled"] = self._unlabelled.tolist()
        return out

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        from rnn_apps import reporting

        report = dict(task.validation_report_)
        report["branches"] = dict(task.validation_metrics_)
        report["split"] = "by group" if getattr(self, "_groups", None) is not None else "random"
        if report.get("confusion_matrix"):
            reporting.plot_confusion_matrix(
                report["confusion_matrix"], task.class_names_, out / "confusion_matrix.png"
            )
        return {
            "validation": report,
            "epochs": dict(task.epochs_),
            "step_seconds": dict(task.step_seconds_),
            "num_unlabelled_distilled": task.num_distilled_,
            "refit": dict(getattr(task, "refit_", {})),
        }

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.sentiment import evaluate_texts

        texts, labels, source = _load_labelled(args, "test")
        split = "test" if args.data is None else "every row of the file"
        return {
            "data": source,
            "split": split,
            **evaluate_texts(model, texts, labels, output_dir=out),
        }

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.sentiment import predict_texts

        texts = read_text_inputs(args)
        pred = predict_texts(model, texts)
        rows = []
        for text, prob, label in zip(texts, pred.probabilities, pred.labels):
            p = round(float(prob), 6) if prob.ndim == 0 else [round(float(v), 6) for v in prob]
            rows.append({"text": text[:80], "label": label, "probability": p})
        return rows

    def summary(self, report: dict[str, Any]) -> list[str]:
        from rnn_apps.reporting import format_metrics

        lines = []
        val = report.get("validation")
        if val:
            branches = val.get("branches", {})
            parts = [
                f"{name} {branches[key]:.2f}"
                for name, key in (
                    ("ngram", "branch_ngram_branch_accuracy"),
                    ("rnn", "branch_rnn_branch_accuracy"),
                    ("blend", "blend_accuracy"),
                )
                if key in branches
            ]
            lines.append(f"Validation accuracy {val['accuracy']:.2f} ({', '.join(parts)})")
        refit = report.get("refit") or {}
        if "num_texts" in refit:
            lines.append(
                f"Then refit on all {refit['num_texts']} labelled texts (the validation "
                "figures are of the model before the refit)"
            )
        elif "skipped" in refit:
            lines.append(f"Refit skipped: {refit['skipped']}")
        if "accuracy" in report:
            lines.append(
                f"On {report.get('num_examples')} texts ({report.get('data')}): "
                + format_metrics(report, ("accuracy", "precision", "recall", "f1", "roc_auc"))
            )
        if "branch_accuracy" in report:
            parts = [
                f"{k.replace('_branch', '')} {v:.4f}" for k, v in report["branch_accuracy"].items()
            ]
            lines.append("Accuracy by branch: " + ", ".join(parts))
        return lines
