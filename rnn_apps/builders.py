"""Model builders: plain functional `keras.Model`s made of named built-in Keras layers.

Every builder returns ordinary Keras objects, so models save to `.keras` and reload with
`keras.saving.load_model(path, safe_mode=True)`. The one exception is mask-aware max pooling
(`pooling="max"` or `"mean_max"`), which uses `rnn_apps.layers.MaskedGlobalMaxPooling1D`, a
registered layer: `import rnn_apps` before loading such a model.

Shape legend: B batch, T time steps (may be None), F features, V vocabulary, E embedding width,
U units of a recurrent layer, H horizon, O output width.

Masking follows the semantics of TF1's `dynamic_rnn(sequence_length=...)`: with a right-padded
batch, every valid step's output and each sequence's final state equal those of the sequence run
alone. Padding is marked by token id 0 (`Embedding(mask_zero=True)`) or by a time step whose
features all equal `mask_value` (`Masking`). Left padding is handled the same way by the Keras
masking machinery (masked steps leave the state untouched), but on a GPU a left-padded or
gappy mask makes Keras fall back from cuDNN to the generic kernel: right-pad for speed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras

from rnn_apps.layers import MaskedGlobalMaxPooling1D

CELLS = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
HEADS = ("many_to_one", "many_to_many", "multi_horizon")
POOLINGS = ("last", "mean", "max", "mean_max")
MERGE_MODES = ("concat", "sum", "mul", "ave", None)
ATTENTIONS = (None, "dot", "additive")

_RECURRENT_DROPOUT_WARNED = False

RECURRENT_DROPOUT_NOTE = (
    "recurrent_dropout > 0 disables the fused cuDNN kernel: on a GPU, LSTM/GRU layers fall back "
    "to the generic kernel, which is several times slower. Use dropout (on the inputs) instead "
    "when speed matters."
)


# --------------------------------------------------------------------------- validation


def _fail(arg: str, value: Any, allowed: str) -> None:
    raise ValueError(f"Invalid {arg}={value!r}: {allowed}.")


def _check_positive_int(arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        _fail(arg, value, "expected a positive integer")
    return value


def _check_rate(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        _fail(arg, value, "expected a float in [0, 1)")
    return float(value)


def _check_choice(arg: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        _fail(arg, value, f"allowed values are {', '.join(repr(c) for c in choices)}")
    return value


def _per_layer(arg: str, value: Any, num_layers: int) -> list[Any]:
    """Broadcasts a scalar to `num_layers` values, or checks a list's length."""
    if isinstance(value, (list, tuple)):
        if len(value) != num_layers:
            _fail(
                arg,
                value,
                f"a per-layer list must have one entry per recurrent layer ({num_layers})",
            )
        return list(value)
    return [value] * num_layers


def _resolve_units(units: Any, num_layers: int | None) -> list[int]:
    if isinstance(units, (list, tuple)):
        if not units:
            _fail("units", units, "expected a positive integer or a non-empty list of them")
        if num_layers is not None and num_layers != len(units):
            _fail(
                "num_layers",
                num_layers,
                f"it must equal len(units)={len(units)} when units is a list (or be omitted)",
            )
        return [_check_positive_int("units", u) for u in units]
    _check_positive_int("units", units)
    if num_layers is None:
        num_layers = 1
    _check_positive_int("num_layers", num_layers)
    return [units] * num_layers


def _warn_recurrent_dropout(rates: Sequence[float]) -> None:
    global _RECURRENT_DROPOUT_WARNED
    if any(r > 0 for r in rates) and not _RECURRENT_DROPOUT_WARNED:
        _RECURRENT_DROPOUT_WARNED = True
        warnings.warn(RECURRENT_DROPOUT_NOTE, UserWarning, stacklevel=3)


