"""Tests of the text generation pipeline on a tiny corpus (hidden size 8, one epoch).

What every task shares (every signature on an empty batch, the export verified in a clean
process, save/load, the training layout, --json, --help) is held by `run_task_test`
(test_task_contract.py); this file keeps what is particular to text generation."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.cli import main
from rnn_apps.errors import UserInputError
from rnn_apps.tasks import textgen
from rnn_apps.tasks.base import SavedModelPredictor
from rnn_apps.tasks.textgen import (
    MAX_GENERATE_BATCH,
    MAX_NEW_TOKENS_CAP,
    MAX_NUM_SAMPLES,
    MAX_PROMPT_CHARS,
    MAX_SCORE_BATCH_TOKENS,
    MAX_SCORE_CHARS,
    OOV_ID,
    TextGenConfig,
    TextGenerator,
    Vocabulary,
    loss_metrics,
    tokenize,
)
from rnn_apps.testing import run_kill_and_resume_test

ROOT = Path(__file__).resolve().parents[2]
LINES = [
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
    "All:\nSpeak, speak.\n\n",
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n",
    "All:\nResolved. resolved.\n\n",
    "MENENIUS:\nWhat work's, my countrymen, in hand? where go you?\n\n",
]
CORPUS = "".join(LINES[i % len(LINES)] for i in range(40))  # ~2,600 characters
TINY = dict(units=8, embedding_dim=4, seq_len=16, batch_size=8, epochs=1, warmup_steps=2, verbose=0)
CLI_TINY = ["--units", "4", "--seq-len", "16", "--batch-size", "8", "--epochs", "1"]


@pytest.fixture(scope="module")
def lm():
    split = int(len(CORPUS) * 0.9)
    return TextGenerator(TextGenConfig(**TINY)).fit(CORPUS[:split], CORPUS[split:])


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`textgen train` through `main` with a relative --output-dir from a changed cwd."""
    base = tmp_path_factory.mktemp("cli")
    (base / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        rc = main(
            ["textgen", "train", "--text", "corpus.txt", "--output-dir", "runs/tg", *CLI_TINY]
        )
    assert rc == 0
    return base


# --------------------------------------------------------------------------- preprocessing


def test_char_vocabulary_and_tokens():
    vocab = Vocabulary.build("abca\u00e9", "char")
    assert vocab.tokens == ["a", "b", "c", "\u00e9"]
    assert vocab.size == 6
    ids = vocab.lookup_layer()(tf.constant(["a", "\u00e9", "z", ""])).numpy().tolist()
    assert ids == [2, 5, OOV_ID, 0]
    chars = tokenize(tf.constant(["h\u00e9!"]), "char").to_list()
    assert [c.decode() for c in chars[0]] == ["h", "\u00e9", "!"]
    assert vocab.decode(tf.constant(["x"]), tf.constant([[2, 0, 5]])).numpy()[0].decode() == (
        "xa\u00e9"
    )


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


# --------------------------------------------------------------------------- config


def test_config_errors_name_the_key():
    with pytest.raises(UserInputError, match="'learning_rate' must be float"):
        TextGenerator(TextGenConfig(learning_rate="fast"))
    with pytest.raises(UserInputError, match="'units'"):
        TextGenConfig.from_dict({"units": "big"})
    with pytest.raises(UserInputError, match="'level'"):
        TextGenConfig(level="byte").validate()
    with pytest.raises(UserInputError, match="Unknown"):
        TextGenConfig.from_dict({"unit": 3})
    with pytest.raises(UserInputError, match="'dropout'"):
        TextGenerator(dropout=1.5)
    with pytest.raises(UserInputError, match="not trained"):
        TextGenerator().generate("a")
    with pytest.raises(UserInputError, match="too short"):
        TextGenerator(TextGenConfig(**TINY)).fit("abc")


# --------------------------------------------------------------------------- fit, metrics


def test_warmup_cosine_schedule_follows_steps_or_the_time_budget():
    from rnn_apps.callbacks import WarmupCosineSchedule

    cfg = TextGenConfig(learning_rate=1e-2, warmup_steps=10, min_lr_ratio=0.1)
    sched = WarmupCosineSchedule(cfg, total_steps=110)
    lr = [float(sched.schedule(sched.effective_step(s))) for s in (0, 10, 60, 110, 500)]
    assert lr[0] == pytest.approx(1e-2 / 11) and lr[1] == pytest.approx(1e-2)
    assert lr[2] == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5), rel=1e-4)
    assert lr[3] == pytest.approx(1e-3) and lr[4] == pytest.approx(1e-3)
    spent = WarmupCosineSchedule(cfg, total_steps=110, deadline=time.monotonic() - 1.0)
    assert spent.effective_step(5) == 5  # warm-up is by steps
    assert spent.effective_step(20) == pytest.approx(110)  # budget spent: end of the decay


