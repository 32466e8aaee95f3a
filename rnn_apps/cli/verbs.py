"""The verbs every task has, written once: `train`, `evaluate`, `predict`, `export`.

A task's command line is a `TaskCLI` subclass in `rnn_apps/cli/<task>.py` that supplies hooks
(its data options, config flags, how to load its data, what to evaluate and print); the
verbs, the shared options, the output layout and the error handling are here.

Output layout of `rnn-apps <task> train --output-dir DIR` (the same for every task):

    DIR/pipeline/          the saved pipeline (`Task.load(DIR)` or `--model DIR`)
    DIR/saved_model/       the verified SavedModel (unless --no-export)
    DIR/report.json        metrics, baselines, timings, the command
    DIR/*.png              the task's plots (learning curves, ...)
    DIR/backup/            BackupAndRestore checkpoints while training runs
    DIR/logs/              TensorBoard logs (--tensorboard)

Everything but `backup/` and `logs/` is first written to a sibling staging folder and then
swapped in as a whole (`rnn_apps.persistence.commit_run_dir`), so a run killed at any moment
leaves either the previous results or the new ones, never a mix.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnn_apps.errors import UserInputError
from rnn_apps.persistence import check_output_path


@dataclasses.dataclass
class TrainData:
    """What a task's `train_data` hook returns.

    Attributes:
        train: Training data in the task's raw form (passed to `Task.fit`).
        validation: Validation data, or None (the task holds some out of `train`).
        test: Held-out data `after_fit` evaluates on, or None.
        source: Where the data came from, for the report (`"ETTh1"`, a file name).
    """

    train: Any
    validation: Any = None
    test: Any = None
    source: str = ""


class DeprecatedAlias(argparse.Action):
    """An old flag that still works: stores into the new option's `dest` with a warning."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"rnn-apps: warning: {option_string} is deprecated and will be removed; use "
            f"{self.new}.",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


