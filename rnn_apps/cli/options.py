"""The options every verb of `rnn-apps` shares, and the files and folders they name."""

from __future__ import annotations

import argparse
import os
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
    from rnn_apps.cluster import is_chief, worker_index

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
