"""Forecasting many series with one model (`PanelForecaster`): tiny synthetic panels with
known seasonal structure, intervals that hold, short series masked, every input form, bad
input. What every task shares (export verified in a clean process, save/load, the command
line, --help) is held by `run_task_test` (test_task_contract.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rnn_apps.cli import main
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.panel import PanelConfig, PanelForecaster, backtest, read_panel
from rnn_apps.tasks.panel.data import windows
from rnn_apps.tasks.panel.task import base_quantiles
from rnn_apps.testing import _assert_one_line_error

M = 12  # season


def seasonal_panel(n_series: int = 30, seed: int = 0, short: int = 0) -> pd.DataFrame:
    """Seasonal series (period 12) of different levels, lengths and noise; the first `short`
    series have only 30 steps (shorter than a 48-step lookback)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        n = 30 if k < short else int(rng.integers(120, 220))
        t = np.arange(n)
        level = rng.uniform(10, 200)
        y = level * (1 + 0.3 * np.sin(2 * np.pi * (t + k) / M))
        y = y + rng.normal(0, 0.04 * level, n)
        parts.append(pd.DataFrame({"unique_id": f"s{k:02d}", "ds": t, "y": y}))
    return pd.concat(parts, ignore_index=True)


def tiny(**overrides) -> PanelConfig:
    base = dict(
        lookback=48, horizon=12, season=M, seg_len=12, d_model=16, units=16, num_layers=1,
        epochs=12, batch_size=64, levels=[80, 90], quantiles=[0.05, 0.1, 0.5, 0.9, 0.95],
        learning_rate=3e-3, verbose=0,
    )  # fmt: skip
    return PanelConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def fitted():
    frame = seasonal_panel(40, short=4)
    return PanelForecaster(tiny()).fit(frame), frame


# === Windows and reading every shape a user has ===
def test_windows_left_pad_short_series_and_skip_unobserved_targets():
    x, y = windows([np.arange(10.0), np.r_[np.arange(5.0), np.nan, np.arange(4.0)]], 6, 2)
    assert x.shape[1] == 6 and y.shape[1] == 2
    assert np.isnan(x[0, :5]).all() and x[0, 5] == 0.0  # first window: 1 step of history
    assert np.isfinite(y).all()


def test_long_dict_list_and_wide_forms_read_alike():
    idx = pd.date_range("2024-01-01", periods=30, freq="h")
    a = pd.Series(np.arange(30.0), index=idx, name="a")
    b = pd.Series(np.arange(30.0) * 2, index=idx, name="b")
    long = pd.concat(
        [pd.DataFrame({"unique_id": s.name, "ds": idx, "y": s.to_numpy()}) for s in (a, b)]
    )
    forms = [long, {"a": a, "b": b}, [a, b], pd.DataFrame({"a": a, "b": b})]
    panels = [read_panel(f) for f in forms]
    for p in panels:
        assert p.ids == ["a", "b"] and p.frequency == "h"
        np.testing.assert_array_equal(p.values[1], b.to_numpy())
        assert p.starts[0] == idx[0]


def test_head_of_a_series_shorter_than_the_cut_is_empty():
    # A 40-step series must not train on steps the last 2 x 24 hold out for calibration.
    panel = read_panel(pd.DataFrame({"unique_id": "a", "ds": range(40), "y": np.arange(40.0)}))
    assert len(panel.head(48).values[0]) == 0
    np.testing.assert_array_equal(panel.head(30).values[0], np.arange(10.0))


