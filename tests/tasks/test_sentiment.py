"""Sentiment pipeline: tiny synthetic corpora, tiny models, the CLI with relative paths, bad
input (IMDB-shaped data and the committed IMDB export: test_sentiment_cli.py). What every task
shares (signatures, empty batches, export verified in a clean process, save/load, the training
layout, --json, --help) is held by `run_task_test` (test_task_contract.py); this file keeps what
is particular to sentiment.

One binary model is trained once per module through `rnn-apps sentiment train` (from a
changed working directory, relative paths); most tests use it through `--model` or `load`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import SavedModelPredictor
from rnn_apps.tasks.sentiment import (
    MAX_TEXT_BATCH,
    SentimentClassifier,
    SentimentConfig,
    SentimentPreprocessor,
    class_names_of,
    load_text_data,
    load_text_dataframe,
    predict_texts,
    standardize_text,
)
from tests.tasks.sentiment_data import (
    BAD_INPUTS,
    NEG,
    POS,
    TINY,
    corpus,
    run_cli,
    write_csv,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working folder holding `reviews.csv`, `tiny.yaml` and the run `runs/s` trained by
    `rnn-apps sentiment train` with relative paths from inside it."""
    d = tmp_path_factory.mktemp("sentiment")
    write_csv(d / "reviews.csv", 320)
    (d / "tiny.yaml").write_text("\n".join(f"{k}: {v}" for k, v in TINY.items()))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d)
        code = run_cli(
            "sentiment", "train", "--data", "reviews.csv", "--text-column", "review",
            "--label-column", "sentiment", "--config", "tiny.yaml", "--epochs", "6",
            "--seed", "7", "--output-dir", "runs/s",
        )  # fmt: skip
    assert code == 0
    return d


@pytest.fixture(scope="module")
def trained(workdir):
    return SentimentClassifier.load(workdir / "runs" / "s")


# ---------------------------------------------------------------- preprocessing


def test_standardize_strips_markup_and_survives_bad_bytes():
    raw = [
        b"Great FILM!<br /><br />Loved it.",
        b"\xff\xfe ok",
        "\u00c9T\u00c9 \U0001f600".encode(),
        b"<SCRIPT type='x'>alert(1)\n</script> Great <b>film</b>! <style>p {}</style>"
        b"Tom &amp; Jerry &lt;3 &quot;ok&quot; <!-- note --> <a href='x'>link</a>",
    ]
    out = standardize_text(tf.constant(raw)).numpy()
    assert out[0].split() == [b"great", b"film", b"!", b"loved", b"it", b"."]
    assert out[1].split() == [b"ok"]  # invalid bytes -> U+FFFD -> separator
    assert out[2].decode("utf-8").split() == ["\u00e9t\u00e9"]  # Unicode lower-casing, emoji out
    assert out[3].split() == b'great film ! tom jerry 3 " ok " link'.split()


def test_preprocessor_pads_never_empties_and_inverts():
    pre = SentimentPreprocessor(50, 4, ["neg", "pos"]).adapt(["a b c d e", "a b"])
    tokens = pre(tf.constant(["a b c d e f g", "", "b"])).numpy()
    assert tokens.shape == (3, 4)
    assert (tokens[0] > 0).all()  # cut at max_length
    assert tokens[1].tolist() == [1, 0, 0, 0]  # empty -> one [UNK], right padded
    assert tokens[2, 0] > 1 and (tokens[2, 1:] == 0).all()
    assert pre(tf.constant([], tf.string)).shape == (0, 1)  # an empty batch still runs
    assert pre.detokenize(tokens).numpy().tolist() == [b"a b c d", b"[UNK]", b"b"]
    out = pre.postprocess(tf.constant([[2.0], [-1.0]]))
    assert out["label"].numpy().tolist() == [b"pos", b"neg"]
    again = SentimentPreprocessor.from_state(pre.get_state(), 50, 4)
    x = tf.constant(["c a"])
    assert again(x).numpy().tolist() == pre(x).numpy().tolist()


# ---------------------------------------------------------------- user data and options


