"""Smoke test of `benchmarks/throughput.py`'s helpers on tiny sizes (no timing claims), and of
the benchmark harness every script uses (`benchmarks/_common.py`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def harness():
    """`benchmarks/_common.py`, imported as the scripts import it (their folder on sys.path)."""
    added = str(BENCHMARKS) not in sys.path
    if added:
        sys.path.insert(0, str(BENCHMARKS))
    import _common

    yield _common
    if added:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (it is not part of the package)."""
    path = BENCHMARKS / "throughput.py"
    spec = importlib.util.spec_from_file_location("throughput_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_padded_and_bucketed_batches(bench):
    lengths = [5, 17, 40, 90, 150, 230, 300, 12, 64, 33] * 20
    padded = bench.make_batches(lengths, "padded", 8, None, 3, seed=0)
    assert len(padded) == 3
    for x, y in padded:
        assert x.shape == (8, bench.MAX_LEN) and x.dtype == np.int32 and y.shape == (8,)
        real = np.count_nonzero(x, axis=1)
        assert real.min() > 0 and real.max() <= bench.MAX_LEN
        # right padding: every row is its real tokens then zeros
        assert all(np.all(row[:n] > 0) and np.all(row[n:] == 0) for row, n in zip(x, real))
    bucketed = bench.make_batches(lengths, "bucketed", 8, 32, 4, seed=0)
    assert len(bucketed) == 4
    for x, _ in bucketed:
        real = np.count_nonzero(x, axis=1)
        assert x.shape[1] == real.max() <= bench.MAX_LEN  # padded to its longest review
        assert real.min() > (x.shape[1] // 32 - 1) * 32 - 1  # one 32-token bucket


def test_variants_and_provenance_have_no_paths(bench):
    assert {"hand_keras_padded", "rnn_apps"} <= set(bench.VARIANTS)
    for spec in bench.VARIANTS.values():
        assert spec["model"] in ("hand", "rnn_apps") and spec["batches"] in ("padded", "bucketed")
    prov = bench.provenance()
    assert prov["cpu_count"] >= 1 and len(prov["load_average_at_start"]) == 3
    text = json.dumps(prov)
    assert str(ROOT) not in text and str(Path.home()) not in text
    assert "git_commit" in prov and "cpu_model" in prov


def test_percentiles(harness):
    assert harness.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert harness.percentile(list(map(float, range(101))), 99) == 99.0
    assert harness.latency_summary([1.0, 2.0, 3.0, 10.0]) == {
        "p50_ms": 3.0,
        "p99_ms": 10.0,
        "mean_ms": 4.0,
    }


def test_recorded_command_has_no_machine_paths(harness, tmp_path):
    argv = [
        "--data-dir",
        "/somewhere/datasets",
        "--save-dir",
        "/tmp/fc/models",
        f"--output={tmp_path / 'x.json'}",
        "--export-dir",
        str(ROOT / "saved_models" / "forecast_etth1"),
        "--epochs",
        "5",
        "--config",
        '{"units": 8}',
        str(Path.home() / "notes.txt"),
    ]
    cmd = harness.recorded_command(
        "forecast_etth1.py",
        argv,
        path_options={"--save-dir": "<dir>", "--output": "<file>", "--export-dir": "<dir>"},
    )
    assert cmd == (
        "python benchmarks/forecast_etth1.py --data-dir ../shared/datasets --save-dir <dir> "
        "--output=<file> --export-dir saved_models/forecast_etth1 --epochs 5 "
        "--config '{\"units\": 8}' <dir>"
    )
    assert str(ROOT) not in cmd and str(Path.home()) not in cmd and str(tmp_path) not in cmd
    # The mirror taken from RNN_APPS_DATA_DIR is named too; no data option, nothing added.
    assert harness.recorded_command("x.py", []) == (
        "python benchmarks/x.py --data-dir ../shared/datasets"
    )
    assert harness.recorded_command("x.py", ["--quick"], data_option=None) == (
        "python benchmarks/x.py --quick"
    )
    # Without a data option, option values stay as given.
    assert harness.recorded_command(
        "x.py", ["--models", "a", "b", "--n", "3"], data_option=None
    ) == ("python benchmarks/x.py --models a b --n 3")
    dropped = ["--deadline", "23:20", "--work-dir=/tmp/w", "--max-train-minutes", "58"]
    assert harness.recorded_command(
        "sentiment_imdb.py", dropped, drop_options=("--deadline", "--work-dir")
    ) == (
        "python benchmarks/sentiment_imdb.py --data-dir ../shared/datasets --max-train-minutes 58"
    )


def test_run_child_result_error_and_timeout(harness):
    code = "import sys; sys.path.insert(0, sys.argv[1]); import _common; "
    ok = [sys.executable, "-c", code + "_common.emit_result({'x': input()})", str(BENCHMARKS)]
    assert harness.run_child(ok, stdin="7\n", timeout=60) == {"x": "7"}
    bad = [sys.executable, "-c", "raise SystemExit('broken child')"]
    assert "broken child" in harness.run_child(bad, timeout=60)["error"]
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    assert harness.run_child(slow, timeout=0.5)["error"].startswith("timed out after 0.5 s")


def test_write_result_is_atomic_and_plain_json(harness, tmp_path):
    path = tmp_path / "results" / "r.json"
    harness.write_result(path, {"a": np.float32(1.5), "b": np.arange(2), "c": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1], "c": None}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary file left
    assert harness.result_path("throughput") == BENCHMARKS / "results" / "throughput.json"


def test_the_dlinear_baseline_fit_lives_with_its_benchmark():
    """`fit_dlinear_baseline` moved from the package to the ETTh1 benchmark (its only user),
    so the forecast baselines module no longer imports the task."""
    spec = importlib.util.spec_from_file_location(
        "forecast_etth1_benchmark", BENCHMARKS / "forecast_etth1.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.fit_dlinear_baseline)
    source = (ROOT / "rnn_apps" / "tasks" / "forecast" / "baselines.py").read_text()
    assert "forecast.task" not in source and "import Forecaster" not in source
