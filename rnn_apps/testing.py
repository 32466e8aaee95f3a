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
    if env and Path(env).expanduser().is_dir():
        # Absolute, so that subprocesses and notebooks run in other folders find it too.
        return Path(env).expanduser().resolve()
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


def run_layer_test(layer: Any, inputs: Any, atol: float = 1e-6) -> np.ndarray:
    """Runs `layer` on `inputs`, rebuilds it from its config (weights copied) and checks the
    clone gives the same output, the same config, and the declared `compute_output_shape`.

    Returns:
        The layer's output as a NumPy array.
    """
    out = np.asarray(layer(inputs))
    clone = type(layer).from_config(layer.get_config())
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(inputs)), out, atol=atol, rtol=0)
    assert clone.get_config() == layer.get_config()
    in_shape = [np.shape(x) for x in inputs] if isinstance(inputs, list) else np.shape(inputs)
    declared = layer.compute_output_shape(in_shape)
    assert all(d is None or d == o for d, o in zip(declared, out.shape)), (declared, out.shape)
    return out


_SAFE_MODE_LOAD = """
import sys, numpy as np, keras, rnn_apps
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
np.save(sys.argv[2], np.asarray(model(np.load(sys.argv[3]))))
"""


def run_safe_mode_load_test(model: Any, inputs: np.ndarray, tmp_path: Path, atol: float = 1e-6):
    """Saves `model` as `.keras` and loads it with `safe_mode=True` in a fresh process that
    imports only `keras` and `rnn_apps` (so every custom layer must be registered by
    `import rnn_apps`); its outputs on `inputs` must match."""
    import subprocess
    import sys

    path, x, y = Path(tmp_path) / "m.keras", Path(tmp_path) / "x.npy", Path(tmp_path) / "y.npy"
    model.save(path)
    np.save(x, inputs)
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", _SAFE_MODE_LOAD, str(path), str(y), str(x)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_allclose(np.load(y), np.asarray(model(inputs)), atol=atol, rtol=0)


def run_kill_and_resume_test(
    cmd: list[str],
    out: Path,
    backup_name: str,
    *,
    cwd: str | os.PathLike | None = None,
    kill_after: float = 0.5,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """SIGKILLs a `rnn-apps <task> train` command mid-epoch, runs it again, checks it resumed.

    Starts `cmd`, waits until `out/backup/<backup_name>` exists (the end of the first epoch),
    waits `kill_after` seconds more (inside the second epoch), kills it with SIGKILL and checks
    nothing was committed; then runs the same command to completion and checks the backup is
    gone and `out/pipeline/pipeline.json` and `out/report.json` exist.

    Returns:
        The final `pipeline.json` state (callers check how many epochs the second run trained).
    """
    import json
    import signal
    import subprocess
    import time

    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    out, backup = Path(out), Path(out) / "backup" / backup_name
    if cwd is not None and not out.is_absolute():
        out, backup = Path(cwd) / out, Path(cwd) / backup
    first = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    try:
        while not (backup.is_dir() and any(backup.iterdir())):  # end of the first epoch
            assert first.poll() is None, first.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, f"no {backup} after {timeout:.0f} s"
            time.sleep(0.1)
        time.sleep(kill_after)
        assert first.poll() is None, "training finished before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        first.kill()
        first.stderr.close()
    assert first.returncode == -signal.SIGKILL
    assert not (out / "pipeline" / "pipeline.json").exists()
    assert not (out / "report.json").exists()  # nothing committed by the killed run

    second = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert second.returncode == 0, second.stderr[-3000:]
    assert not backup.exists()  # BackupAndRestore removes its backup once training completes
    assert (out / "report.json").is_file()
    return json.loads((out / "pipeline" / "pipeline.json").read_text())
