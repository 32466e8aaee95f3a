import subprocess
import sys

import pytest

from rnn_apps import __version__
from rnn_apps.cli import build_parser, load_config_file, main
from rnn_apps.errors import UserInputError


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 2
    assert "<task>" in capsys.readouterr().out


def test_config_file_errors(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "c.toml"
    bad.write_text("units = [")
    with pytest.raises(UserInputError, match="could not be parsed"):
        load_config_file(bad)
    txt = tmp_path / "c.txt"
    txt.write_text("x")
    with pytest.raises(UserInputError, match=r"\.toml, \.yaml"):
        load_config_file(txt)
    good = tmp_path / "c.yaml"
    good.write_text("units: 32\ncell: gru\n")
    assert load_config_file(good) == {"units": 32, "cell": "gru"}


def test_console_script_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "rnn_apps.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and __version__ in out.stdout


def test_show_describes_an_export_and_refuses_other_folders(tmp_path, capsys):
    import tensorflow as tf

    from rnn_apps import build_stacked_rnn
    from rnn_apps.export import Endpoint, export_saved_model

    model = build_stacked_rnn(num_features=2, units=2)

    def serve(window):
        return {"y": model(window)}

    spec = [tf.TensorSpec([None, 3, 2], tf.float32, name="window")]
    export_saved_model(
        tmp_path / "m",
        endpoints=[Endpoint("serving_default", serve, spec)],
        track=[model],
        metadata={"task": "demo"},
        verify=False,
    )
    assert main(["show", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "inputs['window'] tensor_info:" in out and '"task": "demo"' in out
    assert main(["show", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnn-apps: error:") and "not a SavedModel" in err
    assert len(err.strip().splitlines()) == 1
