"""SegRNN (Lin et al., 2023, "SegRNN: Segment Recurrent Neural Network for Long-Term Time
Series Forecasting"): segment-wise recurrence with parallel multi-step decoding."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_apps")
class SegRNN(keras.layers.Layer):
    """Segment-recurrent forecaster core, (B, L, C) -> (B, H, C).

    The lookback is left-padded (with its first value) to N * W steps and cut into N segments
    of W steps; each segment is embedded (Dense + ReLU) and fed to a GRU. Decoding is parallel:
    one GRU step per output segment from the encoder's final state, with learned position (and
    channel) embeddings as inputs, projected to W steps. The layer does not normalise: wrap it
    in `rnn_apps.layers.LastValueCentering` / `AddLastValue` (as
    `rnn_apps.tasks.forecast.build_segrnn` does), the paper's per-window normalisation.

    Shape legend: N input segments, M output segments, W segment length, D model width.

    Args:
        lookback: L.
        horizon: H.
        num_channels: C.
        seg_len: W.
        d_model: D.
        dropout: Dropout before the segment projection.
        channel_independent: Each channel is its own series (`(B*C, N, W)` segments, position
            + channel embeddings); else the segments hold all channels (`(B, N, W*C)`).
    """

    def __init__(
        self,
        lookback: int,
        horizon: int,
        num_channels: int,
        seg_len: int = 48,
        d_model: int = 512,
        dropout: float = 0.0,
        channel_independent: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback = int(lookback)
        self.horizon = int(horizon)
        self.num_channels = int(num_channels)
        self.seg_len = int(seg_len)
        self.d_model = int(d_model)
        self.dropout = float(dropout)
        self.channel_independent = bool(channel_independent)
        self.num_in = math.ceil(self.lookback / self.seg_len)  # N
        self.num_out = math.ceil(self.horizon / self.seg_len)  # M
        self._width = self.seg_len * (1 if self.channel_independent else self.num_channels)
        self.segment_embedding = keras.layers.Dense(
            self.d_model, activation="relu", name="segment_embedding"
        )
        self.encoder = keras.layers.GRU(self.d_model, name="encoder_gru")
        self.decoder = keras.layers.GRUCell(self.d_model, name="decoder_gru")
        self.drop = keras.layers.Dropout(self.dropout, name="dropout")
        self.projection = keras.layers.Dense(self._width, name="segment_projection")

    def build(self, input_shape: Any) -> None:
        d = self.d_model
        normal = keras.initializers.RandomNormal(stddev=1.0)
        if self.channel_independent:
            self.pos_emb = self.add_weight(
                shape=(self.num_out, d // 2), initializer=normal, name="position_embedding"
            )
            self.channel_emb = self.add_weight(
                shape=(self.num_channels, d - d // 2), initializer=normal, name="channel_embedding"
            )
        else:
            self.pos_emb = self.add_weight(
                shape=(self.num_out, d), initializer=normal, name="position_embedding"
            )
        self.segment_embedding.build((None, self.num_in, self._width))
        self.encoder.build((None, self.num_in, d))
        self.decoder.build((None, d))
        self.drop.build((None, d))
        self.projection.build((None, d))

    def call(self, x: Any, training: bool | None = None) -> Any:
        c, n, m, w, d = self.num_channels, self.num_in, self.num_out, self.seg_len, self.d_model
        pad = n * w - self.lookback
        if pad:
            x = ops.concatenate([ops.repeat(x[:, :1, :], pad, axis=1), x], axis=1)  # (B, N*W, C)
        if self.channel_independent:
            seg = ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, n, w))  # (B*C, N, W)
        else:
            seg = ops.reshape(x, (-1, n, w * c))  # (B, N, W*C)
        h = self.encoder(self.segment_embedding(seg), training=training)  # (B', D)
        if self.channel_independent:
            pos = ops.broadcast_to(self.pos_emb[None, :, :], (c, m, d // 2))
            chan = ops.broadcast_to(self.channel_emb[:, None, :], (c, m, d - d // 2))
            dec = ops.reshape(ops.concatenate([pos, chan], axis=-1), (1, c * m, d))
            state = ops.repeat(ops.reshape(h, (-1, c, 1, d)), m, axis=2)  # (B, C, M, D)
            state = ops.reshape(state, (-1, c * m, d))  # (B, C*M, D)
        else:
            dec = ops.reshape(self.pos_emb, (1, m, d))
            state = ops.repeat(h[:, None, :], m, axis=1)  # (B, M, D)
        dec = ops.broadcast_to(dec, ops.shape(state))
        out, _ = self.decoder(
            ops.reshape(dec, (-1, d)), [ops.reshape(state, (-1, d))], training=training
        )  # (B*C*M or B*M, D)
        y = self.projection(self.drop(out, training=training))  # (., W or W*C)
        if self.channel_independent:
            y = ops.reshape(y, (-1, c, m * w))[:, :, : self.horizon]  # (B, C, H)
            return ops.transpose(y, (0, 2, 1))  # (B, H, C)
        return ops.reshape(y, (-1, m * w, c))[:, : self.horizon, :]  # (B, H, C)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.horizon, self.num_channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            lookback=self.lookback,
            horizon=self.horizon,
            num_channels=self.num_channels,
            seg_len=self.seg_len,
            d_model=self.d_model,
            dropout=self.dropout,
            channel_independent=self.channel_independent,
        )
        return config
