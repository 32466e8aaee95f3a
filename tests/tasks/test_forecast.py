"""Forecasting pipeline: synthetic series with known structure, tiny models, bad input, the
command line (relative paths, training folder and SavedModel alike), kill-and-resume.

What every task shares (the signature on an empty batch, the export verified in a clean
process, save/load, the training layout, --json, --help) is held by `run_task_test`
(test_task_contract.py); this file keeps what is particular to forecasting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnn_apps.cli import main
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.forecast import (
    ForecastConfig,
    Forecaster,
    build_dlinear,
    build_rnn_forecaster,
    build_segrnn,
    check_timestamps,
    make_windows,
    read_series,
    repeat_last_forecast,
    seasonal_naive_forecast,
)
from rnn_apps.testing import run_kill_and_resume_test, run_model_saving_test

L, H = 48, 12
ROOT = Path(__file__).resolve().parents[2]


def synthetic(n: int = 480, seed: int = 0) -> pd.DataFrame:
    """Hourly sine (period 24) + trend + noise, a faster cosine, and a noise covariate."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    idx = pd.date_range("2024-01-01", periods=n, freq="h", name="date")
    return pd.DataFrame(
        {
            "a": 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t + 0.2 * rng.standard_normal(n),
            "b": 5 + np.cos(2 * np.pi * t / 12) + 0.2 * rng.standard_normal(n),
            "c": rng.standard_normal(n),
        },
        index=idx,
    )


def tiny(**kw) -> ForecastConfig:
    base = dict(
        lookback=L,
        horizon=H,
        targets=["a", "b"],
        covariates=["c"],
        seg_len=12,
        d_model=16,
        units=8,
        epochs=6,
        batch_size=32,
        learning_rate=5e-3,
        patience=2,
        verbose=0,
    )
    base.update(kw)
    return ForecastConfig(**base)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def segrnn(data) -> Forecaster:
    return Forecaster(tiny(architecture="segrnn")).fit(data.iloc[:360])


@pytest.fixture(scope="module")
def exported(segrnn, data, tmp_path_factory):
    """`segrnn` exported (verified in a clean process) and loaded back with TensorFlow."""
    import tensorflow as tf

    path = tmp_path_factory.mktemp("export") / "saved"
    report = segrnn.export(path)
    assert report.verified
    return path, tf.saved_model.load(str(path)).signatures["serving_default"]


def windows_of(data: pd.DataFrame, starts=(0, 100, 200)) -> np.ndarray:
    values = data[["a", "b", "c"]].to_numpy("float32")
    return np.stack([values[i : i + L] for i in starts])


def cli(*argv: str) -> int:
    return main(["forecast", *argv])


# --------------------------------------------------------------------------- windows, baselines


def test_make_windows_counts_and_values():
    values = np.arange(20, dtype="float32").reshape(10, 2)
    x, y = make_windows(values, 4, 3, num_targets=1)
    assert x.shape == (10 - 4 - 3 + 1, 4, 2) and y.shape == (4, 3, 1)
    np.testing.assert_array_equal(x[0, :, 0], [0, 2, 4, 6])
    np.testing.assert_array_equal(y[-1, :, 0], [14, 16, 18])
    with pytest.raises(UserInputError, match="lookback \\+ horizon"):
        make_windows(values, 8, 3)


def test_naive_baselines():
    x = np.arange(48, dtype="float32").reshape(1, 48, 1)
    np.testing.assert_array_equal(repeat_last_forecast(x, 5)[0, :, 0], [47] * 5)
    seas = seasonal_naive_forecast(x, 30, season=24)[0, :, 0]
    np.testing.assert_array_equal(seas[:24], np.arange(24, 48))
    np.testing.assert_array_equal(seas[24:], np.arange(24, 30))


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize("ci", [True, False])
def test_segrnn_follows_level_shifts_and_saves(tmp_path, ci):
    model = build_segrnn(50, 30, 3, 2, seg_len=12, d_model=8, channel_independent=ci)
    x = np.random.default_rng(0).standard_normal((4, 50, 3)).astype("float32")
    assert model.predict(x, verbose=0).shape == (4, 30, 2)
    # per-window normalisation: a constant shift of the input shifts the forecast
    shifted = model.predict(x + 5.0, verbose=0)
    np.testing.assert_allclose(shifted, model.predict(x, verbose=0) + 5.0, atol=1e-4)
    run_model_saving_test(model, x, tmp_path)


