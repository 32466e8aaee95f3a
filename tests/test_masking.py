"""Masking must give TF1 `dynamic_rnn(sequence_length=...)` semantics for every builder."""

import keras
import numpy as np
import pytest

from rnn_apps import build_bidirectional, build_encoder_decoder, build_simple_rnn, build_stacked_rnn

LENGTHS = [5, 2, 4]
T = max(LENGTHS)
RNG = np.random.default_rng(7)


def _token_batch(padding="right"):
    seqs = [RNG.integers(1, 11, size=n).astype("int32") for n in LENGTHS]
    batch = np.zeros((len(seqs), T), dtype="int32")
    for i, s in enumerate(seqs):
        if padding == "right":
            batch[i, : len(s)] = s
        else:
            batch[i, T - len(s) :] = s
    return seqs, batch


def _feature_batch(padding="right"):
    seqs = [RNG.normal(size=(n, 3)).astype("float32") for n in LENGTHS]
    batch = np.zeros((len(seqs), T, 3), dtype="float32")  # mask_value 0.0
    for i, s in enumerate(seqs):
        if padding == "right":
            batch[i, : len(s)] = s
        else:
            batch[i, T - len(s) :] = s
    return seqs, batch


def _probes(model):
    names = [layer.name for layer in model.layers if layer.name.startswith("rnn_")]
    names = [n for n in names if not n.endswith("_cell")]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])

    def run(x):  # eager call: cheaper than predict() for tiny batches
        out = probe(x, training=False)
        out = [out] if len(names) == 1 else out
        return [[np.asarray(t) for t in layer_out] for layer_out in out]

    return run


def _valid(index, padding):
    n = LENGTHS[index]
    return slice(0, n) if padding == "right" else slice(T - n, T)


CONFIGS = [
    (build_simple_rnn, {"units": [4, 3]}),
    (build_stacked_rnn, {"cell": "lstm", "units": [4, 3]}),
    (build_stacked_rnn, {"cell": "gru", "units": [4, 3]}),
    (build_bidirectional, {"cell": "lstm", "units": [4, 3]}),
    (build_bidirectional, {"cell": "gru", "units": 3, "merge_mode": "sum"}),
    (build_stacked_rnn, {"cell": "gru", "units": [3, 3], "bidirectional": [True, False]}),
]


@pytest.mark.parametrize("padding", ["right", "left"])
@pytest.mark.parametrize("input_kind", ["tokens", "features"])
@pytest.mark.parametrize("build,kwargs", CONFIGS)
def test_padded_batch_matches_each_sequence_alone(build, kwargs, input_kind, padding):
    if input_kind == "tokens":
        seqs, batch = _token_batch(padding)
        model = build(vocab_size=12, embedding_dim=3, head="many_to_many", **kwargs)
    else:
        seqs, batch = _feature_batch(padding)
        model = build(num_features=3, head="many_to_many", **kwargs)
    probe = _probes(model)
    batched = probe(batch)
    for i, seq in enumerate(seqs):
        alone = probe(seq[None])
        for layer_b, layer_a in zip(batched, alone):
            outputs_b, *states_b = layer_b
            outputs_a, *states_a = layer_a
            # every valid step's output
            np.testing.assert_allclose(
                outputs_b[i, _valid(i, padding)], outputs_a[0], atol=1e-5, rtol=0
            )
            # final states (forward and, for bidirectional layers, backward)
            for sb, sa in zip(states_b, states_a):
                np.testing.assert_allclose(sb[i], sa[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean_max"])
def test_many_to_one_pooling_ignores_padding(pooling):
    seqs, batch = _token_batch("right")
    model = build_bidirectional(
        vocab_size=12, embedding_dim=3, units=3, pooling=pooling, output_dim=2
    )
    batched = np.asarray(model(batch))
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(batched[i], np.asarray(model(seq[None]))[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_encoder_decoder_source_padding_is_invisible(attention):
    parts = build_encoder_decoder(
        source_vocab_size=12, target_vocab_size=8, embedding_dim=3, units=4, attention=attention
    )
    seqs, batch = _token_batch("right")
    dec = np.array([[1, 2, 3]] * len(seqs), dtype="int32")
    batched = np.asarray(parts.training_model([batch, dec]))
    for i, seq in enumerate(seqs):
        alone = np.asarray(parts.training_model([seq[None], dec[:1]]))
        np.testing.assert_allclose(batched[i], alone[0], atol=1e-5, rtol=0)
