"""`Forecaster`: the forecasting `Task` (hooks only; the skeleton is `rnn_apps.tasks.base`).

`predict(raw) = postprocess(model(preprocessor(raw)))`: the export's `serving_default` takes
`window` (B, L, F) float32 in real units, scales it (`ForecastPreprocessor.normalize`), runs the
network, and returns `forecast` (B, H, T) float32 in real units
(`ForecastPreprocessor.denormalize`). `evaluate`, `predict` and the plots run that very graph
through `Task.run` (`rnn_apps.tasks.forecast.inference`), as `rnn-apps forecast` does with an
exported SavedModel.

Shape legend: B batch, L lookback, H horizon, F features (targets first), T targets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.forecast import inference
from rnn_apps.tasks.forecast.config import ForecastConfig
from rnn_apps.tasks.forecast.model import (
    Network,
    build_network,
    compile_network,
    teacher_forcing_inputs,
)
from rnn_apps.tasks.forecast.preprocessor import (
    ForecastPreprocessor,
    check_timestamps,
    make_windows,
    read_series,
)

#: Scaled values beyond this many training standard deviations are refused: data errors (a
#: wrong unit, a sentinel such as 3e38) that would overflow the network or return garbage.
MAX_ABS_SCALED = 1e6
#: Windows per call of the export's `serving_default` (and of `Task.run`): larger batches are
#: refused in the graph, so a request cannot allocate without bound.
MAX_BATCH_WINDOWS = 4096


def step_signature(num_features: int, state_shape: list[int]) -> list[Any]:
    """The streaming `step`'s inputs: `observation` (B, F) and `state` (B, *state_shape)."""
    import tensorflow as tf

    return [
        tf.TensorSpec([None, num_features], tf.float32, name="observation"),
        tf.TensorSpec([None, *state_shape], tf.float32, name="state"),
    ]


def shift_window(state: Any, observation: Any) -> Any:
    """The window one row on: state (B, L, F), observation (B, F) -> (B, L, F)."""
    import tensorflow as tf

    return tf.concat([state[:, 1:], observation[:, None]], axis=1)


