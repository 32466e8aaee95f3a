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


@pytest.mark.parametrize(
    "name",
    ["../model-1.keras", "/etc/passwd", "sub/model-1.keras", "model-1.h5", "evil.keras", 7, ".."],
)
def test_a_state_may_only_name_a_model_file_of_its_own_folder(tmp_path, name):
    from rnn_apps.errors import UserInputError

    with pytest.raises(UserInputError, match="refusing to load"):
        model_path(tmp_path, {"model_file": name}, "model.keras")


def test_run_folder_commit_replaces_results_as_a_whole_and_keeps_logs(tmp_path):
    from rnn_apps.persistence import commit_run_dir, staging_dir

    out = tmp_path / "run"
    first = staging_dir(out)
    (first / "report.json").write_text('{"run": 1}')
    (first / "old_plot.png").write_bytes(b"png")
    commit_run_dir(first, out)
    (out / "logs").mkdir()
    (out / "logs" / "events").write_text("e")
    second = staging_dir(out)
    (second / "report.json").write_text('{"run": 2}')
    commit_run_dir(second, out)
    assert json.loads((out / "report.json").read_text()) == {"run": 2}
    assert not (out / "old_plot.png").exists()  # no mix of two runs
    assert (out / "logs" / "events").read_text() == "e"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no leftovers


def test_recover_finishes_a_cut_swap_and_cleans_stale_leftovers(tmp_path):
    from rnn_apps.persistence import recover_run_dir

    out = tmp_path / "run"
    dead = 2**22 + 12345  # no such process
    done = tmp_path / f".run.tmp-{dead}-aaaaaa"
    done.mkdir()
    (done / "report.json").write_text("{}")
    (done / ".complete").write_text("")
    half = tmp_path / f".run.tmp-{dead}-bbbbbb"
    half.mkdir()
    old = tmp_path / f".run.old-{dead}-cccccc"
    old.mkdir()
    recover_run_dir(out)  # killed between the two renames: the complete stage becomes `out`
    assert (out / "report.json").is_file() and not (out / ".complete").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_output_dir_with_foreign_files_is_refused(tmp_path):
    from rnn_apps.errors import UserInputError
    from rnn_apps.persistence import check_run_dir

    (tmp_path / "setup.py").write_text("")
    with pytest.raises(UserInputError, match="files a run did not write"):
        check_run_dir(tmp_path)
