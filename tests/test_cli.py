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


def _series_csv(path, rows=240):
    import numpy as np
    import pandas as pd

    t = np.arange(rows)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=rows, freq="h"),
            "y": np.sin(2 * np.pi * t / 24) + 0.01 * t,
        }
    )
    frame.to_csv(path, index=False)
    return path


def _train_args(data, out):
    return [
        "forecast",
        "train",
        "--data",
        str(data),
        "--lookback",
        "24",
        "--horizon",
        "6",
        "--architecture",
        "dlinear",
        "--epochs",
        "1",
        "--output-dir",
        str(out),
    ]


@pytest.mark.slow
def test_a_failed_export_leaves_the_previous_run_whole(tmp_path, monkeypatch, capsys):
    """One commit point: a run that fails while exporting changes nothing in --output-dir
    and leaves no staging folder behind."""
    import json
    from pathlib import Path

    from rnn_apps.export import ExportVerificationError
    from rnn_apps.tasks.forecast import Forecaster

    monkeypatch.chdir(tmp_path)
    data = _series_csv(tmp_path / "series.csv")
    assert main(_train_args("series.csv", "runs/f")) == 0
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs" / "f").iterdir()}
    report = json.loads((tmp_path / "runs" / "f" / "report.json").read_text())

    def broken_export(self, path, **kwargs):  # writes half an export, then fails
        Path(path).mkdir(parents=True)
        (Path(path) / "saved_model.pb").write_bytes(b"half")
        raise ExportVerificationError("the reloaded model differs (simulated)")

    monkeypatch.setattr(Forecaster, "export", broken_export)
    assert main(_train_args(data, "runs/f")) == 2
    assert "simulated" in capsys.readouterr().err
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs" / "f").iterdir()}
    assert after == before  # the previous results, untouched
    assert json.loads((tmp_path / "runs" / "f" / "report.json").read_text()) == report
    leftovers = [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_deprecated_flags_still_work_with_a_warning(capsys):
    args = build_parser().parse_args(
        ["forecast", "export", "--model-dir", "runs/f", "--export-dir", "out/x"]
    )
    assert args.model_path == "runs/f" and args.output_dir == "out/x"
    err = capsys.readouterr().err
    assert "--model-dir is deprecated" in err and "use --model" in err
    assert "--export-dir is deprecated" in err


def test_a_model_of_another_task_is_refused_in_one_line(capsys):
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "saved_models" / "forecast_etth1"
    assert main(["textgen", "predict", "--model", str(committed), "--prompt", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "is a 'forecast' model, not a 'textgen' one" in err


def test_next_hint_repeats_how_the_command_was_run(monkeypatch):
    from rnn_apps.cli.verbs import invoked_as

    monkeypatch.setattr("sys.argv", [".venv/bin/rnn-apps", "forecast", "train"])
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert invoked_as() == ".venv/bin/rnn-apps"
    monkeypatch.setattr("sys.argv", ["/usr/bin/python", "-m", "pytest"])
    assert invoked_as() == "rnn-apps"


def _script_env():
    import os

    env = {
        k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNN_APPS_TF_LOGS")
    }
    env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def test_no_tensorflow_start_up_lines_unless_verbose():
    """TensorFlow's C++ start-up notices (cuda drivers, cuInit, absl, oneDNN) stay off."""
    from pathlib import Path

    script = str(Path(sys.executable).parent / "rnn-apps")
    quiet = subprocess.run(
        [script, "forecast", "--help"], capture_output=True, text=True, env=_script_env()
    )
    assert quiet.returncode == 0 and quiet.stdout.startswith("usage: rnn-apps forecast")
    assert quiet.stderr == "", quiet.stderr
    loud = subprocess.run(
        [script, "--verbose", "forecast", "--help"],
        capture_output=True,
        text=True,
        env=_script_env(),
    )
    assert loud.returncode == 0 and loud.stdout.startswith("usage: rnn-apps forecast")


def test_start_up_filter_keeps_real_errors():
    from rnn_apps._startup import is_noise

    assert is_noise("E0000 00:00:1 ... cuda_executor.cc:1228] failed call to cuInit: UNKNOWN")
    assert is_noise("WARNING: All log messages before absl::InitializeLog() is called are ...")
    assert not is_noise("Traceback (most recent call last):")
    assert not is_noise("E0000 some real kernel error")


def test_every_registered_task_is_a_cli_word_and_help_of_every_verb_works():
    from rnn_apps.tasks.registry import TASKS
    from rnn_apps.testing import run_cli_help_test

    parser = build_parser()
    words = next(a for a in parser._actions if a.dest == "task").choices
    assert set(TASKS) <= set(words)
    for name in TASKS:
        run_cli_help_test(name)


def test_unknown_fit_parameter_and_non_finite_options_are_refused_in_one_line(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    _series_csv(csv)
    code = main(
        ["forecast", "train", "--data", str(csv), "--output-dir", str(tmp_path / "o"), "--config",
         str(_write(tmp_path / "c.yaml", "learning_rate: .inf\n"))]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "must be a finite number" in err and err.count("\n") == 1


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "argv, key",
    [
        (["translate", "train", "--attention", "none", "--units", "8"], "attention"),
        (["tag", "train", "--char-encoder", "none", "--units", "8"], "char_encoder"),
    ],
)
def test_a_none_flag_turns_an_option_off_and_the_others_stay_given(argv, key):
    args = build_parser().parse_args(argv)
    config = args.func.__self__._config(args)
    assert getattr(config, key) is None and config.units == 8
    default = build_parser().parse_args(argv[:2])
    assert getattr(default.func.__self__._config(default), key) is not None
