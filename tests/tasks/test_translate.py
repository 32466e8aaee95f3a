"""Translation pipeline: a tiny synthetic parallel corpus, tiny models, the CLI with relative
paths, greedy vs beam search, the signature of the export, bad input. What every task shares
(every signature on an empty batch, the export verified in a clean process, save/load, the
training layout, --json, --help) is held by `run_task_test` (test_task_contract.py).

One model is trained once per module through `rnn-apps translate train` (from a changed
working directory, relative paths); most tests use it through `--model` or `load`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnn_apps.cli import main
from rnn_apps.data.fra_eng import split_pairs
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import SavedModelPredictor
from rnn_apps.tasks.translate import (
    MAX_BEAM_WIDTH,
    MAX_DECODE_CAP,
    MAX_TRANSLATE_BATCH,
    TranslateConfig,
    TranslatePreprocessor,
    Translator,
    beam_search,
    corpus_scores,
    greedy_decode,
    standardize,
    translate_texts,
)
from rnn_apps.testing import run_kill_and_resume_test

SUBJECTS = [("I am", "Je suis"), ("Tom is", "Tom est"), ("We are", "Nous sommes")]
ADJECTIVES = [
    ("tired", "fatigué"),
    ("happy", "heureux"),
    ("ready", "prêt"),
    ("here", "ici"),
    ("late", "en retard"),
    ("sick", "malade"),
]
TINY = {
    "embedding_dim": 16,
    "units": 24,
    "batch_size": 8,
    "learning_rate": 0.02,
    "dropout": 0.0,
    "label_smoothing": 0.0,
    "patience": 5,
    "max_tokens": 12,
    "max_decode_length": 12,
    "beam_width": 3,
    "verbose": 0,
}


def corpus() -> pd.DataFrame:
    """English/French pairs; some sources have two references (`Where is X?`)."""
    rows = []
    for s_en, s_fr in SUBJECTS:
        for a_en, a_fr in ADJECTIVES:
            rows.append((f"{s_en} {a_en}.", f"{s_fr} {a_fr}."))
            rows.append((f"{s_en} not {a_en}.", f"{s_fr.replace(' ', ' ne ', 1)} pas {a_fr}."))
    for name in ("Tom", "Mary", "the cat", "the dog"):
        fr = {"the cat": "le chat", "the dog": "le chien"}.get(name, name)
        rows.append((f"Where is {name}?", f"Où est {fr}\u202f?"))
        rows.append((f"Where is {name}?", f"{fr.capitalize()} est où\u202f?"))
    return pd.DataFrame(rows * 3, columns=["english", "french"])


def run_cli(*argv: str) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder holding `pairs.tsv`, `tiny.yaml` and the run `runs/t` trained by `rnn-apps
    translate train` with relative paths from inside it."""
    d = tmp_path_factory.mktemp("translate")
    corpus().to_csv(d / "pairs.tsv", sep="\t", header=False, index=False)
    (d / "tiny.yaml").write_text("\n".join(f"{k}: {v}" for k, v in TINY.items()))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d)
        code = run_cli(
            "translate", "train", "--data", "pairs.tsv", "--config", "tiny.yaml",
            "--epochs", "25", "--seed", "3", "--max-test", "50", "--output-dir", "runs/t",
        )  # fmt: skip
    assert code == 0
    return d


@pytest.fixture(scope="module")
def trained(workdir):
    return Translator.load(workdir / "runs" / "t")


# ---------------------------------------------------------------- preprocessing


def test_standardize_spacing_punctuation_and_nfc():
    texts = tf.constant(
        [
            "Où est Tom\u202f? Il\u00a0est là\u00a0!",
            "C'est l'e\u0301te\u0301, « oui ».",
            "Don’t go (now)...",
            "  \t ",
            "\xff bad",
        ]
    )
    out = [s.decode("utf-8") for s in standardize(texts).numpy()]
    assert out[0] == "où est tom ? il est là !"
    assert out[1] == "c ' est l ' été , \" oui \" ."
    assert "é" in out[1] and "\u0301" not in out[1]
    assert out[2] == "don ' t go ( now ) . . ."
    assert out[3] == ""