def test_fit_history_and_metrics(lm, tmp_path):
    h = lm.history_["lm"]
    assert len(h["loss"]) == 1
    assert np.isfinite(h["loss"][0]) and np.isfinite(h["val_loss"][0])
    m = lm.evaluate(CORPUS[:500])
    assert m["bits_per_char"] == pytest.approx(m["nats_per_token"] / math.log(2))
    assert m["perplexity"] == pytest.approx(math.exp(m["nats_per_token"]))
    assert m["num_tokens"] == 500
    assert loss_metrics(math.log(2))["bits_per_token"] == pytest.approx(1.0)
    png = textgen.plot_learning_curve(lm.history_, tmp_path / "curve.png")
    assert png.stat().st_size > 0


def test_score_matches_evaluate_and_handles_edge_cases(lm):
    text = CORPUS[:300]
    scores = lm.score([text, "", "\u00e9\u00e9\u00e9"])
    assert scores.shape == (3,)
    assert scores[0] == pytest.approx(lm.evaluate(text, chunks=1)["nats_per_token"], rel=1e-5)
    assert math.isnan(scores[1])  # no tokens
    assert np.isfinite(scores[2]) and scores[2] > scores[0]  # unseen characters cost more
    # evaluate() scores a text longer than the score cap in chunks
    assert lm.evaluate(CORPUS * 60)["num_chars"] > MAX_SCORE_CHARS


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_step_by_step_matches_full_run(lm, cell):
    """The incremental states give the same logits as re-running the whole prefix."""
    if cell != lm.config.cell:
        split = int(len(CORPUS) * 0.9)
        lm = TextGenerator(TextGenConfig(cell=cell, num_layers=2, **TINY)).fit(CORPUS[:split])
    graph = lm._graph
    text = "First Citizen:"
    ids = lm.vocab_.encode(tf.constant([text]))
    full = lm.model_(ids.to_tensor(), training=False).numpy()[0]  # (T, V)
    states, logits = graph.run_prompt(lm.vocab_.encode(tf.constant([text[:3]])))
    np.testing.assert_allclose(logits.numpy()[0], full[2], atol=1e-5)
    flat = ids.flat_values.numpy()
    for t in range(3, len(flat)):
        logits, states = graph.step(tf.constant(flat[t : t + 1]), states)
        np.testing.assert_allclose(logits.numpy()[0], full[t], atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_streaming_signatures_step_to_the_whole_text(lm, cell, tmp_path):
    """`initial_state("")` then one `step` per token gives the logits and state of the whole
    text at once: in process, and (LSTM, two layers: four states side by side) through the
    exported SavedModel."""
    from rnn_apps.tasks.base import open_model

    model = lm
    if cell != lm.config.cell:
        split = int(len(CORPUS) * 0.9)
        lm = TextGenerator(TextGenConfig(cell=cell, num_layers=2, **TINY)).fit(CORPUS[:split])
        lm.export(tmp_path / "sm")
        model = open_model(tmp_path / "sm")
    texts = ["Speak, speak.", "Resolved. res"]  # as many characters each
    whole = model.run("initial_state", prompt=np.array(texts, dtype=object))
    state = model.run("initial_state", prompt=np.array(["", ""], dtype=object))["state"]
    assert state.shape == (2, sum(lm._graph.state_sizes)) and not state.any()
    ids = lm.vocab_.encode(tf.constant(texts)).to_tensor().numpy().astype("int32")
    for t in range(ids.shape[1]):
        out = model.run("step", token=ids[:, t], state=state)
        state = out["state"]
    np.testing.assert_allclose(out["logits"], whole["logits"], atol=1e-5)
    np.testing.assert_allclose(state, whole["state"], atol=1e-5)
    with pytest.raises(Exception, match="state must have shape"):
        model.run("step", token=ids[:, 0], state=state[:, :-1])


# --------------------------------------------------------------------------- generation


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


def test_empty_batches_through_generate_and_score(lm):
    # `run` of every signature on an empty batch: run_task_test.
    assert lm.generate([], max_new_tokens=5) == []
    assert lm.score([]).shape == (0,)


def test_litert_and_onnx_cores_give_the_next_token_logits_and_greedy_text(lm, tmp_path):
    from rnn_apps.runtime import PortableModel

    prompts = ["First Citizen:\nBefore", "All:", "", "\u20ac unseen"]
    ids = lm.vocab_(tf.constant(prompts)).numpy().astype("int32")  # (B, T) right-padded
    full = lm.model_(ids, training=False).numpy()  # (B, T, V): the plain forward pass
    n = (ids != 0).sum(axis=1)
    want = np.stack([full[i, k - 1] if k else lm.unigram_logits_ for i, k in enumerate(n)])
    for fmt in ("litert", "onnx"):
        report = lm.export(tmp_path / fmt, format=fmt)
        assert report.max_abs_diff["logits"] <= 1e-3, report.max_abs_diff
        model = PortableModel(tmp_path / fmt)
        assert model.metadata["core"]["inputs"][0]["shape"] == [None, None]
        np.testing.assert_allclose(model(token_ids=ids)["logits"], want, atol=1e-3)
    # A client of metadata.json alone: greedy decoding, one call per character, gives the
    # SavedModel graph's greedy text (ids 0 and 1 are never drawn).
    vocab = model.metadata["vocabulary"]
    for prompt in ("Speak", ""):
        out = [2 + vocab.index(c) for c in prompt]
        for _ in range(6):
            logits = model(token_ids=np.array([out or [0]], np.int32))["logits"][0]
            logits[:2] = -np.inf
            out.append(int(np.argmax(logits)))
        text = "".join(vocab[i - 2] for i in out)
        assert [text] == lm.generate(prompt, max_new_tokens=6, temperature=0.0)
    # Streaming on the device: the `step` signature (LiteRT's in the same model, ONNX's in
    # step.onnx with its state output named next_state in the file) from a zero state, one
    # call per token, ends with the whole pass's logits.
    with pytest.raises(ValueError, match="no signature 'stream'"):
        PortableModel(tmp_path / "onnx", signature="stream")
    assert (tmp_path / "onnx" / "step.onnx").is_file()
    for fmt in ("litert", "onnx"):
        whole = PortableModel(tmp_path / fmt)
        step = PortableModel(tmp_path / fmt, signature="step")
        state = np.zeros((1, sum(whole.metadata["state_sizes"])), np.float32)
        logits = np.asarray(whole.metadata["unigram_logits"])
        for token in ids[0][ids[0] > 0]:
            out = step(token=np.array([token], np.int32), state=state)
            logits, state = out["logits"][0], out["state"]
        np.testing.assert_allclose(logits, want[0], atol=1e-3)


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
        ({"num_samples": MAX_NUM_SAMPLES + 1}, f"1 to {MAX_NUM_SAMPLES}"),
        ({"stop": "\u20ac"}, "stop"),
        ({"stop": ""}, "stop"),
    ],
)
def test_generate_bad_arguments(lm, kwargs, match):
    with pytest.raises(UserInputError, match=match):
        lm.generate("a", **kwargs)


