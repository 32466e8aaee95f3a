"""`rnn-apps textgen ...`: the text-generation task's hooks of the shared verbs.

    rnn-apps textgen train [--text file.txt|folder|tfds:NAME] [--level char|word] [--cell gru|lstm]
        [--units N] [--num-layers N] [--epochs N] [--max-minutes M] [--seq-len N]
        [--batch-size N] [--stateful] --output-dir DIR
    rnn-apps textgen predict --model DIR|SAVED_MODEL --prompt "ROMEO:" [--prompt ...]
        [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--num-samples N]
        [--stop S] [--seed S]
    rnn-apps textgen evaluate --model DIR|SAVED_MODEL [--text file.txt]
    rnn-apps textgen export --model DIR [--output-dir X]

Without `--text`, `train` reads tiny Shakespeare (first 90% train, last 10% validation) and
`evaluate` scores its validation part (`--data-dir` or `$RNN_APPS_DATA_DIR`, else a download).
`predict` and `evaluate` take a training folder or an exported SavedModel alike (the
committed `saved_models/textgen_shakespeare` included).

`--text tfds:NAME` reads a prepared TensorFlow Datasets dataset (`--tfds-data-dir`, never a
download), the feature `--text-column` (default `text`) of its examples joined in order:
`train` learns its `train` split and validates on its `validation` split (else the last 10%),
`evaluate` scores its `test` split (else `validation`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnn_apps.cli.verbs import (
    TaskCLI,
    TrainData,
    add_tfds_args,
    tfds_examples,
    tfds_train_data,
)
from rnn_apps.data.tfds import is_tfds_name

_TRAIN_FLAGS: dict[str, tuple[str, Any]] = {
    "--level": ("level", str),
    "--cell": ("cell", str),
    "--units": ("units", int),
    "--num-layers": ("num_layers", int),
    "--epochs": ("epochs", int),
    "--max-minutes": ("max_train_minutes", float),
    "--seq-len": ("seq_len", int),
    "--batch-size": ("batch_size", int),
}


def _read_text(args: argparse.Namespace) -> tuple[str, str]:
    """(text, source) of `--text`, else tiny Shakespeare's validation part."""
    from rnn_apps.data.shakespeare import load_corpus, read_text_source

    if is_tfds_name(args.text):
        from rnn_apps.data.tfds import joined_text

        examples = tfds_examples(args, args.text)
        return joined_text(examples, args.text_column), examples.source
    if args.text:
        return read_text_source(args.text), Path(args.text).name
    return load_corpus(None, data_dir=args.data_dir).val, "shakespeare (validation 10%)"


def _describe(metrics: dict[str, Any], level: str) -> str:
    unit = "char" if level == "char" else "token"
    text = f"{metrics['nats_per_token']:.2f} nats/{unit} ("
    if level != "char":
        text += f"{metrics['bits_per_token']:.2f} bits/token, "
    ppl = metrics["perplexity"]
    return text + f"{metrics['bits_per_char']:.2f} bits/char, perplexity {ppl:.1f})"


