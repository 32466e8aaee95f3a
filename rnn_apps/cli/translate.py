"""`rnn-apps translate ...`: the translation task's hooks of the shared verbs.

    rnn-apps translate train [--data pairs.tsv|tfds:NAME] [--direction en-fr|fr-en] [--epochs N]
        [--units N] [--cell gru|lstm] [--attention additive|dot|none] [--batch-size N]
        [--beam-width K] [--max-train-minutes M] [--max-test N] --output-dir DIR
    rnn-apps translate evaluate --model DIR|SAVED_MODEL [--data pairs.tsv] [--max-test N]
    rnn-apps translate predict --model DIR|SAVED_MODEL "text" ... [--input file.txt]
        [--beam-width K] [--max-length N]
    rnn-apps translate export --model DIR [--output-dir X]

Without `--data`, `train` reads the Tatoeba English-French pairs (`--data-dir` or
`$RNN_APPS_DATA_DIR`, else a download) and splits them 90/5/5 by source sentence (seeded by
`--seed`); `train` then scores BLEU/chrF on (at most `--max-test` sentences of) the test
split and `evaluate` without `--data` re-creates that same test split. `--data` takes a
tab-separated `english<TAB>french[<TAB>attribution]` file or a CSV/TSV with a header (first two
columns): for `train` it is split the same way, for `evaluate` all of it is the test set.

`--data tfds:NAME` reads a prepared TensorFlow Datasets dataset (`--tfds-data-dir`, never a
download): `train` its `train` split, validating on `validation` (else a held-out part) and
scoring `test` when it has them, `evaluate` its `test` split; `--source-column` /
`--target-column` name the features (default `source`/`target`, else the languages of the
direction, as in ted_hrlr_translate-style `{language: text}` features).
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
    "--direction": ("direction", str),
    "--epochs": ("epochs", int),
    "--units": ("units", int),
    "--cell": ("cell", str),
    "--attention": ("attention", str),
    "--batch-size": ("batch_size", int),
    "--beam-width": ("beam_width", int),
    "--max-train-minutes": ("max_train_minutes", float),
    "--word-vectors": ("word_vectors", str),
}


def _pairs(args: argparse.Namespace) -> tuple[Any, str]:
    """(english/french DataFrame, source name) of `--data`, else Tatoeba."""
    from rnn_apps.data.fra_eng import load_fra_eng, read_pairs

    if getattr(args, "data", None):
        return read_pairs(args.data), Path(args.data).name
    return load_fra_eng(args.data_dir), "Tatoeba fra-eng"


def _split(pairs: Any, direction: str, seed: int) -> Any:
    from rnn_apps.data.fra_eng import split_pairs

    src, tgt = ("english", "french") if direction == "en-fr" else ("french", "english")
    return split_pairs(pairs, source_column=src, target_column=tgt, seed=seed)


class CLI(TaskCLI):
    name = "translate"
    help = "English <-> French translation (Tatoeba or your pairs file), beam search"
    strategies = ("default", "mirrored")
    none_options = ("attention",)
    train_flags = _TRAIN_FLAGS
    flag_choices = {
        "--direction": ("en-fr", "fr-en"),
        "--cell": ("gru", "lstm"),
        "--attention": ("additive", "dot", "none"),
    }

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        if verb == "predict":
            return
        parser.add_argument(
            "--data",
            default=None,
            help="pairs file: english<TAB>french lines, or a CSV/TSV with a header (default: "
            + (
                "Tatoeba, split 90/5/5 by source sentence)"
                if verb == "train"
                else "the Tatoeba test split the model was trained with)"
            ),
        )
        parser.add_argument(
            "--max-test",
            type=int,
            default=1000,
            help="score at most this many test source sentences (0 = all; default 1000)",
        )
        parser.add_argument(
            "--source-column", default=None, help="TFDS feature of the source sentences"
        )
        parser.add_argument(
            "--target-column", default=None, help="TFDS feature of the target sentences"
        )
        add_tfds_args(parser)

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        add_text_inputs(parser, "sentences")
        parser.add_argument("--beam-width", type=int, default=None, help="1 = greedy")
        parser.add_argument("--max-length", type=int, default=None, help="max output tokens")

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        if is_tfds_name(args.data):
            task = self.task_class()(config)
            return tfds_train_data(
                args,
                args.data,
                lambda ex: task.raw_from_examples(ex, args.source_column, args.target_column),
            )
        pairs, source = _pairs(args)
        splits = _split(pairs, config.direction, config.seed)
        return TrainData(splits.train, splits.validation, splits.test, source)

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        from rnn_apps.tasks.translate import as_pairs, evaluate_pairs, plot_attention

        report: dict[str, Any] = {"epochs": getattr(task, "epochs_", None)}
        if data.test is not None and len(data.test):
            sources, targets = as_pairs(data.test)
            cap = args.max_test or None
            report["test"] = evaluate_pairs(task, sources, targets, max_sentences=cap)
            if task.config.attention is not None:
                picks = list(dict.fromkeys(sources))[:3]
                plot_attention(task, picks, out / "attention.png")
        return report

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.translate import as_pairs, evaluate_pairs, plot_attention

        cfg = dict(model.metadata.get("config", {}))
        direction = cfg.get("direction", "en-fr")
        if is_tfds_name(args.data):
            from rnn_apps.data.tfds import text_pairs

            examples = tfds_examples(args, args.data)
            frame = text_pairs(
                examples, args.source_column, args.target_column, direction.split("-")
            )
            pairs, source = frame, examples.source
        else:
            pairs, source = _pairs(args)
        if is_tfds_name(args.data):
            test = as_pairs(pairs)
        elif args.data:
            test = as_pairs(pairs, direction)
        else:
            test = as_pairs(_split(pairs, direction, int(cfg.get("seed", 0))).test)
        report = {
            "data": source,
            "split": "every pair of the file" if args.data else "test",
            **evaluate_pairs(model, *test, max_sentences=args.max_test or None),
        }
        if out is not None and hasattr(model, "preprocessor_") and cfg.get("attention"):
            plot_attention(model, list(dict.fromkeys(test[0]))[:3], out / "attention.png")
        return report

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.translate import translate_texts

        texts = read_text_inputs(args, "sentences")
        res = translate_texts(model, texts, beam_width=args.beam_width, max_length=args.max_length)
        return [
            {"text": t, "translation": tr, "score": round(float(s), 4)}
            for t, tr, s in zip(texts, res["translation"], res["score"])
        ]

    def summary(self, report: dict[str, Any]) -> list[str]:
        test = report.get("test", report)
        if "bleu" not in test:
            return []
        b, c = test["bleu"], test["chrf"]
        return [
            f"On {test['num_test_sentences']} test sentences: BLEU greedy {b['greedy']:.1f}, "
            f"beam({test['beam_width']}) {b['beam']:.1f}; chrF greedy {c['greedy']:.1f}, "
            f"beam {c['beam']:.1f}"
        ]
