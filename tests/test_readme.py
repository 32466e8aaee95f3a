"""Every Python block of README.md runs as written, each in a fresh process in an empty
working directory (so relative paths are exercised), as a newcomer would paste it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_apps.testing import mirror_dir

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
NEEDS_DATA = (
    "load_etth1", "load_corpus", "load_imdb", "split_etth1", "load_fra_eng", "load_m4",
)  # fmt: skip


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path):
    code = BLOCKS[index]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    if any(name in code for name in NEEDS_DATA):
        root = mirror_dir()
        if root is None:
            pytest.skip("this README block reads a real dataset: needs the dataset mirror")
        env["RNN_APPS_DATA_DIR"] = str(root)
    # Blocks that use the committed models run from the repository root, as README says;
    # the others in an empty folder, so that every path they write is exercised.
    cwd = README.parent if "saved_models/" in code else tmp_path
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"README block {index} failed:\n{code}\n{proc.stderr[-3000:]}"


def _readme_commands() -> list[str]:
    """Every concrete `rnn-apps ...` command line of README's bash blocks."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(".venv/bin/"):
                line = line[len(".venv/bin/") :]
            if line.startswith("rnn-apps ") and not any(c in line for c in "[<"):
                commands.append(line)
    return commands


def test_every_readme_command_line_parses():
    """The command lines README shows use options that exist (no stale flags)."""
    import shlex

    from rnn_apps.cli import build_parser

    commands = _readme_commands()
    assert len(commands) >= 10
    parser = build_parser()
    for line in commands:
        try:
            args = parser.parse_args(shlex.split(line)[1:])
        except SystemExit as exc:  # argparse printed why
            raise AssertionError(f"README command does not parse: {line}") from exc
        assert callable(getattr(args, "func", None)), line
