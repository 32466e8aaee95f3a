import json

import pytest

from rnn_apps import build_stacked_rnn
from rnn_apps.persistence import save_pipeline


def test_save_pipeline_writes_both_files_and_keeps_siblings(tmp_path):
    (tmp_path / "report.json").write_text("{}")
    model = build_stacked_rnn(vocab_size=5, units=2)
    save_pipeline(
        tmp_path,
        write_model=model.save,
        model_file="model.keras",
        state={"a": 1},
        state_file="state.json",
    )
    assert json.loads((tmp_path / "state.json").read_text()) == {"a": 1}
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert (tmp_path / "report.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.keras",
        "report.json",
        "state.json",
    ]


def test_failed_save_leaves_previous_files_untouched(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"good model")
    (tmp_path / "state.json").write_text('{"good": true}')

    def crash(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_pipeline(
            tmp_path,
            write_model=crash,
            model_file="model.keras",
            state={"new": 1},
            state_file="state.json",
        )
    assert (tmp_path / "model.keras").read_bytes() == b"good model"
    assert json.loads((tmp_path / "state.json").read_text()) == {"good": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "state.json"]
