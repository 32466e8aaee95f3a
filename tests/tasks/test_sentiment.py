"""Sentiment pipeline: tiny synthetic corpora, tiny models, bad input, export round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.sentiment import (
    SentimentClassifier,
    SentimentConfig,
    class_names_of,
    layers,
    load_text_data,
    load_text_dataframe,
    make_vectorizer,
    predict_saved_model,
    standardize_text,
    tokenize_batch,
)
from rnn_apps.testing import run_export_roundtrip_test

POS = ["great", "wonderful", "superb", "loved", "brilliant"]
NEG = ["awful", "boring", "terrible", "hated", "dull"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "was", "a", "and", "it"]

BAD_INPUTS = [
    "",
    "   \t\n ",
    "great " * 200_000,  # ~1.2 MB
    b"\xff\xfe\xc3\x28 invalid utf-8 \x80",
    "\U0001f600\U0001f44d\U0001f3ac",
    "<br /><br />",
]


def corpus(n: int, seed: int = 0, classes: tuple[list[str], ...] = (NEG, POS)):
    """Texts whose class is given by which word list dominates; labels are indices."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        k = i % len(classes)
        words = list(rng.choice(FILLER, size=rng.integers(3, 12)))
        words += list(rng.choice(classes[k], size=rng.integers(1, 3)))
        rng.shuffle(words)
        if rng.random() < 0.3:
            words.insert(int(rng.integers(len(words))), "<br /><br />")
        texts.append(" ".join(words))
        labels.append(k)
    return texts, labels


def tiny(**kw) -> SentimentConfig:
    base = dict(
        max_tokens=64,
        rnn_max_tokens=40,
        max_length=24,
        sequence_length=12,
        embedding_dim=8,
        units=4,
        dropout=0.0,
        head_dropout=0.0,
        ngram_buckets=128,
        ngram_epochs=6,
        epochs=6,
        batch_size=32,
        learning_rate=1e-2,
        patience=3,
        seed=7,
        verbose=0,
    )
    base.update(kw)
    return SentimentConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    texts, labels = corpus(320)
    names = ["negative", "positive"]
    clf = SentimentClassifier(tiny())
    clf.fit(
        texts,
        [names[k] for k in labels],
        work_dir=tmp_path_factory.mktemp("work"),
    )
    return clf


def _as_np(texts):
    return np.array([t if isinstance(t, bytes) else t.encode("utf-8") for t in texts], dtype=object)


# ---------------------------------------------------------------- preprocessing


def test_standardize_strips_markup_and_survives_bad_bytes():
    out = standardize_text(
        tf.constant(
            [
                b"Great FILM!<br /><br />Loved it.",
                b"\xff\xfe ok",
                "\u00c9T\u00c9 \U0001f600".encode(),
            ]
        )
    ).numpy()
    assert b"<br" not in out[0]
    assert out[0].split() == [b"great", b"film", b"!", b"loved", b"it", b"."]
    assert out[1].split() == [b"ok"]  # invalid bytes -> U+FFFD -> separator
    assert out[2].decode("utf-8").split() == ["\u00e9t\u00e9"]  # Unicode lower-casing, emoji out


def test_tokenize_right_pads_and_never_returns_empty_rows():
    vec = make_vectorizer(50)
    vec.adapt(tf.constant(["a b c d e", "a b"]))
    tokens = tokenize_batch(vec, tf.constant(["a b c d e f g", "", "b"]), 4).numpy()
    assert tokens.shape == (3, 4)
    assert (tokens[0] > 0).all()  # cut at max_length
    assert tokens[1].tolist() == [1, 0, 0, 0]  # empty -> one [UNK], right padded
    assert tokens[2, 0] > 1 and (tokens[2, 1:] == 0).all()


def test_head_tail_crop():
    crop = layers()["HeadTailCrop"](5, 2)
    x = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [9, 8, 7, 0, 0, 0, 0, 0]], dtype="int32")
    out = np.asarray(crop(x))
    assert out.tolist() == [[1, 2, 6, 7, 8], [9, 8, 7, 0, 0]]
    short = np.array([[4, 5, 0]], dtype="int32")
    assert np.asarray(crop(short)).tolist() == [[4, 5, 0]]


