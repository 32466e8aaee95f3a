import warnings

import keras
import numpy as np
import pytest

from rnn_apps import blocks as blocks_module
from rnn_apps import (
    build_bidirectional,
    build_encoder_decoder,
    build_simple_rnn,
    build_stacked_rnn,
    compile_model,
)
from rnn_apps.testing import run_model_saving_test

RNG = np.random.default_rng(0)
TOKENS = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]], dtype="int32")
FEATURES = RNG.normal(size=(3, 5, 2)).astype("float32")


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru"])
@pytest.mark.parametrize(
    "head,extra,expected",
    [
        ("many_to_one", {}, (3, 3)),
        ("many_to_many", {}, (3, 5, 3)),
        ("multi_horizon", {"horizon": 4}, (3, 4, 3)),
    ],
)
def test_stacked_shapes_tokens(cell, head, extra, expected):
    model = build_stacked_rnn(
        vocab_size=10, embedding_dim=4, cell=cell, units=[4, 3], head=head, output_dim=3, **extra
    )
    assert model.predict(TOKENS, verbose=0).shape == expected
    assert [layer.name for layer in model.layers if layer.name.startswith("rnn_")] == [
        "rnn_1",
        "rnn_2",
    ]


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "mean_max"])
def test_features_input_variable_length(pooling):
    model = build_stacked_rnn(num_features=2, units=4, num_layers=2, pooling=pooling)
    assert model.input.shape == (None, None, 2)
    for steps in (3, 7):
        x = RNG.normal(size=(2, steps, 2)).astype("float32")
        assert model.predict(x, verbose=0).shape == (2, 1)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merge_modes(merge_mode):
    model = build_bidirectional(
        vocab_size=10, embedding_dim=4, units=4, merge_mode=merge_mode, head="many_to_many"
    )
    width = 8 if merge_mode == "concat" else 4
    assert model.get_layer("rnn_1").output[0].shape == (None, None, width)
    assert model.predict(TOKENS, verbose=0).shape == (3, 5, 1)


def test_per_layer_options():
    model = build_stacked_rnn(
        vocab_size=10,
        units=[6, 4, 2],
        bidirectional=[True, False, True],
        dropout=[0.1, 0.0, 0.2],
        cell="gru",
    )
    assert isinstance(model.get_layer("rnn_1"), keras.layers.Bidirectional)
    assert isinstance(model.get_layer("rnn_2"), keras.layers.GRU)
    assert model.get_layer("rnn_2").units == 4
    assert model.get_layer("rnn_2").dropout == 0.0


def test_simple_rnn_builder():
    model = build_simple_rnn(num_features=2, units=3)
    assert isinstance(model.get_layer("rnn_1"), keras.layers.SimpleRNN)
    assert model.predict(FEATURES, verbose=0).shape == (3, 1)


@pytest.mark.parametrize(
    "build,kwargs",
    [
        (build_simple_rnn, {"vocab_size": 10, "units": 3}),
        (
            build_stacked_rnn,
            {"vocab_size": 10, "units": [4, 3], "cell": "gru", "pooling": "mean_max"},
        ),
        (build_bidirectional, {"num_features": 2, "units": 3, "head": "many_to_many"}),
        (build_stacked_rnn, {"num_features": 2, "units": 3, "head": "multi_horizon", "horizon": 2}),
    ],
)
def test_keras_round_trip_safe_mode(build, kwargs, tmp_path):
    model = build(**kwargs)
    x = TOKENS if "vocab_size" in kwargs else FEATURES
    run_model_saving_test(model, x, tmp_path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"vocab_size": 10, "units": 0}, r"units=0.*positive integer"),
        ({"vocab_size": 10, "units": -3}, r"units=-3"),
        ({"vocab_size": 10, "cell": "transformer"}, r"cell='transformer'.*'lstm'"),
        ({"vocab_size": 1}, r"vocab_size=1.*>= 2"),
        ({"vocab_size": 10, "units": [4, 4], "dropout": [0.1]}, r"dropout=\[0.1\].*per-layer"),
        (
            {"vocab_size": 10, "units": [4, 4], "bidirectional": [True]},
            r"bidirectional=\[True\].*per-layer",
        ),
        ({"vocab_size": 10, "units": [4, 4], "num_layers": 3}, r"num_layers=3"),
        ({"vocab_size": 10, "bidirectional": True, "causal": True}, r"causal"),
        ({"vocab_size": 10, "head": "many_to_few"}, r"head='many_to_few'"),
        ({"vocab_size": 10, "head": "multi_horizon"}, r"horizon=None"),
        ({"vocab_size": 10, "dropout": 1.5}, r"dropout=1.5.*\[0, 1\)"),
        ({}, r"exactly one"),
        ({"vocab_size": 10, "num_features": 3}, r"exactly one"),
        ({"vocab_size": 10, "stateful": True}, r"batch_size"),
    ],
)
def test_impossible_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_stacked_rnn(**kwargs)


def test_build_bidirectional_refuses_causal():
    with pytest.raises(ValueError, match="causal"):
        build_bidirectional(vocab_size=10, causal=True)