def test_gaps_are_missing_or_filled():
    frame = pd.DataFrame({"unique_id": "a", "ds": [0, 1, 3, 4], "y": [1.0, 2.0, 4.0, 5.0]})
    np.testing.assert_array_equal(read_panel(frame).values[0], [1, 2, np.nan, 4, 5])
    np.testing.assert_array_equal(read_panel(frame, fill="interpolate").values[0], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(read_panel(frame, fill="ffill").values[0], [1, 2, 2, 4, 5])


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 0], "y": [1.0, 2.0]}), "one row per"),
        (pd.DataFrame({"unique_id": ["a", None], "ds": [0, 1], "y": [1.0, 2.0]}), "id column"),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": [0, 1], "y": ["1", "x"]}), "not a number"),
        (pd.DataFrame({"unique_id": ["a"], "ds": [0], "y": [np.inf]}), "inf"),
        (
            pd.DataFrame({
                "unique_id": ["a"] * 4 + ["b"] * 4,
                "ds": list(pd.date_range("2024-01-01", periods=4, freq="h"))
                + list(pd.date_range("2024-01-01", periods=4, freq="D")),
                "y": np.arange(8.0),
            }),
            "different frequencies",
        ),
        (pd.DataFrame({"id": ["a"], "ds": [0], "value": [1.0]}), "no column 'y'"),
    ],
)  # fmt: skip
def test_bad_panels_are_refused_in_one_line(frame, match):
    frame = frame if "id" not in frame.columns else frame.rename(columns={"id": "unique_id"})
    _assert_one_line_error(lambda: read_panel(frame), match)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"quantiles": [0.5, 0.1, 0.9]}, "strictly increasing"),
        ({"quantiles": [0.1, 0.5, 1.2]}, "strictly increasing"),
        ({"quantiles": [0.1, 0.9]}, "include 0.5"),
        ({"levels": [95, 120]}, "levels"),
        ({"lookback": 50, "seg_len": 12}, "multiple of seg_len"),
    ],
)
def test_bad_options_are_refused_in_one_line(overrides, match):
    _assert_one_line_error(lambda: PanelForecaster(tiny(**overrides)), match)


def test_a_horizon_longer_than_every_series_is_refused():
    frame = seasonal_panel(3, short=3)  # 30 steps each
    _assert_one_line_error(
        lambda: PanelForecaster(tiny(horizon=24)).fit(frame), "lower the horizon"
    )


# === The model ===
def test_quantiles_never_cross_and_intervals_contain_the_median(fitted):
    fc, frame = fitted
    out = fc.forecast_windows(np.stack([
        np.r_[np.full(20, np.nan), 50 + 10 * np.sin(np.arange(28))],
        100 + np.random.default_rng(1).normal(0, 30, 48),
    ]).astype("float32"))  # fmt: skip
    assert out["quantiles"].shape == (2, 12, 5)
    assert (np.diff(out["quantiles"], axis=-1) > 0).all()
    for p in (80, 90):
        assert (out[f"lower_{p}"] <= out["forecast"]).all()
        assert (out["forecast"] <= out[f"upper_{p}"]).all()


def test_intervals_hold_on_new_data_and_beat_the_naive_baselines(fitted):
    fc, _ = fitted
    new = seasonal_panel(60, seed=7)  # series the model never saw
    report = fc.evaluate(new, backtest=3)
    assert report["num_forecasts"] == 180
    cov = report["intervals"]["90"]["coverage"]
    assert 0.8 <= cov <= 0.99, report["intervals"]
    assert report["intervals"]["80"]["coverage"] <= cov
    assert report["mase"] < report["baselines"]["naive2"]["mase"]
    assert report["owa"] < 1.0


def test_short_series_are_masked_and_still_forecast(fitted):
    fc, frame = fitted
    assert fc.num_short_series_ == 4
    pred = fc.predict(frame)
    short = pred[pred["unique_id"] == "s00"]
    assert len(short) == 12 and np.isfinite(short["forecast"]).all()
    assert short["ds"].tolist() == list(range(30, 42))
    # what a series looked like before its first step does not matter: padding is padding
    one = frame[frame["unique_id"] == "s00"]
    again = fc.predict(one.assign(ds=one["ds"] + 100))
    np.testing.assert_allclose(again["forecast"], short["forecast"], rtol=1e-6)