def test_ngram_hashing_ids():
    hashing = layers()["NgramHashing"](10, 7, 3)
    x = np.array([[2, 3, 4, 0], [5, 0, 0, 0]], dtype="int32")
    ids = np.asarray(hashing(x))
    assert ids.shape == (2, 12)
    assert ids[0, :4].tolist() == [2, 3, 4, 0]  # unigrams
    bigrams, trigrams = ids[0, 4:8], ids[0, 8:]
    assert (bigrams[:2] >= 10).all() and (bigrams[2:] == 0).all()
    assert trigrams[0] >= 10 and (trigrams[1:] == 0).all()
    assert (ids < 17).all()
    assert (ids[1, 1:] == 0).all()  # a one-token text has no n-grams


# ---------------------------------------------------------------- user data


def test_dataframe_csv_and_folder_inputs(tmp_path):
    df = pd.DataFrame({"review": ["good", "bad", "ok"], "stars": ["5", "1", "3"]})
    texts, labels = load_text_dataframe(df, "review", "stars")
    assert texts == ["good", "bad", "ok"] and labels == ["5", "1", "3"]
    df.to_csv(tmp_path / "d.csv", index=False)
    assert load_text_data(tmp_path / "d.csv", "review", "stars") == (texts, labels)
    for cls, text in (("pos", "nice"), ("neg", "awful"), ("neg", "meh")):
        folder = tmp_path / "dir" / cls
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{len(list(folder.iterdir()))}.txt").write_bytes(text.encode() + b"\xff")
    texts, labels = load_text_data(tmp_path / "dir")
    assert labels == ["neg", "neg", "pos"] and texts[2].startswith("nice")


def test_bad_user_data_messages(tmp_path):
    df = pd.DataFrame({"review": ["x"], "label": ["a"]})
    with pytest.raises(ValueError, match=r"no column.*'text'.*columns are \['review', 'label'\]"):
        load_text_dataframe(df)
    with pytest.raises(ValueError, match="empty"):
        load_text_dataframe(pd.DataFrame({"text": [], "label": []}))
    with pytest.raises(ValueError, match="does not exist"):
        load_text_data(tmp_path / "nope.csv")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="no texts"):
        load_text_data(tmp_path / "empty_dir")
    with pytest.raises(ValueError, match="at least two classes"):
        class_names_of(["pos", "pos"])
    with pytest.raises(UserInputError, match="at least two classes"):
        SentimentClassifier(tiny()).fit(["a", "b", "c", "d"], ["x"] * 4)
    with pytest.raises(ValueError, match="empty"):
        SentimentClassifier(tiny()).fit([], [])
    with pytest.raises(ValueError, match="Unknown sentiment option"):
        SentimentConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="not trained"):
        SentimentClassifier(tiny()).predict(["x"])


def test_positive_label_goes_last():
    assert class_names_of(["pos", "neg"]) == ["neg", "pos"]
    assert class_names_of(["good", "bad"], positive_label="good") == ["bad", "good"]
    assert class_names_of(["good", "zzz"], positive_label="good") == ["zzz", "good"]


# ---------------------------------------------------------------- training and serving


def test_fit_learns_and_evaluates(trained, tmp_path):
    texts, labels = corpus(120, seed=1)
    names = ["negative", "positive"]
    report = trained.evaluate(texts, [names[k] for k in labels], output_dir=tmp_path)
    assert report["accuracy"] > 0.8, report
    for key in ("precision", "recall", "f1", "roc_auc"):
        assert 0.0 <= report[key] <= 1.0
    assert np.asarray(report["confusion_matrix"]).sum() == 120
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000
    assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    assert json.loads((tmp_path / "metrics.json").read_text())["class_names"] == names
    assert set(trained.history_) == {"ngram", "rnn"}
    assert "val_loss" in trained.history_["rnn"]
    weights = trained.validation_metrics_["branch_weights"]
    assert len(weights) == 2 and min(weights) >= 0.0
    branch = trained.branch_probabilities(texts[:10])
    assert set(branch) == {"ngram_branch", "rnn_branch", "blend"}
    np.testing.assert_allclose(
        branch["blend"], trained.predict(texts[:10]).probabilities, atol=1e-5
    )


