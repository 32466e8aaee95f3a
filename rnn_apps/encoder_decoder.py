"""The encoder-decoder (seq2seq) builder: teacher-forcing model plus encoder and one-step
decoder for inference, optional attention and a bidirectional encoder.

Shape legend: B batch, S source steps, T target steps, Fs/Ft source/target features,
U units of a recurrent layer, O output width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras

from rnn_apps.blocks import (
    ATTENTIONS,
    CELLS,
    check_choice,
    check_positive_int,
    check_rate,
    fail,
    input_block,
    num_states,
    resolve_units,
    rnn_layer,
    warn_recurrent_dropout,
)


class EncoderDecoder(NamedTuple):
    """What `build_encoder_decoder` returns.

    Attributes:
        training_model: `[encoder_inputs, decoder_inputs] -> predictions`, teacher forcing.
        encoder_model: `encoder_inputs -> [encoder_outputs (with attention), *states]`.
        decoder_model: `[decoder_inputs, encoder_outputs (with attention), *states] ->
            [predictions, *new_states]`, for step-by-step inference.
    """

    training_model: keras.Model
    encoder_model: keras.Model
    decoder_model: keras.Model


def build_encoder_decoder(
    *,
    source_vocab_size: int | None = None,
    source_features: int | None = None,
    target_vocab_size: int | None = None,
    target_features: int | None = None,
    embedding_dim: int = 64,
    cell: str = "lstm",
    units: int | Sequence[int] = 64,
    num_layers: int | None = None,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    attention: str | None = None,
    output_dim: int | None = None,
    output_activation: str | None = None,
    mask_value: float = 0.0,
    bidirectional: bool = False,
    name: str = "seq2seq",
) -> EncoderDecoder:
    """Builds an encoder-decoder (seq2seq) model and its inference parts.

    The encoder's final states of layer i initialise the decoder's layer i (so both stacks
    share `units`). The decoder is causal (unidirectional). With `attention`, the decoder's
    top-layer outputs attend over the encoder's top-layer outputs (`"dot"`:
    `keras.layers.Attention`, `"additive"`: `keras.layers.AdditiveAttention`, both masked by the
    source padding); the context is concatenated to the decoder output before the output layer.

    Args:
        source_vocab_size: Source token ids (B, S) with 0 = padding; or
        source_features: source float sequences (B, S, Fs), padding = all features `mask_value`.
        target_vocab_size: Decoder input token ids (B, T) (teacher forcing: the target shifted
            right with a start token); or
        target_features: decoder float inputs (B, T, Ft).
        embedding_dim: Embedding width for token inputs.
        cell: `"simple"`, `"lstm"` or `"gru"`.
        units: Units per layer (int or per-layer list), shared by encoder and decoder.
        num_layers: Depth when `units` is an int.
        dropout: Input dropout of every recurrent layer.
        recurrent_dropout: Recurrent dropout (disables cuDNN on GPU; warns once).
        attention: None, `"dot"` or `"additive"`.
        output_dim: Output width O; defaults to `target_vocab_size` for token targets.
        output_activation: Output activation; None gives logits / linear values.
        mask_value: Padding value of float inputs.
        bidirectional: Bidirectional encoder layers: each layer's forward and backward final
            states are concatenated and bridged by a Dense layer (`tanh` for `h`, linear for
            LSTM's `c`) into the decoder layer's initial state (B, 2U) -> (B, U); with
            attention, the top layer's outputs (B, S, 2U) are projected to (B, S, U) by a
            bias-free Dense layer (padded steps stay exactly zero).
        name: Prefix of the three model names.

    Returns:
        `EncoderDecoder(training_model, encoder_model, decoder_model)`:
        - training_model: `[encoder_inputs (B, S[, Fs]), decoder_inputs (B, T[, Ft])]` ->
          `(B, T, O)`.
        - encoder_model: `encoder_inputs` -> `[encoder_outputs (B, S, U) if attention,
          *states]`, states per layer (`h, c` for LSTM, `h` otherwise), each (B, U_i).
        - decoder_model: `[decoder_inputs (B, t[, Ft]), encoder_outputs if attention,
          *states]` -> `[predictions (B, t, O), *new_states]`; run it one step at a time
          (t = 1) feeding the returned states back in.

    Raises:
        ValueError: for an impossible argument (named, with its value and what is allowed).
    """
    check_choice("cell", cell, tuple(CELLS))
    check_choice("attention", attention, ATTENTIONS)
    layer_units = resolve_units(units, num_layers)
    drop = check_rate("dropout", dropout)
    rdrop = check_rate("recurrent_dropout", recurrent_dropout)
    warn_recurrent_dropout([rdrop])
    if output_dim is None:
        if target_vocab_size is None:
            fail("output_dim", output_dim, "give output_dim when the targets are not tokens")
        output_dim = target_vocab_size
    check_positive_int("output_dim", output_dim)
    n = len(layer_units)
    ns = num_states(cell)

    # Encoder: (B, S) or (B, S, Fs) -> outputs (B, S, U_n), states per layer.
    enc_in, x, _ = input_block(
        vocab_size=source_vocab_size,
        num_features=source_features,
        embedding_dim=embedding_dim,
        mask_value=mask_value,
        sequence_length=None,
        batch_size=None,
        prefix="encoder_",
        input_name="encoder_inputs",
        vocab_arg="source_vocab_size",
        features_arg="source_features",
    )
    enc_states: list[keras.KerasTensor] = []
    for i, u in enumerate(layer_units, start=1):
        last = i == n
        rnn = rnn_layer(
            cell,
            u,
            return_sequences=(not last) or attention is not None,
            dropout=drop,
            recurrent_dropout=rdrop,
            name=f"encoder_rnn_{i}",
            zero_output_for_mask=True,
        )
        if bidirectional:
            x, *states = keras.layers.Bidirectional(rnn, name=f"encoder_birnn_{i}")(x)
            for k, kind in enumerate(("h", "c")[:ns]):
                both = keras.layers.Concatenate(name=f"encoder_states_{i}_{kind}")(
                    [states[k], states[ns + k]]
                )  # (B, 2U)
                bridge = keras.layers.Dense(
                    u, activation="tanh" if kind == "h" else None, name=f"bridge_{i}_{kind}"
                )
                enc_states.append(bridge(both))  # (B, U)
        else:
            x, *states = rnn(x)
            enc_states.extend(states)
    if bidirectional and attention is not None:
        # (B, S, 2U) -> (B, S, U); no bias, so padded (zero) steps stay zero.
        x = keras.layers.Dense(layer_units[-1], use_bias=False, name="encoder_projection")(x)
    enc_outputs = x if attention is not None else None

    # Decoder layers, created once and called twice (training graph and inference graph).
    if target_vocab_size is not None and target_features is not None:
        fail(
            "target_vocab_size/target_features",
            (target_vocab_size, target_features),
            "give exactly one",
        )
    dec_rnns = [
        rnn_layer(
            cell,
            u,
            return_sequences=True,
            dropout=drop,
            recurrent_dropout=rdrop,
            name=f"decoder_rnn_{i}",
        )
        for i, u in enumerate(layer_units, start=1)
    ]
    if attention == "dot":
        attn = keras.layers.Attention(name="attention")
    elif attention == "additive":
        attn = keras.layers.AdditiveAttention(name="attention")
    else:
        attn = None
    enc_out_masking = keras.layers.Masking(mask_value=0.0, name="encoder_outputs_masking")
    concat = keras.layers.Concatenate(name="attention_concat")
    out_layer = keras.layers.Dense(output_dim, activation=output_activation, name="output")

    def decode(dec_x, states, enc_out):
        new_states = []
        for i, rnn in enumerate(dec_rnns):
            dec_x, *s = rnn(dec_x, initial_state=states[i * ns : (i + 1) * ns])
            new_states.extend(s)
        if attn is not None:
            # Padded source steps are exactly zero (zero_output_for_mask), so a Masking layer
            # recovers the source mask in both graphs.
            values = enc_out_masking(enc_out)  # (B, S, U)
            context = attn([dec_x, values])  # (B, T, U)
            dec_x = concat([dec_x, context])  # (B, T, 2U)
        return out_layer(dec_x), new_states  # (B, T, O)

    dec_in, dec_x, embed_or_mask = input_block(
        vocab_size=target_vocab_size,
        num_features=target_features,
        embedding_dim=embedding_dim,
        mask_value=mask_value,
        sequence_length=None,
        batch_size=None,
        prefix="decoder_",
        input_name="decoder_inputs",
        vocab_arg="target_vocab_size",
        features_arg="target_features",
    )
    train_out, _ = decode(dec_x, enc_states, enc_outputs)
    training_model = keras.Model([enc_in, dec_in], train_out, name=f"{name}_training")

    encoder_outputs = ([enc_outputs] if enc_outputs is not None else []) + enc_states
    encoder_model = keras.Model(enc_in, encoder_outputs, name=f"{name}_encoder")

    # Inference decoder: same layers, fresh inputs for states (and encoder outputs).
    step_in = keras.Input(shape=dec_in.shape[1:], dtype=dec_in.dtype, name="decoder_inputs")
    step_x = embed_or_mask(step_in)
    state_inputs = []
    for i, u in enumerate(layer_units, start=1):
        for kind in ("h", "c")[:ns]:
            state_inputs.append(keras.Input(shape=(u,), name=f"decoder_state_{i}_{kind}"))
    extra = []
    enc_out_in = None
    if attention is not None:
        enc_out_in = keras.Input(shape=(None, layer_units[-1]), name="encoder_outputs")
        extra = [enc_out_in]
    step_out, step_states = decode(step_x, state_inputs, enc_out_in)
    decoder_model = keras.Model(
        [step_in, *extra, *state_inputs], [step_out, *step_states], name=f"{name}_decoder"
    )
    return EncoderDecoder(training_model, encoder_model, decoder_model)
