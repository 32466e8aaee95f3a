"""The global many-series network: scaled window features (B, L, 2) -> quantiles (B, H, Q).

The window (scaled value and observed mask, `MaskedWindowScale`) is cut into L / W segments of
W steps; each segment is projected to `d_model` (a Dense over its 2W numbers, as SegRNN's
segment embedding) and a stacked GRU/LSTM from `rnn_apps.builders.build_stacked_rnn` reads
the L / W segment vectors, its last state read out by a direct multi-horizon head into (H, Q)
raw values that `NonCrossingQuantiles` orders. Long windows (weeks of hourly data) thus cost
L / W recurrent steps, not L.

Shape legend: B batch, L lookback, W segment length, H horizon, Q quantile levels.
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
    name: str = "panel_network",
) -> keras.Model:
    """features (B, L, 2) -> non-crossing quantiles (B, H, Q), all in the window's scale.

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
        name: Model name.
    """
    from rnn_apps.builders import build_stacked_rnn

    if lookback % seg_len:
        raise ValueError(f"lookback ({lookback}) must be a multiple of seg_len ({seg_len})")
    segments = lookback // seg_len
    q = len(quantiles)
    inp = keras.Input((lookback, 2), name="features")
    x = keras.layers.Reshape((segments, 2 * seg_len), name="segments")(inp)  # (B, L/W, 2W)
    x = keras.layers.Dense(d_model, activation="relu", name="segment_embedding")(x)
    rnn = build_stacked_rnn(
        num_features=d_model,
        sequence_length=segments,
        mask_value=-1.0e9,  # never a segment embedding: nothing is masked at this level
        cell=cell,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        head="multi_horizon",
        horizon=horizon,
        output_dim=q,
        name=f"{name}_rnn",
    )
    raw = rnn(x)  # (B, H, Q)
    out = NonCrossingQuantiles(list(quantiles), name="quantiles")(raw)
    return keras.Model(inp, out, name=name)
