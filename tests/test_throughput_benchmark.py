"""Smoke test of `benchmarks/throughput.py`'s helpers on tiny sizes (no timing claims)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (it is not part of the package)."""
    path = ROOT / "benchmarks" / "throughput.py"
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
    assert bench._percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert bench._percentile(list(map(float, range(101))), 99) == 99.0