class Forecaster(Task):
    """Fits, evaluates, predicts with and exports one forecasting model.

    Usage::

        fc = Forecaster(ForecastConfig(lookback=96, horizon=24, targets=["OT"]))
        fc.fit(train_df, validation_df)          # scaling adapted on train_df only
        fc.evaluate(test_df)                     # every window of test_df, with baselines
        fc.predict(recent_df)                    # DataFrame of the next H timestamps
        fc.export("exported/my_forecaster")      # SavedModel, real units in and out

    Learned state (set by `fit`/`load`): `preprocessor_` (columns, targets, frequency,
    scaling), `network_`, `model_`, `history_` (`{"model": {metric: [per epoch]}}`),
    `train_seconds_`.
    """

    task_name: ClassVar[str] = "forecast"
    config_class: ClassVar[type[ForecastConfig]] = ForecastConfig
    #: 2: windows more than MAX_ABS_SCALED training standard deviations from the mean, and
    #: more than MAX_BATCH_WINDOWS windows, are refused by the SavedModel.
    contract_version: ClassVar[int] = 2
    model_file: ClassVar[str] = "model.weights.h5"
    config: ForecastConfig

    # ------------------------------------------------------------------ reading
    @property
    def read_options(self) -> dict[str, Any]:
        """How this forecaster reads a series (`date_column`, `date_format`, `dayfirst`,
        `fill`)."""
        return {k: getattr(self.config, k) for k in inference.READ_OPTIONS}

    def _read(self, data: Any) -> pd.DataFrame:
        return read_series(
            data,
            date_column=self.config.date_column,
            date_format=self.config.date_format,
            dayfirst=self.config.dayfirst,
        )

    def _need(self, frame: pd.DataFrame, what: str) -> None:
        cfg = self.config
        if len(frame) < cfg.lookback + cfg.horizon:
            raise UserInputError(
                f"the {what} has {len(frame)} rows; it needs at least "
                f"{cfg.lookback + cfg.horizon} (lookback {cfg.lookback} + horizon {cfg.horizon})."
            )

    # ------------------------------------------------------------------ fit
    def _fit(self, train: Any, validation: Any, run: FitRun) -> None:
        import keras
        import tensorflow as tf

        cfg = self.config
        raw = self._read(train)
        columns, targets = ForecastPreprocessor.choose_columns(raw, cfg.targets, cfg.covariates)
        pre = ForecastPreprocessor(columns, targets, check_timestamps(raw.index))
        frame = pre.frame(raw, self.read_options)
        if validation is None and cfg.val_fraction > 0:
            n_val = max(int(round(len(frame) * cfg.val_fraction)), cfg.horizon)
            val_frame = frame.iloc[len(frame) - n_val - cfg.lookback :]
            frame = frame.iloc[: len(frame) - n_val]
            self._need(frame, "training part (after holding out validation rows)")
        elif validation is not None:
            val_frame = pre.frame(validation, self.read_options)
            self._need(val_frame, "validation series")
        else:
            val_frame = None
        self._need(frame, "training series")
        pre.adapt(frame.to_numpy())  # the training rows only
        self.preprocessor_ = pre
        self.validation_frame_ = val_frame
        t = len(targets)
        x, y = make_windows(frame.to_numpy(), cfg.lookback, cfg.horizon, t)
        if cfg.max_train_windows is not None and len(x) > cfg.max_train_windows:
            keep = np.sort(
                np.random.default_rng(cfg.seed).choice(len(x), cfg.max_train_windows, False)
            )
            x, y = x[keep], y[keep]
        self.num_train_windows_ = len(x)

        with run.strategy.scope():
            self.network_ = build_network(cfg, len(columns), t)
            compile_network(self.network_, cfg)
        self.model_ = self.network_.model

        def dataset(xs: np.ndarray, ys: np.ndarray, *, training: bool, exact: bool = False):
            ds = tf.data.Dataset.from_tensor_slices((xs, ys))
            if training:
                ds = ds.shuffle(len(xs), seed=cfg.seed, reshuffle_each_iteration=True)
            ds = ds.batch(cfg.batch_size, drop_remainder=exact).map(pre.scale_windows)
            if self.network_.teacher_forcing:
                ds = ds.map(lambda a, b: ((a, teacher_forcing_inputs(a, b, t)), b))
            return ds.prefetch(tf.data.AUTOTUNE)

        val = None
        if val_frame is not None:
            val = dataset(
                *make_windows(val_frame.to_numpy(), cfg.lookback, cfg.horizon, t), training=False
            )
        fixed = None
        if run.multi_worker:
            if len(x) < cfg.batch_size:
                raise UserInputError(
                    f"multi-worker training uses full batches of batch_size={cfg.batch_size} "
                    f"windows but there are {len(x)}: lower batch_size."
                )
            fixed = dataset(x, y, training=True, exact=True)
        optimizer = self.model_.optimizer

        def decayed(epoch: int, lr: float | None = None) -> float:
            return float(cfg.learning_rate * cfg.lr_decay**epoch)

        self.train_model(
            self.model_,
            dataset(x, y, training=True),
            val,
            run=run,
            name="model",
            epochs=cfg.epochs,
            patience=cfg.patience,
            reduce_lr_on_plateau=False,  # the schedule: learning_rate * lr_decay ** epoch
            callbacks=[keras.callbacks.LearningRateScheduler(decayed)],
            fixed_batches=fixed,
            global_batch_size=cfg.batch_size,
            on_epoch_begin=lambda epoch: optimizer.learning_rate.assign(decayed(epoch)),
            shuffle=False,  # the dataset shuffles itself
        )
        self._signature_fns = {}

    # ------------------------------------------------------------------ export hooks
    def _state_shape(self) -> list[int]:
        """The stream state's shape after the batch: [L, F] (the window) or, for an
        `incremental` network, [S] (`DifferenceRNN.state_size`)."""
        stream, f = self.network_.stream, len(self.preprocessor_.columns)
        return [self.config.lookback, f] if stream is None else [stream.state_size]

    def endpoints(self) -> list[Any]:
        """`serving_default`: `window` (B, L, F) float32 real units -> `forecast` (B, H, T)
        float32 real units; and the streaming pair `initial_state` (`window` -> `state`,
        `forecast`) and `step` (`observation` (B, F), `state` -> `state`, `forecast`). For
        an `incremental` network the state (B, S) holds the last observation and the cell
        states, and a step is one cell update per layer; otherwise it is the last L
        observations (B, L, F) and a step forecasts what `serving_default` forecasts from
        that window (per-window normalisation rescales the whole window with each
        observation, so a step runs the network over it). Refuses more than
        `MAX_BATCH_WINDOWS` windows, wrong shapes, and NaN, inf or values beyond
        `MAX_ABS_SCALED` training standard deviations (checked on the scaled values) and a
        non-finite forecast, with `InvalidArgumentError`s naming the problem."""
        import tensorflow as tf

        from rnn_apps.export import Endpoint

        self._check_fitted()
        pre, network = self.preprocessor_, self.network_
        stream, lookback, f = network.stream, self.config.lookback, len(pre.columns)
        state_shape = self._state_shape()
        value_msg = (
            "{name} holds NaN, inf or values too large to forecast from (more than "
            f"{MAX_ABS_SCALED:g} training standard deviations from the mean, e.g. 3e38); "
            "check the data's units"
        )
        batch_msg = f"at most {MAX_BATCH_WINDOWS} windows per request; split the batch"
        window_dims = (f"lookback, features {pre.columns}", "steps, features")
        dims = {  # name -> (its axes after the batch, what the error calls the axes it got)
            "window": window_dims,
            "observation": (f"features {pre.columns}", "features"),
            "state": ("state size", "state size") if stream else window_dims,
        }

        def checked(x: Any, name: str, shape: list[int]) -> Any:
            # A loaded signature does not check its static shape, and graph optimisation
            # folds checks on static shapes: hide the static shape from the check, then
            # restore it.
            dynamic = tf.raw_ops.PlaceholderWithDefault(input=x, shape=[None] * len(shape))
            want, got = dims[name]
            check = tf.debugging.assert_equal(
                tf.shape(dynamic)[1:],
                tf.constant(shape[1:]),
                message=f"{name} must have shape [batch, {', '.join(map(str, shape[1:]))}] "
                f"= [batch, {want}]; got [{got}] =",
            )
            cap = tf.debugging.assert_less_equal(
                tf.shape(dynamic)[0], tf.constant(MAX_BATCH_WINDOWS), message=batch_msg
            )
            with tf.control_dependencies([check, cap]):
                x = tf.ensure_shape(tf.identity(dynamic), [None, *shape[1:]])
            return tf.debugging.check_numerics(x, value_msg.format(name=name))

        def scaled(x: Any, name: str) -> Any:  # (B, L, F) checked -> (B, L, F) scaled
            msg = value_msg.format(name=name)
            x = tf.debugging.check_numerics(pre.normalize(x), msg)
            bound = tf.debugging.assert_less_equal(
                tf.reduce_max(tf.abs(x)), tf.constant(MAX_ABS_SCALED, x.dtype), message=msg
            )
            with tf.control_dependencies([bound]):
                return tf.identity(x)

        def real(y: Any) -> Any:  # (B, H, T) scaled -> real units
            y = pre.denormalize(tf.cast(y, tf.float32))
            return tf.debugging.check_numerics(
                y, "the forecast overflowed (NaN or inf); check the window's values and units"
            )

        def serve(window: Any) -> dict[str, Any]:
            window = checked(window, "window", [-1, lookback, f])
            return {"forecast": real(network.forecast(scaled(window, "window")))}

        def initial_state(window: Any) -> dict[str, Any]:
            window = checked(window, "window", [-1, lookback, f])
            if stream is None:
                return {
                    "state": window,
                    "forecast": real(network.forecast(scaled(window, "window"))),
                }
            y, state = stream.encode(scaled(window, "window"))
            return {"state": state, "forecast": real(y)}

        def step(observation: Any, state: Any) -> dict[str, Any]:
            state = checked(state, "state", [-1, *state_shape])
            observation = checked(observation, "observation", [-1, f])
            same = tf.debugging.assert_equal(
                tf.shape(observation)[0],
                tf.shape(state)[0],
                message="observation and state must hold as many streams (rows)",
            )
            with tf.control_dependencies([same]):
                observation = tf.identity(observation)
            if stream is None:
                state = shift_window(state, observation)
                return {"state": state, "forecast": real(network.forecast(scaled(state, "state")))}
            y, state = stream.step(scaled(observation[:, None], "observation")[:, 0], state)
            return {"state": state, "forecast": real(y)}

        window = tf.TensorSpec([None, lookback, f], tf.float32, name="window")
        return [
            Endpoint("serving_default", serve, [window]),
            Endpoint("initial_state", initial_state, [window]),
            Endpoint("step", step, step_signature(f, state_shape)),
        ]

    def core(self) -> Any:
        """`window` (B, L, F) float32 real units -> `forecast` (B, H, T) real units: the
        serving function without its input checks (the client sends finite values). Its
        `step` signature streams: `observation` (B, F), `state` -> `state`, `forecast`; the
        state starts as the first window, or for an `incremental` network as what the
        `initial_state` signature returns for it."""
        import tensorflow as tf

        from rnn_apps.portable import Core, CoreSignature

        self._check_fitted()
        pre, network = self.preprocessor_, self.network_
        stream, lookback, f = network.stream, self.config.lookback, len(pre.columns)
        window = tf.TensorSpec([None, lookback, f], tf.float32, name="window")
        samples = self.sample_inputs()

        def real(y: Any) -> Any:
            return pre.denormalize(tf.cast(y, tf.float32))

        def fn(window: Any) -> dict[str, Any]:
            return {"forecast": real(network.forecast(pre.normalize(window)))}  # (B, H, T)

        def initial_state(window: Any) -> dict[str, Any]:
            y, state = stream.encode(pre.normalize(window))
            return {"state": state, "forecast": real(y)}

        def step(observation: Any, state: Any) -> dict[str, Any]:
            if stream is None:
                state = shift_window(state, observation)
                return {"state": state, **fn(state)}
            y, state = stream.step(pre.normalize(observation[:, None])[:, 0], state)
            return {"state": state, "forecast": real(y)}

        signatures = {
            "step": CoreSignature(
                fn=step,
                input_signature=step_signature(f, self._state_shape()),
                sample_inputs=samples["step"],
            )
        }
        start = "the first window"
        if stream is not None:
            signatures["initial_state"] = CoreSignature(
                fn=initial_state, input_signature=[window], sample_inputs=samples["initial_state"]
            )
            start = "what signature `initial_state` returns for the first window"
        return Core(
            fn=fn,
            input_signature=[window],
            sample_inputs=samples["serving_default"],
            track=[pre, self.model_],
            signatures=signatures,
            client=f"window: the last {lookback} rows of the columns {list(pre.columns)} in "
            "real units, finite; forecast: the next horizon steps of the targets "
            f"{list(pre.targets)}, real units. Streaming: signature `step` (observation "
            f"(B, F), state -> state, forecast), the state starting as {start}.",
        )

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        pre, stream = self.preprocessor_, self.network_.stream
        rng = np.random.default_rng(0)
        shape = (4, self.config.lookback, len(pre.columns))
        windows = (pre.mean + pre.std * rng.standard_normal(shape)).astype("float32")
        observations = pre.mean + pre.std * rng.standard_normal((shape[0], shape[2]))
        state = windows
        if stream is not None:
            state = np.asarray(stream.encode(pre.normalize(windows))[1], "float32")
        return {
            "serving_default": {"window": windows},
            "initial_state": {"window": windows},
            "step": {"observation": observations.astype("float32"), "state": state},
        }

    def export_metadata(self) -> dict[str, Any]:
        self._check_fitted()
        cfg, pre = self.config, self.preprocessor_
        return {
            "architecture": cfg.architecture,
            "columns": pre.columns,
            "targets": pre.targets,
            "covariates": [c for c in pre.columns if c not in pre.targets],
            "lookback": cfg.lookback,
            "horizon": cfg.horizon,
            "max_batch_windows": MAX_BATCH_WINDOWS,
            "streaming": "initial_state(window) -> state, forecast; then step(observation, "
            "state) -> state, forecast for each new row: "
            + (
                "the state is the last lookback rows (O(1) per stream), each forecast the one "
                "serving_default gives for that window"
                if self.network_.stream is None
                else f"the state ({self._state_shape()[0]} floats per stream, opaque) is the "
                "last row and the recurrent cells' states; a step is one cell update per "
                "layer, its forecast the network's over the whole history so far"
            ),
            "frequency": pre.frequency,
            "season": cfg.season,
            "series": self.read_options,
            "scaling": {
                "kind": "standard (keras.layers.Normalization adapted on the training rows), "
                "inside the graph",
                "mean": pre.mean.tolist(),
                "std": pre.std.tolist(),
            },
            "inputs": {"window": "float32 [batch, lookback, len(columns)], real units"},
            "outputs": {"forecast": "float32 [batch, horizon, len(targets)], real units"},
        }

    def get_state(self) -> dict[str, Any]:
        return {"preprocessor": self.preprocessor_.get_state()}

    def set_state(self, state: Mapping[str, Any], model_file: Path) -> None:
        pre = ForecastPreprocessor.from_state(state["preprocessor"])
        self.preprocessor_ = pre
        self.network_: Network = build_network(self.config, len(pre.columns), len(pre.targets))
        self.model_ = self.network_.model
        self.model_.load_weights(model_file)

    def _write_model(self, path: Path) -> None:
        self.model_.save_weights(path)

    # ------------------------------------------------------------------ public API
    @property
    def columns_(self) -> list[str]:
        self._check_fitted()
        return self.preprocessor_.columns

    @property
    def targets_(self) -> list[str]:
        self._check_fitted()
        return self.preprocessor_.targets

    def forecast_windows(self, windows: Any) -> np.ndarray:
        """Forecasts for raw windows: (n, L, F) real units, columns `columns_` -> (n, H, T)
        real units (the export's graph, run in process)."""
        self._check_fitted()
        return inference.forecast_windows(self, windows)

    def evaluate(self, data: Any, *, baselines: bool = True) -> dict[str, Any]:
        """MSE / MAE over every window of `data`, scaled and real, with the naive baselines
        (see `inference.evaluate_series`)."""
        self._check_fitted()
        return inference.evaluate_series(self, data, baselines=baselines)

    def predict(self, data: Any) -> pd.DataFrame:
        """Forecasts the `horizon` steps after the last row of `data` (a DataFrame or CSV):
        a DataFrame indexed by the future timestamps, one column per target, real units."""
        self._check_fitted()
        return inference.predict_series(self, data)

    def plot_forecast(self, data: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
        """PNG of one window's history, forecast and actuals (`inference.plot_forecast`)."""
        self._check_fitted()
        return inference.plot_forecast(self, data, path, **kwargs)

    def plot_error_by_horizon(self, data: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
        """PNG of the scaled MSE per horizon step vs. the baselines."""
        self._check_fitted()
        return inference.plot_error_by_horizon(self, data, path, **kwargs)
