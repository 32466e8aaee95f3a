"""`benchmarks/forecast_m4_hourly.py` end to end on the first M4 hourly series (a smoke run:
scores, JSON, model card; no quality or timing claims), and the committed M4 model through the
command line from the repository root."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnn_apps.cli import main
from rnn_apps.testing import require_mirror_file

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
COMMITTED = "saved_models/forecast_m4_hourly"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(
        "m4_benchmark", BENCHMARKS / "forecast_m4_hourly.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.path.remove(str(BENCHMARKS))


def test_score_matches_the_metrics_and_counts_coverage(bench):
    actual = {"a": np.array([1.0, 2.0, 3.0, 4.0])}
    insample = {"a": np.arange(1.0, 30.0)}
    forecast = {"a": np.array([1.0, 2.0, 3.0, 5.0])}
    lo, hi = {"a": actual["a"] - 1}, {"a": np.array([5.0, 5.0, 5.0, 3.0])}
    out = bench.score(actual, insample, forecast, {95: (lo, hi)}, forecast, season=1)
    assert out["owa"] == pytest.approx(1.0)  # scored against itself as Naive2
    assert out["coverage_95"] == 0.75


@pytest.mark.slow
@pytest.mark.mirror
def test_smoke_run_writes_json_and_a_model_card(bench, tmp_path):
    require_mirror_file("m4/Hourly-train.csv")
    out = tmp_path / "m4.json"
    export = tmp_path / "sm"
    code = bench.main([
        "--max-series", "24", "--lookback", "96", "--units", "8", "--num-models", "2",
        "--steps-per-epoch", "5", "--epochs", "2", "--baselines", "--output", str(out),
        "--export-dir", str(export),
    ])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert {"naive2", "seasonal_naive", "panel_conformal", "panel_quantiles"} <= set(
        result["models"]
    )
    ours = result["models"]["panel_conformal"]
    assert {"smape", "mase", "owa", "msis_95", "coverage_95", "coverage_80"} <= set(ours)
    assert result["models"]["naive2"]["owa"] == pytest.approx(1.0)
    assert "<dir>" in result["command"] and str(tmp_path) not in json.dumps(result)
    assert "panel_conformal" in (export / "MODEL_CARD.md").read_text()


@pytest.mark.mirror
def test_committed_m4_model_evaluates_and_predicts_from_the_repo_root(
    monkeypatch, capsys, tmp_path
):
    require_mirror_file("m4/Hourly-train.csv")
    monkeypatch.chdir(ROOT)
    assert main(["panel", "evaluate", "--model", COMMITTED, "--data", "m4-hourly", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["split"] == "test" and doc["metrics"]["num_series"] == 414
    card = (ROOT / COMMITTED / "MODEL_CARD.md").read_text()
    smape = float(re.search(r"\| panel_conformal \| ([0-9.]+) \|", card).group(1))
    assert doc["metrics"]["smape"] == pytest.approx(smape, abs=2e-3)  # the card's figures
    # a CSV of the user's own: two series, integer steps, one shorter than the lookback
    rng = np.random.default_rng(0)
    frame = pd.concat([
        pd.DataFrame({"unique_id": uid, "ds": np.arange(n), "y": 50 + 10 * np.sin(np.arange(n) / 4)
                      + rng.normal(0, 1, n)})
        for uid, n in (("long", 400), ("short", 100))
    ])  # fmt: skip
    frame.to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "out"
    args = ["panel", "predict", "--model", COMMITTED, "--data", str(tmp_path / "mine.csv")]
    assert main([*args, "--output-dir", str(out)]) == 0
    pred = pd.read_csv(out / "forecast.csv")
    assert len(pred) == 96 and (pred["lower_95"] <= pred["upper_95"]).all()
