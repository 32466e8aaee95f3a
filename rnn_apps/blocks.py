"""Blocks shared by the model builders (`rnn_apps.builders`, `rnn_apps.encoder_decoder`).

Argument validation (every error names the argument, its value and what is allowed), the input
block (embedding or masking), the recurrent layer factory and the one-time warning about
`recurrent_dropout`. This module imports no other builder module, so both builders import it
without an import cycle.

Shape legend: B batch, T time steps (may be None), F features, E embedding width.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras

CELLS = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
ATTENTIONS = (None, "dot", "additive")

RECURRENT_DROPOUT_NOTE = (
    "recurrent_dropout > 0 disables the fused cuDNN kernel: on a GPU, LSTM/GRU layers fall back "
    "to the generic kernel, which is several times slower. Use dropout (on the inputs) instead "
    "when speed matters."
)

_RECURRENT_DROPOUT_WARNED = False


# --------------------------------------------------------------------------- validation


def fail(arg: str, value: Any, allowed: str) -> None:
    """Raises `ValueError("Invalid <arg>=<value>: <allowed>.")`."""
    raise ValueError(f"Invalid {arg}={value!r}: {allowed}.")


def check_positive_int(arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        fail(arg, value, "expected a positive integer")
    return value


def check_rate(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        fail(arg, value, "expected a float in [0, 1)")
    return float(value)


def check_choice(arg: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        fail(arg, value, f"allowed values are {', '.join(repr(c) for c in choices)}")
    return value


def per_layer(arg: str, value: Any, num_layers: int) -> list[Any]:
    """Broadcasts a scalar to `num_layers` values, or checks a list's length."""
    if isinstance(value, (list, tuple)):
        if len(value) != num_layers:
            fail(
                arg,
                value,
                f"a per-layer list must have one entry per recurrent layer ({num_layers})",
            )
        return list(value)
    return [value] * num_layers


def resolve_units(units: Any, num_layers: int | None) -> list[int]:
    """Units per layer from an int (repeated `num_layers` times, default 1) or a list."""
    if isinstance(units, (list, tuple)):
        if not units:
            fail("units", units, "expected a positive integer or a non-empty list of them")
        if num_layers is not None and num_layers != len(units):
            fail(
                "num_layers",
                num_layers,
                f"it must equal len(units)={len(units)} when units is a list (or be omitted)",
            )
        return [check_positive_int("units", u) for u in units]
    check_positive_int("units", units)
    if num_layers is None:
        num_layers = 1
    check_positive_int("num_layers", num_layers)
    return [units] * num_layers


def warn_recurrent_dropout(rates: Sequence[float]) -> None:
    """Warns once per process when a recurrent dropout rate is non-zero (no cuDNN on GPU).

    Call it directly from a builder: the warning points at the builder's caller."""
    global _RECURRENT_DROPOUT_WARNED
    if any(r > 0 for r in rates) and not _RECURRENT_DROPOUT_WARNED:
        _RECURRENT_DROPOUT_WARNED = True
        warnings.warn(RECURRENT_DROPOUT_NOTE, UserWarning, stacklevel=3)


# --------------------------------------------------------------------------- layers


def input_block(
    *,
    vocab_size: int | None,
    num_features: int | None,
    embedding_dim: int,
    mask_value: float,
    sequence_length: int | None,
    batch_size: int | None,
    prefix: str = "",
    input_name: str | None = None,
    vocab_arg: str = "vocab_size",
    features_arg: str = "num_features",
) -> tuple[keras.KerasTensor, keras.KerasTensor, keras.layers.Layer]:
    """Returns `(input, masked sequence, embedding or masking layer)`.

    (B, T) ids -> (B, T, E), or (B, T, F) -> (B, T, F).
    """
    if (vocab_size is None) == (num_features is None):
        fail(
            f"{vocab_arg}/{features_arg}",
            (vocab_size, num_features),
            "give exactly one: a vocabulary size for integer token ids, or a feature count for "
            "float sequences",
        )
    if sequence_length is not None:
        check_positive_int("sequence_length", sequence_length)
    if vocab_size is not None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            fail(
                vocab_arg,
                vocab_size,
                "expected an integer >= 2 (id 0 is padding, so at least one real token)",
            )
        check_positive_int("embedding_dim", embedding_dim)
        inp = keras.Input(
            shape=(sequence_length,),
            batch_size=batch_size,
            dtype="int32",
            name=input_name or f"{prefix}tokens",
        )
        layer = keras.layers.Embedding(
            vocab_size, embedding_dim, mask_zero=True, name=f"{prefix}embedding"
        )
        return inp, layer(inp), layer  # (B, T) -> (B, T, E)
    check_positive_int(features_arg, num_features)
    inp = keras.Input(
        shape=(sequence_length, num_features),
        batch_size=batch_size,
        dtype="float32",
        name=input_name or f"{prefix}features",
    )
    layer = keras.layers.Masking(mask_value=mask_value, name=f"{prefix}masking")
    return inp, layer(inp), layer


def rnn_layer(
    cell: str,
    units: int,
    *,
    return_sequences: bool,
    dropout: float,
    recurrent_dropout: float,
    stateful: bool = False,
    name: str,
    zero_output_for_mask: bool = False,
) -> keras.layers.Layer:
    """A `CELLS[cell]` layer with `return_state=True`."""
    return CELLS[cell](
        units,
        return_sequences=return_sequences,
        return_state=True,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        stateful=stateful,
        zero_output_for_mask=zero_output_for_mask,
        name=name,
    )


def num_states(cell: str) -> int:
    """States per layer: 2 for LSTM (h, c), 1 otherwise."""
    return 2 if cell == "lstm" else 1
