"""Forecasting networks: scaled window (B, L, F) -> scaled forecast (B, H, T).

Built from `rnn_apps.builders` and the forecasting layers of `rnn_apps.layers` (`SegRNN`,
`DLinear`, and `LastValueCentering` / `AddLastValue`, the per-window normalisation of the
windowed recurrent architectures; `DifferenceRNN` for `incremental` LSTM/GRU, which reads
first differences instead and streams). `build_network(config, F, T)` returns a `Network`:
the Keras model that is trained and saved, and the traceable function that forecasts with it
(the same model for all architectures but seq2seq, which trains with teacher forcing and
forecasts by decoding step by step).

Shape legend: B batch, L lookback, H horizon, F features (targets first), T targets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from rnn_apps.layers import (
    AddLastValue,
    DifferenceRNN,
    DLinear,
    LastValueCentering,
    SegRNN,
    TakeTargets,
)

# Masking sentinel of the builders' models: never a value of a scaled series.
MASK_VALUE = -1.0e9


@dataclasses.dataclass
class Network:
    """A forecasting network.

    Attributes:
        model: The trained Keras model (weights are saved from it). Inputs: the scaled window
            (B, L, F), plus the decoder inputs (B, H, T) when `teacher_forcing`.
        forecast: Traceable `scaled window (B, L, F) -> scaled forecast (B, H, T)`.
        teacher_forcing: The model also takes `teacher_forcing_inputs(x, y)`.
        stream: The `DifferenceRNN` of an incremental network (its `encode` and `step`
            stream with a recurrent state), else None.
    """

    model: keras.Model
    forecast: Callable[[Any], Any]
    teacher_forcing: bool = False
    stream: Any = None


def build_segrnn(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    seg_len: int = 48,
    d_model: int = 512,
    dropout: float = 0.0,
    channel_independent: bool = True,
    name: str = "segrnn",
) -> keras.Model:
    """SegRNN with per-window normalisation: window (B, L, F) -> forecast (B, H, T)."""
    t = num_features if num_targets is None else num_targets
    inp = keras.Input((lookback, num_features), name="window")
    y = SegRNN(
        lookback,
        horizon,
        num_features,
        seg_len=seg_len,
        d_model=d_model,
        dropout=dropout,
        channel_independent=channel_independent,
        name="segrnn",
    )(LastValueCentering(name="center")(inp))  # (B, H, F), relative to the last value
    if t != num_features:
        y = TakeTargets(t, name="targets")(y)
    y = AddLastValue(t, name="add_last")([y, inp])
    return keras.Model(inp, y, name=name)


def build_dlinear(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    kernel_size: int = 25,
    name: str = "dlinear",
) -> keras.Model:
    """DLinear: window (B, L, F) -> forecast (B, H, T)."""
    t = num_features if num_targets is None else num_targets
    inp = keras.Input((lookback, num_features), name="window")
    y = DLinear(lookback, horizon, kernel_size, name="dlinear")(inp)
    if t != num_features:
        y = TakeTargets(t, name="targets")(y)
    return keras.Model(inp, y, name=name)


def build_rnn_forecaster(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int | None = None,
    *,
    cell: str = "lstm",
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    instance_norm: bool = True,
    name: str = "rnn_forecaster",
) -> keras.Model:
    """Stacked LSTM/GRU with a direct multi-horizon head (`build_stacked_rnn`), optionally
    with per-window normalisation: window (B, L, F) -> forecast (B, H, T)."""
    from rnn_apps.builders import build_stacked_rnn

    t = num_features if num_targets is None else num_targets
    core = build_stacked_rnn(
        num_features=num_features,
        mask_value=MASK_VALUE,
        sequence_length=lookback,
        cell=cell,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        head="multi_horizon",
        horizon=horizon,
        output_dim=t,
        name=f"{name}_core",
    )
    if not instance_norm:
        return core
    inp = keras.Input((lookback, num_features), name="window")
    y = core(LastValueCentering(name="center")(inp))  # (B, H, T)
    y = AddLastValue(t, name="add_last")([y, inp])
    return keras.Model(inp, y, name=name)


def teacher_forcing_inputs(x: Any, y: Any, num_targets: int) -> Any:
    """Decoder inputs of seq2seq training: at step h the target at h - 1, at h = 0 the last
    observed target. x (B, L, F), y (B, H, T) -> (B, H, T)."""
    return ops.concatenate([x[:, -1:, :num_targets], y[:, :-1, :]], axis=1)


def build_seq2seq(
    lookback: int,
    horizon: int,
    num_features: int,
    num_targets: int,
    *,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    instance_norm: bool = True,
) -> Network:
    """An LSTM encoder-decoder (`build_encoder_decoder`), trained with teacher forcing
    (`[window, teacher_forcing_inputs] -> forecast`) and decoded autoregressively."""
    from rnn_apps.builders import build_encoder_decoder

    t = num_targets
    parts = build_encoder_decoder(
        source_features=num_features,
        target_features=t,
        cell="lstm",
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        output_dim=t,
        mask_value=MASK_VALUE,
        name="seq2seq_forecaster",
    )
    center = LastValueCentering(name="center")
    add_last = AddLastValue(t, name="add_last")
    window = keras.Input((lookback, num_features), name="window")
    decoder_inputs = keras.Input((horizon, t), name="decoder_inputs")
    if instance_norm:
        y = parts.training_model([center(window), center([decoder_inputs, window])])
        y = add_last([y, window])
    else:
        y = parts.training_model([window, decoder_inputs])
    model = keras.Model([window, decoder_inputs], y, name="seq2seq_forecaster")

    def forecast(x: Any) -> Any:
        # (B, L, F) -> (B, H, T): one decoder step per horizon step, fed its own output.
        prev = x[:, -1:, :t]  # (B, 1, T)
        if instance_norm:
            prev = center([prev, x])  # zeros: the last value relative to itself
            states = parts.encoder_model(center(x), training=False)
        else:
            states = parts.encoder_model(x, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        outs = []
        for _ in range(horizon):
            step, *states = parts.decoder_model([prev, *states], training=False)
            prev = ops.add(step, 0.0)  # a fresh tensor without a Keras mask
            outs.append(prev)
        y = ops.concatenate(outs, axis=1)  # (B, H, T)
        return add_last([y, x]) if instance_norm else y

    return Network(model, forecast, teacher_forcing=True)


def build_network(config: Any, num_features: int, num_targets: int) -> Network:
    """The network `config.architecture` names (a `ForecastConfig`), uncompiled."""
    cfg = config
    shape = {
        "lookback": cfg.lookback,
        "horizon": cfg.horizon,
        "num_features": num_features,
        "num_targets": num_targets,
    }
    recurrent = {
        "units": cfg.units,
        "num_layers": cfg.num_layers,
        "dropout": cfg.dropout,
        "instance_norm": cfg.instance_norm,
    }
    if cfg.architecture == "seq2seq":
        return build_seq2seq(**shape, **recurrent)
    if cfg.incremental:
        layer = DifferenceRNN(
            cfg.horizon, num_features, num_targets, cell=cfg.architecture, units=cfg.units,
            num_layers=cfg.num_layers, dropout=cfg.dropout, name="difference_rnn",
        )  # fmt: skip
        inp = keras.Input((cfg.lookback, num_features), name="window")
        model = keras.Model(inp, layer(inp), name="incremental_forecaster")
        return Network(model, lambda x: model(x, training=False), stream=layer)
    if cfg.architecture == "segrnn":
        model = build_segrnn(
            **shape,
            seg_len=cfg.seg_len,
            d_model=cfg.d_model,
            dropout=cfg.dropout,
            channel_independent=cfg.channel_independent,
        )
    elif cfg.architecture == "dlinear":
        model = build_dlinear(**shape, kernel_size=cfg.kernel_size)
    else:
        model = build_rnn_forecaster(**shape, cell=cfg.architecture, **recurrent)
    return Network(model, lambda x: model(x, training=False))


def compile_network(network: Network, config: Any) -> None:
    """Compiles the network's model with the configured loss, learning rate and clipping."""
    from rnn_apps.builders import compile_model

    loss = {"mse": "mse", "mae": "mae", "huber": keras.losses.Huber(delta=1.0)}[config.loss]
    compile_model(
        network.model, loss=loss, learning_rate=config.learning_rate, clipnorm=config.clipnorm
    )
