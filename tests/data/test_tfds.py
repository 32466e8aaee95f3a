"""TensorFlow Datasets and `tf.data.Dataset` input (`rnn_apps.data.tfds`).

The datasets are built here with TFDS's own builder API (`GeneratorBasedBuilder`,
`download_and_prepare` into a temporary data dir): nothing is downloaded and nothing is
mocked.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

tfds = pytest.importorskip("tensorflow_datasets")

from rnn_apps.cli import main  # noqa: E402
from rnn_apps.data import tfds as tfds_data  # noqa: E402
from rnn_apps.errors import UserInputError  # noqa: E402

POS = ["great", "wonderful", "moving", "superb", "loved"]
NEG = ["awful", "boring", "dull", "terrible", "hated"]
FILLER = ["the", "film", "plot", "actors", "was", "and", "a", "movie", "it"]

SENTIMENT_TINY = {
    "max_tokens": 64,
    "rnn_max_tokens": 40,
    "max_length": 24,
    "sequence_length": 12,
    "embedding_dim": 8,
    "units": 4,
    "head_dropout": 0.0,
    "ngram_buckets": 128,
    "ngram_epochs": 2,
    "epochs": 1,
    "batch_size": 32,
    "refit": False,
    "lm_pretrain_epochs": 0,
    "verbose": 0,
}
TEXTGEN_CLI = ["--units", "4", "--seq-len", "16", "--batch-size", "8", "--epochs", "1"]
CORPUS = "ROMEO:\nBut soft, what light through yonder window breaks?\n" * 40


def review(i: int) -> tuple[str, int]:
    rng = np.random.default_rng(i)
    label = i % 2
    words = list(rng.choice(FILLER, size=6)) + list(rng.choice(POS if label else NEG, size=2))
    rng.shuffle(words)
    return " ".join(words), label


class RnnAppsTestReviews(tfds.core.GeneratorBasedBuilder):
    """Labelled texts as imdb_reviews has them: `text` and a `ClassLabel` `label`."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=["neg", "pos"]),
                }
            ),
            supervised_keys=("text", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 96), "test": self._generate_examples(96, 128)}

    def _generate_examples(self, start, stop):
        for i in range(start, stop):
            text, label = review(i)
            yield i, {"text": text, "label": label}