def test_input_caps_and_shapes(lm):
    with pytest.raises(UserInputError, match=rf"prompt\[1\] has {MAX_PROMPT_CHARS + 1} char"):
        lm.generate(["a", "b" * (MAX_PROMPT_CHARS + 1)], max_new_tokens=1)
    with pytest.raises(UserInputError, match=rf"at most {MAX_SCORE_CHARS} per text.*evaluate"):
        lm.score("a" * (MAX_SCORE_CHARS + 1))
    with pytest.raises(UserInputError, match=r"1-D list of strings \(shape \[batch\]\).*\(1, 1\)"):
        lm.generate(np.array([["a"]]))
    with pytest.raises(UserInputError, match=r"shape \[batch\]"):
        lm.score(np.array([["a", "b"]]))
    with pytest.raises(UserInputError, match=r"text\[0\] is a int"):
        lm.score([3])
    with pytest.raises(UserInputError, match="prompt must be a string"):
        lm.generate(None)


# --------------------------------------------------------------------------- variants


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
    m = wlm.evaluate(CORPUS[:400])
    assert m["bits_per_char"] > 0 and m["num_tokens"] < 400


def test_stateful_truncated_bptt():
    cfg = TextGenConfig(stateful=True, **TINY)
    slm = TextGenerator(cfg).fit(CORPUS, CORPUS[:300])
    assert not any(getattr(layer, "stateful", False) for layer in slm.model_.layers)
    assert np.isfinite(slm.history_["lm"]["val_loss"][0])
    assert len(slm.generate("All", max_new_tokens=5, seed=1)[0]) == 8


