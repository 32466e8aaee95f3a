"""`PanelForecaster`: one global model for many series, with quantiles and calibrated
intervals (hooks only; the skeleton is `rnn_apps.tasks.base`).

`predict(raw) = postprocess(model(preprocessor(raw)))`: the export's `serving_default` takes
`window` (B, L) float32 in real units (NaN = not observed: left-pad a series shorter than L
with NaN) and, when the model has covariates, `future_covariates` (B, L + H, C),
`static_numeric` (B, Sn) and `static_categorical` (B, Sc). It scales each window by its own
statistics (`MaskedWindowScale`, the preprocessor) and the covariates by the training ones
(`CovariateEncoder`), runs the network (`build_panel_network`: scaled quantiles) and
returns, in real units, `forecast` (B, H: the median), `quantiles` (B, H, Q) and, for each
calibrated level p, `lower_<p>` / `upper_<p>` (B, H): the quantile interval widened by its
split-conformal factor (per horizon step, in proportion to the interval's width:
conformalized quantile regression with width-normalised scores;
`rnn_apps.tasks.forecast.conformal`), never excluding the median. With `transform="log"` the
scaling and the intervals are in log space and every output goes back through `exp`.

With T > 1 targets (`target=[...]`) the window is (B, L, T) and every output gains a target
axis after the horizon: `forecast` (B, H, T), `quantiles` (B, H, T, Q). The graph forecasts
each of the B x T (window, target) pairs with the same network, which reads that target's
scaled window, every target's scaled window (`context` (B, L, T)) as past covariates and
the target's index one-hot as a static covariate.

Shape legend: B batch, L lookback, H horizon, Q quantile levels, T targets, C future
covariates, Sn / Sc numeric / categorical static covariates.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.panel import inference
from rnn_apps.tasks.panel.config import PanelConfig
from rnn_apps.tasks.panel.data import Panel, read_panel, windows

#: Windows per call of the export's `serving_default`.
MAX_BATCH_WINDOWS = 4096
#: Observed values beyond this magnitude are refused (a sentinel such as 3e38, a wrong unit).
MAX_ABS_VALUE = 1e30


def _checked_shape(x: Any, tail: list[int], name: str) -> Any:
    """`x` (B, *tail) with its dimensions after the batch checked (one-line error naming
    `name`) in a way a loaded signature (which does not check shapes) and graph optimisation
    keep: the static shape is hidden from the check, then restored. A wrong rank shows in
    the size (B * prod(tail) values), which graph optimisation cannot fold."""
    import tensorflow as tf

    dynamic = tf.raw_ops.PlaceholderWithDefault(input=x, shape=[None] * (len(tail) + 1))
    shape = tf.shape(dynamic)
    ok = tf.logical_and(
        tf.equal(tf.size(dynamic), shape[0] * int(np.prod(tail))),
        tf.reduce_all(tf.equal(shape[1:], tf.constant(tail, "int32"))),
    )
    text = ", ".join(["batch", *map(str, tail)])
    check = tf.debugging.Assert(ok, [f"{name} must have shape [{text}]; got shape", shape])
    with tf.control_dependencies([check]):
        return tf.ensure_shape(tf.identity(dynamic), [None, *tail])


def _value_checks(x: Any, name: str, positive: bool = False) -> list[Any]:
    """Asserts that the observed (non-NaN) values of `x` are finite and within
    `MAX_ABS_VALUE` and, with `positive` (a model of log values), above 0; each error names
    `name`."""
    import tensorflow as tf

    observed = tf.logical_not(tf.math.is_nan(x))
    checks = [
        tf.debugging.assert_less_equal(
            tf.reduce_max(tf.abs(tf.where(observed, x, 0.0))),
            tf.constant(MAX_ABS_VALUE, tf.float32),
            message=f"{name} holds inf or values beyond {MAX_ABS_VALUE:g}; check the units",
        )
    ]
    if positive:
        checks.append(
            tf.debugging.assert_equal(
                tf.reduce_all(tf.logical_or(tf.logical_not(observed), x > 0)),
                True,
                message="the model forecasts log values: every observed value must be > 0 "
                f"(in the {name})",
            )
        )
    return checks


def base_quantiles(quantiles: list[float], level: int) -> tuple[int, int]:
    """Indices of the quantiles an interval of `level` percent starts from: (1 - p) / 2 and
    (1 + p) / 2 when both are levels, else the median twice."""
    lo, hi = round((100 - level) / 200, 6), round((100 + level) / 200, 6)
    rounded = [round(q, 6) for q in quantiles]
    if lo in rounded and hi in rounded:
        return rounded.index(lo), rounded.index(hi)
    median = rounded.index(0.5)
    return median, median


class PanelForecaster(Task):
    """Fits, evaluates, predicts with and exports one global forecasting model.

    Usage::

        fc = PanelForecaster(PanelConfig(lookback=336, horizon=48, season=24))
        fc.fit(long_df)                  # unique_id, ds, y; the last 2H steps of each series
                                         # validate (H) and calibrate the intervals (H)
        fc.evaluate(long_df)             # sMAPE / MASE / OWA / MSIS / coverage of the last H
        fc.predict(long_df)              # long DataFrame of the next H steps, with intervals
        fc.export("exported/panel")      # SavedModel, real units in and out

    Learned state (set by `fit`/`load`): `frequency_`, `offsets_` (`{level: [H]}` conformal
    factors), `calibration_` (windows, empirical coverage before and after),
    `preprocessor_` (`MaskedWindowScale`), `postprocessor_` (`UnscaleForecast`), `networks_`
    (the `num_models` networks), `model_` (their average), `history_`, `train_seconds_`,
    `num_series_`, `num_short_series_`, `num_train_windows_`.
    """

    task_name: ClassVar[str] = "panel"
    config_class: ClassVar[type[PanelConfig]] = PanelConfig
    contract_version: ClassVar[int] = 2
    model_file: ClassVar[str] = "model.weights.h5"
    config: PanelConfig

    # ------------------------------------------------------------------ reading
    def read(self, data: Any, *, frequency: str | None = None, series_id: bool = True) -> Panel:
        """`data` as a validated `Panel` (see `rnn_apps.tasks.panel.data.read_panel`), with
        the series ids as a static covariate when `series_embedding` (and `series_id`)."""
        from rnn_apps.tasks.panel.data import with_series_id

        cfg = self.config
        panel = read_panel(
            data,
            id_column=cfg.id_column,
            date_column=cfg.date_column,
            target=cfg.targets,
            fill=cfg.fill,
            frequency=frequency,
            future_covariates=cfg.future_covariates,
            static_covariates=cfg.static_covariates,
            past_covariates=cfg.past_covariates,
            calendar=cfg.calendar,
        )
        return with_series_id(panel) if cfg.series_embedding and series_id else panel

    def _build(self) -> None:
        import keras

        from rnn_apps.layers import CovariateEncoder, MaskedWindowScale, UnscaleForecast
        from rnn_apps.tasks.panel.model import build_panel_network

        cfg = self.config
        log = cfg.transform == "log"
        extra = len(cfg.targets) if len(cfg.targets) > 1 else 0  # T (0 for one target)
        self.preprocessor_ = MaskedWindowScale(cfg.season, log=log, name="window_scale")
        self.postprocessor_ = UnscaleForecast(log=log, name="unscale")
        if getattr(self, "covariates_", None) is None:
            self.covariates_ = CovariateEncoder(name="covariates")
        self.networks_ = [
            build_panel_network(
                cfg.lookback,
                cfg.horizon,
                cfg.quantiles,
                seg_len=cfg.seg_len,
                d_model=cfg.d_model,
                cell=cfg.cell,
                units=cfg.units,
                num_layers=cfg.num_layers,
                dropout=cfg.dropout,
                num_future=len(self.covariates_.future_columns),
                static_width=self.covariates_.static_width + extra,
                num_past=len(self.covariates_.past_columns) + 2 * extra,
                name=f"panel_network_{k}",
            )  # fmt: skip
            for k in range(cfg.num_models)
        ]
        if len(self.networks_) == 1:
            self.model_ = self.networks_[0]
        else:  # the networks' inputs -> the mean of their (B, H, Q)
            first = self.networks_[0]
            inputs = [keras.Input(t.shape[1:], name=t.name) for t in first.inputs]
            args = inputs if len(inputs) > 1 else inputs[0]
            outs = [net(args) for net in self.networks_]
            self.model_ = keras.Model(
                args, keras.layers.Average(name="average")(outs), name="panel_ensemble"
            )

    def _network_inputs(self, inputs: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        """Raw inputs (the export's names, real units, one target per row: `window` (B, L);
        with T > 1 targets also `context` (B, L, T), the windows of every target of the row's
        series, and `target_index` (B,)) -> (the network's inputs, level (B, 1), scale
        (B, 1)): the scaled window with its mask and the encoded covariates (the NaN padding
        of a short series' covariates becomes 0, the training mean); with T > 1 the scaled
        context (B, L, 2T) joins the past covariates and the target one-hot (B, T) the static
        ones."""
        from keras import ops

        features, level, scale = self.preprocessor_(inputs["window"])  # (B, L, 2), (B, 1) x2
        encoded = self.covariates_(
            {
                "future": inputs.get("future_covariates"),
                "static_numeric": inputs.get("static_numeric"),
                "static_categorical": inputs.get("static_categorical"),
                "past": inputs.get("past_covariates"),
            }
        )
        static, past = encoded[1], encoded[2]
        if past is not None:
            past = ops.where(ops.isnan(past), ops.zeros_like(past), past)  # (B, L, P)
        targets = len(self.config.targets)
        if targets > 1:
            lookback = self.config.lookback
            onehot = ops.one_hot(ops.cast(inputs["target_index"], "int32"), targets)  # (B, T)
            static = onehot if static is None else ops.concatenate([static, onehot], axis=-1)
            ctx = ops.reshape(ops.transpose(inputs["context"], (0, 2, 1)), (-1, lookback))
            ctx = self.preprocessor_(ctx)[0]  # (B * T, L, 2)
            ctx = ops.transpose(ops.reshape(ctx, (-1, targets, lookback, 2)), (0, 2, 1, 3))
            ctx = ops.reshape(ctx, (-1, lookback, 2 * targets))  # (B, L, 2T)
            past = ctx if past is None else ops.concatenate([past, ctx], axis=-1)
        net = [features]
        if encoded[0] is not None:
            future = encoded[0]
            net.append(
                ops.where(ops.isnan(future), ops.zeros_like(future), future)
            )  # (B, L + H, C)
        if static is not None:
            net.append(static)  # (B, S)
        if past is not None:
            net.append(past)  # (B, L, P)
        return (net if len(net) > 1 else net[0]), level, scale

    # ------------------------------------------------------------------ fit
    def _fit(self, train: Any, validation: Any, run: FitRun) -> None:
        import keras
        import tensorflow as tf

        from rnn_apps.builders import compile_model
        from rnn_apps.layers import PinballLoss

        cfg = self.config
        panel = self.read(train)
        h, lookback = cfg.horizon, cfg.lookback
        lengths = np.array([np.isfinite(v).sum() for v in panel.values])
        self.num_series_ = panel.num_series
        self.num_short_series_ = int(
            np.sum([len(v) < lookback for v in panel.values[:: panel.num_targets]])
        )
        if validation is not None:
            raise UserInputError(
                "a panel model validates and calibrates on the last 2 x horizon steps of every "
                "training series: give the whole series as train and no validation."
            )
        if int(lengths.max()) < 2 * h + 2:
            raise UserInputError(
                f"the longest series has {int(lengths.max())} observed steps; horizon={h} needs "
                f"at least {2 * h + 2} (training, {h} validation and {h} calibration steps): "
                "lower the horizon or give longer series."
            )
        if cfg.transform == "log":
            for i, v in enumerate(panel.values):
                if np.nanmin(v) <= 0:
                    raise UserInputError(
                        f"series {panel.label(i)} holds {np.nanmin(v):g}: transform='log' needs "
                        "values > 0; use transform='none' (or shift the series)."
                    )
        self.frequency_ = panel.frequency
        self._adapt_covariates(panel)
        inputs, y = self._training_windows(panel)
        if not len(y):
            raise UserInputError(
                f"no series is longer than 2 x horizon + 1 = {2 * h + 1} steps: there is nothing "
                "to train on; lower the horizon."
            )
        if cfg.max_train_windows is not None and len(y) > cfg.max_train_windows:
            keep = np.sort(
                np.random.default_rng(cfg.seed).choice(len(y), cfg.max_train_windows, False)
            )
            inputs, y = {k: v[keep] for k, v in inputs.items()}, y[keep]
        self.num_train_windows_ = len(y)
        val = self._holdout(panel, 2 * h)
        cal = self._holdout(panel, h)

        with run.strategy.scope():
            self._build()
            for net in self.networks_:
                compile_model(
                    net, loss=PinballLoss(cfg.quantiles), learning_rate=cfg.learning_rate,
                    clipnorm=cfg.clipnorm,
                )  # fmt: skip
        pre = self.preprocessor_

        def scale(xb: Any, yb: Any) -> tuple[Any, Any]:
            net_inputs, level, s = self._network_inputs(xb)
            net_inputs = tuple(net_inputs) if isinstance(net_inputs, list) else net_inputs
            return net_inputs, (pre.transform(yb) - level) / s  # ..., (B, H)

        steps = cfg.steps_per_epoch or max(1, -(-len(y) // cfg.batch_size))
        val_ds = None
        if len(val[1]):
            val_ds = tf.data.Dataset.from_tensor_slices(val).batch(1024).map(scale)
        for k, net in enumerate(self.networks_):
            ds = (
                tf.data.Dataset.from_tensor_slices((inputs, y))
                .shuffle(len(y), seed=cfg.seed + k, reshuffle_each_iteration=True)
                .repeat()
                .batch(cfg.batch_size)
                .map(scale)
                .prefetch(tf.data.AUTOTUNE)
            )
            share = run
            if run.deadline is not None:  # an equal share of what is left
                left = run.deadline - time.monotonic()
                share = dataclasses.replace(
                    run, deadline=time.monotonic() + left / (len(self.networks_) - k)
                )
            keras.utils.set_random_seed(cfg.seed + k)
            self.train_model(
                net, ds, val_ds, run=share, epochs=cfg.epochs, steps_per_epoch=steps,
                name="model" if len(self.networks_) == 1 else f"model_{k}",
                callbacks=[keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=1e-5)]
                if val_ds is not None else [],
                reduce_lr_on_plateau=False,
            )  # fmt: skip
        self._signature_fns = {}
        self._calibrate(*cal)

    def future_columns(self, panel: Panel) -> list[str]:
        """The C future covariates the network reads: the configured ones, then the calendar
        features of the panel's frequency (`calendar=True`)."""
        from rnn_apps.tasks.panel.data import calendar_columns

        extra = calendar_columns(panel.frequency) if self.config.calendar else []
        return [*self.config.future_covariates, *extra]

    def static_columns(self) -> list[str]:
        """The static covariates the network reads: the configured ones, then `series_id`
        (`series_embedding=True`)."""
        from rnn_apps.tasks.panel.data import SERIES_ID

        extra = [SERIES_ID] if self.config.series_embedding else []
        return [*self.config.static_covariates, *extra]

    def _adapt_covariates(self, panel: Panel) -> None:
        """`covariates_`: the `CovariateEncoder` adapted on the training part (all but the
        last 2 x horizon steps) of every series, at its observed steps."""
        from rnn_apps.layers import CovariateEncoder

        cfg = self.config
        part = panel.head(2 * cfg.horizon)

        def observed_rows(arrays: list[np.ndarray] | None) -> np.ndarray | None:
            if arrays is None:
                return None
            return np.concatenate([c[np.isfinite(v)] for c, v in zip(arrays, part.values)])

        if part.covariates is None and part.past is None and part.static is None:
            self.covariates_ = CovariateEncoder(name="covariates")
            return
        self.covariates_ = CovariateEncoder.adapt(
            self.future_columns(panel), observed_rows(part.covariates), self.static_columns(),
            panel.static or [], cfg.past_covariates, observed_rows(part.past),
            name="covariates",
        )  # fmt: skip

    def _training_windows(self, panel: Panel) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Every training window (all but the last 2 x horizon steps of each series) with its
        covariates, as the export's inputs, and its targets (N, H)."""
        from rnn_apps.tasks.panel.inference import static_inputs

        cfg = self.config
        h, cut = cfg.horizon, 2 * cfg.horizon
        part = panel.head(cut)
        values, covs, pasts = part.values, part.covariates, part.past
        t = panel.num_targets
        parts, index = [], []
        n_future = 0 if covs is None else covs[0].shape[1]
        n_past = 0 if pasts is None else pasts[0].shape[1]
        for i, v in enumerate(values):
            # future, past, then (T > 1) every target of the series: (n, C + P + T)
            both = [c[i] for c in (covs, pasts) if c is not None]
            if t > 1:
                first = i - i % t
                both.append(np.stack(values[first : first + t], axis=1))
            part = windows(
                [v], cfg.lookback, h, min_history=min(cfg.season, cfg.lookback),
                covariates=[np.hstack(both)] if both else None,
            )  # fmt: skip
            parts.append(part)
            index.append(np.full(len(part[1]), i))
        index = np.concatenate(index)
        inputs = {"window": np.concatenate([p[0] for p in parts])}
        if covs is not None or pasts is not None or t > 1:
            cov_windows = np.concatenate([p[2] for p in parts])  # (N, L + H, C + P [+ T])
            if covs is not None:
                inputs["future_covariates"] = cov_windows[..., :n_future]
            if pasts is not None:
                inputs["past_covariates"] = cov_windows[:, : cfg.lookback, n_future:][..., :n_past]
            if t > 1:
                inputs["context"] = cov_windows[:, : cfg.lookback, n_future + n_past :]
                inputs["target_index"] = (index % t).astype("int32")
        statics = static_inputs(panel, self.covariates_facts())  # one row per series
        inputs.update({k: v[index] for k, v in statics.items()})
        return inputs, np.concatenate([p[1] for p in parts])

    def _holdout(self, panel: Panel, cut: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The window ending `cut` steps before each series' end and its next H steps, for
        the series whose H steps are all observed and that have history, as the export's
        inputs, and the targets (N, H)."""
        from rnn_apps.tasks.panel.inference import origin_rows, window_inputs

        h = self.config.horizon
        rows = origin_rows(panel, h, cut)
        inputs = window_inputs(self, panel, [(i, n) for i, n, _ in rows])
        return inputs, np.asarray([y for _, _, y in rows], "float32").reshape(-1, h)

    def _calibrate(self, inputs: Mapping[str, np.ndarray], y: np.ndarray) -> None:
        """Split-conformal factors per level and horizon step from held-out windows (the
        export's inputs) and their targets (N, H): on the network's scaled quantiles, each
        window's score max(lo - y, y - hi) divided by its interval's width (or, for an
        interval from the median, by 1: the window's scale)."""
        from rnn_apps.tasks.forecast.conformal import conformal_offsets, conformity_scores

        cfg = self.config
        self.offsets_ = {}
        self.calibration_: dict[str, Any] = {"windows": len(y), "levels": {}}
        if not len(y):
            raise UserInputError("no series has a fully observed last horizon to calibrate on.")
        net_inputs, level, scale = self._network_inputs(inputs)
        q = np.asarray(self.model_.predict(net_inputs, batch_size=1024, verbose=0))  # (N, H, Q)
        ys = np.asarray((self.preprocessor_.transform(y) - level) / scale)  # (N, H)
        for p in cfg.levels:
            i, j = base_quantiles(cfg.quantiles, p)
            lo, hi = q[..., i], q[..., j]
            width = hi - lo if i != j else np.ones_like(lo)
            width = np.maximum(width, 1e-6)
            scores = conformity_scores(ys / width, lo / width, hi / width)
            try:
                c = conformal_offsets(scores, p / 100)
            except ValueError as err:
                raise UserInputError(
                    f"calibrating the {p}% interval: {err} (one per series with a fully "
                    "observed last horizon); give more series or lower the levels."
                ) from None
            self.offsets_[str(p)] = c.astype("float32").tolist()
            inside = (ys >= lo - c * width) & (ys <= hi + c * width)
            self.calibration_["levels"][str(p)] = {
                "coverage_before": float(((ys >= lo) & (ys <= hi)).mean()),
                "coverage_after": float(inside.mean()),
            }
        self._signature_fns = {}

    # ------------------------------------------------------------------ export hooks
    def covariates_facts(self) -> dict[str, list]:
        """The covariate inputs: `future` (C names: the configured ones, then `calendar`, the
        derived calendar features), `static_numeric`, `static_categorical` (names, in
        `static_covariates` order within each kind), `static` (all, config order)."""
        enc = self.covariates_
        return {
            "future": list(enc.future_columns),
            "calendar": [c for c in enc.future_columns if c not in self.config.future_covariates],
            "static": self.static_columns(),
            "static_numeric": list(enc.numeric_columns),
            "static_categorical": list(enc.categorical_columns),
            "past": list(enc.past_columns),
        }

    def _input_specs(self) -> list[Any]:
        import tensorflow as tf

        cfg, facts = self.config, self.covariates_facts()
        t = len(cfg.targets)
        shape = [None, cfg.lookback] + ([t] if t > 1 else [])
        specs = [tf.TensorSpec(shape, tf.float32, name="window")]
        if facts["future"]:
            specs.append(
                tf.TensorSpec(
                    [None, cfg.lookback + cfg.horizon, len(facts["future"])],
                    tf.float32,
                    name="future_covariates",
                )  # fmt: skip
            )
        if facts["static_numeric"]:
            specs.append(
                tf.TensorSpec([None, len(facts["static_numeric"])], tf.float32, "static_numeric")
            )
        if facts["static_categorical"]:
            specs.append(
                tf.TensorSpec(
                    [None, len(facts["static_categorical"])], tf.string, "static_categorical"
                )
            )
        if facts["past"]:
            specs.append(
                tf.TensorSpec(
                    [None, cfg.lookback, len(facts["past"])], tf.float32, "past_covariates"
                )
            )
        return specs

    def _step_specs(self) -> list[Any]:
        """The streaming `step`'s inputs: `observation` (B) (or (B, T)), `state` (B, L) (or
        (B, L, T)), then the covariate inputs of `serving_default` (for the new window)."""
        import tensorflow as tf

        window, *covariates = self._input_specs()
        return [
            tf.TensorSpec([None, *window.shape[2:]], tf.float32, name="observation"),
            tf.TensorSpec(window.shape, tf.float32, name="state"),
            *covariates,
        ]

    def _shift(self, observation: Any, state: Any, checks: bool = True) -> Any:
        """The window one step on: `state` (B, L[, T]), `observation` (B[, T]) -> (B, L[, T]),
        with `checks`: shapes, rows and the observation's values checked first."""
        import tensorflow as tf

        cfg = self.config
        t = len(cfg.targets)
        if checks:
            tail = [t] if t > 1 else []
            state = _checked_shape(state, [cfg.lookback, *tail], "state")
            observation = _checked_shape(observation, tail, "observation")
            asserts = [
                tf.debugging.assert_equal(
                    tf.shape(observation)[0], tf.shape(state)[0],
                    message="observation and state must hold as many streams (rows)",
                ),
                *_value_checks(observation, "observation", positive=cfg.transform == "log"),
            ]  # fmt: skip
            with tf.control_dependencies(asserts):
                observation = tf.identity(observation)
        return tf.concat([state[:, 1:], observation[:, None]], axis=1)

    def endpoints(self) -> list[Any]:
        """`serving_default`: `window` (B, L) (or (B, L, T) for T targets) float32 real
        units, NaN = not observed [,
        `future_covariates` (B, L + H, C) float32, `static_numeric` (B, Sn) float32,
        `static_categorical` (B, Sc) string, when the model has them] -> `forecast` (B, H),
        `quantiles` (B, H, Q), `lower_<p>` / `upper_<p>` (B, H) (each with a T axis after H
        for T targets), real units. Refuses more
        than `MAX_BATCH_WINDOWS` windows, a wrong window length, inf or values beyond
        `MAX_ABS_VALUE`, a window without any observed value, and NaN in the horizon part of
        the future covariates.

        The streaming pair: `initial_state` (the inputs of `serving_default` -> its outputs
        and `state`, the window) and `step` (`observation` (B) (or (B, T)), `state` and the
        covariates of the new window -> the outputs for the window one step on, and that
        window as `state`): the state is the last L values of each stream."""
        from rnn_apps.export import Endpoint

        self._check_fitted()
        specs, step_specs = self._input_specs(), self._step_specs()
        names, step_names = [sp.name for sp in specs], [sp.name for sp in step_specs]

        def serve(*args: Any) -> dict[str, Any]:
            return self._serve(**dict(zip(names, args)))

        def initial_state(*args: Any) -> dict[str, Any]:
            inputs = dict(zip(names, args))
            out = self._serve(**inputs)
            return {"state": inputs["window"], **out}

        def step(*args: Any) -> dict[str, Any]:
            return self._step(**dict(zip(step_names, args)))

        return [
            Endpoint("serving_default", serve, specs),
            Endpoint("initial_state", initial_state, specs),
            Endpoint("step", step, step_specs),
        ]

    def _step(
        self, observation: Any, state: Any, checks: bool = True, **covariates: Any
    ) -> dict[str, Any]:
        """The streaming step: the window one observation on, as `state`, and `_serve`'s
        outputs for it; `checks=False` leaves out the input checks (the core)."""
        window = self._shift(observation, state, checks=checks)
        return {"state": window, **self._serve(window, checks=checks, name="state", **covariates)}

    def _serve(
        self, window: Any, checks: bool = True, name: str = "window", **covariates: Any
    ) -> dict[str, Any]:
        """The export's function; `checks=False` leaves out the input checks (the core);
        `name` is the window's name in the checks' messages."""
        import tensorflow as tf

        cfg = self.config
        lookback, t = cfg.lookback, len(cfg.targets)
        shape = [None, lookback] + ([t] if t > 1 else [])
        dims = f"[batch, {lookback}" + (f", {t}]" if t > 1 else "]")
        if checks:
            dynamic = tf.raw_ops.PlaceholderWithDefault(input=window, shape=[None] * len(shape))
            asserts = [
                tf.debugging.assert_equal(
                    tf.shape(dynamic)[1:], shape[1:],
                    message=f"{name} must have shape {dims} (lookback steps, NaN-padded on the "
                    "left for a shorter series" + (", then the targets" if t > 1 else "")
                    + "); got [batch, ...] =",
                ),
                tf.debugging.assert_less_equal(
                    tf.shape(dynamic)[0], MAX_BATCH_WINDOWS,
                    message=f"at most {MAX_BATCH_WINDOWS} windows per request; split the batch",
                ),
            ]  # fmt: skip
            for key in ("future_covariates", "static_numeric", "static_categorical",
                        "past_covariates"):  # fmt: skip
                if covariates.get(key) is not None:
                    asserts.append(
                        tf.debugging.assert_equal(
                            tf.shape(covariates[key])[0],
                            tf.shape(dynamic)[0],
                            message=f"{key} must have one row per window",
                        )  # fmt: skip
                    )
            with tf.control_dependencies(asserts):
                window = tf.ensure_shape(tf.identity(dynamic), shape)
        internal = {}
        if t > 1:  # (B, L, T) -> one row per (window, target): (B * T, L)
            batch = tf.shape(window)[0]
            internal = {"context": tf.repeat(window, t, axis=0),
                        "target_index": tf.tile(tf.range(t), [batch])}  # fmt: skip
            covariates = {k: tf.repeat(v, t, axis=0) for k, v in covariates.items()}
            window = tf.reshape(tf.transpose(window, (0, 2, 1)), (-1, lookback))
        if checks:
            observed = tf.logical_not(tf.math.is_nan(window))
            asserts = [
                *_value_checks(window, name, positive=cfg.transform == "log"),
                tf.debugging.assert_equal(
                    tf.reduce_all(tf.reduce_any(observed, axis=1)), True,
                    message=f"a {name} has no observed value (all NaN"
                    + (" for some target" if t > 1 else "")
                    + "); drop it or give history",
                ),
            ]  # fmt: skip
            future = covariates.get("future_covariates")
            if future is not None:
                asserts += [
                    tf.debugging.assert_equal(
                        tf.reduce_any(tf.math.is_nan(future[:, lookback:])), False,
                        message=f"future_covariates holds NaN in its last {cfg.horizon} steps (the "
                        "horizon): give every future covariate for every step to forecast",
                    ),
                    *_value_checks(future, "future_covariates"),
                ]  # fmt: skip
            past = covariates.get("past_covariates")
            if past is not None:
                asserts += _value_checks(past, "past_covariates")
            with tf.control_dependencies(asserts):
                window = tf.identity(window)
        net_inputs, level, scale = self._network_inputs(
            {"window": window, **covariates, **internal}
        )
        q = tf.cast(self.model_(net_inputs, training=False), tf.float32)  # (B, H, Q) scaled
        median = q[..., cfg.quantiles.index(0.5)]  # (B, H)
        out = {"quantiles": q, "forecast": median}
        for p in cfg.levels:
            i, j = base_quantiles(cfg.quantiles, p)
            c = tf.constant(np.asarray(self.offsets_[str(p)], "float32"))[None, :]  # (1, H)
            width = q[..., j] - q[..., i] if i != j else tf.ones_like(median)
            # A negative factor narrows the interval; it never excludes the median.
            out[f"lower_{p}"] = tf.minimum(q[..., i] - c * width, median)
            out[f"upper_{p}"] = tf.maximum(q[..., j] + c * width, median)
        out = {k: self.postprocessor_([v, level, scale]) for k, v in out.items()}
        if t > 1:  # (B * T, H, ...) -> (B, T, H, ...) -> (B, H, T, ...)
            for k, v in out.items():
                v = tf.reshape(v, tf.concat([[-1, t], tf.shape(v)[1:]], 0))
                out[k] = tf.transpose(v, [0, 2, 1, *range(3, v.shape.rank)])
        return out

    def core(self) -> Any:
        """`serving_default` without its input checks, for LiteRT and ONNX: the same inputs
        (real units, NaN = not observed) and outputs. A model with categorical static
        covariates (or `series_embedding`) has none: its string lookups stay in the
        SavedModel."""
        from rnn_apps.portable import Core, CoreSignature

        self._check_fitted()
        if self.covariates_facts()["static_categorical"]:
            raise UserInputError(
                "this panel model reads categorical static covariates (strings), which LiteRT "
                "and ONNX cores do not take; export a SavedModel, or train with numeric "
                "static covariates only."
            )
        specs, step_specs = self._input_specs(), self._step_specs()
        names, step_names = [sp.name for sp in specs], [sp.name for sp in step_specs]

        def fn(*args: Any) -> dict[str, Any]:
            return self._serve(checks=False, **dict(zip(names, args)))

        def step(*args: Any) -> dict[str, Any]:
            return self._step(checks=False, **dict(zip(step_names, args)))

        t = len(self.config.targets)
        samples = self.sample_inputs()
        return Core(
            fn=fn,
            input_signature=specs,
            sample_inputs=samples["serving_default"],
            track=[self.model_],
            signatures={
                "step": CoreSignature(
                    fn=step, input_signature=step_specs, sample_inputs=samples["step"]
                )
            },
            client=f"window: the last {self.config.lookback} values of a series in real units"
            + (f", one column per target {self.config.targets}" if t > 1 else "")
            + ", NaN-padded on the left when shorter (at least one observed value per window"
            + (" and target" if t > 1 else "")
            + ", no inf); outputs in real units as the SavedModel's. Streaming: signature "
            "`step` (observation (B"
            + (", T" if t > 1 else "")
            + "), state (B, L"
            + (", T" if t > 1 else "")
            + ") and the covariates of the new window -> state, "
            "outputs), the state starting as the first window.",
        )

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        rng = np.random.default_rng(0)
        lookback, targets = self.config.lookback, len(self.config.targets)
        t = np.arange(lookback)[:, None]
        windows_ = (
            10.0
            + 3.0 * np.sin(2 * np.pi * t / self.config.season)
            + rng.normal(0, 0.5, (4, lookback, targets))
        )
        windows_[1, : lookback // 2] = np.nan  # a short series, left-padded
        windows_ = windows_ if targets > 1 else windows_[..., 0]
        inputs = {"window": windows_.astype("float32")}
        facts, enc = self.covariates_facts(), self.covariates_
        if facts["future"]:
            shape = (4, lookback + self.config.horizon, len(facts["future"]))
            future = np.asarray(enc.future_mean) + np.asarray(enc.future_std) * rng.normal(
                size=shape
            )
            future[1, : lookback // 2] = np.nan  # the short series' padding
            inputs["future_covariates"] = future.astype("float32")
        if facts["static_numeric"]:
            inputs["static_numeric"] = np.tile(np.asarray(enc.numeric_mean, "float32"), (4, 1))
        if facts["static_categorical"]:
            first = [vocab[0] if vocab else "" for vocab in enc.vocabularies]
            inputs["static_categorical"] = np.array([first] * 3 + [["unseen"] * len(first)])
        if facts["past"]:
            shape = (4, lookback, len(facts["past"]))
            past = np.asarray(enc.past_mean) + np.asarray(enc.past_std) * rng.normal(size=shape)
            past[1, : lookback // 2] = np.nan
            inputs["past_covariates"] = past.astype("float32")
        covariates = {k: v for k, v in inputs.items() if k != "window"}
        observation = windows_[:, -1] + rng.normal(0, 0.5, windows_[:, -1].shape)
        observation[2] = np.nan  # a step without an observed value
        step = {"observation": observation.astype("float32"), "state": inputs["window"]}
        return {"serving_default": inputs, "initial_state": inputs, "step": {**step, **covariates}}

    def reading_facts(self) -> dict[str, Any]:
        """What reading data and shaping inputs need (the keys of `export_metadata` that
        `rnn_apps.tasks.panel.inference` reads), available before calibration."""
        cfg = self.config
        return {
            "lookback": cfg.lookback,
            "horizon": cfg.horizon,
            "season": cfg.season,
            "frequency": self.frequency_,
            "quantiles": list(cfg.quantiles),
            "levels": list(cfg.levels),
            "columns": {"id": cfg.id_column, "date": cfg.date_column, "target": cfg.target},
            "targets": cfg.targets,
            "fill": cfg.fill,
            "covariates": self.covariates_facts(),
        }

    def export_metadata(self) -> dict[str, Any]:
        self._check_fitted()
        cfg = self.config
        t = ", len(targets)" if len(cfg.targets) > 1 else ""
        outputs = {
            "forecast": f"float32 [batch, horizon{t}], the median, real units",
            "quantiles": f"float32 [batch, horizon{t}, len(quantiles)], real units",
        }
        for p in cfg.levels:
            outputs[f"lower_{p}"] = f"float32 [batch, horizon{t}], {p}% interval, real units"
            outputs[f"upper_{p}"] = f"float32 [batch, horizon{t}], {p}% interval, real units"
        facts = self.covariates_facts()
        inputs = {"window": f"float32 [batch, lookback{t}], real units, NaN = not observed"}
        if facts["future"]:
            inputs["future_covariates"] = (
                "float32 [batch, lookback + horizon, len(covariates.future)], real units: the "
                "window's steps (NaN where the window is padding) then the horizon's (no NaN)"
            )
        if facts["static_numeric"]:
            inputs["static_numeric"] = "float32 [batch, len(covariates.static_numeric)]"
        if facts["static_categorical"]:
            inputs["static_categorical"] = "string [batch, len(covariates.static_categorical)]"
        if facts["past"]:
            inputs["past_covariates"] = (
                "float32 [batch, lookback, len(covariates.past)], real units, NaN where the "
                "window is padding"
            )
        return {
            **self.reading_facts(),
            "max_batch_windows": MAX_BATCH_WINDOWS,
            "conformal": {
                "method": "split conformal per horizon step on each series' last horizon "
                "(held out of training): lower = q_lo - c * (q_hi - q_lo), upper = q_hi + c * "
                "(q_hi - q_lo) on the scaled quantiles (c per level and step)",
                "offsets": self.offsets_,
                "calibration": self.calibration_,
            },
            "transform": cfg.transform,
            "scaling": "per window, inside the graph"
            + (" on the logarithm of the values" if cfg.transform == "log" else "")
            + ": level = mean of the last season observed steps, scale = standard deviation "
            "of the observed steps",
            "covariates": {
                **facts,
                "scaling": "future and numeric static covariates standardised with training "
                "statistics, categorical static covariates one-hot (unseen: index 0)",
            },
            "inputs": inputs,
            "outputs": outputs,
            "streaming": "initial_state(the inputs of serving_default) -> state, outputs; then "
            "step(observation, state, the covariates of the new window) -> state, outputs for "
            "each new value (NaN = not observed): the state is the last lookback values (O(1) "
            "per stream), each output the one serving_default gives for that window",
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency_,
            "offsets": self.offsets_,
            "calibration": self.calibration_,
            "num_short_series": getattr(self, "num_short_series_", 0),
            "covariates": self.covariates_.get_config(),
        }

    def set_state(self, state: Mapping[str, Any], model_file: Path) -> None:
        self.frequency_ = state["frequency"]
        self.offsets_ = {str(k): list(v) for k, v in state["offsets"].items()}
        self.calibration_ = dict(state.get("calibration") or {})
        self.num_short_series_ = int(state.get("num_short_series", 0))
        from rnn_apps.layers import CovariateEncoder

        self.covariates_ = CovariateEncoder.from_config(state["covariates"])
        self._build()
        self.model_.load_weights(model_file)

    def _write_model(self, path: Path) -> None:
        self.model_.save_weights(path)

    # ------------------------------------------------------------------ public API
    def forecast_windows(self, windows_: Any) -> dict[str, np.ndarray]:
        """The export's outputs for raw windows (n, L) real units, NaN = not observed (or a
        dict of the export's inputs, for a model with covariates)."""
        self._check_fitted()
        return inference.run_batches(self, windows_)

    def predict(self, data: Any, future: Any = None) -> pd.DataFrame:
        """The `horizon` steps after each series of `data`: a long DataFrame (`unique_id`,
        `ds`, `forecast`, one column per quantile, `lower_<p>` / `upper_<p>`). A model with
        future covariates needs `future`: their values for those steps (a long frame or CSV:
        id, date and the covariate columns)."""
        self._check_fitted()
        return inference.predict_panel(self, data, future=future)

    def evaluate(self, data: Any, *, backtest: int = 1, step: int | None = None) -> dict:
        """Scores forecasts of the last `horizon` steps of each series of `data` (and of
        `backtest - 1` earlier origins, `step` apart): see `inference.evaluate_panel`."""
        self._check_fitted()
        return inference.evaluate_panel(self, data, backtest=backtest, step=step)

    def backtest(
        self, data: Any, *, windows: int = 1, step: int | None = None, refit: bool = False
    ) -> pd.DataFrame:
        """Rolling-origin forecasts (`inference.backtest`): with the fitted model, or with
        `refit=True` a new model of this configuration fitted, for each cutoff, on every
        series up to that cutoff (`windows` fits; the last `2 x horizon` steps before each
        cutoff validate and calibrate as in `fit`)."""
        self._check_fitted()
        if not refit:
            return inference.backtest(self, data, windows=windows, step=step)
        h = self.config.horizon
        step = h if step is None else int(step)
        if int(windows) < 1 or step < 1:
            raise UserInputError(f"backtest windows ({windows}) and step ({step}) must be >= 1.")
        panel = self.read(data, frequency=self.frequency_, series_id=False)
        frames = []
        for k in range(int(windows) - 1, -1, -1):
            cut = step * k  # steps after this origin's horizon
            seen = panel.head(cut) if cut else panel
            model = type(self)(self.config).fit(seen.head(h))  # nothing after the origin
            frames.append(inference.backtest(model, seen, windows=1))
        return pd.concat(frames, ignore_index=True)

    def plot_fan_chart(self, data: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
        """PNG of a few series' history, median and interval bands (`inference.plot_fan_chart`)."""
        self._check_fitted()
        return inference.plot_fan_chart(self, data, path, **kwargs)
