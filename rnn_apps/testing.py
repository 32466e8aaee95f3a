"""Shared test helpers, in the spirit of keras' `run_layer_test` and keras-hub's
`run_model_saving_test`: every pipeline's tests call these instead of re-writing the checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
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
        a, e = np.asarray(a), np.asarray(e)
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a, e, atol=atol, rtol=0)
        else:  # strings, integers, booleans: exactly
            np.testing.assert_array_equal(a, e)


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


# =========================================================================== the task contract


def _cli_main(argv: list[str]) -> tuple[int, str, str]:
    """Runs `rnn-apps argv` in process; returns `(exit status, stdout, stderr)`."""
    import contextlib
    import io

    from rnn_apps.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def run_cli_help_test(task_name: str) -> None:
    """`rnn-apps <task> <verb> --help` of every verb prints its usage and exits 0."""
    from rnn_apps.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "task")
    verbs = next(a for a in sub.choices[task_name]._actions if a.dest == "verb").choices
    assert set(verbs) >= {"train", "evaluate", "predict", "export"}, sorted(verbs)
    for argv in ([task_name, "--help"], *([task_name, v, "--help"] for v in verbs)):
        code, out, err = _cli_main(argv)
        assert code == 0, (argv, err[-2000:])
        assert out.startswith("usage: rnn-apps"), (argv, out[:200])
        assert "Traceback" not in err, (argv, err[-2000:])


def _assert_one_line_error(fn: Any, match: str | None = None) -> str:
    """`fn()` raises `UserInputError` with a one-line message (matching `match`)."""
    import re

    from rnn_apps.errors import UserInputError

    try:
        fn()
    except UserInputError as err:
        message = str(err)
    else:
        raise AssertionError(f"{fn} did not raise UserInputError")
    assert "\n" not in message.strip(), message
    if match is not None:
        assert re.search(match, message), (match, message)
    return message


def _empty_batch(inputs: Mapping[str, np.ndarray], specs: Sequence[Any]) -> dict[str, Any]:
    """`inputs` with every batched input (leading dimension None) cut to 0 rows."""
    out = {}
    for spec in specs:
        value = np.asarray(inputs[spec.name])
        batched = spec.shape.rank and spec.shape[0] is None
        out[spec.name] = value[:0] if batched else value
    return out


def run_task_test(
    task_cls: type,
    config: Any,
    train: Any,
    validation: Any,
    tmp_path: Path,
    *,
    cli_train: Sequence[str],
    cli_evaluate: Sequence[str],
    cli_predict: Sequence[str],
    bad_inputs: Sequence[tuple[Any, str]] = (),
    atol: float = 1e-5,
) -> Any:
    """Holds a task to the contract every task shares (keras-hub's `run_task_test` in spirit).

    Steps, each an assertion:

    1. the task is in the registry (`rnn_apps.tasks.registry`) under its `task_name`;
    2. `fit` on `train` / `validation` with `config`;
    3. every export signature runs in process on `sample_inputs()`, and on an empty batch
       gives empty outputs;
    4. `export` writes a SavedModel verified in a clean process (no rnn_apps), whose
       `metadata.json` records the task and its contract version, with exactly the signatures
       the task declares; the `SavedModelPredictor` of it (what `open_model` returns) gives the
       in-process outputs;
    5. `save` / `load` (and `open_model` without naming the task) give the same outputs;
    6. the command line: `--help` of every verb; `train --json` with `config` as a `--config`
       file writes the documented layout and prints one JSON document on stdout (progress on
       stderr); `evaluate --json` and `predict --json` on the result parse as JSON; `export`
       to a path that is a file is refused in one line and leaves the file as it was;
       `train` in a folder holding another configuration's backup is refused in one line;
    7. bad input: an infinite learning rate is refused, a damaged `pipeline.json` is refused in
       one line, and each `(fn, match)` of `bad_inputs` is called with the trained task and with
       the SavedModel predictor and must raise a one-line `UserInputError` matching `match`;
    8. a task with a tensor-only `core()` exports it as LiteRT (`rnn-apps <task> export
       --format litert`) and ONNX, each verified in a clean process without TensorFlow, and
       `rnn_apps.runtime.PortableModel` runs both.

    Args:
        task_cls: The `Task` subclass.
        config: A tiny configuration (trains in seconds).
        train: Training data in the task's raw form.
        validation: Validation data, or None.
        tmp_path: A fresh folder.
        cli_train: Data options of `rnn-apps <task> train` (e.g. `["--data", "x.csv"]`).
        cli_evaluate: Data options of `evaluate`.
        cli_predict: Input options of `predict`.
        bad_inputs: `(fn(model), regex)` pairs.
        atol: Float tolerance between in-process, exported and reloaded outputs.

    Returns:
        The trained task.
    """
    import json

    import yaml

    from rnn_apps.tasks.base import (
        BACKUP_DIR,
        BACKUP_RUN_FILE,
        Predictor,
        SavedModelPredictor,
        open_model,
    )
    from rnn_apps.tasks.registry import get_task_class

    tmp_path = Path(tmp_path)
    name = task_cls.task_name
    # 1. registry
    assert get_task_class(name) is task_cls, f"{name} is not registered as {task_cls}"

    # 2. fit
    task = task_cls(config).fit(train, validation)
    assert isinstance(task, Predictor)

    # 3. every signature, and an empty batch
    samples = task.sample_inputs()
    declared = sorted(task.signature_names)
    assert set(samples) >= set(declared) - {"serving_default"}, (sorted(samples), declared)
    in_process = {}
    for sig, inputs in samples.items():
        in_process[sig] = task.run(sig, **inputs)
        assert in_process[sig], f"signature {sig!r} returned nothing"
        _, names, specs = task.signature(sig)
        empty = task.run(sig, **_empty_batch(inputs, specs))
        for key, value in empty.items():
            assert np.shape(value)[:1] in ((0,), ()), (sig, key, np.shape(value))

    # 4. export, verified in a clean process, and the predictor of it
    export_dir = tmp_path / "export"
    report = task.export(export_dir)
    assert report.verified
    meta = report.metadata
    assert meta["task"] == name
    assert meta.get("contract_version") == task_cls.contract_version
    assert sorted(set(meta["signatures"]) | {"serving_default"}) == declared
    predictor = open_model(export_dir)
    assert isinstance(predictor, SavedModelPredictor) and isinstance(predictor, Predictor)
    assert sorted(predictor.signature_names) == declared
    for sig, inputs in samples.items():
        assert_allclose_structure(predictor.run(sig, **inputs), in_process[sig], atol=atol)

    # 5. save / load
    task.save(tmp_path / "saved")
    loaded = open_model(tmp_path / "saved")
    assert type(loaded) is task_cls
    for sig, inputs in samples.items():
        assert_allclose_structure(loaded.run(sig, **inputs), in_process[sig], atol=atol)

    # 6. the command line
    run_cli_help_test(name)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(config.to_dict()))
    run = tmp_path / "run"
    code, out, err = _cli_main(
        [name, "train", *cli_train, "--config", str(cfg_file), "--output-dir", str(run), "--json"]
    )
    assert code == 0, err[-3000:]
    report_doc = json.loads(out)  # stdout holds the report and nothing else
    assert report_doc["task"] == name
    for entry in ("pipeline/pipeline.json", "saved_model/saved_model.pb", "report.json"):
        assert (run / entry).exists(), f"train did not write {entry}"
    assert not (run / BACKUP_DIR).exists()
    for verb, extra in (("evaluate", cli_evaluate), ("predict", cli_predict)):
        for model in (run, run / "saved_model"):
            code, out, err = _cli_main([name, verb, "--model", str(model), *extra, "--json"])
            assert code == 0, (verb, err[-3000:])
            doc = json.loads(out)
            if verb == "evaluate":  # it says what it scored
                assert doc.get("split") and doc.get("data"), doc
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    code, out, err = _cli_main([name, "export", "--model", str(run), "--output-dir", str(blocker)])
    assert code == 2 and err.count("\n") == 1 and "is a file" in err, err[-2000:]
    assert blocker.read_text() == "keep me"
    stale = tmp_path / "stale"
    (stale / BACKUP_DIR).mkdir(parents=True)
    (stale / BACKUP_DIR / "training_metadata.json").write_text("{}")  # a saved epoch
    (stale / BACKUP_DIR / BACKUP_RUN_FILE).write_text(
        json.dumps({"task": name, "config": {**config.to_dict(), "seed": config.seed + 1}})
    )
    code, out, err = _cli_main(
        [name, "train", *cli_train, "--config", str(cfg_file), "--output-dir", str(stale)]
    )
    assert code == 2 and "another configuration" in err and "seed" in err, err[-2000:]
    (stale / BACKUP_DIR / BACKUP_RUN_FILE).write_text(
        json.dumps({"task": name, "config": config.to_dict(), "data": "0" * 64})
    )
    code, out, err = _cli_main(
        [name, "train", *cli_train, "--config", str(cfg_file), "--output-dir", str(stale)]
    )
    assert code == 2 and "other training data" in err, err[-2000:]

    # 7. bad input
    if "learning_rate" in config.to_dict():
        _assert_one_line_error(
            lambda: task_cls(config.replace(learning_rate=float("inf"))), "finite"
        )
    damaged = tmp_path / "damaged"
    task.save(damaged)
    (damaged / "pipeline.json").write_text("{not json")
    _assert_one_line_error(lambda: task_cls.load(damaged), "damaged")
    for fn, match in bad_inputs:
        for model in (task, predictor):
            _assert_one_line_error(lambda fn=fn, model=model: fn(model), match)

    # 8. LiteRT and ONNX of the tensor-only core (tasks that have one): converted, run in a
    #    clean process without TensorFlow and compared there; the LiteRT one from the CLI
    from rnn_apps.errors import UserInputError

    try:
        core = task.core()
    except UserInputError:
        core = None
    if core is not None:
        from rnn_apps.portable import ATOL
        from rnn_apps.runtime import PortableModel

        code, out, err = _cli_main(
            [name, "export", "--model", str(run), "--format", "litert", "--json"]
        )
        assert code == 0, err[-3000:]
        assert json.loads(out)["litert"] == str(run / "litert")
        report = task.export(tmp_path / "onnx", format="onnx")
        assert max(report.max_abs_diff.values()) <= ATOL, report.max_abs_diff
        for path in (run / "litert", tmp_path / "onnx"):
            portable = PortableModel(path)
            assert portable.metadata["task"] == name
            assert portable.input_names == [s.name for s in core.input_signature]
            got = portable(**core.sample_inputs)
            assert set(got) == set(portable.output_names)
    return task