def test_export_equals_in_process_with_quantiles_and_intervals(fitted, tmp_path):
    from rnn_apps.tasks.base import open_model

    fc, frame = fitted
    fc.export(tmp_path / "sm")
    predictor = open_model(tmp_path / "sm")
    meta = predictor.metadata
    assert meta["quantiles"] == [0.05, 0.1, 0.5, 0.9, 0.95] and meta["levels"] == [80, 90]
    assert set(meta["conformal"]["offsets"]) == {"80", "90"}
    a, b = fc.predict(frame), predictor_predict(predictor, frame)
    pd.testing.assert_frame_equal(a, b, rtol=1e-5)


def predictor_predict(predictor, frame):
    from rnn_apps.tasks.panel import predict_panel

    return predict_panel(predictor, frame)


def test_streaming_steps_give_the_windows_outputs(fitted, tmp_path):
    """`initial_state` on each stream's first window (a short series NaN-padded), then one
    `step` per new value (one of them missing): each state is the last L values and each
    output the window's, in process and through the SavedModel (and Keras' `TFSMLayer`); bad
    shapes and values are refused by name."""
    import keras
    import tensorflow as tf

    from rnn_apps.tasks.base import open_model

    fc, frame = fitted
    fc.export(tmp_path / "sm")
    series = [frame[frame["unique_id"] == k]["y"].to_numpy("float32") for k in ("s00", "s10")]
    series[1][62] = np.nan  # a value not observed
    ends = np.array([20, 60])  # s00 has 20 values at first: its windows are NaN-padded

    def windows_at(k: int) -> np.ndarray:
        out = np.full((2, 48), np.nan, "float32")
        for i, (y, end) in enumerate(zip(series, ends + k)):
            w = y[max(0, end - 48) : end]
            out[i, 48 - len(w) :] = w
        return out

    for model in (fc, open_model(tmp_path / "sm")):
        out = model.run("initial_state", window=windows_at(0))
        np.testing.assert_array_equal(out["state"], windows_at(0))
        for k in range(1, 6):
            observation = np.array([y[e + k - 1] for y, e in zip(series, ends)], "float32")
            out = model.run("step", observation=observation, state=out["state"])
            np.testing.assert_array_equal(out["state"], windows_at(k))
            expected = fc.forecast_windows(windows_at(k))
            for key, value in expected.items():
                np.testing.assert_allclose(out[key], value, rtol=1e-5, atol=1e-4, err_msg=key)
    # Keras' TFSMLayer binds the inputs after the first by name
    layer = keras.layers.TFSMLayer(str(tmp_path / "sm"), call_endpoint="step")
    got = layer(tf.constant(observation), state=tf.constant(windows_at(4)))
    np.testing.assert_allclose(got["forecast"], out["forecast"], rtol=1e-5, atol=1e-4)
    step = tf.saved_model.load(str(tmp_path / "sm")).signatures["step"]
    state = tf.constant(out["state"])
    for observation, state_, match in [
        (tf.zeros([2, 3]), state, "observation must have shape"),
        (tf.zeros([2]), state[:, 1:], "state must have shape"),
        (tf.zeros([1]), state, "as many streams"),
        (tf.constant([np.inf, 0.0]), state, "observation holds inf"),
        (tf.fill([2], np.nan), tf.fill([2, 48], np.nan), "a state has no observed value"),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=match):
            step(observation=observation, state=state_)


def test_backtest_reports_cutoffs(fitted):
    fc, frame = fitted
    bt = backtest(fc, frame, windows=2, step=6)
    long_ids = bt["unique_id"].unique()
    assert set(bt.columns) >= {"unique_id", "cutoff", "ds", "y", "forecast", "lower_90"}
    g = bt[bt["unique_id"] == long_ids[-1]]
    assert g["cutoff"].nunique() == 2 and len(g) == 24
    assert np.diff(sorted(g["cutoff"].unique()))[0] == 6


