"""Forecasting pipeline: synthetic series with known structure, tiny models, bad input."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.forecast import (
    DLinear,
    ForecastConfig,
    Forecaster,
    SegRNN,
    build_dlinear,
    build_rnn_forecaster,
    build_segrnn,
    check_timestamps,
    make_windows,
    repeat_last_forecast,
    seasonal_naive_forecast,
    window_dataset,
)
from rnn_apps.testing import run_export_roundtrip_test, run_model_saving_test

L, H = 48, 12


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
    )
    base.update(kw)
    return ForecastConfig(**base)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def segrnn(data) -> Forecaster:
    return Forecaster(tiny(model="segrnn")).fit(data.iloc[:360])


# --------------------------------------------------------------------------- windows, baselines


def test_make_windows_counts_and_values():
    values = np.arange(20, dtype="float32").reshape(10, 2)
    x, y = make_windows(values, 4, 3, num_targets=1)
    assert x.shape == (10 - 4 - 3 + 1, 4, 2) and y.shape == (4, 3, 1)
    np.testing.assert_array_equal(x[0, :, 0], [0, 2, 4, 6])
    np.testing.assert_array_equal(y[-1, :, 0], [14, 16, 18])
    with pytest.raises(UserInputError, match="lookback \\+ horizon"):
        make_windows(values, 8, 3)


def test_window_dataset_matches_make_windows():
    values = np.random.default_rng(0).standard_normal((50, 3)).astype("float32")
    x, y = make_windows(values, 10, 5, num_targets=2)
    batches = list(window_dataset(values, 10, 5, 2, batch_size=8))
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    assert len(xs) == len(x) == 36  # the last, smaller batch is kept
    np.testing.assert_allclose(xs, x)
    np.testing.assert_allclose(ys, y)


def test_naive_baselines():
    x = np.arange(48, dtype="float32").reshape(1, 48, 1)
    np.testing.assert_array_equal(repeat_last_forecast(x, 5)[0, :, 0], [47] * 5)
    seas = seasonal_naive_forecast(x, 30, season=24)[0, :, 0]
    np.testing.assert_array_equal(seas[:24], np.arange(24, 48))
    np.testing.assert_array_equal(seas[24:], np.arange(24, 30))


# --------------------------------------------------------------------------- models


@pytest.mark.parametrize("ci", [True, False])
def test_segrnn_layer_shapes_and_saving(tmp_path, ci):
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
    assert isinstance(SegRNN(8, 4, 1), keras.layers.Layer)
    assert isinstance(DLinear(8, 4), keras.layers.Layer)


# --------------------------------------------------------------------------- fit / evaluate


def test_segrnn_beats_repeat_last(segrnn, data):
    report = segrnn.evaluate(data.iloc[360 - L :])
    assert report["num_windows"] == 120 - H + 1
    assert len(report["mse_by_step"]) == H
    assert report["mse"] < 0.5 * report["baselines"]["repeat_last"]["mse"]
    assert report["mse_real"] > 0 and report["mae"] > 0


def test_stacked_gru_beats_repeat_last(data):
    fc = Forecaster(tiny(model="gru", units=16, epochs=5)).fit(data.iloc[:360])
    report = fc.evaluate(data.iloc[360 - L :])
    assert report["mse"] < report["baselines"]["repeat_last"]["mse"]


def test_seq2seq_fits_and_predicts(data):
    fc = Forecaster(tiny(model="seq2seq", epochs=1, horizon=4)).fit(data.iloc[:120])
    pred = fc.predict(data.iloc[:120])
    assert pred.shape == (4, 2) and np.isfinite(pred.to_numpy()).all()


def test_predict_dataframe_with_future_timestamps(segrnn, data):
    history = data.iloc[:400]
    pred = segrnn.predict(history)
    expected = pd.date_range(history.index[-1] + pd.Timedelta(hours=1), periods=H, freq="h")
    pd.testing.assert_index_equal(pred.index, expected, check_names=False)
    assert list(pred.columns) == ["a", "b"]
    # real units: close to what happened, far from the scaled values
    actual = data.iloc[400 : 400 + H][["a", "b"]].to_numpy()
    assert np.abs(pred.to_numpy() - actual).mean() < 1.0


def test_csv_in_and_save_load(tmp_path, segrnn, data):
    csv = tmp_path / "series.csv"
    data.iloc[:400].reset_index().to_csv(csv, index=False)
    from_csv = segrnn.predict(csv)
    pd.testing.assert_frame_equal(from_csv, segrnn.predict(data.iloc[:400]), check_freq=False)
    restored = Forecaster.load(segrnn.save(tmp_path / "model"))
    np.testing.assert_allclose(restored.predict(csv).to_numpy(), from_csv.to_numpy(), atol=1e-5)


def test_export_roundtrip_and_shape_errors(tmp_path, segrnn, data):
    import tensorflow as tf

    values = data[["a", "b", "c"]].to_numpy("float32")
    windows = np.stack([values[i : i + L] for i in (0, 100, 200)])
    expected = segrnn.forecast_windows(windows)
    path = tmp_path / "saved"
    report = segrnn.export(path, sample_windows=windows, verify=False)  # verified below
    assert report.path == path
    meta = json.loads((path / "assets" / "metadata.json").read_text())
    assert meta["columns"] == ["a", "b", "c"] and meta["horizon"] == H
    run_export_roundtrip_test(path, "serving_default", {"window": windows}, {"forecast": expected})
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    np.testing.assert_allclose(serve(window=tf.constant(windows))["forecast"], expected, atol=1e-4)
    for bad in (windows[:, :-1], windows[:, :, :2]):  # wrong steps, wrong features
        with pytest.raises(tf.errors.InvalidArgumentError, match="window must have shape"):
            serve(window=tf.constant(bad))
    nan = windows.copy()
    nan[0, 3, 1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        serve(window=tf.constant(nan))


def test_plots(tmp_path, segrnn, data):
    p1 = segrnn.plot_forecast(data.iloc[300:], tmp_path / "f.png", window=0)
    p2 = segrnn.plot_error_by_horizon(data.iloc[300:], tmp_path / "e.png")
    for p in (p1, p2):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- bad input


def test_nan_inf_errors_and_fill(segrnn, data):
    df = data.iloc[:200].copy()
    df.iloc[7, 1] = np.nan
    with pytest.raises(UserInputError, match=r"row 7 .*column 'b'"):
        segrnn.predict(df)
    df.iloc[7, 1] = np.inf
    with pytest.raises(UserInputError, match=r"infinite values at row 7 .*'b'"):
        segrnn.predict(df)
    df.iloc[7, 1] = np.nan
    filled = Forecaster(tiny(fill="interpolate", epochs=1)).fit(df)
    assert np.isfinite(filled.predict(df).to_numpy()).all()


def test_timestamp_errors():
    idx = pd.date_range("2024-01-01", periods=10, freq="h")
    with pytest.raises(UserInputError, match="not sorted"):
        check_timestamps(idx[[0, 1, 3, 2, 4, 5]])
    with pytest.raises(UserInputError, match="duplicate timestamps at rows \\[2\\]"):
        check_timestamps(idx[[0, 1, 1, 2, 3]])
    with pytest.raises(UserInputError, match="irregular timestamps"):
        check_timestamps(idx.delete(5))
    assert check_timestamps(idx) == "h"


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
    with pytest.raises(UserInputError, match="Unknown forecast option"):
        ForecastConfig.from_dict({"lookbak": 3})
    with pytest.raises(UserInputError, match="model must be one of"):
        Forecaster(tiny(model="transformer")).fit(data)


def test_cli_train_predict(tmp_path, data):
    from rnn_apps.cli import main

    csv = tmp_path / "s.csv"
    data.reset_index().to_csv(csv, index=False)
    model_dir = tmp_path / "m"
    args = ["--data", str(csv), "--lookback", "24", "--horizon", "6", "--targets", "a"]
    assert (
        main(
            [
                "forecast",
                "train",
                *args,
                "--model",
                "dlinear",
                "--epochs",
                "1",
                "--output-dir",
                str(model_dir),
            ]
        )
        == 0
    )
    assert (model_dir / "saved_model" / "saved_model.pb").is_file()
    assert (model_dir / "report.json").is_file()
    out = tmp_path / "pred"
    assert (
        main(
            [
                "forecast",
                "predict",
                "--model-dir",
                str(model_dir),
                "--data",
                str(csv),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    pred = pd.read_csv(out / "forecast.csv", index_col=0, parse_dates=True)
    assert pred.shape == (6, 1) and pred.index[0] == data.index[-1] + pd.Timedelta(hours=1)
    assert (
        main(["forecast", "predict", "--model-dir", str(tmp_path / "nope"), "--data", str(csv)])
        == 2
    )


@pytest.mark.slow
def test_cli_train_multi_worker_single_worker_cluster(tmp_path, data):
    """`--strategy multi_worker` on a one-worker TF_CONFIG cluster trains through
    `distributed_fit` (validation, early stopping) and exports."""
    import json
    import os
    import socket
    import subprocess
    import sys

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
        "--lookback", "24", "--horizon", "6", "--targets", "a", "--model", "seq2seq",
        "--epochs", "2", "--strategy", "multi_worker", "--output-dir", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fc = Forecaster.load(out)
    assert len(fc.history_["loss"]) == len(fc.history_["val_loss"]) == 2
    assert (out / "saved_model" / "saved_model.pb").is_file()
