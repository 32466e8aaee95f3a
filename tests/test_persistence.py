import json

import pytest

from rnn_apps import build_stacked_rnn
from rnn_apps.persistence import model_path, save_pipeline


def _save(directory, **kw):
    args = dict(model_file="model.keras", state={"a": 1}, state_file="state.json")
    args.update(kw)
    return save_pipeline(directory, **args)


def test_save_pipeline_writes_both_files_and_keeps_siblings(tmp_path):
    (tmp_path / "report.json").write_text("{}")
    model = build_stacked_rnn(vocab_size=5, units=2)
    _save(tmp_path, write_model=model.save)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["a"] == 1
    path = model_path(tmp_path, state, "model.keras")
    assert path.suffix == ".keras" and path.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, "report.json", "state.json"]
    )
    # A second save replaces the pair and removes the earlier model file.
    _save(tmp_path, write_model=model.save, state={"a": 2})
    state2 = json.loads((tmp_path / "state.json").read_text())
    assert state2["a"] == 2 and not path.exists()
    assert len(list(tmp_path.glob("model-*.keras"))) == 1


@pytest.mark.parametrize("stage", ["model", "state"])
def test_failed_save_leaves_the_previous_pair_untouched(tmp_path, stage):
    def good(path):
        path.write_bytes(b"good model")

    _save(tmp_path, write_model=good, state={"good": True})
    before = sorted(p.name for p in tmp_path.iterdir())

    def crash(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    def ok(path):
        path.write_bytes(b"new model")

    with pytest.raises((OSError, TypeError)):
        if stage == "model":  # the model write fails
            _save(tmp_path, write_model=crash, state={"new": 1})
        else:  # the model is written, the state is not (not JSON-serialisable)
            _save(tmp_path, write_model=ok, state={"new": object()})
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["good"] is True
    assert model_path(tmp_path, state, "model.keras").read_bytes() == b"good model"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_model_path_reads_older_saves_and_explains_a_missing_file(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"x")
    assert model_path(tmp_path, {}, "model.keras").name == "model.keras"
    with pytest.raises(FileNotFoundError, match="no model file 'model-1.keras'"):
        model_path(tmp_path, {"model_file": "model-1.keras"}, "model.keras")