def test_bad_windows_are_refused_at_the_boundary(fitted):
    fc, _ = fitted
    _assert_one_line_error(lambda: fc.forecast_windows(np.zeros((2, 10))), "left-pad")
    _assert_one_line_error(
        lambda: fc.forecast_windows(np.full((1, 48), np.nan)), "no observed value"
    )
    _assert_one_line_error(lambda: fc.forecast_windows(np.r_[np.ones(47), np.inf][None]), "inf")


def test_calendar_features_come_from_the_timestamps(tmp_path):
    idx = pd.date_range("2024-01-01", periods=150, freq="h")
    frame = pd.concat([
        pd.DataFrame({"unique_id": k, "ds": idx, "y": 10 + (idx.hour >= 8) * (idx.hour < 18)
                      * (k + 1.0)})
        for k in range(10)
    ])  # fmt: skip
    fc = PanelForecaster(tiny(calendar=True, epochs=1)).fit(frame)
    facts = fc.covariates_facts()
    assert facts["calendar"] == [f"{n}_{f}" for n in ("hour", "day_of_week", "month")
                                 for f in ("sin", "cos")]  # fmt: skip
    pred = fc.predict(frame)  # the horizon's calendar is derived, no future= needed
    assert len(pred) == 120 and np.isfinite(pred["forecast"]).all()
    steps = seasonal_panel(4)
    _assert_one_line_error(lambda: PanelForecaster(tiny(calendar=True)).fit(steps), "integer steps")


def test_timestamps_give_future_dates(tmp_path):
    idx = pd.date_range("2024-01-01", periods=150, freq="h")
    rng = np.random.default_rng(0)
    frame = pd.concat([
        pd.DataFrame({"store": k, "date": idx, "sales": 10 + np.sin(np.arange(150) / 2)
                      + rng.normal(0, 0.1, 150)})
        for k in "abcdefghij"
    ])  # fmt: skip
    cfg = tiny(id_column="store", date_column="date", target="sales", epochs=1)
    pred = PanelForecaster(cfg).fit(frame).predict(frame)
    assert pred["ds"].iloc[0] == idx[-1] + pd.Timedelta(hours=1)
    assert pred["unique_id"].unique().tolist() == list("abcdefghij")