def test_fit_under_a_mirrored_strategy_and_refuses_multi_worker():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    mlm = TextGenerator(TextGenConfig(**TINY)).fit(CORPUS, strategy=strategy)
    assert all(isinstance(v.value, tf.distribute.DistributedValues) for v in mlm.model_.weights)
    assert len(mlm.generate("All", max_new_tokens=3, seed=1)[0]) == 6
    with pytest.raises(UserInputError, match="textgen does not support strategy 'multi_worker'"):
        TextGenerator(TextGenConfig(**TINY)).fit(CORPUS, strategy="multi_worker")


# --------------------------------------------------------------------------- CLI and export


def test_cli_predict_evaluate_with_folder_and_saved_model(cli_run, monkeypatch, capsys):
    monkeypatch.chdir(cli_run)
    run = Path("runs/tg")  # the layout (pipeline/, saved_model/, report.json): run_task_test
    assert (run / "learning_curves.png").is_file()
    report = json.loads((run / "report.json").read_text())
    assert report["export"]["verified"] and report["validation"]["nats_per_token"] > 0
    capsys.readouterr()
    outputs = {}
    for model in (str(run), str(run / "saved_model")):
        predict = ["--prompt", "All", "--max-new-tokens", "12", "--seed", "3", "--num-samples", "2"]
        assert main(["textgen", "predict", "--model", model, *predict, "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert len(rows) == 2 and all(r["text"].startswith("All") for r in rows)
        assert (
            main(["textgen", "evaluate", "--model", model, "--text", "corpus.txt", "--json"]) == 0
        )
        metrics = json.loads(capsys.readouterr().out)["metrics"]
        outputs[model] = (rows, metrics)
    (rows_a, m_a), (rows_b, m_b) = outputs.values()
    assert rows_a == rows_b  # the same graph in process and in the SavedModel
    assert m_a["nats_per_token"] == pytest.approx(m_b["nats_per_token"], rel=1e-5)
    assert main(["textgen", "evaluate", "--model", str(run), "--text", "corpus.txt"]) == 0
    assert "nats/char (" in capsys.readouterr().out
    assert main(["textgen", "predict", "--model", str(run), "--top-p", "2"]) == 2
    assert "top_p" in capsys.readouterr().err
    assert main(["textgen", "predict", "--model", str(run), "--num-samples", "65"]) == 2
    err = capsys.readouterr().err
    assert "num_samples=65" in err and len(err.strip().splitlines()) == 1


def test_cli_export_to_a_relative_folder_samples_like_the_pipeline(cli_run, monkeypatch, capsys):
    monkeypatch.chdir(cli_run)
    assert main(["textgen", "export", "--model", "runs/tg", "--output-dir", "rel/x"]) == 0
    assert "rel/x" in capsys.readouterr().out
    exported = SavedModelPredictor(cli_run / "rel" / "x")
    meta = exported.metadata
    assert meta["max_score_chars"] == MAX_SCORE_CHARS
    assert meta["max_prompt_chars"] == MAX_PROMPT_CHARS
    # Both signatures in a clean process (no rnn_apps) on sample_inputs(): run_task_test.
    # Here: top-k sampling and a prompt with an unseen character, loaded in this process.
    loaded = TextGenerator.load(cli_run / "runs" / "tg")
    prompts = ["All:", "zz\u20ac"]
    kw = dict(max_new_tokens=25, temperature=0.7, top_k=5, top_p=0.9, seed=11)
    assert textgen.generate_texts(exported, prompts, **kw) == loaded.generate(prompts, **kw)
    texts = [CORPUS[:120], "x", ""]
    nll, _ = textgen.score_texts(exported, texts)
    np.testing.assert_allclose(nll, loaded.score(texts), rtol=1e-5)


def test_savedmodel_bad_inputs_and_caps(cli_run):
    loaded = tf.saved_model.load(str(cli_run / "runs" / "tg" / "saved_model"))
    gen = loaded.signatures["generate"]

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
    assert call(prompt=np.asarray([], dtype=object)) == []
    greedy = call(temperature=0.0)
    assert greedy == call(temperature=-2.0, seed=7)
    assert len(greedy[1]) == 10
    for kw, match in [
        ({"max_new_tokens": MAX_NEW_TOKENS_CAP + 1}, "max_new_tokens"),
        ({"top_k": -2}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.01}, "top_p"),
        ({"temperature": float("inf")}, "temperature"),
        ({"prompt": ["a" * (MAX_PROMPT_CHARS + 1)]}, f"prompt must be at most {MAX_PROMPT_CHARS}"),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=match):
            call(**kw)
    # serving_default (what TFSMLayer calls) takes the prompt only: generate's defaults.
    default = loaded.signatures["serving_default"]
    assert list(default.structured_input_signature[1]) == ["prompt"]
    got = [t.decode() for t in default(prompt=tf.constant(["All", ""]))["text"].numpy()]
    assert got == call(**textgen.SERVING_DEFAULTS) and len(got[1]) == 200
    # The output buffer follows max_new_tokens (powers of two from 32): lengths at its edges.
    for n in (32, 33, 64):
        assert len(call(max_new_tokens=n, temperature=0.0)[1]) == n
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_GENERATE_BATCH} pr"):
        call(prompt=["a"] * (MAX_GENERATE_BATCH + 1))
    score = loaded.signatures["score"]
    assert score(text=tf.constant([], tf.string))["nll_per_token"].shape == (0,)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_SCORE_CHARS}"):
        score(text=tf.constant(["a" * (MAX_SCORE_CHARS + 1)]))
    long_texts = [CORPUS[:8] * (MAX_SCORE_BATCH_TOKENS // 40 + 1)] * 5  # > the cap together
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_SCORE_BATCH_TOKENS}"):
        score(text=tf.constant(long_texts))
    # The Python API sends batches under the cap: the same scores as one text at a time.
    predictor = SavedModelPredictor(cli_run / "runs" / "tg" / "saved_model")
    nll, count = textgen.score_texts(predictor, ["To be", *long_texts])
    alone = [textgen.score_texts(predictor, [t])[0][0] for t in ("To be", long_texts[0])]
    np.testing.assert_allclose(nll, [alone[0]] + [alone[1]] * 5, rtol=1e-5)
    assert count.tolist() == [5] + [len(long_texts[0])] * 5


def test_committed_saved_model_predict_and_caps(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    model = "saved_models/textgen_shakespeare"
    args = ["--prompt", "ROMEO:", "--max-new-tokens", "40", "--seed", "3", "--temperature", "0.8"]
    assert main(["textgen", "predict", "--model", model, *args]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ROMEO:") and "-" * 40 in out
    predictor = SavedModelPredictor(ROOT / model)
    # The in-process caps protect exports made before the in-graph caps existed.
    with pytest.raises(UserInputError, match="per text"):
        textgen.score_texts(predictor, ["a" * (MAX_SCORE_CHARS + 1)])
    nll, count = textgen.score_texts(predictor, ["To be, or not to be", ""])
    assert count.tolist() == [19, 0] and 0 < nll[0] < 5 and math.isnan(nll[1])
    assert textgen.generate_texts(predictor, [], max_new_tokens=3) == []


# --------------------------------------------------------------------------- fault tolerance


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_resumes_and_completes(tmp_path):
    rng = np.random.default_rng(0)
    text = "".join(LINES[i] for i in rng.integers(0, len(LINES), size=2500))  # ~130k chars
    (tmp_path / "big.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "rnn_apps.cli", "textgen", "train", "--text", "big.txt"]
    cmd += ["--output-dir", "run", *CLI_TINY[:-1], "3", "--no-export", "--seed", "1"]
    state = run_kill_and_resume_test(cmd, out, "lm", cwd=tmp_path, kill_after=1.0)
    # Resumed: the second run trained only the epochs after the last backup.
    assert 1 <= len(state["history"]["lm"]["loss"]) < 3


def test_fit_keeps_the_best_validation_epoch():
    # Memorising a repetitive corpus: a text of other words gets worse after its best epoch.
    other = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. " * 4
    cfg = TextGenConfig(**{**TINY, "units": 32, "epochs": 8, "learning_rate": 0.05})
    lm = TextGenerator(cfg).fit(CORPUS, other)
    val = lm.history_["lm"]["val_loss"]
    assert int(np.argmin(val)) < len(val) - 1, val  # the setup overfits
    got = lm.evaluate(other, chunks=cfg.val_chunks)["nats_per_token"]
    assert got == pytest.approx(min(val), rel=1e-4)