def _input_block(
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
        _fail(
            f"{vocab_arg}/{features_arg}",
            (vocab_size, num_features),
            "give exactly one: a vocabulary size for integer token ids, or a feature count for "
            "float sequences",
        )
    if sequence_length is not None:
        _check_positive_int("sequence_length", sequence_length)
    if vocab_size is not None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            _fail(
                vocab_arg,
                vocab_size,
                "expected an integer >= 2 (id 0 is padding, so at least one real token)",
            )
        _check_positive_int("embedding_dim", embedding_dim)
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
    _check_positive_int(features_arg, num_features)
    inp = keras.Input(
        shape=(sequence_length, num_features),
        batch_size=batch_size,
        dtype="float32",
        name=input_name or f"{prefix}features",
    )
    layer = keras.layers.Masking(mask_value=mask_value, name=f"{prefix}masking")
    return inp, layer(inp), layer


def _rnn_layer(
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


def _num_states(cell: str) -> int:
    return 2 if cell == "lstm" else 1


# --------------------------------------------------------------------------- builders


def build_stacked_rnn(
    *,
    vocab_size: int | None = None,
    num_features: int | None = None,
    embedding_dim: int = 64,
    mask_value: float = 0.0,
    sequence_length: int | None = None,
    cell: str = "lstm",
    units: int | Sequence[int] = 64,
    num_layers: int | None = None,
    bidirectional: bool | Sequence[bool] = False,
    merge_mode: str | None = "concat",
    dropout: float | Sequence[float] = 0.0,
    recurrent_dropout: float | Sequence[float] = 0.0,
    embedding_dropout: float = 0.0,
    head: str = "many_to_one",
    pooling: str = "last",
    head_units: int | None = None,
    head_dropout: float = 0.0,
    output_dim: int = 1,
    output_activation: str | None = None,
    horizon: int | None = None,
    causal: bool = False,
    stateful: bool = False,
    batch_size: int | None = None,
    name: str = "stacked_rnn",
) -> keras.Model:
    """Builds a stack of recurrent layers with an embedding or masking input and a head.

    Args:
        vocab_size: Vocabulary size for integer token ids (B, T); id 0 is padding and is masked
            (`Embedding(mask_zero=True)`). Give this or `num_features`.
        num_features: Feature count F for float sequences (B, T, F); steps whose features all
            equal `mask_value` are masked.
        embedding_dim: Embedding width E (token input only).
        mask_value: Padding value for float input.
        sequence_length: Fixed T, or None for variable-length input.
        cell: `"simple"`, `"lstm"` or `"gru"`.
        units: Units per layer: an int (repeated `num_layers` times) or one int per layer.
        num_layers: Depth when `units` is an int (default 1).
        bidirectional: Wrap every layer (bool) or chosen layers (one bool per layer) in
            `keras.layers.Bidirectional`.
        merge_mode: Bidirectional merge: `"concat"`, `"sum"`, `"mul"`, `"ave"` or None (the
            two directions' outputs are concatenated on the last axis in that case too, so the
            next layer sees one tensor).
        dropout: Input dropout of each recurrent layer (scalar or per layer).
        recurrent_dropout: Dropout on the recurrent state (scalar or per layer). A non-zero
            value disables the cuDNN kernel on GPU (several times slower); a warning says so
            once per process.
        embedding_dropout: `SpatialDropout1D` rate after the embedding/masking layer: whole
            embedding channels are dropped for every step of a sequence, the same mask for
            both directions of a bidirectional layer (layer `embedding_dropout`; 0 = none).
        head: `"many_to_one"` (B, O), `"many_to_many"` (B, T, O) one output per step, or
            `"multi_horizon"` (B, H, O) direct multi-step regression.
        pooling: For `many_to_one` and `multi_horizon`: `"last"` (the final output, i.e. the
            state at each sequence's last valid step), or mask-aware `"mean"`, `"max"`,
            `"mean_max"` over the last layer's outputs.
        head_units: Width of an optional hidden Dense (ReLU) before the output layer.
        head_dropout: Dropout before the output layer.
        output_dim: Output width O (classes, regression targets, or vocabulary for an LM).
        output_activation: Activation of the output layer; None gives logits / linear values.
        horizon: H for `head="multi_horizon"`.
        causal: Require a causal model (each output sees only the past, as a language model
            needs): bidirectional layers are refused.
        stateful: Carry states across batches (truncated BPTT); needs `batch_size`.
        batch_size: Fixed batch size (required when `stateful=True`).
        name: Model name.

    Returns:
        A functional `keras.Model`. Layers are named `tokens`/`features`, `embedding`/`masking`,
        `rnn_1` ... `rnn_N` (each with `return_state=True`, so
        `model.get_layer("rnn_1").output` is `[outputs, *states]`), `pooling`, `head_hidden`,
        `head_dropout`, `output` (and `horizon_reshape`).

    Raises:
        ValueError: for an impossible argument; the message names it, its value and what is
            allowed.
    """
    _check_choice("cell", cell, tuple(CELLS))
    _check_choice("head", head, HEADS)
    _check_choice("pooling", pooling, POOLINGS)
    _check_choice("merge_mode", merge_mode, MERGE_MODES)
    layer_units = _resolve_units(units, num_layers)
    n = len(layer_units)
    bidis = [bool(b) for b in _per_layer("bidirectional", bidirectional, n)]
    drops = [_check_rate("dropout", d) for d in _per_layer("dropout", dropout, n)]
    rdrops = [
        _check_rate("recurrent_dropout", d)
        for d in _per_layer("recurrent_dropout", recurrent_dropout, n)
    ]
    _check_rate("head_dropout", head_dropout)
    _check_rate("embedding_dropout", embedding_dropout)
    _check_positive_int("output_dim", output_dim)
    if head_units is not None:
        _check_positive_int("head_units", head_units)
    if causal and any(bidis):
        _fail(
            "bidirectional",
            bidirectional,
            "a causal model (causal=True, e.g. a language model) cannot contain a bidirectional "
            "layer, whose backward direction sees the future; use bidirectional=False",
        )
    if head == "multi_horizon":
        if horizon is None:
            _fail("horizon", horizon, "head='multi_horizon' needs a positive integer horizon")
        _check_positive_int("horizon", horizon)
    elif horizon is not None:
        _fail("horizon", horizon, "horizon is only used with head='multi_horizon'")
    if stateful and batch_size is None:
        _fail("batch_size", batch_size, "stateful=True needs a fixed positive batch_size")
    if batch_size is not None:
        _check_positive_int("batch_size", batch_size)
    _warn_recurrent_dropout(rdrops)

    inp, x, _ = _input_block(
        vocab_size=vocab_size,
        num_features=num_features,
        embedding_dim=embedding_dim,
        mask_value=mask_value,
        sequence_length=sequence_length,
        batch_size=batch_size,
    )
    if embedding_dropout:
        x = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    sequence_out = head == "many_to_many" or pooling != "last"
    for i, (u, bidi, d, rd) in enumerate(zip(layer_units, bidis, drops, rdrops), start=1):
        last = i == n
        return_sequences = (not last) or sequence_out
        rnn = _rnn_layer(
            cell,
            u,
            return_sequences=return_sequences,
            dropout=d,
            recurrent_dropout=rd,
            stateful=stateful,
            name=f"rnn_{i}" if not bidi else f"rnn_{i}_cell",
        )
        if bidi:
            rnn = keras.layers.Bidirectional(
                rnn, merge_mode=merge_mode or "concat", name=f"rnn_{i}"
            )
        # (B, T, E or U_prev) -> (B, T, U) or (B, U); states (B, U) each
        x = rnn(x)[0]

    # many_to_many keeps (B, T, U); otherwise pool (B, T, U) -> (B, U) or (B, 2U)
    y = x if head == "many_to_many" else _pool(x, pooling)
    if head_units is not None:
        y = keras.layers.Dense(head_units, activation="relu", name="head_hidden")(y)
    if head_dropout > 0:
        y = keras.layers.Dropout(head_dropout, name="head_dropout")(y)
    if head == "multi_horizon":
        y = keras.layers.Dense(horizon * output_dim, activation=output_activation, name="output")(
            y
        )  # (B, U) -> (B, H*O)
        y = keras.layers.Reshape((horizon, output_dim), name="horizon_reshape")(y)  # -> (B, H, O)
    else:
        y = keras.layers.Dense(output_dim, activation=output_activation, name="output")(y)
    return keras.Model(inp, y, name=name)


def _pool(x: keras.KerasTensor, pooling: str) -> keras.KerasTensor:
    if pooling == "last":
        return x
    if pooling == "mean":
        return keras.layers.GlobalAveragePooling1D(name="pooling")(x)
    if pooling == "max":
        return MaskedGlobalMaxPooling1D(name="pooling")(x)
    mean = keras.layers.GlobalAveragePooling1D(name="pooling_mean")(x)
    mx = MaskedGlobalMaxPooling1D(name="pooling_max")(x)
    return keras.layers.Concatenate(name="pooling")([mean, mx])


def build_simple_rnn(**kwargs: Any) -> keras.Model:
    """Builds an Elman RNN (`keras.layers.SimpleRNN`); arguments as `build_stacked_rnn`.

    Defaults to one layer. `cell` is fixed to `"simple"`.
    """
    if kwargs.get("cell", "simple") != "simple":
        _fail("cell", kwargs["cell"], "build_simple_rnn always uses 'simple'")
    kwargs["cell"] = "simple"
    kwargs.setdefault("name", "simple_rnn")
    return build_stacked_rnn(**kwargs)


def build_bidirectional(**kwargs: Any) -> keras.Model:
    """Builds a stack of bidirectional recurrent layers; arguments as `build_stacked_rnn`.

    `bidirectional` defaults to True for every layer; `merge_mode` picks the Keras merge
    (`"concat"`, `"sum"`, `"mul"`, `"ave"`). A bidirectional model is never causal: asking for
    `causal=True` raises ValueError.
    """
    if kwargs.get("causal"):
        _fail(
            "causal",
            True,
            "a bidirectional model sees the future, so it cannot be causal; use "
            "build_stacked_rnn for a causal model",
        )
    kwargs.setdefault("bidirectional", True)
    kwargs.setdefault("name", "bidirectional_rnn")
    return build_stacked_rnn(**kwargs)


def compile_model(
    model: keras.Model,
    *,
    loss: Any,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    clipnorm: float | None = 1.0,
    metrics: list[Any] | None = None,
    **compile_kwargs: Any,
) -> keras.Model:
    """Compiles `model` with gradient-norm clipping on by default (RNNs need it).

    Args:
        model: The model to compile (in place).
        loss: Any Keras loss.
        optimizer: An optimizer name (`"adam"`, `"adamw"`, `"rmsprop"`, `"sgd"`) or instance.
            With an instance, `learning_rate` and `clipnorm` are left as the instance has them.
        learning_rate: Learning rate for a named optimizer.
        clipnorm: Clip each gradient to this L2 norm; None disables clipping.
        metrics: Keras metrics.
        **compile_kwargs: Passed to `model.compile`.

    Returns:
        The compiled model.
    """
    if isinstance(optimizer, str):
        if learning_rate <= 0:
            _fail("learning_rate", learning_rate, "expected a positive float")
        if clipnorm is not None and clipnorm <= 0:
            _fail("clipnorm", clipnorm, "expected a positive float or None")
        config = {"learning_rate": learning_rate}
        if clipnorm is not None:
            config["clipnorm"] = clipnorm
        try:
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": config})
        except ValueError as err:
            _fail("optimizer", optimizer, f"not a Keras optimizer name ({err})")
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, **compile_kwargs)
    return model


# The encoder-decoder builder lives in its own module (one concept per file); it is part of
# this module's API.
from rnn_apps.encoder_decoder import EncoderDecoder, build_encoder_decoder  # noqa: E402

__all__ = [
    "EncoderDecoder",
    "build_bidirectional",
    "build_encoder_decoder",
    "build_simple_rnn",
    "build_stacked_rnn",
    "compile_model",
]
