"""`DifferenceRNN`: a recurrent forecaster that streams with O(1) work per observation."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}


@keras.saving.register_keras_serializable(package="rnn_apps")
class DifferenceRNN(keras.layers.Layer):
    """Stacked LSTM/GRU over first differences with a direct multi-horizon head, (B, L, F)
    -> (B, H, T).

    The cells read `x[t] - x[t - 1]` and the head's output is added to the last value, so the
    network is as blind to the series' level as last-value centring (`LastValueCentering`)
    makes a windowed network. Unlike centring, a new observation leaves the earlier inputs
    unchanged: `step` updates the recurrent state with one observation (one cell call per
    layer) and forecasts from it, without re-reading a window. Stepping from `encode(x)`
    through `x2` gives what `call` gives on `concat([x, x2])`.

    The stream state is one float32 tensor (B, S), `S = state_size`: the last value (F), then
    each layer's cell states (`h` and, for LSTM, `c`; `units` each).

    Args:
        horizon: H.
        num_features: F (targets first).
        num_targets: T (default F).
        cell: `"lstm"` or `"gru"`.
        units: Width of every recurrent layer.
        num_layers: Depth.
        dropout: Input dropout of each cell (training only).
    """

    def __init__(
        self,
        horizon: int,
        num_features: int,
        num_targets: int | None = None,
        cell: str = "lstm",
        units: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}.")
        self.horizon = int(horizon)
        self.num_features = int(num_features)
        self.num_targets = self.num_features if num_targets is None else int(num_targets)
        self.cell = cell
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        self.states_per_layer = 2 if cell == "lstm" else 1
        self.cells = [
            CELLS[cell](self.units, dropout=self.dropout, name=f"cell_{i + 1}")
            for i in range(self.num_layers)
        ]
        self.rnns = [
            keras.layers.RNN(c, return_sequences=True, return_state=True, name=f"rnn_{i + 1}")
            for i, c in enumerate(self.cells)
        ]
        self.head = keras.layers.Dense(self.horizon * self.num_targets, name="head")

    @property
    def state_size(self) -> int:
        """S, the width of the stream state."""
        return self.num_features + self.num_layers * self.states_per_layer * self.units

    def build(self, input_shape: Any) -> None:
        width = self.num_features
        for rnn in self.rnns:
            rnn.build((None, None, width))
            width = self.units
        self.head.build((None, self.units))

    def _hidden(self, x: Any, training: bool | None = None) -> tuple[Any, list[Any]]:
        # (B, L, F) -> the top layer's outputs (B, L - 1, U), every layer's final states
        h = x[:, 1:] - x[:, :-1]  # (B, L - 1, F)
        states = []
        for rnn in self.rnns:
            h, *s = rnn(h, training=training)  # (B, L - 1, U), states (B, U) each
            states += s
        return h, states

    def _run(self, x: Any, training: bool | None = None) -> tuple[Any, Any]:
        # (B, L, F) -> forecast (B, H, T), state (B, S)
        h, states = self._hidden(x, training)
        return self._forecast(h[:, -1], x[:, -1]), ops.concatenate([x[:, -1], *states], -1)

    def _forecast(self, top: Any, last: Any) -> Any:
        # top (B, U), last value (B, F) -> (B, H, T)
        y = ops.reshape(self.head(top), (-1, self.horizon, self.num_targets))
        return y + last[:, None, : self.num_targets]

    def call(self, x: Any, training: bool | None = None) -> Any:
        return self._run(x, training)[0]

    def encode(self, x: Any) -> tuple[Any, Any]:
        """The forecast and the stream state after a window: x (B, L, F), L >= 2 ->
        ((B, H, T), (B, S))."""
        return self._run(x, training=False)

    def forecasts(self, x: Any) -> Any:
        """The forecast after every observation from the second on, what `encode` and then
        `step` give along the way (a backtest of a stream): x (B, L, F) -> (B, L - 1, H, T)."""
        h = self._hidden(x, training=False)[0]  # (B, L - 1, U)
        y = ops.reshape(self.head(h), (-1, ops.shape(h)[1], self.horizon, self.num_targets))
        return y + x[:, 1:, None, : self.num_targets]

    def step(self, observation: Any, state: Any) -> tuple[Any, Any]:
        """One observation on: observation (B, F), state (B, S) -> ((B, H, T), (B, S))."""
        f, u, k = self.num_features, self.units, self.states_per_layer
        h = observation - state[:, :f]  # (B, F)
        new = [observation]
        for i, cell in enumerate(self.cells):
            lo = f + i * k * u
            s = [state[:, lo + j * u : lo + (j + 1) * u] for j in range(k)]
            h, s = cell(h, s if k > 1 else s[0], training=False)
            new += list(s) if isinstance(s, (list, tuple)) else [s]
        return self._forecast(h, observation), ops.concatenate(new, -1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], self.horizon, self.num_targets)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            horizon=self.horizon,
            num_features=self.num_features,
            num_targets=self.num_targets,
            cell=self.cell,
            units=self.units,
            num_layers=self.num_layers,
            dropout=self.dropout,
        )
        return config