def test_dlinear_and_rnn_forecaster_save(tmp_path):
    x = np.random.default_rng(1).standard_normal((3, 24, 2)).astype("float32")
    for model in (
        build_dlinear(24, 6, 2, 1, kernel_size=5),
        build_rnn_forecaster(24, 6, 2, 1, cell="gru", units=4),
    ):
        assert model.predict(x, verbose=0).shape == (3, 6, 1)
        run_model_saving_test(model, x, tmp_path)


# --------------------------------------------------------------------------- fit / evaluate


def test_segrnn_beats_repeat_last(segrnn, data):
    report = segrnn.evaluate(data.iloc[360 - L :])
    assert report["num_windows"] == 120 - H + 1
    assert len(report["mse_by_step"]) == H
    assert report["mse"] < 0.5 * report["baselines"]["repeat_last"]["mse"]
    assert report["mse_real"] > 0 and report["mae"] > 0
    assert set(report["baselines"]) == {"repeat_last", "seasonal_naive"}
    assert list(segrnn.history_["model"]) == ["loss", "val_loss", "learning_rate"]


def test_stacked_gru_beats_repeat_last(data):
    fc = Forecaster(tiny(architecture="gru", units=16, epochs=5)).fit(data.iloc[:360])
    report = fc.evaluate(data.iloc[360 - L :])
    assert report["mse"] < report["baselines"]["repeat_last"]["mse"]


def test_incremental_lstm_steps_equal_the_whole_history(data, tmp_path):
    """An `incremental` LSTM streams with a (B, S) state, one cell update per observation:
    each step forecasts what the network gives on the whole history so far, in process,
    through the SavedModel and through the LiteRT and ONNX cores; a wrong state is refused."""
    import tensorflow as tf

    from rnn_apps.tasks.base import open_model

    fc = Forecaster(tiny(architecture="lstm", incremental=True, units=16, num_layers=2))
    fc.fit(data.iloc[:360])
    report = fc.evaluate(data.iloc[360 - L :])
    assert report["mse"] < report["baselines"]["repeat_last"]["mse"]
    pre, layer = fc.preprocessor_, fc.network_.stream
    values = data[["a", "b", "c"]].to_numpy("float32")
    starts = np.array([0, 150])  # two streams

    def whole(k):  # the network on each stream's first L + k rows, real units
        history = np.stack([values[s : s + L + k] for s in starts])
        return np.asarray(pre.denormalize(layer(pre.normalize(history))))

    path = tmp_path / "saved"
    assert fc.export(path).verified
    for model in (fc, open_model(path)):
        out = model.run("initial_state", window=np.stack([values[s : s + L] for s in starts]))
        assert out["state"].shape == (2, 3 + 2 * 2 * 16)
        np.testing.assert_allclose(out["forecast"], whole(0), rtol=1e-5, atol=1e-4)
        for k in range(1, 6):
            out = model.run("step", observation=values[starts + L + k - 1], state=out["state"])
            np.testing.assert_allclose(out["forecast"], whole(k), rtol=1e-5, atol=1e-4)
    step = tf.saved_model.load(str(path)).signatures["step"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="state must have shape"):
        step(observation=tf.zeros([2, 3]), state=tf.zeros([2, 3 + 2 * 2 * 16 - 1]))
    for fmt in ("litert", "onnx"):
        portable = fc.export(tmp_path / fmt, format=fmt)
        assert {"initial_state/state", "step/forecast", "step/state"} <= set(portable.max_abs_diff)
    with pytest.raises(ValueError, match="incremental"):
        tiny(architecture="segrnn", incremental=True).check()


def test_seq2seq_and_lr_decay(data):
    fc = Forecaster(tiny(architecture="seq2seq", epochs=2, horizon=4, lr_decay=0.5))
    fc.fit(data.iloc[:120])
    pred = fc.predict(data.iloc[:120])
    assert pred.shape == (4, 2) and np.isfinite(pred.to_numpy()).all()
    np.testing.assert_allclose(fc.history_["model"]["learning_rate"], [5e-3, 2.5e-3])


def test_predict_dataframe_with_future_timestamps(segrnn, data):
    history = data.iloc[:400]
    pred = segrnn.predict(history)
    expected = pd.date_range(history.index[-1] + pd.Timedelta(hours=1), periods=H, freq="h")
    pd.testing.assert_index_equal(pred.index, expected, check_names=False)
    assert list(pred.columns) == ["a", "b"]
    # real units: close to what happened, far from the scaled values
    actual = data.iloc[400 : 400 + H][["a", "b"]].to_numpy()
    assert np.abs(pred.to_numpy() - actual).mean() < 1.0