def test_predict_strings_and_bad_inputs(trained):
    pred = trained.predict(["wonderful superb film", "awful boring plot"])
    assert pred.labels == ["positive", "negative"]
    assert pred.probabilities.dtype == np.float32 and pred.probabilities.shape == (2,)
    bad = trained.predict(BAD_INPUTS)
    assert bad.probabilities.shape == (len(BAD_INPUTS),)
    assert np.isfinite(bad.probabilities).all()
    assert ((bad.probabilities >= 0) & (bad.probabilities <= 1)).all()
    assert set(bad.labels) <= {"negative", "positive"}
    # Order is kept although predict batches texts by length.
    one_by_one = [trained.predict([t]).probabilities[0] for t in BAD_INPUTS[:2]]
    np.testing.assert_allclose(bad.probabilities[:2], one_by_one, atol=1e-6)
    assert trained.predict([]).probabilities.shape == (0,)


def test_export_roundtrip_in_clean_process(trained, tmp_path):
    path = tmp_path / "sentiment"
    report = trained.export(path)
    assert report.verified
    meta = json.loads((path / "assets" / "metadata.json").read_text())
    assert meta["task"] == "sentiment" and meta["class_names"] == ["negative", "positive"]
    inputs = ["loved it, brilliant", "dull and terrible", *BAD_INPUTS]
    expected = trained.predict(inputs)
    run_export_roundtrip_test(
        path,
        "serving_default",
        {"text": _as_np(inputs)},
        {
            "probability": expected.probabilities,
            "label": np.array([s.encode() for s in expected.labels], dtype=object),
        },
    )
    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures["serving_default"]
    (spec,) = fn.structured_input_signature[1].values()
    assert spec.dtype == tf.string and spec.shape.as_list() == [None]
    assert fn.structured_outputs["probability"].dtype == tf.float32
    assert fn.structured_outputs["probability"].shape.as_list() == [None]
    assert fn.structured_outputs["label"].dtype == tf.string
    served = predict_saved_model(path, inputs)
    np.testing.assert_allclose(served.probabilities, expected.probabilities, atol=1e-5)


def test_save_load_pipeline(trained, tmp_path):
    trained.save(tmp_path / "pipe")
    again = SentimentClassifier.load(tmp_path / "pipe")
    texts = ["great film", "boring plot", ""]
    np.testing.assert_allclose(
        again.predict(texts).probabilities, trained.predict(texts).probabilities, atol=1e-6
    )
    with pytest.raises(ValueError, match="not a saved sentiment pipeline"):
        SentimentClassifier.load(tmp_path)


