"""The `rnn-apps` command line: `rnn-apps <task> <verb> [options]`.

One parser, one set of verbs (`rnn_apps.cli.verbs`: `train`, `evaluate`, `predict`,
`export`), and a thin hook file per task (`rnn_apps/cli/<task>.py`, a `TaskCLI` subclass).
Every verb takes the common options of `add_common_args`.

Bad input (`rnn_apps.UserInputError`, a missing file ...) ends with one line on stderr and exit
status 2, never a Python traceback; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Adds the options every verb understands."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="dataset mirror/cache folder (default: $RNN_APPS_DATA_DIR, else download)",
    )
    parser.add_argument(
        "--output-dir", default=None, help="where models, plots and reports are written"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for repeatable runs")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="turn on TensorFlow op determinism: with --seed, two CPU runs give bitwise "
        "identical weights (slower)",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="TOML or YAML file whose keys override the task's default configuration",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout (progress and notes go to stderr)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up and runtime logs (off by default)",
    )


def worker_output_dir(output_dir: Path) -> Path:
    """Where this process writes: `output_dir` on the chief (worker 0 of `TF_CONFIG`, or no
    TF_CONFIG), the sibling folder `<output_dir>-worker-<i>` on the other workers, so that
    several workers sharing a file system never write (or replace) each other's files."""
    from rnn_apps.training import is_chief, worker_index

    if is_chief():
        return output_dir
    return output_dir.parent / f"{output_dir.name}-worker-{worker_index()}"


def load_config_file(path: str | os.PathLike | None) -> dict[str, Any]:
    """Reads a TOML (`.toml`) or YAML (`.yaml`/`.yml`) file of configuration overrides.

    Raises:
        UserInputError: the file is missing, unreadable, of another type, or not a mapping.
    """
    from rnn_apps.errors import UserInputError

    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"--config file {str(p)!r} does not exist.")
    try:
        if p.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(p.read_text())
        elif p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(p.read_text()) or {}
        else:
            raise UserInputError(f"--config file {str(p)!r} must end in .toml, .yaml or .yml.")
    except UserInputError:
        raise
    except Exception as err:
        raise UserInputError(f"--config file {str(p)!r} could not be parsed: {err}") from err
    if not isinstance(data, dict):
        raise UserInputError(f"--config file {str(p)!r} must hold a mapping of option: value.")
    return data


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available task registered."""
    from rnn_apps import __version__

    parser = argparse.ArgumentParser(
        prog="rnn-apps",
        description=(
            "Train, evaluate, run and export recurrent models. Results go to stdout (one JSON "
            "document with --json); progress and notes go to stderr."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rnn_apps {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up and runtime logs"
    )
    sub = parser.add_subparsers(dest="task", metavar="<task>")
    show = sub.add_parser(
        "show",
        help="describe an exported SavedModel (signatures as saved_model_cli, metadata)",
        description="Print the signatures of a SavedModel as `saved_model_cli show --all` "
        "does, followed by its rnn_apps metadata.",
    )
    show.add_argument("path", help="SavedModel folder")
    show.set_defaults(func=_show)
    from rnn_apps.cli.verbs import registered_clis

    for cli in registered_clis():
        cli.register(sub)
    return parser


def _show(args: argparse.Namespace) -> int:
    import json

    from rnn_apps.export import read_metadata, signature_summary

    path = Path(args.path)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path} is not a SavedModel folder (no saved_model.pb).")
    out = getattr(args, "stdout", sys.stdout)
    print(signature_summary(path), file=out)
    try:
        meta = read_metadata(path)
    except FileNotFoundError:
        return 0
    print("\nmetadata.json:", file=out)
    print(json.dumps({k: v for k, v in meta.items() if k != "signatures"}, indent=2), file=out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rnn-apps` console script.

    What a verb prints as its result goes to stdout; everything else written while it runs
    (Keras progress, notes, warnings) goes to stderr, so `rnn-apps ... --json > out.json`
    holds one JSON document.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from rnn_apps.errors import UserInputError

    args.stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if getattr(args, "deterministic", False):
                from rnn_apps.training import set_seed

                set_seed(getattr(args, "seed", None), deterministic=True)
            return int(func(args) or 0)
    except KeyboardInterrupt:
        print("rnn-apps: interrupted", file=sys.stderr)
        return 130
    except (UserInputError, FileNotFoundError, PermissionError, RuntimeError, ValueError) as err:
        if args.debug:
            raise
        message = " ".join(str(err).split())  # one line, whatever the exception held
        print(f"rnn-apps: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