class TaskCLI:
    """Hooks of one task's command line (subclass per task in `rnn_apps/cli/<task>.py`).

    Class attributes:
        name: The task word (`rnn-apps <name> ...`).
        help: One line for `rnn-apps --help`.
        strategies: The `--strategy` choices of `train`.
        none_options: Config keys whose flag's value "none" sets the option to None.
        train_flags, flag_choices: `train`'s config flags (`{"--flag": (key, type)}`) and
            the allowed values of some; `add_train_args` and `config_overrides` read them.
    """

    name: str = ""
    help: str = ""
    strategies: tuple[str, ...] = ("default", "mirrored", "multi_worker")
    #: Config keys whose flag takes "none" for None (`--attention none`).
    none_options: tuple[str, ...] = ()
    #: `train`'s config flags: `{"--flag": (config key, type)}`.
    train_flags: dict[str, tuple[str, Any]] = {}
    #: The allowed values of some `train_flags`.
    flag_choices: dict[str, tuple[Any, ...]] = {}

    # ------------------------------------------------------------------ hooks
    def task_class(self) -> Any:
        """The `Task` subclass registered as `name` (`rnn_apps.tasks.registry`)."""
        from rnn_apps.tasks.registry import get_task_class

        return get_task_class(self.name)

    def add_data_args(self, parser: argparse.ArgumentParser, verb: str) -> None:
        """Adds the options naming the data of `verb` (`train`, `evaluate`, `predict`)."""

    def add_train_args(self, parser: argparse.ArgumentParser) -> None:
        """Adds the task's configuration flags of `train` (each overrides one config key):
        by default one per `train_flags` entry, with the `flag_choices`."""
        for flag, (key, kind) in self.train_flags.items():
            parser.add_argument(
                flag, dest=key, type=kind, default=None, choices=self.flag_choices.get(flag),
                help=f"config option {key}",
            )  # fmt: skip

    def add_predict_args(self, parser: argparse.ArgumentParser) -> None:
        """Adds the options of `predict` besides `--model`."""

    def config_overrides(self, args: argparse.Namespace) -> dict[str, Any]:
        """Config keys set by the `add_train_args` flags (None = not given)."""
        return {key: getattr(args, key, None) for key, _ in self.train_flags.values()}

    def train_data(self, args: argparse.Namespace, config: Any) -> TrainData:  # pragma: no cover
        """Loads the training (and validation/test) data named by the options."""
        raise NotImplementedError

    def fit_kwargs(self, args: argparse.Namespace, data: TrainData) -> dict[str, Any]:
        """Extra keyword arguments of `Task.fit` (e.g. sentiment's class options)."""
        return {}

    def after_fit(
        self, task: Any, data: TrainData, out: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        """Evaluates on `data.test`, writes the task's plots into `out`; returns report keys."""
        return {}

    def evaluate(
        self, model: Any, args: argparse.Namespace, out: Path | None
    ) -> dict[str, Any]:  # pragma: no cover
        """Metrics of `model` (a `Task` or a `SavedModelPredictor`) on the named data; with
        `out`, writes plots there."""
        raise NotImplementedError

    def predict(self, model: Any, args: argparse.Namespace) -> Any:  # pragma: no cover
        """Runs `model` on the named input; returns what to print (str) or JSON-able data."""
        raise NotImplementedError

    def summary(self, report: dict[str, Any]) -> list[str]:
        """A few human lines about the metrics of a `train` or `evaluate` report."""
        return []

    # ------------------------------------------------------------------ parser
    def register(self, subparsers: Any) -> None:
        """Adds `rnn-apps <name> {train,evaluate,predict,export}`."""
        from rnn_apps.cli.options import add_common_args

        parser = subparsers.add_parser(self.name, help=self.help, description=self.help)
        verbs = parser.add_subparsers(dest="verb", metavar="<verb>")
        verbs.required = True

        p = verbs.add_parser(
            "train",
            help="train, evaluate and export; writes DIR/{pipeline,saved_model,report.json,...}",
        )
        add_common_args(p)
        self.add_data_args(p, "train")
        self.add_train_args(p)
        p.add_argument(
            "--strategy",
            choices=self.strategies,
            default="default",
            help="tf.distribute strategy: 'default' (one device), 'mirrored' (all local GPUs)"
            + (
                " or 'multi_worker' (the machines in TF_CONFIG; run the same command on each)"
                if "multi_worker" in self.strategies
                else ""
            ),
        )
        p.add_argument("--tensorboard", action="store_true", help="write DIR/logs/")
        p.add_argument(
            "--fresh",
            action="store_true",
            help="delete DIR/backup/ (an interrupted run's checkpoints) and start over; "
            "without it, the same command resumes such a run",
        )
        p.add_argument("--no-export", action="store_true", help="skip DIR/saved_model/")
        p.set_defaults(func=self._train)

        p = verbs.add_parser("evaluate", help="metrics (and plots with --output-dir)")
        add_common_args(p)
        self._add_model_arg(p)
        self.add_data_args(p, "evaluate")
        p.set_defaults(func=self._evaluate)

        p = verbs.add_parser("predict", help="run a trained or exported model on new input")
        add_common_args(p)
        self._add_model_arg(p)
        self.add_data_args(p, "predict")
        self.add_predict_args(p)
        p.set_defaults(func=self._predict)

        p = verbs.add_parser(
            "export", help="write a verified SavedModel (or LiteRT / ONNX) of a trained pipeline"
        )
        add_common_args(p)
        self._add_model_arg(p, what="a training output folder (or its pipeline/ folder)")
        p.add_argument(
            "--format",
            choices=("saved_model", "litert", "onnx"),
            default="saved_model",
            help="saved_model (raw input, default; DIR/saved_model), or the tensor-only core as "
            "litert (DIR/litert) or onnx (DIR/onnx), verified in a clean process",
        )
        p.add_argument(
            "--quantize",
            action="store_true",
            help="LiteRT with dynamic-range int8 weights (smaller; check its accuracy)",
        )
        p.set_defaults(func=self._export)

    def _add_model_arg(self, p: argparse.ArgumentParser, what: str | None = None) -> None:
        p.add_argument(
            "--model",
            dest="model_path",
            default=None,
            help=what or "a training output folder or an exported SavedModel",
        )
        for old in ("--model-dir", "--pipeline"):
            p.add_argument(
                old,
                dest="model_path",
                action=DeprecatedAlias,
                new="--model",
                help=argparse.SUPPRESS,
            )
        p.add_argument(
            "--export-dir",
            dest="output_dir",
            action=DeprecatedAlias,
            new="--output-dir",
            help=argparse.SUPPRESS,
        )

    # ------------------------------------------------------------------ verbs
    def _config(self, args: argparse.Namespace) -> Any:
        from rnn_apps.cli.options import load_config_file

        values = load_config_file(getattr(args, "config", None))
        for key, value in self.config_overrides(args).items():
            if key in self.none_options and value == "none":
                values[key] = None  # a flag's "none" turns the option off
            elif value is not None:
                values[key] = value
        if getattr(args, "seed", None) is not None:
            values["seed"] = args.seed
        config_class = self.task_class().config_class
        if "verbose" not in values and "verbose" in {
            f.name for f in dataclasses.fields(config_class)
        }:
            # A progress bar for a terminal; one plain line per epoch for a log file.
            values["verbose"] = 1 if sys.stderr.isatty() else 2
        return config_class.from_dict(values)

    def _train(self, args: argparse.Namespace) -> int:
        from rnn_apps.cli.options import worker_output_dir
        from rnn_apps.persistence import (
            check_run_dir,
            commit_run_dir,
            recover_run_dir,
            staging_dir,
        )

        out = worker_output_dir(Path(args.output_dir or f"runs/{self.name}"))
        check_run_dir(out)
        recover_run_dir(out)
        config = self._config(args)
        if args.fresh:
            shutil.rmtree(out / "backup", ignore_errors=True)
        data = self.train_data(args, config)
        task = self.task_class()(config)
        task.fit(
            data.train,
            data.validation,
            work_dir=out,
            strategy=args.strategy,
            tensorboard=args.tensorboard,
            **self.fit_kwargs(args, data),
        )
        backup = out / "backup"
        if backup.is_dir() and not any(backup.iterdir()):  # each model's backup is gone
            backup.rmdir()
        stage = staging_dir(out)
        try:
            report = self._write_results(task, config, data, stage, args)
        except BaseException:  # nothing half-written stays behind; `out` is untouched
            shutil.rmtree(stage, ignore_errors=True)
            raise
        commit_run_dir(stage, out)
        self._print_report(args, report, out, trained=True)
        return 0

    def _write_results(
        self, task: Any, config: Any, data: TrainData, stage: Path, args: argparse.Namespace
    ) -> dict[str, Any]:
        """Writes the pipeline, report, plots and export of a trained task into `stage`."""
        from rnn_apps import reporting
        from rnn_apps.tasks.base import PIPELINE_DIR, REPORT_FILE, SAVED_MODEL_DIR

        task.save(stage / PIPELINE_DIR)
        report: dict[str, Any] = {
            "task": self.name,
            "command": "rnn-apps " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            if Path(sys.argv[0]).name in ("rnn-apps", "__main__.py")
            else None,
            "data": data.source,
            "train_seconds": round(float(task.train_seconds_), 1),
            "config": config.to_dict(),
        }
        report.update(self.after_fit(task, data, stage, args))
        histories = {k: v for k, v in (task.history_ or {}).items() if isinstance(v, dict) and v}
        if histories:
            reporting.plot_learning_curves(
                histories, stage / "learning_curves.png", metrics=("loss", "accuracy")
            )
        if not args.no_export:
            started = time.monotonic()
            export = task.export(stage / SAVED_MODEL_DIR, metadata={"report": _brief(report)})
            report["export"] = {
                "verified": export.verified,
                "max_abs_diff": export.max_abs_diff,
                "seconds": round(time.monotonic() - started, 1),
            }
        reporting.write_json(stage / REPORT_FILE, report)
        return report

    def _open(self, args: argparse.Namespace) -> Any:
        from rnn_apps.tasks.base import open_model

        if not args.model_path:
            raise UserInputError(
                f"--model is required: a training output folder or a SavedModel (e.g. "
                f"`rnn-apps {self.name} {args.verb} --model runs/{self.name}`)."
            )
        return open_model(args.model_path, self.task_class())

    def _evaluate(self, args: argparse.Namespace) -> int:
        from rnn_apps import reporting
        from rnn_apps.tasks.base import REPORT_FILE

        out = Path(args.output_dir) if args.output_dir else None
        if out is not None:
            check_output_path(out)
        model = self._open(args)
        report = {"task": self.name, "model": str(args.model_path)}
        report.update(self.evaluate(model, args, out))
        if "split" not in report:
            raise RuntimeError(f"{self.name}'s evaluate hook must say which split it scored")
        if out is not None:
            reporting.write_json(out / REPORT_FILE, report)
        self._print_report(args, report, out, trained=False)
        return 0

    def _predict(self, args: argparse.Namespace) -> int:
        from rnn_apps.reporting import to_jsonable

        if args.output_dir:
            check_output_path(Path(args.output_dir))
        model = self._open(args)
        result = self.predict(model, args)
        out = _stdout(args)
        if getattr(args, "json", False):
            if isinstance(result, str):
                result = {"message": result}
            print(json.dumps(to_jsonable(result), ensure_ascii=False, indent=2), file=out)
        elif isinstance(result, str):
            print(result, end="" if result.endswith("\n") else "\n", file=out)
        elif result is not None:
            for row in result if isinstance(result, list) else [result]:
                print(json.dumps(to_jsonable(row), ensure_ascii=False), file=out)
        return 0

    def _export(self, args: argparse.Namespace) -> int:
        from rnn_apps.tasks.base import SAVED_MODEL_DIR, is_saved_model, resolve_pipeline_dir

        if not args.model_path:
            raise UserInputError("--model is required: the training output folder to export.")
        src = Path(args.model_path)
        if is_saved_model(src):
            raise UserInputError(
                f"--model {str(src)!r} is already an exported SavedModel; give the training "
                "output folder it came from."
            )
        fmt = getattr(args, "format", "saved_model")
        if args.output_dir:
            dest = check_output_path(Path(args.output_dir))
        else:
            pipeline = resolve_pipeline_dir(src)
            folder = SAVED_MODEL_DIR if fmt == "saved_model" else fmt
            dest = (pipeline.parent if pipeline.name == "pipeline" else src) / folder
        task = self.task_class().load(src)
        report = task.export(dest, format=fmt, quantize=getattr(args, "quantize", False))
        if fmt != "saved_model":
            doc = {
                fmt: str(dest), "size_mb": report.size_mb, "quantized": report.quantized,
                "max_abs_diff": report.max_abs_diff,
                "latency_ms_median": round(report.latency_ms_median, 3),
            }  # fmt: skip
            if getattr(args, "json", False):
                print(json.dumps(doc, indent=2), file=_stdout(args))
                return 0
            worst = max(report.max_abs_diff.values(), default=0.0)
            print(
                f"Exported a verified {fmt} core to {dest} ({report.size_mb:.2f} MB, largest "
                f"difference from the model in process {worst:.2g}, "
                f"{report.latency_ms_median:.2f} ms per request).",
                file=_stdout(args),
            )
            print("Run it with rnn_apps/runtime.py (PortableModel); no TensorFlow needed.",
                  file=_stdout(args))  # fmt: skip
            return 0
        signatures = sorted(report.metadata["signatures"])
        if getattr(args, "json", False):
            doc = {"saved_model": str(dest), "signatures": signatures, "verified": report.verified}
            print(json.dumps(doc, indent=2), file=_stdout(args))
            return 0
        print(
            f"Exported a verified SavedModel to {dest} (signatures: {', '.join(signatures)}).",
            file=_stdout(args),
        )
        print(f"Try: {invoked_as()} show {dest}", file=_stdout(args))
        return 0

    # ------------------------------------------------------------------ output
    def _print_report(
        self, args: argparse.Namespace, report: dict[str, Any], out: Path | None, *, trained: bool
    ) -> None:
        from rnn_apps.reporting import to_jsonable

        if getattr(args, "json", False):
            print(json.dumps(to_jsonable(report), indent=2), file=_stdout(args))
            return
        lines = []
        if trained:
            lines.append(f"Trained {self.name} in {report['train_seconds']:.0f} s.")
        else:
            lines.append(f"Scored {report.get('data', '')}: {report['split']}.")
        lines.extend(self.summary(report))
        if out is not None:
            files = sorted(
                p.name + ("/" if p.is_dir() else "")
                for p in out.iterdir()
                if not p.name.startswith(".") and p.name != "backup"
            )
            lines.append(f"Wrote {out}/: {', '.join(files)}")
            if trained and (out / "saved_model").is_dir():
                prog = invoked_as()
                lines.append(
                    f"Next: {prog} {self.name} predict --model {out} ...   |   "
                    f"{prog} show {out / 'saved_model'}"
                )
        print("\n".join(lines), file=_stdout(args))


def invoked_as() -> str:
    """How the user ran the command line, to repeat in hints: `rnn-apps` when that is the one
    on PATH, else the script as invoked (e.g. `.venv/bin/rnn-apps` from `make train`)."""
    import shutil
    import sys

    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name != "rnn-apps":
        return "rnn-apps"
    on_path = shutil.which("rnn-apps")
    if on_path and Path(on_path).resolve() == Path(argv0).resolve():
        return "rnn-apps"
    return argv0


def add_text_inputs(parser: argparse.ArgumentParser, what: str = "texts") -> None:
    """Adds the positional texts and `--input FILE` (one text per line) of a `predict` verb."""
    parser.add_argument("text", nargs="*", help=f"{what} to run the model on")
    parser.add_argument(
        "--input", default=None, help=f"a UTF-8 file with one of the {what} per line"
    )


def read_text_inputs(args: argparse.Namespace, what: str = "texts") -> list[str]:
    """The texts of `add_text_inputs`: the positional ones, then those of `--input`.

    Raises:
        UserInputError: `--input` does not exist, or there is nothing to run on.
    """
    texts = list(getattr(args, "text", None) or [])
    if getattr(args, "input", None):
        path = Path(args.input)
        if not path.is_file():
            raise UserInputError(f"--input file {str(path)!r} does not exist.")
        try:
            texts += path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            line = path.read_bytes()[: err.start].count(b"\n") + 1
            raise UserInputError(
                f"--input file {str(path)!r} is not valid UTF-8 (line {line}); convert it "
                "first, e.g. `iconv -f latin1 -t utf-8`."
            ) from None
    if not texts:
        raise UserInputError(f"Nothing to run on: give {what} as arguments or --input FILE.")
    return texts


def add_tfds_args(parser: argparse.ArgumentParser) -> None:
    """Adds the options of a TFDS name as data (`--data tfds:NAME`, textgen `--text`)."""
    from rnn_apps.data.tfds import MAX_EXAMPLES

    group = parser.add_argument_group(
        "TensorFlow Datasets (data named tfds:NAME[/CONFIG][:VERSION]; nothing is downloaded)"
    )
    group.add_argument(
        "--tfds-data-dir",
        default=None,
        help="TFDS data dir holding the prepared dataset (default: $TFDS_DATA_DIR, else "
        "~/tensorflow_datasets)",
    )
    group.add_argument(
        "--tfds-split",
        default=None,
        help="split to read, TFDS syntax (e.g. 'train[:10%%]'); default: train (with the "
        "validation and test splits the dataset defines) for train, test (else validation) "
        "for evaluate",
    )
    group.add_argument(
        "--tfds-max-examples",
        type=int,
        default=None,
        help=f"cap on the examples read from a split (default {MAX_EXAMPLES:,})",
    )


def tfds_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reading options of `add_tfds_args` (`rnn_apps.data.tfds.LOAD_OPTIONS`)."""
    return {
        "data_dir": getattr(args, "tfds_data_dir", None),
        "split": getattr(args, "tfds_split", None),
        "max_examples": getattr(args, "tfds_max_examples", None),
    }


def tfds_train_data(
    args: argparse.Namespace,
    name: str,
    convert: Any,
    roles: Sequence[str] = ("validation", "test"),
) -> TrainData:
    """`TrainData` of a TFDS name: its `--tfds-split` (default `train`) and the other `roles`'
    splits the dataset defines (none: the task holds some out), each converted by `convert`
    (`Examples` -> the task's raw form)."""
    from rnn_apps.data import tfds

    opts = tfds_options(args)
    split = opts.pop("split")
    builder = tfds.open_builder(name, opts["data_dir"])
    train_split = tfds.pick_split(builder, "train", split)
    train = tfds.load_split(name, train_split, role="train", **opts)
    parts: dict[str, Any] = {}
    for role in roles:
        other = tfds.pick_split(builder, role)
        if other is not None and other != train_split:
            parts[role] = convert(tfds.load_split(name, other, role=role, **opts))
    return TrainData(
        convert(train),
        parts.get("validation"),
        parts.get("test"),
        source=f"{name} ({train_split})",
    )


def tfds_examples(args: argparse.Namespace, name: str, role: str = "evaluate") -> Any:
    """`rnn_apps.data.tfds.Examples` of a TFDS name's `--tfds-split` (default: the `role`'s)."""
    from rnn_apps.data import tfds

    opts = tfds_options(args)
    return tfds.load_split(name, opts.pop("split"), role=role, **opts)


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    """The report without bulky keys, for the export's metadata."""
    return {k: v for k, v in report.items() if k not in ("config",)}


def registered_clis() -> Sequence[TaskCLI]:
    """The task command lines of the task registry, in `rnn-apps --help` order."""
    from rnn_apps.tasks.registry import TASKS

    return [entry.load_cli() for entry in TASKS.values()]


def _stdout(args: argparse.Namespace) -> Any:
    """Where a verb's result goes: the real stdout (`main` sends the rest to stderr)."""
    return getattr(args, "stdout", None) or sys.stdout