def test_multiclass_csv_through_cli(tmp_path, capsys):
    from rnn_apps.cli import main

    classes = (NEG, POS, ["okay", "average", "fine", "decent", "mixed"])
    texts, labels = corpus(240, seed=3, classes=classes)
    names = ["bad", "good", "meh"]
    pd.DataFrame({"review": texts, "sentiment": [names[k] for k in labels]}).to_csv(
        tmp_path / "reviews.csv", index=False
    )
    cfg = tiny()
    overrides = {
        k: getattr(cfg, k)
        for k in ("max_tokens", "max_length", "sequence_length", "embedding_dim", "units")
    } | {
        "ngram_buckets": 128,
        "ngram_epochs": 3,
        "verbose": 0,
        "learning_rate": 1e-2,
        "dropout": 0.0,
    }
    (tmp_path / "cfg.yaml").write_text("\n".join(f"{k}: {v}" for k, v in overrides.items()))
    out = tmp_path / "run"
    argv = ["sentiment", "train", "--data", str(tmp_path / "reviews.csv")]
    argv += ["--text-column", "review", "--label-column", "sentiment", "--epochs", "2"]
    argv += ["--config", str(tmp_path / "cfg.yaml"), "--output-dir", str(out), "--seed", "1"]
    assert main(argv) == 0
    model = out / "saved_model"
    assert (out / "learning_curves.png").is_file()
    capsys.readouterr()
    assert main(["sentiment", "predict", "--model", str(model), "superb loved", ""]) == 0
    lines = [json.loads(s) for s in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 2 and all(len(d["probability"]) == 3 for d in lines)
    assert lines[0]["label"] in names
    pred = predict_saved_model(model, BAD_INPUTS)
    assert pred.probabilities.shape == (len(BAD_INPUTS), 3)
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (
        main(
            [
                "sentiment",
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(tmp_path / "reviews.csv"),
                "--text-column",
                "review",
                "--label-column",
                "sentiment",
                "--output-dir",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["accuracy"] > 0.5
    assert (
        main(
            [
                "sentiment",
                "export",
                "--pipeline",
                str(out / "pipeline"),
                "--output-dir",
                str(tmp_path / "exported"),
            ]
        )
        == 0
    )
    again = predict_saved_model(tmp_path / "exported", BAD_INPUTS)
    np.testing.assert_allclose(again.probabilities, pred.probabilities, atol=1e-5)
    # Bad input on the command line: one line, exit status 2.
    assert main(["sentiment", "train", "--data", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_tfidf_bag_is_binary_idf_weighted_and_normalised():
    bag = layers()["TfidfBag"](6, 1, scale=2.0)
    bag.build((None, None))
    bag.set_idf(np.array([0, 1, 3, 3, 3, 3]), num_docs=3)  # id 1 rare, others common
    bag.kernel.assign(np.array([[0.0], [1.0], [0.0], [0.0], [0.0], [0.0]], "float32"))
    once = np.asarray(bag(np.array([[1, 2, 0]], "int32")))
    twice = np.asarray(bag(np.array([[1, 1, 2, 2, 0]], "int32")))
    np.testing.assert_allclose(once, twice, atol=1e-6)  # repeated ids count once
    idf = np.log(4.0 / np.array([2.0, 4.0])) + 1.0  # ids 1 and 2
    np.testing.assert_allclose(once[0, 0], 2.0 * idf[0] / np.linalg.norm(idf), rtol=1e-5)
    assert np.asarray(bag(np.zeros((1, 3), "int32"))).tolist() == [[0.0]]  # empty bag


def test_cap_ids():
    cap = layers()["CapIds"](5, 1)
    assert np.asarray(cap(np.array([[2, 7, 4, 0]], "int32"))).tolist() == [[2, 1, 4, 0]]


def test_fit_under_a_mirrored_strategy_builds_in_its_scope():
    texts, labels = corpus(160, seed=4)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    clf = SentimentClassifier(tiny(epochs=2, ngram_epochs=2)).fit(texts, labels, strategy=strategy)
    rnn = clf.model_.get_layer("rnn_branch")
    assert all(isinstance(v.value, tf.distribute.DistributedValues) for v in rnn.weights)
    assert clf.predict(["great film"]).probabilities.shape == (1,)
    with pytest.raises(UserInputError, match="strategy must be one of"):
        SentimentClassifier(tiny()).fit(texts, labels, strategy=object())


def test_nb_ratio_weights_follow_the_classes():
    bag = layers()["TfidfBag"](4, 1)
    bag.build((None, None))
    # id 1 only in positive docs, id 2 only in negative ones, id 3 in both equally.
    bag.set_nb_ratio(pos_freq=np.array([0, 9, 0, 5]), neg_freq=np.array([0, 0, 9, 5]))
    r = np.asarray(bag.idf)
    assert r[1] > 0 > r[2] and abs(r[3]) < 1e-6 and abs(r[1] + r[2]) < 1e-6


def test_fit_sets_nb_ratios_for_two_classes_and_idf_for_more():
    texts, labels = corpus(120, seed=5)
    clf = SentimentClassifier(tiny(epochs=1, ngram_epochs=1)).fit(texts, labels)
    table = np.asarray(clf.model_.get_layer("ngram_branch").get_layer("ngram_logits").idf)
    vocab = clf.vectorizer_.get_vocabulary()
    assert table[vocab.index("great")] > 0 > table[vocab.index("awful")]  # class 1 = POS
    three = (NEG, POS, ["meh", "okay", "average"])
    texts3, labels3 = corpus(120, seed=6, classes=three)
    clf3 = SentimentClassifier(tiny(epochs=1, ngram_epochs=1)).fit(texts3, labels3)
    idf = np.asarray(clf3.model_.get_layer("ngram_branch").get_layer("ngram_logits").idf)
    assert idf[2:].min() >= 1.0  # IDF values: log(...) + 1 >= 1
    with pytest.raises(UserInputError, match="ngram_weighting"):
        SentimentConfig(ngram_weighting="bm25")