def test_dataframe_csv_and_folder_inputs(tmp_path):
    df = pd.DataFrame({"review": ["good", "bad", "ok"], "stars": [5, 1, 3]})
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
    with pytest.raises(UserInputError, match=r"no column.*'text'.*are \['review', 'label'\]"):
        load_text_dataframe(df)
    with pytest.raises(UserInputError, match="empty"):
        load_text_dataframe(pd.DataFrame({"text": [], "label": []}))
    with pytest.raises(UserInputError, match="does not exist"):
        load_text_data(tmp_path / "nope.csv")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(UserInputError, match="no texts"):
        load_text_data(tmp_path / "empty_dir")
    with pytest.raises(UserInputError, match="at least two classes"):
        class_names_of(["pos", "pos"])
    assert class_names_of(["pos", "neg"]) == ["neg", "pos"]  # the positive label goes last
    assert class_names_of(["good", "bad"], positive_label="good") == ["bad", "good"]
    assert class_names_of(["good", "zzz"], positive_label="good") == ["zzz", "good"]
    with pytest.raises(UserInputError, match="at least two classes"):
        SentimentClassifier(SentimentConfig(**TINY)).fit(["a", "b", "c", "d"], ["x"] * 4)
    with pytest.raises(UserInputError, match="empty"):
        SentimentClassifier(SentimentConfig(**TINY)).fit([], [])
    with pytest.raises(UserInputError, match="not trained"):
        SentimentClassifier(SentimentConfig(**TINY)).predict(["x"])


def test_nan_labels_are_refused(tmp_path, capsys):
    with pytest.raises(UserInputError, match=r"1 of the labels are missing.*row 2"):
        SentimentClassifier().fit(["a", "b", "c", "d"], ["pos", "neg", float("nan"), "pos"])
    with pytest.raises(UserInputError, match="missing"):
        class_names_of(["pos", None, "neg"])
    (tmp_path / "d.csv").write_text("text,label\ngood,pos\nbad,\nfine,neg\n")
    with pytest.raises(UserInputError, match=r"column 'label'.*row 1"):
        load_text_data(tmp_path / "d.csv")
    assert run_cli("sentiment", "train", "--data", tmp_path / "d.csv") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing (NaN/None)" in err


def test_config_type_and_range_errors_name_the_key(tmp_path, capsys):
    # Unknown keys and wrong types in general: test_base.py; an infinite rate: run_task_test.
    with pytest.raises(UserInputError, match="'ngram_weighting' must be one of"):
        SentimentClassifier(ngram_weighting="bm25")
    with pytest.raises(UserInputError, match="'ema_momentum' must be in"):
        SentimentClassifier(ema_momentum=1.0)
    with pytest.raises(UserInputError, match="'distill_rounds' was removed"):
        SentimentClassifier(distill_rounds=2)
    with pytest.raises(UserInputError, match="SentimentConfig"):
        SentimentClassifier({"epochs": 1})
    (tmp_path / "bad.yaml").write_text("learning_rate: fast\n")
    assert run_cli("sentiment", "train", "--config", tmp_path / "bad.yaml") == 2
    assert "learning_rate" in capsys.readouterr().err


def test_fit_takes_the_base_signature_and_refuses_unknown_fit_params():
    clf = SentimentClassifier(SentimentConfig(**TINY))
    with pytest.raises(UserInputError, match=r"unknown parameter 'grups'.*accepts.*groups"):
        clf.fit(["a", "b", "c", "d"], ["x", "y"] * 2, grups=["m"] * 4)
    with pytest.raises(UserInputError, match="fit needs labels"):
        clf.fit(["a", "b", "c", "d"])
    with pytest.raises(UserInputError, match="validation data once"):
        clf.fit((["a", "b"], ["x", "y"]), (["c"], ["x"]), validation_data=(["d"], ["y"]))
    assert not hasattr(clf, "_pending_fit_params")