def _unescape(text: str) -> str:
    r"""`\n` -> newline, `\t` -> tab (what a shell makes hard to type), nothing else."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


class CLI(TaskCLI):
    name = "textgen"
    help = "character/word language models: train, score, generate, export"
    strategies = ("default", "mirrored")
    train_flags = _TRAIN_FLAGS

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        if verb == "predict":
            return
        parser.add_argument(
            "--text",
            default=None,
            help="a UTF-8 .txt file, a folder of them, or tfds:NAME (a prepared TensorFlow "
            "Datasets dataset) (default: tiny Shakespeare"
            + (")" if verb == "train" else ", its validation 10%%)"),
        )
        parser.add_argument(
            "--text-column",
            default=None,
            help="TFDS feature holding the text (default: text)",
        )
        add_tfds_args(parser)

    def add_train_args(self, parser: argparse.ArgumentParser) -> None:
        from rnn_apps.tasks.textgen import CELLS, LEVELS

        choices = {"--level": LEVELS, "--cell": CELLS}
        for flag, (key, kind) in self.train_flags.items():
            names = [flag] + (["--max-train-minutes"] if key == "max_train_minutes" else [])
            parser.add_argument(
                *names,
                dest=key,
                type=kind,
                default=None,
                choices=choices.get(flag),
                metavar=None if flag in choices else ("M" if kind is float else "N"),
                help=f"config option {key}",
            )
        parser.add_argument(
            "--stateful",
            action="store_true",
            default=None,
            help="truncated BPTT with stateful layers (config option stateful)",
        )

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        from rnn_apps.tasks.textgen import MAX_NEW_TOKENS_CAP, MAX_NUM_SAMPLES

        parser.add_argument(
            "--prompt", action="append", default=None, help="repeatable; default '' (no prompt)"
        )
        parser.add_argument(
            "--max-new-tokens", type=int, default=200, help=f"at most {MAX_NEW_TOKENS_CAP}"
        )
        parser.add_argument("--temperature", type=float, default=1.0, help="<= 0: greedy")
        parser.add_argument("--top-k", type=int, default=0, help="0 = off")
        parser.add_argument("--top-p", type=float, default=1.0, help="in (0, 1]; 1 = off")
        parser.add_argument(
            "--num-samples", type=int, default=1, help=f"per prompt, 1 to {MAX_NUM_SAMPLES}"
        )
        parser.add_argument(
            "--stop",
            default=None,
            help=r"cut each sample after this string (\n and \t stand for newline and tab)",
        )

    def config_overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        out = super().config_overrides(args)
        out["stateful"] = getattr(args, "stateful", None)
        return out

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:
        from rnn_apps.data.shakespeare import load_corpus

        if is_tfds_name(args.text):
            from rnn_apps.data.tfds import joined_text

            data = tfds_train_data(
                args, args.text, lambda ex: joined_text(ex, args.text_column), ("validation",)
            )
            if data.validation is None:  # hold out the last 10%, as for a text file
                from rnn_apps.data.shakespeare import split_text

                data.train, val = split_text(data.train)
                data.validation = val or None
            return data
        corpus = load_corpus(args.text, data_dir=args.data_dir)
        source = corpus.source if args.text is None else Path(args.text).name
        return TrainData(train=corpus.train, validation=corpus.val or None, source=source)

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        report: dict[str, Any] = {
            "level": task.vocab_.level,
            "vocab_size": task.vocab_.size,
            "epochs_run": len(task.history_.get("lm", {}).get("loss", [])),
        }
        if data.validation:
            report["validation"] = task.evaluate(data.validation)
        return report

    def evaluate(self, model: Any, args: argparse.Namespace, out: Path | None) -> dict[str, Any]:
        from rnn_apps.tasks.textgen import evaluate_text

        text, source = _read_text(args)
        return {
            "data": source,
            "split": "validation (last 10%)" if args.text is None else "the whole text",
            "level": model.metadata.get("level", "char"),
            "metrics": evaluate_text(model, text),
        }

    def predict(self, model: Any, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.textgen import generate_texts

        prompts = args.prompt or [""]
        texts = generate_texts(
            model,
            prompts,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            num_samples=args.num_samples,
            stop=None if args.stop is None else _unescape(args.stop),
        )
        if args.json:
            batch = [p for p in prompts for _ in range(args.num_samples)]
            return [{"prompt": p, "text": t} for p, t in zip(batch, texts)]
        return "".join(f"{t}\n{'-' * 40}\n" for t in texts)

    def summary(self, report: dict[str, Any]) -> list[str]:
        level = report.get("level", "char")
        lines = []
        if report.get("validation"):
            lines.append("Validation " + _describe(report["validation"], level))
        if report.get("metrics"):
            m = report["metrics"]
            lines.append(
                f"On {report.get('data')}, {m['num_chars']} characters: " + _describe(m, level)
            )
        return lines
