"""The global many-series network: scaled window features (B, L, 2) -> quantiles (B, H, Q).

The window (scaled value and observed mask, `MaskedWindowScale`) is cut into L / W segments of
W steps; each segment is projected to `d_model` (a Dense over its 2W numbers, as SegRNN's
segment embedding) and a stacked GRU/LSTM from `rnn_apps.builders.build_stacked_rnn` reads
the L / W segment vectors, its last state read out by a direct multi-horizon head into (H, Q)
raw values that `NonCrossingQuantiles` orders. Long windows (weeks of hourly data) thus cost
L / W recurrent steps, not L.

With covariates the network also takes the scaled past covariates (B, L, P), which join each
step's features before the segments are cut, and the scaled future covariates (B, L + H, C):
their first L steps join each step's features too, their last H steps
(what is known about the horizon) and the encoded static covariates (B, S) join the
recurrent stack's last state before a hidden layer reads out (H, Q).

Shape legend: B batch, L lookback, W segment length, H horizon, Q quantile levels, C future
and P past covariates, S static width.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from rnn_apps.layers import NonCrossingQuantiles


def build_panel_network(
    lookback: int,
    horizon: int,
    quantiles: Sequence[float],
    *,
    seg_len: int = 24,
    d_model: int = 128,
    cell: str = "gru",
    units: int = 128,
    num_layers: int = 2,
    dropout: float = 0.0,
    num_future: int = 0,
    static_width: int = 0,
    num_past: int = 0,
    name: str = "panel_network",
) -> keras.Model:
    """features (B, L, 2) [, future (B, L + H, C)] [, static (B, S)] [, past (B, L, P)] ->
    non-crossing quantiles (B, H, Q), all in the window's scale.

    Args:
        lookback: L, a multiple of `seg_len`.
        horizon: H.
        quantiles: The Q levels, increasing in (0, 1).
        seg_len: W, steps per segment.
        d_model: Width of the segment embedding.
        cell: `"gru"` or `"lstm"`.
        units: Width of the recurrent layers.
        num_layers: Depth of the recurrent stack.
        dropout: Input dropout of the recurrent layers.
        num_future: C, future covariates (0: no such input).
        static_width: S, width of the encoded static covariates (0: no such input).
        num_past: P, past covariates (0: no such input).
        name: Model name.
    """
    from rnn_apps.builders import build_stacked_rnn

    if lookback % seg_len:
        raise ValueError(f"lookback ({lookback}) must be a multiple of seg_len ({seg_len})")
    segments = lookback // seg_len
    q = len(quantiles)
    inp = keras.Input((lookback, 2), name="features")
    inputs, x = [inp], inp
    if num_future:
        future = keras.Input((lookback + horizon, num_future), name="future")
        inputs.append(future)
        past = future[:, :lookback]
        x = keras.layers.Concatenate(name="with_covariates")([x, past])  # (B, L, 2 + C)
    if num_past:
        past_cov = keras.Input((lookback, num_past), name="past")
        x = keras.layers.Concatenate(name="with_past_covariates")([x, past_cov])
    width = x.shape[-1]
    x = keras.layers.Reshape((segments, width * seg_len), name="segments")(x)  # (B, L/W, .)
    x = keras.layers.Dense(d_model, activation="relu", name="segment_embedding")(x)
    plain = not num_future and not static_width
    rnn = build_stacked_rnn(
        num_features=d_model,
        sequence_length=segments,
        mask_value=-1.0e9,  # never a segment embedding: nothing is masked at this level
        cell=cell,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        head="multi_horizon" if plain else "many_to_one",
        horizon=horizon if plain else None,
        output_dim=q if plain else units,
        output_activation=None if plain else "relu",
        name=f"{name}_rnn",
    )
    if plain:
        raw = rnn(x)  # (B, H, Q)
    else:
        parts = [rnn(x)]  # (B, units)
        if num_future:
            ahead = future[:, lookback:]
            parts.append(keras.layers.Flatten(name="horizon_flat")(ahead))  # (B, H * C)
        if static_width:
            static = keras.Input((static_width,), name="static")
            inputs.append(static)
            parts.append(static)
        h = keras.layers.Concatenate(name="state_and_covariates")(parts)
        h = keras.layers.Dense(d_model, activation="relu", name="head_hidden")(h)
        raw = keras.layers.Reshape((horizon, q), name="horizon_quantiles")(
            keras.layers.Dense(horizon * q, name="head_output")(h)
        )
    if num_past:
        inputs.append(past_cov)
    out = NonCrossingQuantiles(list(quantiles), name="quantiles")(raw)
    return keras.Model(inputs if len(inputs) > 1 else inp, out, name=name)