def test_a_pipeline_saved_with_the_retired_options_off_still_loads(trained, workdir, tmp_path):
    import shutil

    from rnn_apps.tasks.sentiment.config import RETIRED_OPTIONS

    old = tmp_path / "old"
    shutil.copytree(workdir / "runs" / "s" / "pipeline", old)
    state = json.loads((old / "pipeline.json").read_text())
    state["config"].update(RETIRED_OPTIONS)  # what pipelines saved before their removal hold
    state.update({"num_augmented": 0, "distill_rounds": [{"round": 1}]})
    (old / "pipeline.json").write_text(json.dumps(state))
    again = SentimentClassifier.load(old)
    assert again.config == trained.config
    texts = ["superb loved", "awful boring"]
    np.testing.assert_allclose(
        again.predict(texts).probabilities, trained.predict(texts).probabilities, atol=1e-6
    )
    state["config"]["adversarial_epsilon"] = 0.05
    (old / "pipeline.json").write_text(json.dumps(state))
    with pytest.raises(UserInputError, match="'adversarial_epsilon' was removed"):
        SentimentClassifier.load(old)


# ---------------------------------------------------------------- the command line


def test_train_report_and_plots(workdir):
    # The layout (pipeline/, saved_model/, report.json, no backup): run_task_test.
    run = workdir / "runs" / "s"
    for png in ("learning_curves.png", "confusion_matrix.png"):
        assert (run / png).stat().st_size > 1000, png
    report = json.loads((run / "report.json").read_text())
    val = report["validation"]
    assert val["accuracy"] > 0.8 and val["class_names"] == ["negative", "positive"]
    assert set(val["branches"]) >= {"branch_ngram_branch_accuracy", "blend_accuracy"}
    assert report["export"]["verified"] and "/" not in report["data"]