def test_scaling_is_adapted_on_the_training_rows_only(segrnn, data):
    meta = segrnn.metadata
    train = data.iloc[:360][["a", "b", "c"]]
    train = train.iloc[: len(train) - round(0.2 * len(train))]  # validation held out
    np.testing.assert_allclose(meta["scaling"]["mean"], train.mean(), rtol=1e-4)
    np.testing.assert_allclose(meta["scaling"]["std"], train.std(ddof=0), rtol=1e-3)


def test_csv_input_gives_the_dataframes_forecast(tmp_path, segrnn, data):
    # save / load giving the same forecasts: run_task_test.
    csv = tmp_path / "series.csv"
    data.iloc[:400].reset_index().to_csv(csv, index=False)
    from_csv = segrnn.predict(csv)
    pd.testing.assert_frame_equal(from_csv, segrnn.predict(data.iloc[:400]), check_freq=False)


def test_plots(tmp_path, segrnn, data):
    p1 = segrnn.plot_forecast(data.iloc[300:], tmp_path / "f.png", window=0)
    p2 = segrnn.plot_error_by_horizon(data.iloc[300:], tmp_path / "e.png")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- export


def test_export_metadata_and_in_graph_refusals(exported, data):
    # The export giving the in-process forecasts in a clean process: run_task_test.
    import tensorflow as tf

    path, serve = exported
    windows = windows_of(data)
    meta = json.loads((path / "assets" / "metadata.json").read_text())
    assert meta["columns"] == ["a", "b", "c"] and meta["horizon"] == H
    assert meta["task"] == "forecast" and meta["architecture"] == "segrnn"
    for bad in (windows[:, :-1], windows[:, :, :2]):  # wrong steps, wrong features
        with pytest.raises(tf.errors.InvalidArgumentError, match="window must have shape"):
            serve(window=tf.constant(bad))
    for value in (np.nan, np.inf, 3e38, -3e38):
        bad = windows.copy()
        bad[0, 3, 1] = value
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN, inf or values too large"):
            serve(window=tf.constant(bad))
    big = np.full_like(windows, 3e38)  # every value huge: the forecast would be "finite"
    with pytest.raises(tf.errors.InvalidArgumentError, match="too large"):
        serve(window=tf.constant(big))