class RnnAppsTestCorpus(tfds.core.GeneratorBasedBuilder):
    """One long text per split, as tiny_shakespeare stores it."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self, features=tfds.features.FeaturesDict({"text": tfds.features.Text()})
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(CORPUS),
            "validation": self._generate_examples(CORPUS[:400]),
            "test": self._generate_examples(CORPUS[400:800]),
        }

    def _generate_examples(self, text):
        yield 0, {"text": text}


class RnnAppsTestPairs(tfds.core.GeneratorBasedBuilder):
    """Sentence pairs as ted_hrlr_translate has them: one `Translation` feature."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.Translation(languages=("en", "fr")),
            supervised_keys=("en", "fr"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(12):
            yield i, {"en": f"I have {i} cats.", "fr": f"J'ai {i} chats."}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    for builder in (RnnAppsTestReviews, RnnAppsTestCorpus, RnnAppsTestPairs):
        builder(data_dir=str(root)).download_and_prepare()
    return root


def run(*argv) -> int:
    return main([str(a) for a in argv])


# --------------------------------------------------------------------------- loader


def test_names_are_recognised():
    assert tfds_data.is_tfds_name("tfds:imdb_reviews/plain_text:1.0.0")
    assert not tfds_data.is_tfds_name("tfds: some text")
    assert not tfds_data.is_tfds_name("reviews.csv")
    assert tfds_data.dataset_name("tfds:tiny_shakespeare") == "tiny_shakespeare"


def test_loader_converts_each_task_form(data_dir):
    train = tfds_data.load_split("tfds:rnn_apps_test_reviews", data_dir=data_dir)
    assert len(train) == 96 and train.class_names["label"] == ["neg", "pos"]
    texts, labels = tfds_data.labelled_texts(train)
    names = ["neg", "pos"]  # TFDS shuffles the examples when it prepares a split
    assert set(zip(texts, labels)) == {(t, names[y]) for t, y in map(review, range(96))}
    test = tfds_data.load_split("tfds:rnn_apps_test_reviews", role="evaluate", data_dir=data_dir)
    assert len(test) == 32 and "(test)" in test.source
    part = tfds_data.load_split("tfds:rnn_apps_test_reviews", "train[:10]", data_dir=data_dir)
    assert len(part) == 10

    corpus = tfds_data.load_split("tfds:rnn_apps_test_corpus", data_dir=data_dir)
    assert tfds_data.joined_text(corpus) == CORPUS

    pairs = tfds_data.load_split("tfds:rnn_apps_test_pairs", data_dir=data_dir)
    frame = tfds_data.text_pairs(pairs, languages=("en", "fr"))
    assert list(frame.columns) == ["source", "target"]
    assert dict(zip(frame["source"], frame["target"]))["I have 3 cats."] == "J'ai 3 chats."
    back = tfds_data.text_pairs(pairs, source_column="fr", target_column="en")
    assert dict(zip(back["source"], back["target"]))["J'ai 3 chats."] == "I have 3 cats."
    with pytest.raises(UserInputError, match="no feature 'de'.*--source-column"):
        tfds_data.text_pairs(pairs, source_column="de", target_column="en")


def test_datasets_of_dicts_tuples_and_batches_read_alike():
    texts = [review(i)[0] for i in range(10)]
    labels = [review(i)[1] for i in range(10)]
    as_dicts = tf.data.Dataset.from_tensor_slices({"text": texts, "label": labels})
    as_pairs = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(4)
    for ds in (as_dicts, as_pairs):
        out = tfds_data.labelled_texts(tfds_data.from_dataset(ds))
        assert out == (texts, labels)
    nested = tf.data.Dataset.from_tensor_slices({"pair": {"en": ["a", "b"], "fr": ["x", "y"]}})
    assert tfds_data.from_dataset(nested).columns == {"pair/en": ["a", "b"], "pair/fr": ["x", "y"]}


def test_forecast_gets_a_frame_of_the_scalar_features():
    from rnn_apps.tasks.forecast import Forecaster
    from rnn_apps.tasks.forecast.preprocessor import read_series

    dates = [f"2024-01-01 {h:02d}:00:00" for h in range(24)]
    ds = tf.data.Dataset.from_tensor_slices(
        {"date": dates, "load": np.arange(24, dtype=np.float32), "image": np.zeros((24, 2, 2))}
    )
    frame = Forecaster().raw_data(ds)
    assert sorted(frame.columns) == ["date", "load"]  # the non-scalar feature is left out
    series = read_series(frame)
    assert len(series) == 24 and float(series["load"].iloc[-1]) == 23.0


def test_caps_are_enforced(data_dir):
    with pytest.raises(UserInputError, match="more than 50 examples.*--tfds-max-examples"):
        tfds_data.load_split("tfds:rnn_apps_test_reviews", data_dir=data_dir, max_examples=50)
    with pytest.raises(UserInputError, match="more than 1,000 bytes"):
        tfds_data.load_split("tfds:rnn_apps_test_corpus", data_dir=data_dir, max_bytes=1000)
    ds = tf.data.Dataset.range(20)
    with pytest.raises(UserInputError, match=r"more than 5 examples.*ds.take"):
        tfds_data.from_dataset(ds, max_examples=5)


def test_unprepared_dataset_is_one_line_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty_data_dir"
    empty.mkdir()
    code = run(
        "sentiment", "train", "--data", "tfds:imdb_reviews", "--tfds-data-dir", empty,
        "--output-dir", tmp_path / "run",
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("rnn-apps: error: ") and "not prepared" in line
    assert str(empty) in line and "tfds build imdb_reviews --data_dir" in line
    assert not (tmp_path / "run").exists()
    with pytest.raises(UserInputError, match="no_such_dataset_xyz.*tfds build"):
        tfds_data.load_split("tfds:no_such_dataset_xyz", data_dir=empty)


def test_cap_through_the_command_line(data_dir, tmp_path, capsys):
    code = run(
        "sentiment", "train", "--data", "tfds:rnn_apps_test_reviews", "--tfds-data-dir",
        data_dir, "--tfds-max-examples", "20", "--output-dir", tmp_path / "run",
    )  # fmt: skip
    assert code == 2
    assert "more than 20 examples" in capsys.readouterr().err


# --------------------------------------------------------------------------- tasks


def test_sentiment_fit_on_a_dataset_matches_the_lists():
    from rnn_apps.tasks.sentiment import SentimentClassifier, SentimentConfig

    pairs = [review(i) for i in range(64)]
    texts, labels = [p[0] for p in pairs], [p[1] for p in pairs]
    ds = tf.data.Dataset.from_tensor_slices({"text": texts, "label": labels})
    a = SentimentClassifier(SentimentConfig(**SENTIMENT_TINY)).fit(ds)
    b = SentimentClassifier(SentimentConfig(**SENTIMENT_TINY)).fit(texts, labels)
    assert a.preprocessor_.get_state() == b.preprocessor_.get_state()
    assert a.class_names_ == b.class_names_ == ["0", "1"]
    report = a.evaluate(tf.data.Dataset.from_tensor_slices((texts[:16], labels[:16])))
    assert report["num_examples"] == 16


def test_sentiment_train_and_evaluate_from_tfds(data_dir, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("\n".join(f"{k}: {v}" for k, v in SENTIMENT_TINY.items()))
    out = tmp_path / "run"
    code = run(
        "sentiment", "train", "--data", "tfds:rnn_apps_test_reviews", "--tfds-data-dir",
        data_dir, "--config", cfg, "--no-export", "--output-dir", out,
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == "tfds:rnn_apps_test_reviews (train)"
    assert (out / "pipeline" / "pipeline.json").is_file()
    state = json.loads((out / "pipeline" / "pipeline.json").read_text())
    assert state["class_names"] == ["neg", "pos"]
    capsys.readouterr()
    code = run(
        "sentiment", "evaluate", "--model", out, "--data", "tfds:rnn_apps_test_reviews",
        "--tfds-data-dir", data_dir, "--json",
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_examples"] == 32 and "(test)" in result["data"]


def test_textgen_train_from_tfds_uses_its_validation_split(data_dir, tmp_path, capsys):
    out = tmp_path / "tg"
    code = run(
        "textgen", "train", "--text", "tfds:rnn_apps_test_corpus", "--tfds-data-dir", data_dir,
        "--no-export", "--output-dir", out, *TEXTGEN_CLI,
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["validation"]["num_chars"] == 400
    assert report["data"] == "tfds:rnn_apps_test_corpus (train)"
