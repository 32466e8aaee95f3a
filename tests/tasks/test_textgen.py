"""Tests of the text generation pipeline on a tiny corpus (hidden size 8, one epoch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.export import verify_saved_model
from rnn_apps.tasks import textgen
from rnn_apps.tasks.textgen import (
    MAX_NEW_TOKENS_CAP,
    OOV_ID,
    TextGenConfig,
    TextGenerator,
    Vocabulary,
    loss_metrics,
    tokenize,
)

LINES = [
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
    "All:\nSpeak, speak.\n\n",
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n",
    "All:\nResolved. resolved.\n\n",
    "MENENIUS:\nWhat work's, my countrymen, in hand? where go you?\n\n",
]
CORPUS = "".join(LINES[i % len(LINES)] for i in range(40))  # ~2,600 characters
TINY = dict(units=8, embedding_dim=4, seq_len=16, batch_size=8, epochs=1, warmup_steps=2)


@pytest.fixture(scope="module")
def lm():
    split = int(len(CORPUS) * 0.9)
    return TextGenerator(TextGenConfig(**TINY)).fit(CORPUS[:split], CORPUS[split:])


@pytest.fixture(scope="module")
def exported(lm, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "textgen"
    report = lm.export(path, sample_prompts=["First", "", "\u00e9\u20ac"])
    return path, report


def test_char_vocabulary_and_tokens():
    vocab = Vocabulary.build("abca\u00e9", "char")
    assert vocab.tokens == ["a", "b", "c", "\u00e9"]
    assert vocab.size == 6
    ids = vocab.lookup_layer()(tf.constant(["a", "\u00e9", "z", ""])).numpy().tolist()
    assert ids == [2, 5, OOV_ID, 0]
    chars = tokenize(tf.constant(["h\u00e9!"]), "char").to_list()
    assert [c.decode() for c in chars[0]] == ["h", "\u00e9", "!"]


def test_word_tokens_and_oov():
    toks = tokenize(tf.constant(["Speak, speak.\nAll: yes"]), "word").to_list()[0]
    assert [t.decode() for t in toks] == [
        "Speak",
        ",",
        "speak",
        ".",
        textgen.NEWLINE_TOKEN,
        "All",
        ":",
        "yes",
    ]
    vocab = Vocabulary.build("a a a b b c", "word", max_vocab=4)
    assert vocab.tokens == ["a", "b"]  # c is OOV
    text = textgen.detokenize_words(tf.ragged.constant([["Speak", ",", "speak", "."]]))
    assert text.numpy()[0].decode() == "Speak, speak."


def test_fit_history_and_metrics(lm, tmp_path):
    h = lm.history_
    assert h["epoch"] == [1]
    assert np.isfinite(h["train_loss"][0]) and np.isfinite(h["val_loss"][0])
    m = lm.evaluate(CORPUS[:500])
    assert m["bits_per_char"] == pytest.approx(m["nats_per_token"] / math.log(2))
    assert m["perplexity"] == pytest.approx(math.exp(m["nats_per_token"]))
    assert m["num_tokens"] == 500
    assert loss_metrics(math.log(2))["bits_per_token"] == pytest.approx(1.0)
    png = textgen.plot_learning_curve(h, tmp_path / "curve.png")
    assert png.stat().st_size > 0


def test_score_matches_evaluate_and_handles_edge_cases(lm):
    text = CORPUS[:300]
    scores = lm.score([text, "", "\u00e9\u00e9\u00e9"])
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(lm.evaluate(text, chunks=1)["nats_per_token"], rel=1e-5)
    assert math.isnan(scores[1])  # no tokens
    assert np.isfinite(scores[2]) and scores[2] > scores[0]  # unseen characters cost more


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_step_by_step_matches_full_run(lm, cell):
    """The incremental states give the same logits as re-running the whole prefix."""
    if cell != lm.config.cell:
        split = int(len(CORPUS) * 0.9)
        lm = TextGenerator(TextGenConfig(cell=cell, num_layers=2, **TINY)).fit(CORPUS[:split])
    graph = lm._graph
    text = "First Citizen:"
    ids = graph.encode(tf.constant([text]))
    full = lm.model_(ids.to_tensor(), training=False).numpy()[0]  # (T, V)
    states, logits = graph.run_prompt(graph.encode(tf.constant([text[:3]])))
    np.testing.assert_allclose(logits.numpy()[0], full[2], atol=1e-5)
    flat = ids.flat_values.numpy()
    for t in range(3, len(flat)):
        logits, states = graph.step(tf.constant(flat[t : t + 1]), states)
        np.testing.assert_allclose(logits.numpy()[0], full[t], atol=1e-5)


def test_generate_seeded_and_batched(lm):
    a = lm.generate("First", max_new_tokens=30, seed=5, temperature=0.9, top_p=0.9)
    b = lm.generate("First", max_new_tokens=30, seed=5, temperature=0.9, top_p=0.9)
    assert a == b and len(a) == 1
    assert a[0].startswith("First") and len(a[0]) == len("First") + 30
    many = lm.generate(["All:", ""], max_new_tokens=20, seed=1, num_samples=3)
    assert len(many) == 6
    assert all(t.startswith("All:") for t in many[:3])
    assert len({t for t in many[:3]}) > 1  # different samples in one batch
    assert all(len(t) == 20 for t in many[3:])  # empty prompt: initial state


def test_greedy_top_k_and_top_p(lm):
    greedy = lm.generate("Speak", max_new_tokens=15, temperature=0.0, seed=1)
    assert lm.generate("Speak", max_new_tokens=15, temperature=-1.0, seed=99) == greedy
    assert lm.generate("Speak", max_new_tokens=15, top_k=1, seed=3) == greedy
    assert lm.generate("Speak", max_new_tokens=15, top_p=1e-6, seed=4) == greedy
    big_k = lm.generate("Speak", max_new_tokens=15, top_k=10_000, seed=4)
    assert big_k == lm.generate("Speak", max_new_tokens=15, top_k=0, seed=4)


def test_generate_edge_cases(lm):
    assert lm.generate(["abc", ""], max_new_tokens=0) == ["abc", ""]
    assert lm.generate("abc", max_new_tokens=-5) == ["abc"]
    odd = lm.generate("\u00e9\u20ac\U0001f600", max_new_tokens=10, seed=1)[0]
    assert odd.startswith("\u00e9\u20ac\U0001f600") and len(odd) == 13
    stopped = lm.generate("All", max_new_tokens=300, seed=2, stop="\n")[0]
    assert stopped.count("\n") <= 1
    assert stopped.endswith("\n") or len(stopped) == 303


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_new_tokens": MAX_NEW_TOKENS_CAP + 1}, "max_new_tokens"),
        ({"max_new_tokens": 1.5}, "max_new_tokens"),
        ({"top_k": -1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": float("nan")}, "top_p"),
        ({"temperature": float("nan")}, "temperature"),
        ({"num_samples": 0}, "num_samples"),
        ({"stop": "\u20ac"}, "stop"),
        ({"stop": ""}, "stop"),
    ],
)
def test_generate_bad_arguments(lm, kwargs, match):
    with pytest.raises(UserInputError, match=match):
        lm.generate("a", **kwargs)


def test_unfitted_and_bad_config():
    with pytest.raises(UserInputError, match="not fitted"):
        TextGenerator().generate("a")
    with pytest.raises(UserInputError, match="level"):
        TextGenConfig(level="byte").validate()
    with pytest.raises(UserInputError, match="Unknown"):
        TextGenConfig.from_dict({"unit": 3})
    with pytest.raises(UserInputError, match="too short"):
        TextGenerator(TextGenConfig(**TINY)).fit("abc")


def test_save_load_roundtrip(lm, tmp_path):
    lm.save(tmp_path / "m")
    again = TextGenerator.load(tmp_path / "m")
    np.testing.assert_allclose(again.score(CORPUS[:200]), lm.score(CORPUS[:200]), rtol=1e-6)
    assert again.generate("All", max_new_tokens=20, seed=3) == lm.generate(
        "All", max_new_tokens=20, seed=3
    )


def test_export_roundtrip_same_score_and_seeded_text(lm, exported):
    path, report = exported
    assert report.verified
    assert report.metadata["task"] == "textgen"
    texts = np.asarray([CORPUS[:120], "x", ""], dtype=object)
    prompts = ["All:", "zz\u20ac"]
    want = lm.generate(prompts, max_new_tokens=25, temperature=0.7, top_k=5, top_p=0.9, seed=11)
    inputs = {
        "prompt": np.asarray(prompts, dtype=object),
        "max_new_tokens": np.int32(25),
        "temperature": np.float32(0.7),
        "top_k": np.int32(5),
        "top_p": np.float32(0.9),
        "seed": np.int32(11),
    }
    # One clean process (no rnn_apps) runs both signatures.
    verify_saved_model(
        path,
        {"score": {"text": texts}, "generate": inputs},
        expected={
            "score": {"nll_per_token": lm.score(list(texts))},
            "generate": {"text": np.asarray([w.encode() for w in want])},
        },
    )


def test_savedmodel_bad_inputs(exported):
    path, _ = exported
    gen = tf.saved_model.load(str(path)).signatures["generate"]

    def call(**kw):
        args = dict(
            prompt=tf.constant(["All", ""]),
            max_new_tokens=tf.constant(10),
            temperature=tf.constant(1.0),
            top_k=tf.constant(0),
            top_p=tf.constant(1.0),
            seed=tf.constant(1),
        )
        args.update({k: tf.constant(v) for k, v in kw.items()})
        return [t.decode() for t in gen(**args)["text"].numpy()]

    assert call(max_new_tokens=0) == ["All", ""]
    assert call(max_new_tokens=-3) == ["All", ""]
    greedy = call(temperature=0.0)
    assert greedy == call(temperature=-2.0, seed=7)
    assert len(greedy[1]) == 10
    for kw, match in [
        ({"max_new_tokens": MAX_NEW_TOKENS_CAP + 1}, "max_new_tokens"),
        ({"top_k": -2}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.01}, "top_p"),
        ({"temperature": float("inf")}, "temperature"),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=match):
            call(**kw)


def test_word_level_lm():
    cfg = TextGenConfig(level="word", max_vocab=30, **TINY)
    split = int(len(CORPUS) * 0.9)
    wlm = TextGenerator(cfg).fit(CORPUS[:split], CORPUS[split:])
    assert wlm.vocab_.level == "word" and wlm.vocab_.size == 30
    out = wlm.generate(["All:", ""], max_new_tokens=8, seed=2)
    assert out[0].startswith("All:") and len(out[1]) > 0
    assert "[UNK]" not in "".join(out)
    scores = wlm.score(["Speak , speak .", "zebra quagga"])
    assert np.all(np.isfinite(scores))
    assert wlm.evaluate(CORPUS[:400])["bits_per_char"] > 0


def test_stateful_truncated_bptt():
    cfg = TextGenConfig(stateful=True, **TINY)
    slm = TextGenerator(cfg).fit(CORPUS, CORPUS[:300])
    assert not any(getattr(layer, "stateful", False) for layer in slm.model_.layers)
    assert np.isfinite(slm.history_["val_loss"][0])
    assert len(slm.generate("All", max_new_tokens=5, seed=1)[0]) == 8


def test_cli_train_predict_evaluate(exported, tmp_path, capsys):
    from rnn_apps.cli import main

    text = tmp_path / "corpus.txt"
    text.write_text(CORPUS, encoding="utf-8")
    out = tmp_path / "run"
    args = ["--units", "4", "--seq-len", "16", "--batch-size", "8", "--epochs", "1"]
    rc = main(
        ["textgen", "train", "--text", str(text), "--output-dir", str(out), "--no-export", *args]
    )
    assert rc == 0
    assert (out / "model" / "textgen.json").is_file() and (out / "learning_curve.png").is_file()
    path, _ = exported
    capsys.readouterr()
    rc = main(
        [
            "textgen",
            "predict",
            "--model",
            str(path),
            "--prompt",
            "All",
            "--max-new-tokens",
            "12",
            "--seed",
            "3",
            "--num-samples",
            "2",
        ]
    )
    assert rc == 0
    assert capsys.readouterr().out.count("All") >= 2
    rc = main(["textgen", "evaluate", "--model", str(path), "--text", str(text)])
    assert rc == 0
    assert "nats_per_token" in capsys.readouterr().out
    rc = main(["textgen", "predict", "--model", str(path), "--top-p", "2"])
    assert rc == 2
    assert "top_p" in capsys.readouterr().err


def test_fit_under_a_mirrored_strategy_and_refuses_multi_worker():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    mlm = TextGenerator(TextGenConfig(**TINY)).fit(CORPUS, strategy=strategy)
    assert all(isinstance(v.value, tf.distribute.DistributedValues) for v in mlm.model_.weights)
    assert len(mlm.generate("All", max_new_tokens=3, seed=1)[0]) == 6
    with pytest.raises(UserInputError, match="textgen does not support strategy 'multi_worker'"):
        TextGenerator(TextGenConfig(**TINY)).fit(CORPUS, strategy="multi_worker")