def test_streaming_steps_give_the_windows_forecasts(exported, segrnn, data):
    """`initial_state` on the first window, then one `step` per new row: each step's state is
    the last L rows and its forecast the window's, in process and through the SavedModel;
    bad shapes and values are refused by name."""
    import tensorflow as tf

    from rnn_apps.tasks.base import open_model

    path, _ = exported
    values = data[["a", "b", "c"]].to_numpy("float32")
    starts = np.array([0, 150])  # two streams
    expected = segrnn.forecast_windows(
        np.stack([values[s + k : s + k + L] for s in starts for k in range(6)])
    ).reshape(2, 6, H, 2)
    for model in (segrnn, open_model(path)):
        out = model.run("initial_state", window=np.stack([values[s : s + L] for s in starts]))
        np.testing.assert_allclose(out["forecast"], expected[:, 0], rtol=1e-5, atol=1e-5)
        for k in range(1, 6):
            out = model.run("step", observation=values[starts + L + k - 1], state=out["state"])
            np.testing.assert_array_equal(
                out["state"], np.stack([values[s + k : s + k + L] for s in starts])
            )
            np.testing.assert_allclose(out["forecast"], expected[:, k], rtol=1e-5, atol=1e-5)
    step = tf.saved_model.load(str(path)).signatures["step"]
    state = tf.constant(out["state"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="observation must have shape"):
        step(observation=tf.zeros([2, 2]), state=state)
    with pytest.raises(tf.errors.InvalidArgumentError, match="state must have shape"):
        step(observation=tf.zeros([2, 3]), state=state[:, 1:])
    with pytest.raises(tf.errors.InvalidArgumentError, match="as many streams"):
        step(observation=tf.zeros([1, 3]), state=state)
    with pytest.raises(tf.errors.InvalidArgumentError, match="observation holds NaN"):
        step(observation=tf.constant([[np.nan, 0, 0], [0, 0, 0]], tf.float32), state=state)


def test_empty_batch_gives_empty_forecast(exported, segrnn):
    import tensorflow as tf

    _, serve = exported
    empty = np.zeros((0, L, 3), "float32")
    assert serve(window=tf.constant(empty))["forecast"].shape == (0, H, 2)
    assert segrnn.forecast_windows(empty).shape == (0, H, 2)  # `run`: run_task_test


def test_huge_values_refused_in_process(segrnn, data):
    windows = windows_of(data)
    windows[1, 7, 0] = 3e38
    with pytest.raises(UserInputError, match="too large to forecast from"):
        segrnn.forecast_windows(windows)
    df = data.iloc[:200].copy()
    df.iloc[190, 2] = -3e38
    with pytest.raises(UserInputError, match=r"values beyond ±1e\+15"):
        segrnn.predict(df)
    df.iloc[190, 2] = 1e39  # beyond float32
    with pytest.raises(UserInputError, match="float32 range"):
        segrnn.predict(df)


# --------------------------------------------------------------------------- bad input


def test_nan_inf_errors_and_fill(segrnn, data):
    df = data.iloc[:200].copy()
    df.iloc[7, 1] = np.nan
    with pytest.raises(UserInputError, match=r"row 7 .*column 'b'"):
        segrnn.predict(df)
    df.iloc[7, 1] = np.inf
    with pytest.raises(UserInputError, match=r"infinite values .*at row 7 .*'b'"):
        segrnn.predict(df)
    df.iloc[7, 1] = np.nan
    filled = Forecaster(tiny(fill="interpolate", epochs=1)).fit(df)
    assert np.isfinite(filled.predict(df).to_numpy()).all()


def test_timestamp_errors_report_steps_in_real_units():
    idx = pd.date_range("2024-01-01", periods=10, freq="h")
    with pytest.raises(UserInputError, match="not sorted"):
        check_timestamps(idx[[0, 1, 3, 2, 4, 5]])
    with pytest.raises(UserInputError, match="duplicate timestamps at rows \\[2\\]"):
        check_timestamps(idx[[0, 1, 1, 2, 3]])
    for unit in ("ns", "us", "s"):  # pandas 3 may store microseconds
        with pytest.raises(UserInputError) as err:
            check_timestamps(idx.as_unit(unit).delete(5))
        assert "usual step is 0 days 01:00:00" in str(err.value)
        assert "step 0 days 02:00:00" in str(err.value)
    assert check_timestamps(idx) == "h"


def dayfirst_csv(tmp_path: Path, data: pd.DataFrame) -> Path:
    frame = data.copy()
    frame.index = pd.date_range("2016-07-01", periods=len(frame), freq="h", name="date")
    frame.index = frame.index.strftime("%d/%m/%Y %H:%M")
    frame.index.name = "date"
    path = tmp_path / "dayfirst.csv"
    frame.reset_index().to_csv(path, index=False)
    return path


def test_day_first_dates(tmp_path, data):
    csv = dayfirst_csv(tmp_path, data)
    with pytest.raises(UserInputError, match="date_format=.*dayfirst=True") as err:
        read_series(csv)
    assert "13/07/2016 00:00" in str(err.value)
    assert read_series(csv, dayfirst=True).index[-1] == pd.Timestamp("2016-07-20 23:00")
    by_format = read_series(csv, date_format="%d/%m/%Y %H:%M")
    assert pd.infer_freq(by_format.index) == "h"
    fc = Forecaster(tiny(dayfirst=True, epochs=1, architecture="dlinear")).fit(csv)
    assert fc.predict(csv).index[0] == pd.Timestamp("2016-07-21 00:00")


def test_frame_errors(segrnn, data):
    with pytest.raises(UserInputError, match="needs at least"):
        segrnn.evaluate(data.iloc[: L + H - 1])
    with pytest.raises(UserInputError, match="needs at least 48"):
        segrnn.predict(data.iloc[:20])
    with pytest.raises(UserInputError, match=r"missing column\(s\) \['c'\]"):
        segrnn.predict(data[["a", "b"]])
    with pytest.raises(UserInputError, match="DatetimeIndex or a date column"):
        segrnn.predict(data.reset_index(drop=True))
    with pytest.raises(UserInputError, match="not sorted"):
        segrnn.predict(data.iloc[::-1])
    with pytest.raises(UserInputError, match="irregular"):
        segrnn.predict(data.drop(data.index[100]))
    with pytest.raises(UserInputError, match="frequency '2h'"):
        segrnn.predict(data.iloc[::2])
    with pytest.raises(UserInputError, match=r"shape \(batch, 48, 3\)"):
        segrnn.forecast_windows(np.zeros((2, 40, 3)))
    with pytest.raises(UserInputError, match="needs at least 60"):
        Forecaster(tiny(val_fraction=0.0)).fit(data.iloc[:50])


def test_config_errors_name_the_key():
    with pytest.raises(UserInputError, match="Unknown forecast option"):
        ForecastConfig.from_dict({"lookbak": 3})
    with pytest.raises(UserInputError, match="'learning_rate' must be float"):
        ForecastConfig.from_dict({"learning_rate": "fast"})
    with pytest.raises(UserInputError, match="'learning_rate' must be float"):
        Forecaster(learning_rate="fast")
    with pytest.raises(UserInputError, match="'architecture' must be one of"):
        Forecaster(tiny(architecture="transformer"))
    with pytest.raises(UserInputError, match="'covariates'"):
        ForecastConfig.from_dict({"targets": ["a"], "covariates": ["a"]})


def test_cli_config_file_of_wrong_type_and_unreadable_csv(tmp_path, capsys):
    bad_config = tmp_path / "c.toml"
    bad_config.write_text('learning_rate = "fast"\n')
    assert cli("train", "--config", str(bad_config), "--output-dir", str(tmp_path / "m")) == 2
    assert "'learning_rate'" in capsys.readouterr().err
    for content in (b"\x00\xff\xfe\x00garbage\x89PNG", b'date,a\n"2024-01-01,1\n2,3,4,5\n'):
        path = tmp_path / "bad.csv"
        path.write_bytes(content)
        code = cli("train", "--data", str(path), "--output-dir", str(tmp_path / "m"))
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith("rnn-apps: error:")


# --------------------------------------------------------------------------- command line


def test_cli_relative_paths_training_folder_and_saved_model(tmp_path, monkeypatch, capsys, data):
    monkeypatch.chdir(tmp_path)
    data.reset_index().to_csv("s.csv", index=False)
    args = ["--data", "s.csv", "--lookback", "24", "--horizon", "6", "--targets", "a"]
    assert cli("train", *args, "--model", "dlinear", "--epochs", "1", "--output-dir", "rel/m") == 0
    captured = capsys.readouterr()
    assert "--model is deprecated" in captured.err and "--architecture" in captured.err
    assert "Validation MSE" in captured.out and "repeat-last" in captured.out
    run = Path("rel/m")  # the layout (pipeline/, saved_model/, report.json): run_task_test
    assert (run / "forecast.png").exists()
    report = json.loads((run / "report.json").read_text())
    assert report["config"]["architecture"] == "dlinear" and "validation" in report
    first = data.index[-1] + pd.Timedelta(hours=1)
    for model in ("rel/m", "rel/m/saved_model"):
        out = f"pred-{model.replace('/', '-')}"
        assert cli("predict", "--model", model, "--data", "s.csv", "--output-dir", out) == 0
        pred = pd.read_csv(Path(out) / "forecast.csv", index_col=0, parse_dates=True)
        assert pred.shape == (6, 1) and pred.index[0] == first
        capsys.readouterr()
        assert cli("evaluate", "--model", model, "--data", "s.csv", "--json") == 0
        metrics = json.loads(capsys.readouterr().out)["all_windows"]
        assert metrics["num_windows"] == len(data) - 24 - 6 + 1
    assert cli("evaluate", "--model", "rel/m", "--data", "s.csv", "--output-dir", "ev") == 0
    assert "training rows included, not a test score" in capsys.readouterr().out
    assert Path("ev/report.json").is_file() and Path("ev/error_by_horizon.png").is_file()
    assert cli("predict", "--model", "rel/m", "--data", "s.csv", "--output-dir", "p", "--plot") == 0
    assert Path("p/forecast.png").is_file()
    assert cli("export", "--model", "rel/m", "--output-dir", "rel/x") == 0
    assert Path("rel/x/saved_model.pb").is_file()
    capsys.readouterr()
    assert cli("predict", "--model", "nope", "--data", "s.csv") == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_incremental_flag(tmp_path, monkeypatch, capsys, data):
    """`train --architecture gru --incremental` exports a model whose `step` state is the
    GRU's (B, S), and `--incremental` with SegRNN is refused in one line."""
    import tensorflow as tf

    monkeypatch.chdir(tmp_path)
    data.reset_index().to_csv("s.csv", index=False)
    args = ["--data", "s.csv", "--lookback", "24", "--horizon", "6", "--targets", "a", "b"]
    assert cli("train", *args, "--architecture", "gru", "--incremental", "--epochs", "1",
               "--output-dir", "m") == 0  # fmt: skip
    assert json.loads(Path("m/report.json").read_text())["config"]["incremental"] is True
    step = tf.saved_model.load("m/saved_model").signatures["step"]
    assert step.structured_input_signature[1]["state"].shape.as_list() == [
        None,
        2 + 64,
    ]  # a, b; 64 GRU units
    capsys.readouterr()
    assert cli("train", *args, "--incremental", "--output-dir", "n") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "incremental" in err[0]


def test_cli_dayfirst_option(tmp_path, capsys, data):
    csv = dayfirst_csv(tmp_path, data)
    out = tmp_path / "m"
    common = ["--data", str(csv), "--lookback", "24", "--horizon", "6", "--epochs", "1"]
    assert cli("train", *common, "--output-dir", str(out), "--no-export") == 2
    assert "--dayfirst" in capsys.readouterr().err
    assert cli("train", *common, "--dayfirst", "--output-dir", str(out), "--no-export") == 0
    capsys.readouterr()
    assert cli("predict", "--model", str(out), "--data", str(csv)) == 0  # the model's dayfirst
    assert "2016-07-21 00:00:00" in capsys.readouterr().out


def test_committed_saved_model_predicts_from_repo_root(tmp_path, monkeypatch, capsys):
    model = ROOT / "saved_models" / "forecast_etth1"
    meta = json.loads((model / "assets" / "metadata.json").read_text())
    rng = np.random.default_rng(0)
    n = meta["lookback"] + 10
    values = np.asarray(meta["scaling"]["mean"]) + np.asarray(meta["scaling"]["std"]) * (
        0.3 * rng.standard_normal((n, len(meta["columns"])))
    )
    index = pd.date_range("2018-01-01", periods=n, freq="h", name="date")
    csv = tmp_path / "recent.csv"
    pd.DataFrame(values, index=index, columns=meta["columns"]).reset_index().to_csv(csv)
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    assert cli("predict", "--model", "saved_models/forecast_etth1", "--data", str(csv)) == 0
    pred = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out), index_col=0)
    assert pred.shape == (meta["horizon"], len(meta["targets"]))
    assert pred.index[0] == str(index[-1] + pd.Timedelta(hours=1))
    assert np.isfinite(pred.to_numpy()).all()


