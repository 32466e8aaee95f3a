"""Executes every notebook in this folder top to bottom and saves it with its outputs, so the
committed notebooks show their plots and figures to someone who only reads them.

Run from the repository root: `make notebooks` (or `.venv/bin/python notebooks/execute.py
[name ...]`). Notebooks that read real data need the dataset mirror (`RNN_APPS_DATA_DIR`).
"""

import os
import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend keeps the figures
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    paths = sorted(HERE.glob("*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["RNN_APPS_NOTEBOOK_OUTPUT"] = tmp
            print(f"executing {path.name} ...", flush=True)
            nbclient.NotebookClient(
                nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": tmp}}
            ).execute()
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(HERE.parent)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