def test_cli_train_predict_evaluate_with_named_columns(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    frame = seasonal_panel(8).rename(columns={"unique_id": "meter", "ds": "t", "y": "kwh"})
    frame.to_csv("meters.csv", index=False)
    argv = [
        "panel", "train", "--data", "meters.csv", "--id-column", "meter", "--date-column",
        "t", "--target", "kwh", "--lookback", "24", "--horizon", "6", "--season", "12",
        "--epochs", "1", "--quantiles", "0.1", "0.5", "0.9", "--level", "80",
        "--output-dir", "run", "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calibration"]["windows"] == 8
    assert main(["panel", "evaluate", "--model", "run", "--data", "meters.csv", "--backtest",
                 "2", "--output-dir", "eval", "--json"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"]["num_forecasts"] == 16 and "80" in doc["metrics"]["intervals"]
    for png in ("fan_chart.png", "error_by_horizon.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 1000
    assert main(["panel", "predict", "--model", "run/saved_model", "--data", "meters.csv",
                 "--output-dir", "out"]) == 0  # fmt: skip
    pred = pd.read_csv("out/forecast.csv")
    assert len(pred) == 48 and {"lower_80", "upper_80", "q0.9"} <= set(pred.columns)


def test_base_quantiles_pick_the_symmetric_pair():
    q = [0.025, 0.1, 0.5, 0.9, 0.975]
    assert base_quantiles(q, 95) == (0, 4) and base_quantiles(q, 80) == (1, 3)
    assert base_quantiles(q, 50) == (2, 2)


def test_fit_refuses_a_separate_validation_panel():
    frame = seasonal_panel(3)
    with pytest.raises(UserInputError, match="no validation"):
        PanelForecaster(tiny(epochs=1)).fit(frame, frame)


def test_an_ensemble_averages_its_networks_and_round_trips(tmp_path):
    frame = seasonal_panel(12)
    fc = PanelForecaster(tiny(num_models=2, epochs=1, levels=[80])).fit(frame)
    assert len(fc.networks_) == 2 and set(fc.history_) == {"model_0", "model_1"}
    features = np.asarray(fc.preprocessor_(np.ones((1, 48), "float32"))[0])
    each = [np.asarray(net(features)) for net in fc.networks_]
    np.testing.assert_allclose(np.asarray(fc.model_(features)), np.mean(each, 0), rtol=1e-5)
    fc.save(tmp_path / "p")
    again = PanelForecaster.load(tmp_path / "p")
    pd.testing.assert_frame_equal(again.predict(frame), fc.predict(frame))


def test_log_transform_keeps_forecasts_positive_and_refuses_non_positive_values():
    frame = seasonal_panel(12)
    fc = PanelForecaster(tiny(transform="log", epochs=2, levels=[80])).fit(frame)
    pred = fc.predict(frame)
    assert (pred[["forecast", "q0.05", "lower_80"]].to_numpy() > 0).all()
    assert (np.diff(pred[[f"q{q:g}" for q in fc.config.quantiles]].to_numpy(), axis=1) > 0).all()
    window = np.r_[np.full(8, np.nan), np.ones(39), 0.0][None]
    _assert_one_line_error(lambda: fc.forecast_windows(window), "must be > 0")
    _assert_one_line_error(
        lambda: PanelForecaster(tiny(transform="log")).fit(frame.assign(y=frame["y"] - 100)),
        "transform='none'",
    )


# === Covariates ===
def promo_panel(n_series: int = 30, seed: int = 0, n: int = 160) -> pd.DataFrame:
    """Seasonal series whose value doubles on promotion days (known ahead, 10% of steps);
    a static `kind` (category) sets the seasonal amplitude and `size` (number) the level."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        t = np.arange(n)
        kind = "wide" if k % 2 else "flat"
        size = float(rng.uniform(10, 100))
        promo = (rng.random(n) < 0.1).astype(float)
        amp = 0.4 if kind == "wide" else 0.05
        y = size * (1 + amp * np.sin(2 * np.pi * t / M)) * (1 + promo)
        y = y + rng.normal(0, 0.02 * size, n)
        parts.append(pd.DataFrame({"unique_id": f"p{k:02d}", "ds": t, "y": y, "promo": promo,
                                   "kind": kind, "size": size}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def promo_models():
    frame = promo_panel()
    common = dict(epochs=25, levels=[80], quantiles=[0.1, 0.5, 0.9])
    with_cov = PanelForecaster(
        tiny(future_covariates=["promo"], static_covariates=["kind", "size"], **common)
    ).fit(frame)
    without = PanelForecaster(tiny(**common)).fit(frame)
    return with_cov, without, frame


def test_future_covariates_are_used(promo_models):
    with_cov, without, _ = promo_models
    new = promo_panel(20, seed=5)
    a, b = with_cov.evaluate(new, backtest=3), without.evaluate(new, backtest=3)
    assert a["mase"] < 0.8 * b["mase"], (a["mase"], b["mase"])


def test_covariate_model_exports_and_predicts_with_future_values(promo_models, tmp_path):
    from rnn_apps.tasks.base import open_model
    from rnn_apps.tasks.panel import predict_panel

    fc, _, frame = promo_models
    facts = fc.covariates_facts()
    assert facts["static_numeric"] == ["size"] and facts["static_categorical"] == ["kind"]
    future = pd.DataFrame({
        "unique_id": np.repeat(frame["unique_id"].unique(), 12),
        "ds": np.tile(np.arange(160, 172), 30),
        "promo": 0.0,
    })  # fmt: skip
    future.loc[future["ds"] == 165, "promo"] = 1.0
    pred = fc.predict(frame, future=future)
    assert len(pred) == 360
    one = pred[pred["unique_id"] == "p03"].set_index("ds")["forecast"]
    assert one[165] > 1.5 * one[[164, 166]].mean()  # the promotion shows in the forecast
    fc.export(tmp_path / "sm")
    predictor = open_model(tmp_path / "sm")
    spec_names = {i["name"] for i in predictor.metadata["signatures"]["serving_default"]["inputs"]}
    assert spec_names == {"window", "future_covariates", "static_numeric", "static_categorical"}
    pd.testing.assert_frame_equal(predict_panel(predictor, frame, future=future), pred, rtol=1e-5)


def test_missing_future_covariates_are_refused_naming_series_and_step(promo_models):
    fc, _, frame = promo_models
    _assert_one_line_error(lambda: fc.predict(frame), "future covariates")
    future = pd.DataFrame({
        "unique_id": np.repeat(frame["unique_id"].unique(), 12),
        "ds": np.tile(np.arange(160, 172), 30),
        "promo": 0.0,
    }).drop(index=[5])  # fmt: skip
    _assert_one_line_error(
        lambda: fc.predict(frame, future=future),
        r"series 'p00' .* 'promo' at 165 \(horizon step 6\)",
    )
    window = np.full((1, 48), 10.0, "float32")
    bad = np.zeros((1, 60, 1), "float32")
    bad[0, 50] = np.nan
    _assert_one_line_error(
        lambda: fc.forecast_windows({
            "window": window, "future_covariates": bad,
            "static_numeric": np.ones((1, 1), "float32"),
            "static_categorical": np.array([["wide"]]),
        }),
        "horizon",
    )  # fmt: skip


def test_bad_covariates_are_refused_in_one_line():
    frame = promo_panel(4)
    varying = frame.assign(kind=np.where(frame["ds"] % 2 == 0, "a", "b"))
    _assert_one_line_error(
        lambda: read_panel(varying, static_covariates=["kind"]), "exactly one per series"
    )
    gap = frame.copy()
    gap.loc[3, "promo"] = np.nan
    _assert_one_line_error(
        lambda: read_panel(gap, future_covariates=["promo"]), "no value of future covariate"
    )
    _assert_one_line_error(
        lambda: read_panel(frame, future_covariates=["price"]), "no column 'price'"
    )
    _assert_one_line_error(lambda: PanelForecaster(tiny(static_covariates=["y"])), "not the id")


def test_cli_with_covariates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    frame = promo_panel(8, n=100)
    frame.to_csv("sales.csv", index=False)
    future = pd.DataFrame({"unique_id": np.repeat(frame["unique_id"].unique(), 6),
                           "ds": np.tile(np.arange(100, 106), 8), "promo": 1.0})  # fmt: skip
    future.to_csv("future.csv", index=False)
    assert main([
        "panel", "train", "--data", "sales.csv", "--future-covariates", "promo",
        "--static-covariates", "kind", "size", "--lookback", "24", "--horizon", "6",
        "--season", "12", "--epochs", "1", "--level", "80", "--output-dir", "run",
    ]) == 0  # fmt: skip
    capsys.readouterr()
    args = ["panel", "predict", "--model", "run/saved_model", "--data", "sales.csv"]
    assert main(args) == 2
    assert "future covariates" in capsys.readouterr().err
    assert main([*args, "--future", "future.csv", "--output-dir", "out"]) == 0
    assert len(pd.read_csv("out/forecast.csv")) == 48


def test_past_covariates_are_read_over_the_window(tmp_path):
    from rnn_apps.tasks.base import open_model
    from rnn_apps.tasks.panel import predict_panel

    rng = np.random.default_rng(3)
    frame = seasonal_panel(12)
    frame["temperature"] = rng.normal(20, 5, len(frame))
    fc = PanelForecaster(tiny(past_covariates=["temperature"], epochs=2, levels=[80])).fit(frame)
    assert fc.covariates_facts()["past"] == ["temperature"]
    pred = fc.predict(frame)  # known up to now only: nothing to give for the horizon
    hot = frame.copy()
    last = hot.groupby("unique_id")["ds"].transform("max") == hot["ds"]
    hot.loc[last, "temperature"] = 60.0
    assert not np.allclose(fc.predict(hot)["forecast"], pred["forecast"])  # the network reads it
    fc.export(tmp_path / "sm")
    predictor = open_model(tmp_path / "sm")
    names = {i["name"] for i in predictor.metadata["signatures"]["serving_default"]["inputs"]}
    assert names == {"window", "past_covariates"}
    pd.testing.assert_frame_equal(predict_panel(predictor, frame), pred, rtol=1e-5)
    _assert_one_line_error(
        lambda: fc.predict(frame.assign(temperature=np.where(frame["ds"] == 5, np.nan, 1.0))),
        "past covariate 'temperature'",
    )


def test_series_embedding_learns_a_vector_per_series_and_serves_unseen_ones(tmp_path):
    from rnn_apps.tasks.base import open_model
    from rnn_apps.tasks.panel import predict_panel

    frame = seasonal_panel(12)
    fc = PanelForecaster(tiny(series_embedding=True, epochs=2, levels=[80])).fit(frame)
    assert fc.covariates_facts()["static_categorical"] == ["series_id"]
    assert fc.covariates_.vocabularies == [sorted(frame["unique_id"].unique())]
    renamed = frame.assign(unique_id=frame["unique_id"].str.replace("s", "new"))
    pred, unseen = fc.predict(frame), fc.predict(renamed)
    assert np.isfinite(unseen["forecast"]).all()
    assert not np.allclose(pred["forecast"], unseen["forecast"])  # the id is read
    fc.export(tmp_path / "sm")
    pd.testing.assert_frame_equal(
        predict_panel(open_model(tmp_path / "sm"), frame), pred, rtol=1e-5
    )


def test_backtest_with_refit_fits_one_model_per_cutoff_on_the_past_only():
    frame = seasonal_panel(24)
    fc = PanelForecaster(tiny(epochs=1, levels=[80])).fit(frame)
    bt = fc.backtest(frame, windows=2, step=12, refit=True)
    longest = frame.groupby("unique_id")["ds"].max().idxmax()
    g = bt[bt["unique_id"] == longest]
    assert g["cutoff"].nunique() == 2 and len(g) == 24
    report = fc.evaluate(frame)
    assert report["mae"] > 0 and report["mae"] ** 2 <= report["mse"]  # real units


# === Several targets per series ===
def lead_lag_panel(n_series: int = 24, seed: int = 0, n: int = 160, lag: int = 12) -> pd.DataFrame:
    """Two targets per series: `lead`, a seasonal series with a random-walk level, and
    `lag`, `lead` of `lag` steps earlier plus 50 (so its next `lag` steps are in the lead's
    window, and in no history of its own)."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        t = np.arange(n + lag)
        lead = 100 + np.cumsum(rng.normal(0, 3, n + lag)) + 10 * np.sin(2 * np.pi * t / M)
        parts.append(pd.DataFrame({"unique_id": f"r{k:02d}", "ds": t[lag:] - lag,
                                   "lead": lead[lag:], "lag": lead[:-lag] + 50}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def two_targets():
    frame = lead_lag_panel()
    common = dict(epochs=20, levels=[80], quantiles=[0.1, 0.5, 0.9])
    both = PanelForecaster(tiny(target=["lead", "lag"], **common)).fit(frame)
    alone = PanelForecaster(tiny(target="lag", **common)).fit(frame)
    return both, alone, frame


def test_several_targets_read_every_target_history(two_targets):
    both, alone, _ = two_targets
    new = lead_lag_panel(12, seed=3)
    a, b = both.evaluate(new, backtest=2), alone.evaluate(new, backtest=2)
    assert a["targets"] == ["lead", "lag"] and a["num_series"] == 12
    assert a["num_forecasts"] == 12 * 2 * 2
    # the lag target's future is the lead's past: only the model reading both knows it
    assert a["by_target"]["lag"]["mase"] < 0.6 * b["mase"], (a["by_target"], b["mase"])


def test_several_targets_export_windows_with_a_target_axis(two_targets, tmp_path):
    from rnn_apps.tasks.base import open_model
    from rnn_apps.tasks.panel import predict_panel

    both, _, frame = two_targets
    pred = both.predict(frame)
    assert list(pred.columns[:3]) == ["unique_id", "target", "ds"]
    assert len(pred) == 24 * 2 * 12 and set(pred["target"]) == {"lead", "lag"}
    both.export(tmp_path / "sm")
    predictor = open_model(tmp_path / "sm")
    assert predictor.metadata["targets"] == ["lead", "lag"]
    pd.testing.assert_frame_equal(pred, predict_panel(predictor, frame), rtol=1e-5)
    # the raw signature: window (B, L, T) -> forecast (B, H, T), quantiles (B, H, T, Q)
    g = frame[frame["unique_id"] == "r00"]
    window = np.array(g[["lead", "lag"]].to_numpy("float32")[-48:][None])  # writable under pandas 3
    out = predictor.run("serving_default", window=window)
    assert out["forecast"].shape == (1, 12, 2) and out["quantiles"].shape == (1, 12, 2, 3)
    rows = pred[pred["unique_id"] == "r00"]
    for j, name in enumerate(["lead", "lag"]):
        np.testing.assert_allclose(
            out["forecast"][0, :, j], rows[rows["target"] == name]["forecast"], rtol=1e-5
        )
    _assert_one_line_error(
        lambda: both.forecast_windows(window[..., 0]), r"\(batch, lookback, targets\)"
    )
    window[0, :, 1] = np.nan
    _assert_one_line_error(lambda: both.forecast_windows(window), "for some target")


def test_several_targets_stream_one_row_of_targets_per_step(two_targets):
    both, _, frame = two_targets
    values = frame[frame["unique_id"] == "r00"][["lead", "lag"]].to_numpy("float32")
    out = both.run("initial_state", window=values[None, :48])
    for k in range(1, 4):
        out = both.run("step", observation=values[None, 47 + k], state=out["state"])
        np.testing.assert_array_equal(out["state"], values[None, k : k + 48])
        expected = both.forecast_windows(values[None, k : k + 48])["quantiles"]
        np.testing.assert_allclose(out["quantiles"], expected, rtol=1e-5, atol=1e-4)


def test_several_targets_are_refused_where_they_cannot_be_read():
    _assert_one_line_error(lambda: PanelForecaster(tiny(target=["y", "y"])), "distinct")
    _assert_one_line_error(
        lambda: PanelForecaster(tiny(target=["y", "ds"])), "other than id_column"
    )
    series = {"a": pd.Series(np.arange(30.0))}
    _assert_one_line_error(lambda: read_panel(series, target=["y", "z"]), "long-format")


def test_cli_with_several_targets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    lead_lag_panel(6, n=80).to_csv("pairs.csv", index=False)
    argv = [
        "panel", "train", "--data", "pairs.csv", "--target", "lead", "lag", "--lookback", "24",
        "--horizon", "6", "--season", "12", "--epochs", "1", "--quantiles", "0.1", "0.5", "0.9",
        "--level", "80", "--output-dir", "run", "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["num_series"] == 6
    assert main(["panel", "evaluate", "--model", "run/saved_model", "--data", "pairs.csv",
                 "--output-dir", "eval", "--json"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)["metrics"]
    assert set(doc["by_target"]) == {"lead", "lag"} and doc["num_forecasts"] == 12
    assert (tmp_path / "eval" / "fan_chart.png").stat().st_size > 1000
    assert main(["panel", "predict", "--model", "run/saved_model", "--data", "pairs.csv",
                 "--output-dir", "out"]) == 0  # fmt: skip
    pred = pd.read_csv("out/forecast.csv")
    assert len(pred) == 6 * 2 * 6 and pred.groupby("target").size().to_dict() == {
        "lag": 36, "lead": 36,
    }  # fmt: skip
