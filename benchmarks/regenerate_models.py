"""Regenerates the committed models under `saved_models/` from their recorded commands.

    python benchmarks/regenerate_models.py [--only forecast_etth1 ...] [--data-dir DIR]
    make models

`saved_models/models.json` lists each committed model with the benchmark command that trains,
evaluates and exports it (and writes its model card and results JSON). This script runs those
commands one after the other from the repository root (hours on a 2-core CPU: CI does not run
it), then checks every regenerated export against the current contract with
`tests/test_saved_models.py`. Run it from a clean checkout and do not edit the package while it
runs (TensorFlow's autograph re-reads source files when it traces).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "saved_models" / "models.json"


def recorded_models() -> dict[str, dict]:
    """`{folder: {"task", "minutes", "command"}}` from `saved_models/models.json`."""
    data = json.loads(MODELS.read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def command_for(entry: dict, data_dir: str) -> list[str]:
    """The recorded command with `{data_dir}` filled in and this interpreter as `python`."""
    cmd = [a.replace("{data_dir}", data_dir) for a in entry["command"]]
    return [sys.executable, *cmd[1:]] if cmd[0] == "python" else cmd


def main(argv: list[str] | None = None) -> int:
    models = recorded_models()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=sorted(models), default=None)
    p.add_argument(
        "--data-dir",
        default=os.environ.get("RNN_APPS_DATA_DIR") or str(ROOT.parent / "shared" / "datasets"),
        help="the dataset mirror (default: $RNN_APPS_DATA_DIR, else ../shared/datasets)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = p.parse_args(argv)
    names = args.only or list(models)
    total = sum(models[n]["minutes"] for n in names)
    print(f"regenerating {', '.join(names)} (about {total} minutes)", file=sys.stderr)
    for name in names:
        cmd = command_for(models[name], args.data_dir)
        print(f"[{name}] {' '.join(cmd)}", file=sys.stderr, flush=True)
        if args.dry_run:
            continue
        start = time.monotonic()
        subprocess.run(cmd, cwd=ROOT, check=True)
        print(f"[{name}] done in {(time.monotonic() - start) / 60:.1f} min", file=sys.stderr)
    if args.dry_run:
        return 0
    check = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "tests/test_saved_models.py"]
    return subprocess.run(check, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
