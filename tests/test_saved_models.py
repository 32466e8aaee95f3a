"""Every committed model under `saved_models/` against the current contract, without
retraining: a stale export (one whose task's contract has moved on) fails here until it is
regenerated with `make models` (`benchmarks/regenerate_models.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnn_apps.cli import main
from rnn_apps.export import _saved_model_proto, read_metadata
from rnn_apps.tasks.registry import TASKS, get_task_class

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = ROOT / "saved_models"
RECORDED = {
    k: v
    for k, v in json.loads((MODELS_DIR / "models.json").read_text()).items()
    if not k.startswith("_")
}
FOLDERS = sorted(p.name for p in MODELS_DIR.iterdir() if p.is_dir())
MAX_MB = 25


def test_every_committed_model_has_a_recorded_command_and_every_record_a_model():
    assert sorted(RECORDED) == FOLDERS
    readme = (MODELS_DIR / "README.md").read_text()
    for name, entry in RECORDED.items():
        assert entry["task"] in TASKS, name
        assert entry["command"][0] == "python" and Path(ROOT / entry["command"][1]).is_file()
        assert f"`{name}/`" in readme, f"saved_models/README.md does not list {name}"


@pytest.mark.parametrize("name", FOLDERS)
def test_committed_model_matches_the_current_contract(name):
    path = MODELS_DIR / name
    meta = read_metadata(path)
    task_cls = get_task_class(meta["task"])
    assert meta["task"] == RECORDED[name]["task"]
    recorded = int(meta.get("contract_version", 1))
    assert recorded == task_cls.contract_version, (
        f"saved_models/{name} was exported under {meta['task']} contract {recorded}, the code "
        f"is at {task_cls.contract_version}: regenerate it with "
        f"`python benchmarks/regenerate_models.py --only {name}`"
    )
    # The SavedModel's signatures are exactly those its metadata documents (serving_default
    # being the first one when no endpoint is named so), with the documented inputs.
    (graph,) = _saved_model_proto(path).meta_graphs
    saved = {k: v for k, v in graph.signature_def.items() if not k.startswith("__")}
    assert set(saved) == set(meta["signatures"]) | {"serving_default"}
    for sig, doc in meta["signatures"].items():
        assert sorted(saved[sig].inputs) == sorted(i["name"] for i in doc["inputs"]), sig
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    assert size_mb <= MAX_MB, f"{name} is {size_mb:.1f} MB"
    card = (path / "MODEL_CARD.md").read_text()
    assert "benchmarks/" in card, f"{name}/MODEL_CARD.md names no reproducing command"
    assert "/tmp/" not in json.dumps(meta) and "/work/" not in json.dumps(meta), (
        f"{name}'s metadata holds a machine path"
    )


@pytest.mark.parametrize("name", FOLDERS)
def test_committed_model_through_the_cli_show(name, capsys):
    assert main(["show", str(MODELS_DIR / name)]) == 0
    out = capsys.readouterr().out
    assert "signature_def['serving_default']" in out and '"task"' in out


def _tfsm_calls():
    """(folder, signature, positional input, keyword inputs, an output key) for every
    signature of every committed model, called as README shows: the first input positionally,
    the others as keywords."""
    import tensorflow as tf

    calls = []
    for name in FOLDERS:
        meta = read_metadata(MODELS_DIR / name)
        for sig, doc in meta["signatures"].items():
            calls.append((name, sig, [i["name"] for i in doc["inputs"]]))
    samples = {
        "text": tf.constant(["a fine film, I liked it."]),
        "prompt": tf.constant(["ROMEO:"]),
        "beam_width": tf.constant(2),
        "max_length": tf.constant(8),
        "max_new_tokens": tf.constant(8),
        "temperature": tf.constant(1.0),
        "top_k": tf.constant(0),
        "top_p": tf.constant(1.0),
        "seed": tf.constant(1),
        "tokens": tf.constant([["A", "fine", "film", "."]]),
    }
    return calls, samples


@pytest.mark.parametrize("name,sig,inputs", _tfsm_calls()[0])
def test_every_signature_of_every_committed_model_in_keras_tfsmlayer(name, sig, inputs):
    import keras
    import tensorflow as tf

    samples = _tfsm_calls()[1]
    meta = read_metadata(MODELS_DIR / name)
    if inputs == ["window"] and meta["task"] == "panel":  # one series: [batch, lookback]
        samples = {"window": tf.ones([1, meta["lookback"]])}
    elif inputs == ["window"]:
        samples = {"window": tf.zeros([1, meta["lookback"], len(meta["columns"])])}
    elif inputs == ["observation", "state"] and meta["task"] == "panel":  # one series
        samples = {"observation": tf.ones([1]), "state": tf.ones([1, meta["lookback"]])}
    elif inputs == ["observation", "state"]:  # forecast streaming: the state is a window
        f = len(meta["columns"])
        samples = {"observation": tf.zeros([1, f]), "state": tf.zeros([1, meta["lookback"], f])}
    elif inputs == ["token", "state"]:  # textgen streaming: the states side by side
        width = sum(meta["state_sizes"])
        samples = {"token": tf.constant([2]), "state": tf.zeros([1, width])}
    layer = keras.layers.TFSMLayer(str(MODELS_DIR / name), call_endpoint=sig)
    first, *rest = inputs
    out = layer(samples[first], **{k: samples[k] for k in rest})
    assert out and all(int(v.shape[0]) == 1 for v in out.values() if v.shape.rank), out


def test_committed_m4_model_streams_what_it_forecasts_from_each_window():
    """`saved_models/forecast_m4_hourly` through `open_model`: `initial_state` on a short
    series (NaN-padded), then one `step` per hour gives `serving_default`'s outputs for each
    window."""
    import numpy as np

    from rnn_apps.tasks.base import open_model

    model = open_model(MODELS_DIR / "forecast_m4_hourly")
    lookback = model.metadata["lookback"]
    hours = np.arange(lookback + 4)
    values = (500 + 200 * np.sin(2 * np.pi * hours / 24)).astype("float32")
    window = np.full((1, lookback), np.nan, "float32")
    window[0, -100:] = values[lookback - 100 : lookback]  # 100 hours observed so far
    out = model.run("initial_state", window=window)
    for k in range(4):
        out = model.run("step", observation=values[None, lookback + k], state=out["state"])
        window = np.concatenate([window[:, 1:], values[None, lookback + k, None]], axis=1)
        np.testing.assert_array_equal(out["state"], window)
        expected = model.run("serving_default", window=window)
        for key, value in expected.items():
            np.testing.assert_allclose(out[key], value, rtol=1e-5, atol=1e-3, err_msg=key)