def test_predict_evaluate_export_with_relative_paths(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    capsys.readouterr()
    # The same outputs from the run and its export: run_task_test.
    for model in ("runs/s", "runs/s/saved_model"):
        assert run_cli("sentiment", "predict", "--model", model, "superb loved", "") == 0
        rows = [json.loads(s) for s in capsys.readouterr().out.strip().splitlines()]
        assert len(rows) == 2 and rows[0]["label"] == "positive", rows
    data = ["--data", "reviews.csv", "--text-column", "review", "--label-column", "sentiment"]
    for model, out in (("runs/s", "ev1"), ("runs/s/saved_model", "ev2")):
        assert run_cli("sentiment", "evaluate", "--model", model, *data, "--output-dir", out) == 0
        assert "accuracy" in capsys.readouterr().out
        report = json.loads((workdir / out / "report.json").read_text())
        assert report["accuracy"] > 0.8 and (workdir / out / "confusion_matrix.png").is_file()
    assert run_cli("sentiment", "export", "--model", "runs/s", "--output-dir", "rel/x") == 0
    assert (workdir / "rel" / "x" / "saved_model.pb").is_file()


# ---------------------------------------------------------------- the trained classifier


def test_evaluate_branches_and_ngram_weights(trained, workdir, tmp_path):
    from rnn_apps.tasks.sentiment import evaluate_texts

    texts, labels = corpus(120, seed=1)
    names = ["negative", "positive"]
    labels = [names[k] for k in labels]
    report = trained.evaluate(texts, labels, output_dir=tmp_path)
    assert report["accuracy"] > 0.8, report
    for key in ("precision", "recall", "f1", "roc_auc"):
        assert 0.0 <= report[key] <= 1.0
    assert np.asarray(report["confusion_matrix"]).sum() == 120
    for png in ("confusion_matrix.png", "learning_curves.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert json.loads((tmp_path / "metrics.json").read_text())["class_names"] == names
    assert set(trained.history_) == {"ngram", "rnn"} and "val_loss" in trained.history_["rnn"]
    assert min(trained.validation_metrics_["branch_weights"]) >= 0.0
    table = np.asarray(trained.model_.get_layer("ngram_branch").get_layer("ngram_logits").idf)
    vocab = trained.preprocessor_.get_vocabulary()
    assert table[vocab.index("great")] > 0 > table[vocab.index("awful")]  # NB ratios
    with pytest.raises(UserInputError, match=r"not classes of the model"):
        trained.evaluate(["x"], ["maybe"])
    # Accuracy by branch, in process and from the export alike.
    exported = SavedModelPredictor(workdir / "runs" / "s" / "saved_model")
    a, b = evaluate_texts(trained, texts, labels), evaluate_texts(exported, texts, labels)
    assert set(a["branch_accuracy"]) == {"ngram_branch", "rnn_branch", "blend"}
    assert a["branch_accuracy"] == b["branch_accuracy"]
    assert a["branch_accuracy"]["blend"] == a["accuracy"]


def test_predict_strings_bad_inputs_and_empty_batches(trained, workdir):
    pred = trained.predict(["wonderful superb film", "awful boring plot"])
    assert pred.labels == ["positive", "negative"]
    assert pred.probabilities.dtype == np.float32 and pred.probabilities.shape == (2,)
    bad = trained.predict(BAD_INPUTS)
    assert bad.probabilities.shape == (len(BAD_INPUTS),)
    assert ((bad.probabilities >= 0) & (bad.probabilities <= 1)).all()
    # Order is kept although predict batches texts by length.
    one_by_one = [trained.predict([t]).probabilities[0] for t in BAD_INPUTS[:2]]
    np.testing.assert_allclose(bad.probabilities[:2], one_by_one, atol=1e-6)
    exported = SavedModelPredictor(workdir / "runs" / "s" / "saved_model")
    for model in (trained, exported):  # `run` on an empty batch: run_task_test
        assert predict_texts(model, []).probabilities.shape == (0,)
    served = predict_texts(exported, BAD_INPUTS)
    np.testing.assert_allclose(served.probabilities, bad.probabilities, atol=1e-5)
    assert served.labels == bad.labels
    assert trained.branch_probabilities([])["blend"].shape == (0,)


def test_signatures_refuse_more_texts_than_the_cap(trained, workdir):
    m = tf.saved_model.load(str(workdir / "runs" / "s" / "saved_model"))
    too_many = tf.constant(["fine"] * (MAX_TEXT_BATCH + 1))
    for name in ("serving_default", "branches"):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"at most {MAX_TEXT_BATCH} texts"):
            m.signatures[name](text=too_many)
    full = m.signatures["serving_default"](text=too_many[:MAX_TEXT_BATCH])
    assert full["label"].shape == (MAX_TEXT_BATCH,)
    with pytest.raises(UserInputError, match=f"batch_size must be 1 to {MAX_TEXT_BATCH}"):
        trained.predict(["fine"], batch_size=MAX_TEXT_BATCH + 1)


def test_html_markup_does_not_change_the_prediction(trained):
    plain = ["Great film! Loved it.", "A boring plot, awful."]
    marked = [
        "<script>alert(1)</script> Great film! <b>Loved</b> it.",
        "<style>.x { color: red }</style><p>A boring plot, awful.</p><br />",
    ]
    a, b = trained.predict(plain), trained.predict(marked)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert a.labels == b.labels == ["positive", "negative"]


def test_multiclass_with_validation_data_under_a_mirrored_strategy():
    classes = (NEG, POS, ["okay", "average", "fine", "decent", "mixed"])
    texts, labels = corpus(150, seed=3, classes=classes)
    names = ["bad", "good", "meh"]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    cfg = SentimentConfig(**{**TINY, "epochs": 1, "ngram_epochs": 2, "refit": True})
    labels = [names[k] for k in labels]
    train, val = (texts[:120], labels[:120]), (texts[120:], labels[120:])
    # The `Task.fit(train)` form, with validation data.
    clf = SentimentClassifier(cfg).fit(train, validation_data=val, strategy=strategy)
    assert clf.class_names_ == names and clf.validation_report_["num_examples"] == 30
    assert clf.refit_ == {} and "rnn_refit" not in clf.history_  # the user's validation texts
    rnn = clf.model_.get_layer("rnn_branch")
    assert all(isinstance(v.value, tf.distribute.DistributedValues) for v in rnn.weights)
    pred = clf.predict(["superb loved", *BAD_INPUTS])
    assert pred.probabilities.shape == (1 + len(BAD_INPUTS), 3)
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert set(pred.labels) <= set(names)
    idf = np.asarray(clf.model_.get_layer("ngram_branch").get_layer("ngram_logits").idf)
    assert idf[2:].min() >= 1.0  # IDF with more than two classes: log(...) + 1 >= 1
    with pytest.raises(UserInputError, match="strategy must be one of"):
        SentimentClassifier(cfg).fit(texts, labels, strategy=object())


def test_groups_and_unlabelled_texts_distil_into_the_rnn():
    texts, labels = corpus(200, seed=5)
    groups = [f"movie{i % 25}" for i in range(len(texts))]  # 8 reviews per movie
    unlabelled, _ = corpus(160, seed=6)
    tiny = {**TINY, "epochs": 2, "ngram_epochs": 2, "validation_split": 0.2}
    clf = SentimentClassifier(SentimentConfig(**tiny)).fit(
        texts, labels, groups=groups, unlabelled=unlabelled
    )
    # Whole movies were held out: 5 of the 25 movies of 8 reviews each.
    assert clf.validation_report_["num_examples"] == 40
    assert clf.num_distilled_ == 160
    assert set(clf.step_seconds_) >= {"ngram", "distillation_targets", "word_vectors", "rnn"}
    assert len(clf.history_["rnn"]["loss"]) == 2
    cfg = SentimentConfig(**tiny)
    assert clf.predict(["superb loved superb"]).labels == ["1"]
    with pytest.raises(UserInputError, match="groups"):
        SentimentClassifier(cfg).fit(texts, labels, groups=groups[:-1])
    # Without distillation the unlabelled texts still feed the word vectors. With a moving
    # average of the weights, the branch ends with the average that validated best.
    tiny2 = {**TINY, "epochs": 3, "ngram_epochs": 1, "distill": False, "ema_momentum": 0.9}
    clf2 = SentimentClassifier(SentimentConfig(**tiny2)).fit(texts, labels, unlabelled=unlabelled)
    assert clf2.num_distilled_ == 0 and "distillation_targets" not in clf2.step_seconds_
    hist = clf2.history_["rnn"]
    best = int(np.argmin(hist["val_loss"]))
    kept = clf2.validation_metrics_["branch_rnn_branch_accuracy"]
    assert kept == pytest.approx(hist["val_accuracy"][best], abs=1e-6)


def test_refit_trains_both_branches_again_on_all_labelled_texts(tmp_path):
    texts, labels = corpus(160, seed=8)
    unlabelled, _ = corpus(60, seed=9)
    tiny = {**TINY, "epochs": 3, "ngram_epochs": 3, "refit": True}
    clf = SentimentClassifier(SentimentConfig(**tiny)).fit(texts, labels, unlabelled=unlabelled)
    refit = clf.refit_
    assert refit["num_texts"] == 160  # the 128 fit texts and the 32 validation texts
    for name in ("ngram", "rnn"):
        # The epochs up to the best validation loss again, at the learning rates they had.
        selection = clf.history_[name]
        best = int(np.argmin(selection["val_loss"])) + 1
        again = clf.history_[f"{name}_refit"]
        assert refit["epochs"][name] == best == len(again["loss"]) and "val_loss" not in again
        assert again["learning_rate"] == pytest.approx(selection["learning_rate"][:best])
    assert {"ngram_refit", "distillation_targets_refit", "rnn_refit"} <= set(clf.step_seconds_)
    # New branches behind the blend weights fitted on the validation split.
    before, after = clf.selection_model_, clf.model_
    for a, b in zip(before.get_layer("logits").weights, after.get_layer("logits").weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    emb = [m.get_layer("rnn_branch").get_layer("rnn_classifier").get_layer("embedding")
           for m in (before, after)]  # fmt: skip
    assert not np.allclose(emb[0].embeddings.numpy(), emb[1].embeddings.numpy())
    assert clf.predict(["superb loved superb", "awful dull hated"]).labels == ["1", "0"]
    clf.save(tmp_path / "p")
    assert SentimentClassifier.load(tmp_path / "p").refit_ == refit
    # Too little time left: skipped, with the reason.
    clf = SentimentClassifier(SentimentConfig(**{**tiny, "max_train_minutes": 1e-4})).fit(
        texts, labels
    )
    assert "time budget ran out" in clf.refit_["skipped"] and clf.selection_model_ is None


def test_language_model_pretraining_learns_word_order_and_starts_the_rnn_branch():
    import tensorflow as tf

    from rnn_apps.tasks.sentiment import model as model_lib
    from rnn_apps.tasks.sentiment.pretrain import pretrain_encoder

    # Each word fixes the next and the previous one: ids count up from a random start.
    rng = np.random.default_rng(0)
    x = np.zeros((128, 12), np.int32)
    for row in x:
        n, start = rng.integers(4, 13), rng.integers(0, 38)
        row[:n] = (start + np.arange(n)) % 38 + 2  # right-padded, ids 2..39
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), "float32"))).batch(32)
    branch = model_lib.build_rnn_branch(SentimentConfig(**TINY), 40, 1)
    rnn = branch.get_layer("rnn_classifier").get_layer("rnn_1")
    before = [w.copy() for w in rnn.get_weights()]
    hist = pretrain_encoder(
        branch, ds, epochs=12, num_sampled=8, learning_rate=0.05, seed=0, verbose=0
    )
    assert len(hist["lm_loss"]) == 12 and hist["words"][0] == np.sum(np.count_nonzero(x, 1) - 1)
    assert hist["lm_loss"][-1] < 0.5 * hist["lm_loss"][0]
    assert all(not np.allclose(a, b) for a, b in zip(before, rnn.get_weights()))
    # More negatives than the 40-word vocabulary holds: it samples what there is.
    hist = pretrain_encoder(branch, ds, epochs=1, num_sampled=256, learning_rate=0.01, seed=0)
    assert np.isfinite(hist["lm_loss"][0])
    # A first layer that returns no sequences cannot be pretrained: one clear line.
    last = model_lib.build_rnn_branch(SentimentConfig(**{**TINY, "pooling": "last"}), 40, 1)
    with pytest.raises(UserInputError, match="lm_pretrain_epochs=0"):
        pretrain_encoder(last, ds, epochs=1, num_sampled=8, learning_rate=0.01, seed=0)
    # Through fit: the pretraining runs once and is recorded with the pipeline.
    texts, labels = corpus(120, seed=3)
    tiny = {**TINY, "epochs": 1, "ngram_epochs": 1, "lm_pretrain_epochs": 2, "lm_num_sampled": 8}
    clf = SentimentClassifier(SentimentConfig(**tiny)).fit(texts, labels)
    assert len(clf.lm_pretrain_["lm_loss"]) == 2 and "lm_pretrain" in clf.step_seconds_