def test_detokenize_round_trip_in_both_languages():
    en = ["Don't go, Tom!", "Where is Mary?", "It's 5 o'clock (now)."]
    fr = ["J'ai froid.", "Où est Tom ?", "Qu'est-ce que c'est ?", "Arrête !"]
    for lang, sentences in (("en", en), ("fr", fr)):
        pre = TranslatePreprocessor(100, 100, 20, lang).adapt(sentences * 2, sentences * 2)
        ids = pre.target_ragged(tf.constant(sentences)).to_tensor()
        back = [s.decode("utf-8") for s in pre.detokenize(ids).numpy()]
        assert back == sentences, lang
    # The narrow no-break space of the data becomes a plain space.
    ids = pre.target_ragged(tf.constant(["Où est Tom\u202f?"])).to_tensor()
    assert pre.detokenize(ids).numpy()[0].decode() == "Où est Tom ?"


def test_source_is_cut_at_max_tokens_and_blank_rows_stay():
    pre = TranslatePreprocessor(50, 50, 5, "fr").adapt(["a b c"], ["x y"])
    ids = pre.encode_source(tf.constant(["a " * 40, "", "zzz unknown"]))
    assert ids.shape == (3, 5)
    assert ids.numpy()[1].tolist() == [0] * 5
    assert ids.numpy()[2][:2].tolist() == [1, 1]  # [UNK]


# ---------------------------------------------------------------- config and data


def test_wrong_types_and_values_are_refused():
    with pytest.raises(UserInputError, match="units"):
        TranslateConfig.from_dict({"units": "big"})
    with pytest.raises(UserInputError, match="attention"):
        TranslateConfig(attention="luong").validate()
    with pytest.raises(UserInputError, match="direction"):
        TranslateConfig.from_dict({"direction": "en-de"})
    with pytest.raises(UserInputError, match="option 'lr_schedule' was removed"):
        TranslateConfig.from_dict({"lr_schedule": "cosine"})
    with pytest.raises(UserInputError, match="unknown|Unknown"):
        TranslateConfig.from_dict({"beam": 3})
    from rnn_apps.tasks.sentiment import SentimentConfig

    with pytest.raises(UserInputError, match="TranslateConfig"):
        Translator(SentimentConfig())


