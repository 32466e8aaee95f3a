"""Shared test helpers, in the spirit of keras' `run_layer_test` and keras-hub's
`run_model_saving_test`: every pipeline's tests call these instead of re-writing the checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.data import DATA_DIR_ENV

_SHARED_MIRROR = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def mirror_dir() -> Path | None:
    """The dataset mirror: `$RNN_APPS_DATA_DIR`, else `../shared/datasets` beside the repo."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env and Path(env).is_dir():
        return Path(env)
    if _SHARED_MIRROR.is_dir():
        return _SHARED_MIRROR
    return None


def require_mirror_file(fname: str) -> Path:
    """Returns the mirror's copy of `fname`, or skips the calling test with the reason."""
    import pytest

    root = mirror_dir()
    if root is None:
        pytest.skip(
            f"needs the dataset mirror (set {DATA_DIR_ENV} to a folder holding {fname}); "
            "none on this machine"
        )
    path = root / fname
    if not path.exists():
        pytest.skip(f"dataset mirror {root} has no {fname}")
    return path


def _predict(model: Any, inputs: Any) -> Any:
    import keras

    out = model.predict(inputs, verbose=0)
    return keras.tree.map_structure(np.asarray, out)


def assert_allclose_structure(actual: Any, expected: Any, atol: float = 1e-6) -> None:
    """Asserts two (nested) structures of arrays are equal within `atol`."""
    import keras

    keras.tree.assert_same_structure(actual, expected)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol, rtol=0)


def run_model_saving_test(model: Any, inputs: Any, tmp_path: Path, atol: float = 0.0) -> Any:
    """Saves `model` to `.keras`, reloads it with `safe_mode=True` and compares predictions.

    Returns:
        The reloaded model.
    """
    import keras

    path = Path(tmp_path) / f"{model.name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert_allclose_structure(_predict(restored, inputs), _predict(model, inputs), atol=atol)
    return restored


def run_export_roundtrip_test(
    path: str | os.PathLike,
    endpoint: str,
    inputs: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    atol: float = 1e-5,
) -> None:
    """Loads an exported SavedModel in a clean process (no rnn_apps) and checks one signature."""
    from rnn_apps.export import verify_saved_model

    verify_saved_model(
        path, {endpoint: dict(inputs)}, expected={endpoint: dict(expected)}, atol=atol
    )