def test_teacher_targets_keep_input_order(trained):
    from rnn_apps.tasks.sentiment.distill import teacher_targets

    texts = ["superb loved " * 5, "awful", "dull boring hated film", "great"]
    teacher = trained.model_.get_layer("ngram_branch")
    targets = teacher_targets(trained.preprocessor_, teacher, texts)
    alone = trained.branch_probabilities(texts)["ngram_branch"]
    np.testing.assert_allclose(targets, alone, atol=1e-6)


def test_no_evidence_gets_the_prior_in_every_branch(trained):
    from rnn_apps.tasks.sentiment.probes import NO_EVIDENCE_TEXTS

    prior = trained.preprocessor_.class_prior[-1]
    assert abs(prior - 0.5) < 0.05  # the tiny corpus is balanced
    texts = [*NO_EVIDENCE_TEXTS, "superb loved", "awful boring"]
    n = len(NO_EVIDENCE_TEXTS)
    local = trained.branch_probabilities(texts)
    assert set(local) == {"ngram_branch", "rnn_branch", "blend"}
    for name, p in local.items():
        np.testing.assert_allclose(p[:n], prior, atol=1e-5, err_msg=name)
        assert p[n] > 0.5 > p[n + 1], name  # real text still gets an opinion
    np.testing.assert_allclose(trained.predict(texts).probabilities, local["blend"], atol=1e-5)
    # The export gives these outputs too: run_task_test runs both signatures ("branches",
    # "serving_default") in a clean process on sample_inputs(), blank texts among them.


