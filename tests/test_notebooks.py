"""Every notebook in notebooks/ runs top to bottom (nbclient), as a reader would run it."""

import os
from pathlib import Path

import pytest

from rnn_apps.testing import mirror_dir

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("rnn_apps", {}).get("needs_mirror"):
        root = mirror_dir()
        if root is None:
            pytest.skip(f"{path.name} reads real data: needs the dataset mirror")
        monkeypatch.setenv("RNN_APPS_DATA_DIR", str(root))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("RNN_APPS_NOTEBOOK_OUTPUT", str(tmp_path))
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, errors
    assert os.environ.get("MPLBACKEND") == "Agg"
