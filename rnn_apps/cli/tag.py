"""`rnn-apps tag ...`: the sequence-tagging task's hooks of the shared verbs.

    rnn-apps tag train [--data train.conllu] [--validation dev.conllu] [--test test.conllu]
        [--column upos|xpos|misc:NER] [--head crf|softmax] [--char-encoder bilstm|cnn|none]
        [--word-vectors glove.txt | --unlabelled texts.txt] [--epochs N] [--units N]
        [--word-dropout R] [--max-train-minutes M] --output-dir DIR
    rnn-apps tag evaluate --model DIR|SAVED_MODEL [--data test.conllu]
    rnn-apps tag predict --model DIR|SAVED_MODEL "A sentence." ... [--input file.txt]
    rnn-apps tag export --model DIR [--output-dir X]

Without `--data`, `train` reads UD English EWT (`--data-dir` or `$RNN_APPS_DATA_DIR`, else a
download): train on its train file, validate on dev, score test; `evaluate` without `--data`
scores EWT's test file. A `.conllu` file is read as CoNLL-U (the tag from `--column`); any
other file as token-per-line columns (CoNLL-2003, `token<TAB>tag`; the tag in the last column).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnn_apps.cli.verbs import TaskCLI, TrainData, add_text_inputs, read_text_inputs

_TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "--column": ("column", str),
    "--head": ("head", str),
    "--char-encoder": ("char_encoder", str),
    "--word-vectors": ("word_vectors", str),
    "--epochs": ("epochs", int),
    "--units": ("units", int),
    "--word-dropout": ("word_dropout", float),
    "--batch-size": ("batch_size", int),
    "--max-train-minutes": ("max_train_minutes", float),
}


def _read(path: str | None, split: str, column: str, data_dir: Any) -> Any:
    from rnn_apps.data.conllu import load_ud_ewt, read_columns, read_conllu

    if path is None:
        return load_ud_ewt(split, column=column, data_dir=data_dir)
    p = Path(path)
    return read_conllu(p, column=column) if p.suffix == ".conllu" else read_columns(p)


class CLI(TaskCLI):
    name = "tag"
    help = "sequence tagging: part of speech (UD English EWT or your CoNLL-U), named entities"
    strategies = ("default", "mirrored")
    none_options = ("char_encoder",)
    train_flags = _TRAIN_FLAGS
    flag_choices = {"--head": ("crf", "softmax"), "--char-encoder": ("bilstm", "cnn", "none")}

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        if verb == "predict":
            return
        parser.add_argument(
            "--data",
            default=None,
            help="a .conllu file (or token-per-line columns) "
            + ("to train on (default: UD English EWT)" if verb == "train" else "to score")
            + " (default: UD English EWT's test file)" * (verb != "train"),
        )
        if verb == "train":
            parser.add_argument("--validation", default=None, help="validation file")
            parser.add_argument("--test", default=None, help="test file scored after training")
            parser.add_argument(
                "--unlabelled",
                default=None,
                help="a UTF-8 text file of untagged text, one text per line: its frequent "
                "words join the vocabulary and start the word embedding",
            )

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        add_text_inputs(parser, "sentences")

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        d = getattr(args, "data_dir", None)
        train = _read(args.data, "train", config.column, d)
        if args.data is None:  # UD English EWT's own splits
            val = _read(None, "dev", config.column, d)
            test = _read(None, "test", config.column, d)
            return TrainData(train, val, test, "UD English EWT")
        val = _read(args.validation, "dev", config.column, d) if args.validation else None
        test = _read(args.test, "test", config.column, d) if args.test else None
        return TrainData(train, val, test, Path(args.data).name)

    def fit_kwargs(self, args: argparse.Namespace, data: TrainData) -> dict[str, Any]:
        if args.unlabelled is None:
            return {}
        from rnn_apps.tasks.tagging.unlabelled import read_unlabelled

        return {"unlabelled": read_unlabelled(args.unlabelled)}

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        report: dict[str, Any] = {
            "word_vector_coverage": task.word_vector_coverage_,
            "unlabelled": task.unlabelled_,
        }
        if data.test is not None and len(data.test):
            report["test"] = task.evaluate(data.test)
        return report

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.tagging import evaluate_sentences

        column = str(model.metadata.get("column", "upos"))
        data = _read(args.data, "test", column, getattr(args, "data_dir", None))
        return {
            "data": Path(args.data).name if args.data else "UD English EWT",
            "split": "every sentence of the file" if args.data else "test",
            **evaluate_sentences(model, data, output_dir=out),
        }

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.tagging import tag_texts

        texts = read_text_inputs(args, "sentences")
        return [
            {"text": t, "tokens": [w for w, _ in pairs], "tags": [g for _, g in pairs]}
            for t, pairs in zip(texts, tag_texts(model, texts))
        ]

    def summary(self, report: dict[str, Any]) -> list[str]:
        test = report.get("test", report)
        if "accuracy" not in test:
            return []
        line = (
            f"On {test['num_tokens']} tokens: accuracy {100 * test['accuracy']:.2f}%, "
            f"unseen words {100 * test['unseen_word_accuracy']:.2f}% "
            f"({test['num_unseen_tokens']} tokens)"
        )
        if "spans" in test:
            line += f"; entity-span F1 {100 * test['spans']['f1']:.2f}"
        return [line]