def test_small_batches_serve_through_xla_with_the_plain_graphs_results(trained, workdir):
    import copy
    import dataclasses

    plain = copy.copy(trained)
    plain.config = dataclasses.replace(trained.config, jit_compile=False)
    plain._signature_fns = {}
    texts, _ = corpus(40, seed=9)
    texts = ["", "superb", *texts]
    for batch in (texts[:1], texts[:5], texts):  # 1 and 5 texts: XLA; 42: the plain graph
        fast, slow = trained.branch_probabilities(batch), plain.branch_probabilities(batch)
        for name in fast:
            np.testing.assert_allclose(fast[name], slow[name], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(trained.predict(batch).probabilities, slow["blend"], atol=1e-5)
    # The export keeps the XLA-compiled function (it serves without rnn_apps: run_task_test).
    graph = (workdir / "runs" / "s" / "saved_model" / "saved_model.pb").read_bytes()
    assert b"_XlaMustCompile" in graph


def test_litert_and_onnx_cores_give_the_served_probabilities(trained, tmp_path):
    from rnn_apps.runtime import PortableModel
    from rnn_apps.tasks.sentiment.preprocessor import has_evidence

    texts = ["superb loved", "awful boring plot", "", " !? ", "<b>Great</b> film &amp; plot"]
    texts += ["zzz qqq unseen", "the film was " * 20]  # unknown words; cut at max_length
    want = trained.run("serving_default", text=np.array(texts, dtype=object))["probability"]
    pre = trained.preprocessor_
    ids = pre(tf.constant(texts)).numpy()
    ids = np.pad(ids, [(0, 0), (0, pre.max_length - ids.shape[1])])  # right-padded to T
    evidence = has_evidence(tf.constant(texts)).numpy().astype("int32")
    for fmt in ("litert", "onnx"):
        report = trained.export(tmp_path / fmt, format=fmt)
        assert report.max_abs_diff["probability"] <= 1e-3, report.max_abs_diff
        model = PortableModel(tmp_path / fmt)
        got = model(token_ids=ids, has_evidence=evidence)["probability"]
        np.testing.assert_allclose(got, want, atol=1e-3)
    # What the client tokenises with travels in metadata.json (plain words: split, look up).
    vocab = model.metadata["vocabulary"]
    assert vocab == pre.get_vocabulary() and model.metadata["class_names"][-1] == "positive"
    client = [vocab.index(w) if w in vocab else 1 for w in texts[0].split()]
    assert ids[0, : len(client)].tolist() == client and not ids[0, len(client) :].any()


def test_pretrained_word_vectors_start_the_rnn_embedding(tmp_path):
    from types import SimpleNamespace

    from rnn_apps.tasks.sentiment import model as model_lib
    from rnn_apps.tasks.sentiment.encoder_init import start_rnn_branch

    texts, _ = corpus(80)
    pre = SentimentPreprocessor(TINY["max_tokens"], TINY["max_length"], ["neg", "pos"])
    pre.adapt(texts)
    vocab = pre.get_vocabulary()
    rng = np.random.default_rng(0)
    table = {w: rng.normal(size=8).round(3) for w in vocab[2:12]}  # 10 of the words
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in table.items()))
    cfg = SentimentConfig(**{**TINY, "word_vectors": str(path)})
    srun = SimpleNamespace(
        config=cfg, pre=pre, word_vectors=None, word_vectors_done=False,
        word_vector_coverage=None, lap=lambda name: None,
    )  # fmt: skip
    branch = model_lib.build_rnn_branch(cfg, 40, 1)
    start_rnn_branch(srun, branch, rnn_ds=None)
    emb = branch.get_layer("rnn_classifier").get_layer("embedding").embeddings.numpy()
    for w, v in table.items():
        np.testing.assert_allclose(emb[vocab.index(w)], v, atol=1e-6)
    assert not emb[0].any()
    assert srun.word_vector_coverage == pytest.approx(10 / (len(vocab[:40]) - 2))
    # Vectors of another width than embedding_dim: one line naming the fix.
    wide = SentimentConfig(**{**TINY, "embedding_dim": 16, "word_vectors": str(path)})
    srun.config, srun.word_vectors_done = wide, False
    with pytest.raises(UserInputError, match="vectors of 8 values but embedding_dim is 16"):
        start_rnn_branch(srun, model_lib.build_rnn_branch(wide, 40, 1), rnn_ds=None)
