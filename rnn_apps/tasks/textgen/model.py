"""The language model: a stacked LSTM/GRU from `rnn_apps.build_stacked_rnn`
(`head="many_to_many"`, one next-token logit vector per step), and its parts for step-by-step
generation.

Shape legend: B batch, T time steps, V vocabulary size (with padding and OOV), E embedding
width, U units.
"""

from __future__ import annotations

from typing import Any

from rnn_apps.tasks.textgen.config import TextGenConfig


def build_lm(config: TextGenConfig, vocab_size: int, *, stateful: bool = False) -> Any:
    """The LM, uncompiled: ids (B, T) -> next-token logits (B, T, V).

    Args:
        config: Architecture (`cell`, `units`, `num_layers`, `embedding_dim`, dropouts).
        vocab_size: V.
        stateful: Stateful layers with the fixed batch `config.batch_size` (truncated BPTT
            training); generation and scoring use a stateless twin with the same weights.
    """
    from rnn_apps import build_stacked_rnn

    c = config
    return build_stacked_rnn(
        vocab_size=vocab_size,
        embedding_dim=c.embedding_dim,
        cell=c.cell,
        units=c.units,
        num_layers=None if isinstance(c.units, list) else c.num_layers,
        dropout=c.dropout,
        head="many_to_many",
        head_dropout=c.head_dropout,
        output_dim=vocab_size,
        causal=True,
        stateful=stateful,
        batch_size=c.batch_size if stateful else None,
        name=f"{c.level}_lm",
    )


def compile_lm(model: Any, config: TextGenConfig) -> Any:
    """Compiles `model` for next-token cross-entropy from logits (nats/token), Adam with
    gradient clipping; the learning rate is set every step by `WarmupCosineSchedule`."""
    import keras

    from rnn_apps import compile_model

    return compile_model(
        model,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.Adam(
            learning_rate=config.learning_rate, clipnorm=config.clipnorm
        ),
    )


def lm_parts(model: Any) -> tuple[Any, list[Any], list[int], list[Any]]:
    """The layers generation steps through: `(embedding, recurrent layers, state count of each
    (2 for LSTM, 1 for GRU), head layers in order)`."""
    import keras

    embedding = model.get_layer("embedding")
    rnns = []
    i = 1
    while any(layer.name == f"rnn_{i}" for layer in model.layers):
        rnns.append(model.get_layer(f"rnn_{i}"))
        i += 1
    counts = [2 if isinstance(r.cell, keras.layers.LSTMCell) else 1 for r in rnns]
    head_names = ("head_hidden", "head_dropout", "output")
    head = [layer for layer in model.layers if layer.name in head_names]
    return embedding, rnns, counts, head