def test_recurrent_dropout_warns_once(monkeypatch):
    monkeypatch.setattr(blocks_module, "_RECURRENT_DROPOUT_WARNED", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_stacked_rnn(vocab_size=10, units=2, recurrent_dropout=0.2)
        build_stacked_rnn(vocab_size=10, units=2, recurrent_dropout=0.2)
    messages = [str(w.message) for w in caught if "cuDNN" in str(w.message)]
    assert len(messages) == 1


def test_stateful_carries_state_between_batches():
    model = build_stacked_rnn(
        vocab_size=10, units=4, head="many_to_many", stateful=True, batch_size=2, causal=True
    )
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
    first = model.predict_on_batch(x)
    second = model.predict_on_batch(x)
    assert not np.allclose(first, second)
    model.get_layer("rnn_1").reset_states()
    np.testing.assert_allclose(model.predict_on_batch(x), first, atol=1e-6)


def test_compile_model_clips_gradients():
    model = compile_model(build_stacked_rnn(vocab_size=10, units=2), loss="mse")
    assert model.optimizer.clipnorm == 1.0
    model = compile_model(
        build_stacked_rnn(vocab_size=10, units=2), loss="mse", clipnorm=None, learning_rate=0.01
    )
    assert model.optimizer.clipnorm is None
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="optimizer='nonsense'"):
        compile_model(build_stacked_rnn(vocab_size=10, units=2), loss="mse", optimizer="nonsense")


def test_stacked_model_trains():
    x = RNG.integers(1, 10, size=(64, 6)).astype("int32")
    y = (x[:, 0] > 5).astype("float32")[:, None]
    model = compile_model(
        build_stacked_rnn(vocab_size=10, units=8, output_activation="sigmoid"),
        loss="binary_crossentropy",
        learning_rate=0.02,
    )
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ------------------------------------------------------------------ encoder-decoder


def _decode_step_by_step(parts, src, dec_in, attention):
    enc = parts.encoder_model.predict(src, verbose=0)
    enc = enc if isinstance(enc, list) else [enc]
    enc_out, states = (enc[0], enc[1:]) if attention else (None, enc)
    outs = []
    for t in range(dec_in.shape[1]):
        step = dec_in[:, t : t + 1]
        feed = [step, *([enc_out] if attention else []), *states]
        pred, *states = parts.decoder_model.predict(feed, verbose=0)
        outs.append(pred)
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_encoder_decoder_inference_matches_teacher_forcing(attention, cell):
    parts = build_encoder_decoder(
        source_vocab_size=12,
        target_vocab_size=9,
        embedding_dim=4,
        units=[5, 4] if attention is None else [4, 4],
        cell=cell,
        attention=attention,
    )
    src = np.array([[3, 4, 5, 0], [1, 2, 3, 4]], dtype="int32")
    dec_in = np.array([[1, 6, 2], [1, 3, 3]], dtype="int32")
    full = parts.training_model.predict([src, dec_in], verbose=0)
    assert full.shape == (2, 3, 9)
    stepped = _decode_step_by_step(parts, src, dec_in, attention)
    np.testing.assert_allclose(stepped, full, atol=1e-5)


def test_encoder_decoder_features_and_names(tmp_path):
    parts = build_encoder_decoder(
        source_features=3, target_features=1, units=4, cell="gru", output_dim=1
    )
    names = [t.name for t in parts.decoder_model.inputs]
    assert names == ["decoder_inputs", "decoder_state_1_h"]
    src = RNG.normal(size=(2, 6, 3)).astype("float32")
    dec = RNG.normal(size=(2, 4, 1)).astype("float32")
    assert parts.training_model.predict([src, dec], verbose=0).shape == (2, 4, 1)
    for model, x in (
        (parts.training_model, [src, dec]),
        (parts.encoder_model, src),
    ):
        run_model_saving_test(model, x, tmp_path)
    state = parts.encoder_model.predict(src, verbose=0)
    run_model_saving_test(parts.decoder_model, [dec[:, :1], state], tmp_path)


def test_encoder_decoder_errors():
    with pytest.raises(ValueError, match="attention='luong'"):
        build_encoder_decoder(source_vocab_size=5, target_vocab_size=5, attention="luong")
    with pytest.raises(ValueError, match="output_dim"):
        build_encoder_decoder(source_features=2, target_features=2)
    with pytest.raises(ValueError, match="source_vocab_size=1"):
        build_encoder_decoder(source_vocab_size=1, target_vocab_size=5)


def test_embedding_dropout_keeps_the_mask_and_checks_its_rate():
    from rnn_apps import build_bidirectional

    model = build_bidirectional(
        vocab_size=9, embedding_dim=4, units=3, cell="gru", pooling="mean", embedding_dropout=0.5
    )
    assert type(model.get_layer("embedding_dropout")).__name__ == "SpatialDropout1D"
    padded = np.array([[3, 4, 5, 0, 0, 0]], dtype="int32")
    trimmed = padded[:, :3]
    np.testing.assert_allclose(model(padded), model(trimmed), atol=1e-6)  # padding ignored
    with pytest.raises(ValueError, match="embedding_dropout"):
        build_bidirectional(vocab_size=9, units=3, embedding_dropout=1.5)