def test_split_keeps_every_source_sentence_on_one_side():
    splits = split_pairs(corpus(), fractions=(0.6, 0.2, 0.2), seed=1)
    sides = [set(p["source"]) for p in (splits.train, splits.validation, splits.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    multi = corpus().groupby("english")["french"].nunique()
    for s in multi[multi > 1].index:
        part = [k for k, side in enumerate(sides) if s in side]
        assert len(part) == 1


def test_corpus_scores_use_every_reference():
    one = corpus_scores(["Tom est où ?"], [["Où est Tom ?"]])
    two = corpus_scores(["Tom est où ?"], [["Où est Tom ?", "Tom est où ?"]])
    assert two["bleu"] == pytest.approx(100.0) and one["bleu"] < 100.0


# ---------------------------------------------------------------- the trained model


def test_train_report_plots_and_translations(workdir, trained):
    run = workdir / "runs" / "t"  # the layout (pipeline/, saved_model/, ...): run_task_test
    for png in ("learning_curves.png", "attention.png"):
        assert (run / png).stat().st_size > 1000, png
    report = json.loads((run / "report.json").read_text())
    assert report["export"]["verified"]
    assert set(report["test"]["bleu"]) == {"greedy", "beam"}
    avg = trained.weight_average_  # the moving average of the weights, compared on validation
    assert avg["kept_average"] == float(avg["val_loss_average"] < avg["val_loss_raw"])
    out = trained.translate(["I am tired.", "Tom is not happy.", "Where is Tom?"], beam_width=3)
    assert out[0] == "Je suis fatigué."
    assert out[1] == "Tom n'est pas heureux." or out[1].startswith("Tom")


def test_beam_width_one_equals_greedy(trained):
    pre = trained.preprocessor_
    text = tf.constant(["I am tired.", "We are not late.", "Where is the dog?", ""])
    source = pre.encode_source(text)
    dec = trained._decoder()
    g_tokens, g_score = greedy_decode(dec, source, 12)
    b_tokens, b_score = beam_search(dec, source, 1, 12)
    np.testing.assert_array_equal(g_tokens.numpy(), b_tokens.numpy())
    np.testing.assert_allclose(g_score.numpy(), b_score.numpy(), atol=1e-6)
    run = trained.run
    greedy = run("translate", text=text.numpy(), beam_width=1, max_length=12)
    beam1 = run("translate", text=text.numpy(), beam_width=1, max_length=12)
    assert list(greedy["translation"]) == list(beam1["translation"])


def test_beam_search_scores_at_least_greedy(trained):
    texts = corpus()["english"].unique().tolist() + ["Mary is not sick.", "Tom is the cat."]
    greedy = translate_texts(trained, texts, beam_width=1)
    beam = translate_texts(trained, texts, beam_width=4)
    assert np.all(beam["score"] >= greedy["score"] - 1e-5)
    # The raw beam (without the greedy fallback) also reaches greedy's objective on average.
    source = trained.preprocessor_.encode_source(tf.constant(texts))
    _, raw = beam_search(trained._decoder(), source, 4, 12)
    assert float(np.mean(raw.numpy())) >= float(np.mean(greedy["score"])) - 1e-5


def test_bad_inputs_give_valid_output(trained):
    texts = ["", "   ", "I am zzqxwv.", "\U0001f600\U0001f44d", "tired " * 5000]
    res = translate_texts(trained, texts, beam_width=3)
    assert list(res["translation"][:2]) == ["", ""]
    assert res["score"][0] == 0.0 and np.all(np.isfinite(res["score"]))
    with pytest.raises(UserInputError, match=r"texts\[1\] is not valid UTF-8"):
        translate_texts(trained, ["I am tired.", b"\xff\xfe\xc3\x28"])
    # An empty batch through every signature: run_task_test.
    short = trained.run("translate", text=np.array([b"I am tired."]), beam_width=2, max_length=1)
    assert short["translation"].shape == (1,)


# ---------------------------------------------------------------- export and CLI


def test_export_signature_greedy_and_beam_match_in_process(workdir, trained):
    # Loading without rnn_apps and the sample inputs of every signature: run_task_test. Here:
    # the translate signature's specs, greedy and beam decoding and blank rows, as exported.
    m = tf.saved_model.load(str(workdir / "runs" / "t" / "saved_model"))
    assert {"serving_default", "translate"} <= set(m.signatures)
    fn = m.signatures["translate"]
    spec = fn.structured_input_signature[1]
    assert {k: [v.dtype.name, v.shape.as_list()] for k, v in spec.items()} == {
        "text": ["string", [None]],
        "beam_width": ["int32", []],
        "max_length": ["int32", []],
    }
    outputs = {k: [v.dtype.name, v.shape.as_list()] for k, v in fn.structured_outputs.items()}
    assert outputs == {"translation": ["string", [None]], "score": ["float32", [None]]}
    texts = ["I am tired.", "", "  ", "Where is Tom?"]
    for k in (1, 3):  # same translations and scores as in process
        got = fn(text=tf.constant(texts), beam_width=tf.constant(k), max_length=tf.constant(12))
        here = translate_texts(trained, texts, beam_width=k, max_length=12)
        translations = [t.decode() for t in got["translation"].numpy()]
        assert translations == list(here["translation"]) and translations[1:3] == ["", ""]
        np.testing.assert_allclose(got["score"].numpy(), here["score"], atol=1e-4)
    empty = fn(
        text=tf.constant([], tf.string), beam_width=tf.constant(3), max_length=tf.constant(9)
    )
    assert empty["translation"].shape == (0,) and empty["score"].shape == (0,)
    # Out-of-range requests are refused, never clipped; the batch is capped.
    for kw, match in [
        ({"beam_width": MAX_BEAM_WIDTH + 1}, "beam_width must be 1"),
        ({"beam_width": 0}, "beam_width must be 1"),
        ({"max_length": 0}, "max_length must be 1"),
        ({"max_length": MAX_DECODE_CAP + 1}, "max_length must be 1"),
        ({"text": ["I am."] * (MAX_TRANSLATE_BATCH + 1)}, f"at most {MAX_TRANSLATE_BATCH} sen"),
    ]:
        args = {"text": ["I am."], "beam_width": 2, "max_length": 5, **kw}
        with pytest.raises(tf.errors.InvalidArgumentError, match=match):
            fn(**{k: tf.constant(v) for k, v in args.items()})
    with pytest.raises(UserInputError, match="batch_size must be 1 to 256"):
        translate_texts(trained, ["I am."], batch_size=MAX_TRANSLATE_BATCH + 1)
    default = m.signatures["serving_default"](text=tf.constant(texts))["translation"].numpy()
    assert [t.decode() for t in default] == list(translate_texts(trained, texts)["translation"])


def test_predict_evaluate_export_with_relative_paths(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    capsys.readouterr()
    rows = {}
    for model in ("runs/t", "runs/t/saved_model"):
        code = run_cli(
            "translate", "predict", "--model", model, "I am happy.", "", "--beam-width", "2"
        )
        assert code == 0
        rows[model] = [json.loads(s) for s in capsys.readouterr().out.strip().splitlines()]
    assert rows["runs/t"] == rows["runs/t/saved_model"]
    assert rows["runs/t"][1]["translation"] == "" and len(rows["runs/t"]) == 2
    for model, out in (("runs/t", "ev1"), ("runs/t/saved_model", "ev2")):
        args = ["--data", "pairs.tsv", "--max-test", "20", "--output-dir", out]
        assert run_cli("translate", "evaluate", "--model", model, *args) == 0
        assert "BLEU" in capsys.readouterr().out
        report = json.loads((workdir / out / "report.json").read_text())
        assert report["num_test_sentences"] == 20 and report["bleu"]["beam"] >= 0
    assert (workdir / "ev1" / "attention.png").is_file()
    assert run_cli("translate", "export", "--model", "runs/t", "--output-dir", "rel/x") == 0
    again = translate_texts(SavedModelPredictor(workdir / "rel" / "x"), ["I am happy.", ""])
    assert list(again["translation"]) == [r["translation"] for r in rows["runs/t"]]


def test_fr_en_direction_and_no_attention_from_the_cli(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    code = run_cli(
        "translate", "train", "--data", "pairs.tsv", "--config", "tiny.yaml", "--epochs", "2",
        "--direction", "fr-en", "--attention", "none",
        "--no-export", "--max-test", "5", "--output-dir", "runs/fr",
    )  # fmt: skip
    assert code == 0
    tr = Translator.load(Path("runs/fr"))
    assert tr.config.direction == "fr-en" and tr.config.attention is None
    assert len(tr.translate(["Je suis prêt."])) == 1


def test_killed_training_resumes_from_backup(workdir, tmp_path):
    big = pd.concat([corpus()] * 6, ignore_index=True)
    big.to_csv(tmp_path / "pairs.tsv", sep="\t", header=False, index=False)
    cmd = [
        sys.executable, "-m", "rnn_apps.cli", "translate", "train", "--data", "pairs.tsv",
        "--config", str(workdir / "tiny.yaml"), "--epochs", "4", "--no-export",
        "--max-test", "5", "--output-dir", "run",
    ]  # fmt: skip
    # Kills a little after the first backup appeared (mid-way through the next epoch).
    state = run_kill_and_resume_test(cmd, Path("run"), "seq2seq", cwd=tmp_path, timeout=600)
    assert 1 <= len(state["history"]["seq2seq"]["loss"]) < 4  # resumed after a backup


def test_pretrained_source_word_vectors_start_the_encoder_embedding(tmp_path):
    from rnn_apps.tasks.translate import model as model_lib

    vectors = {"i": [0.5, -1.0, 2.0, 0.0], "tired": [1.0, 1.0, 1.0, 1.0]}
    path = tmp_path / "en.vec"
    path.write_text("2 4\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()))
    cfg = TranslateConfig(embedding_dim=4, units=4, word_vectors=str(path))
    parts = model_lib.build_translation_model(cfg, 10, 10)
    vocab = ["", "[UNK]", "i", "am", "tired", "."]
    coverage = model_lib.set_source_word_vectors(parts.training_model, cfg, vocab)
    emb = parts.training_model.get_layer("encoder_embedding").embeddings.numpy()
    np.testing.assert_allclose(emb[[2, 4]], [vectors["i"], vectors["tired"]])
    assert coverage == 0.5 and not emb[0].any() and not emb[6:].any()
    wide = cfg.replace(embedding_dim=8)
    with pytest.raises(UserInputError, match="vectors of 4 values but embedding_dim is 8"):
        model_lib.set_source_word_vectors(
            model_lib.build_translation_model(wide, 10, 10).training_model, wide, vocab
        )