def _train_cmd(csv: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "rnn_apps.cli", "forecast", "train", "--data", str(csv),
        "--lookback", "24", "--horizon", "6", "--targets", "a", "--architecture", "gru",
        "--batch-size", "4", "--epochs", "3", "--no-export", "--output-dir", str(out),
    ]  # fmt: skip


def test_killed_training_resumes_from_backup(tmp_path):
    csv = tmp_path / "s.csv"
    synthetic(2400).reset_index().to_csv(csv, index=False)
    out = tmp_path / "run"
    state = run_kill_and_resume_test(_train_cmd(csv, out), out, "model")
    # Resumed: the second run trained only the epochs after the last backup.
    assert 1 <= len(state["history"]["model"]["loss"]) < 3


@pytest.mark.slow
def test_cli_train_multi_worker_single_worker_cluster(tmp_path, data):
    """`--strategy multi_worker` on a one-worker TF_CONFIG cluster trains through
    `distributed_fit` (validation, early stopping) and exports."""
    import socket

    csv = tmp_path / "s.csv"
    data.reset_index().to_csv(csv, index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        TF_CONFIG=json.dumps(
            {"cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": {"type": "worker", "index": 0}}
        ),
        CUDA_VISIBLE_DEVICES="",
    )
    out = tmp_path / "m"
    cmd = [
        sys.executable, "-m", "rnn_apps.cli", "forecast", "train", "--data", str(csv),
        "--lookback", "24", "--horizon", "6", "--targets", "a", "--architecture", "seq2seq",
        "--epochs", "2", "--strategy", "multi_worker", "--output-dir", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fc = Forecaster.load(out)
    history = fc.history_["model"]
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    assert (out / "saved_model" / "saved_model.pb").is_file()
