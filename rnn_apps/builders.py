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

from collections.abc import Sequence
from typing import Any

import keras

from rnn_apps.blocks import (  # ATTENTIONS and RECURRENT_DROPOUT_NOTE: re-exported
    ATTENTIONS,  # noqa: F401
    CELLS,
    RECURRENT_DROPOUT_NOTE,  # noqa: F401
    check_choice,
    check_positive_int,
    check_rate,
    fail,
    input_block,
    per_layer,
    resolve_units,
    rnn_layer,
    warn_recurrent_dropout,
)
from rnn_apps.encoder_decoder import EncoderDecoder, build_encoder_decoder  # part of this API
from rnn_apps.layers import MaskedGlobalMaxPooling1D

HEADS = ("many_to_one", "many_to_many", "multi_horizon")
POOLINGS = ("last", "mean", "max", "mean_max")
MERGE_MODES = ("concat", "sum", "mul", "ave", None)


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
    check_choice("cell", cell, tuple(CELLS))
    check_choice("head", head, HEADS)
    check_choice("pooling", pooling, POOLINGS)
    check_choice("merge_mode", merge_mode, MERGE_MODES)
    layer_units = resolve_units(units, num_layers)
    n = len(layer_units)
    bidis = [bool(b) for b in per_layer("bidirectional", bidirectional, n)]
    drops = [check_rate("dropout", d) for d in per_layer("dropout", dropout, n)]
    rdrops = [
        check_rate("recurrent_dropout", d)
        for d in per_layer("recurrent_dropout", recurrent_dropout, n)
    ]
    check_rate("head_dropout", head_dropout)
    check_rate("embedding_dropout", embedding_dropout)
    check_positive_int("output_dim", output_dim)
    if head_units is not None:
        check_positive_int("head_units", head_units)
    if causal and any(bidis):
        fail(
            "bidirectional",
            bidirectional,
            "a causal model (causal=True, e.g. a language model) cannot contain a bidirectional "
            "layer, whose backward direction sees the future; use bidirectional=False",
        )
    if head == "multi_horizon":
        if horizon is None:
            fail("horizon", horizon, "head='multi_horizon' needs a positive integer horizon")
        check_positive_int("horizon", horizon)
    elif horizon is not None:
        fail("horizon", horizon, "horizon is only used with head='multi_horizon'")
    if stateful and batch_size is None:
        fail("batch_size", batch_size, "stateful=True needs a fixed positive batch_size")
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)
    warn_recurrent_dropout(rdrops)

    inp, x, _ = input_block(
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
        rnn = rnn_layer(
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
        fail("cell", kwargs["cell"], "build_simple_rnn always uses 'simple'")
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
        fail(
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
            fail("learning_rate", learning_rate, "expected a positive float")
        if clipnorm is not None and clipnorm <= 0:
            fail("clipnorm", clipnorm, "expected a positive float or None")
        config = {"learning_rate": learning_rate}
        if clipnorm is not None:
            config["clipnorm"] = clipnorm
        try:
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": config})
        except ValueError as err:
            fail("optimizer", optimizer, f"not a Keras optimizer name ({err})")
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, **compile_kwargs)
    return model


__all__ = [
    "EncoderDecoder",
    "build_bidirectional",
    "build_encoder_decoder",
    "build_simple_rnn",
    "build_stacked_rnn",
    "compile_model",
]
