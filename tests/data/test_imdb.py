"""IMDB loader: a small archive laid out like aclImdb, an extracted folder, bad paths."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from rnn_apps.data.imdb import (
    IMDB_FNAME,
    load_imdb,
    read_imdb_archive,
    read_imdb_directory,
)
from rnn_apps.data.splits import group_split
from rnn_apps.errors import UserInputError
from rnn_apps.testing import require_mirror_file

URL = "http://www.imdb.com/title/%s/usercomments"
REVIEWS = {
    "aclImdb/train/pos/0_9.txt": "Great film.<br /><br />Loved it.",
    "aclImdb/train/pos/12_7.txt": "Quite good \u00e9t\u00e9 \U0001f600",
    "aclImdb/train/neg/3_1.txt": "Awful.",
    "aclImdb/train/neg/1_4.txt": "Boring and long.",
    "aclImdb/test/pos/5_10.txt": "A masterpiece.",
    "aclImdb/test/neg/2_2.txt": "Terrible acting.",
    "aclImdb/train/unsup/1_0.txt": "unlabelled, second",
    "aclImdb/train/unsup/0_0.txt": "unlabelled, first",
    "aclImdb/train/urls_pos.txt": URL % "tt01"
    + "\n"
    + "no url here\n"
    + 11 * (URL % "tt02" + "\n"),
    "aclImdb/train/urls_neg.txt": "\n".join(URL % f"tt1{i}" for i in range(4)),
    "aclImdb/train/urls_unsup.txt": (URL % "tt07") + "\n" + (URL % "tt08"),
    "aclImdb/test/urls_pos.txt": "\n".join(URL % f"tt2{i}" for i in range(6)),
    "aclImdb/README": "readme",
    "aclImdb/imdb.vocab": "the\nand\n",
}


def _make_archive(path, reviews=REVIEWS, bad_bytes=True):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode("utf-8")
            if bad_bytes and name.endswith("1_4.txt"):
                data += b" \xff\xfe"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_load_imdb_reads_archive_in_data_dir(tmp_path):
    _make_archive(tmp_path / IMDB_FNAME)
    data = load_imdb(tmp_path)
    train, test = data["train"], data["test"]
    assert list(train.columns) == ["text", "label", "rating", "review_id", "movie_id"]
    assert len(train) == 4 and len(test) == 2  # unsup only on request
    # Sorted by label, then review id.
    assert train["label"].tolist() == ["neg", "neg", "pos", "pos"]
    assert train["review_id"].tolist() == [1, 3, 0, 12]
    assert train["rating"].tolist() == [4, 1, 9, 7]
    assert "<br />" in train["text"].iloc[2]  # raw text; the pipeline strips markup
    assert "\ufffd" in train["text"].iloc[0]  # invalid bytes replaced, not an error
    assert "\U0001f600" in train["text"].iloc[3]
    assert set(test["label"]) == {"neg", "pos"}
    # Line N of urls_<label>.txt is the movie of review id N; no file / no url -> "".
    assert train["movie_id"].tolist() == ["tt11", "tt13", "tt01", "tt02"]
    assert test["movie_id"].tolist() == ["", "tt25"]


def test_unlabelled_split_on_request(tmp_path):
    _make_archive(tmp_path / IMDB_FNAME)
    data = load_imdb(tmp_path, splits=("train", "unsup"))
    unsup = data["unsup"]
    assert list(data) == ["train", "unsup"] and len(data["train"]) == 4
    assert unsup["text"].tolist() == ["unlabelled, first", "unlabelled, second"]
    assert unsup["label"].isna().all() and (unsup["rating"] == 0).all()
    assert unsup["movie_id"].tolist() == ["tt07", "tt08"]
    folder = tmp_path / "x"
    for name, text in REVIEWS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    assert read_imdb_directory(folder, ("unsup",))["unsup"].equals(unsup)
    no_unsup = {k: v for k, v in REVIEWS.items() if "unsup/" not in k}
    with pytest.raises(UserInputError, match="no 'unsup' reviews.*train/unsup"):
        read_imdb_archive(_make_archive(tmp_path / "y.tar.gz", no_unsup), ("unsup",))


def test_group_split_keeps_every_movie_on_one_side():
    rng = np.random.default_rng(0)
    movies = [f"tt{k}" for k in rng.integers(0, 60, size=1000)] + [""] * 20
    fit, val = group_split(movies, 0.2, seed=3)
    assert len(np.intersect1d(fit, val)) == 0 and len(fit) + len(val) == len(movies)
    fit_movies = {movies[i] for i in fit if movies[i]}
    val_movies = {movies[i] for i in val if movies[i]}
    assert not fit_movies & val_movies
    assert 0.15 < len(val) / len(movies) < 0.3
    again = group_split(movies, 0.2, seed=3)
    assert np.array_equal(again[1], val)  # seeded
    assert not np.array_equal(group_split(movies, 0.2, seed=4)[1], val)
    with pytest.raises(UserInputError, match="at least two groups"):
        group_split(["tt1"] * 5, 0.2)
    with pytest.raises(UserInputError, match=r"in \(0, 1\)"):
        group_split(movies, 1.5)


def test_load_imdb_env_var_and_single_split(tmp_path, monkeypatch):
    _make_archive(tmp_path / IMDB_FNAME)
    monkeypatch.setenv("RNN_APPS_DATA_DIR", str(tmp_path))
    data = load_imdb(splits=["test"])
    assert list(data) == ["test"] and len(data["test"]) == 2


def test_extracted_folder_is_read(tmp_path):
    for name, text in REVIEWS.items():
        f = tmp_path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    data = load_imdb(tmp_path)  # no archive: the aclImdb/ folder is used
    assert len(data["train"]) == 4 and len(data["test"]) == 2
    assert read_imdb_directory(tmp_path / "aclImdb")["test"].equals(data["test"])


def test_archive_and_folder_agree(tmp_path):
    (tmp_path / "a").mkdir()
    archive = _make_archive(tmp_path / "a" / IMDB_FNAME, bad_bytes=False)
    for name, text in REVIEWS.items():
        f = tmp_path / "b" / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text, encoding="utf-8")
    a = read_imdb_archive(archive)
    b = read_imdb_directory(tmp_path / "b")
    for split in ("train", "test"):
        assert a[split].equals(b[split])


def test_bad_paths_and_archives(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_imdb(tmp_path / "missing")
    with pytest.raises(UserInputError, match="does not exist"):
        read_imdb_archive(tmp_path / "nothing.tar.gz")
    broken = tmp_path / "broken" / IMDB_FNAME
    broken.parent.mkdir()
    broken.write_bytes(b"not a tar archive at all")
    with pytest.raises(UserInputError, match="damaged"):
        load_imdb(broken.parent)
    with pytest.raises(UserInputError, match="split"):
        load_imdb(broken.parent, splits=["dev"])
    only_test = {k: v for k, v in REVIEWS.items() if "/test/" in k}
    empty = _make_archive(tmp_path / "x.tar.gz", only_test)
    with pytest.raises(UserInputError, match="no 'train' reviews"):
        read_imdb_archive(empty)


@pytest.mark.slow
@pytest.mark.mirror
def test_real_mirror_counts():
    path = require_mirror_file(IMDB_FNAME)
    data = load_imdb(path.parent)
    for split in ("train", "test"):
        df = data[split]
        assert len(df) == 25000
        assert (df["label"] == "pos").sum() == 12500
        assert df["rating"].between(1, 10).all()
        assert not df["rating"].between(5, 6).any()  # IMDB leaves out neutral ratings
        assert (df["movie_id"].str.match(r"tt\d+$")).all()
    unsup = load_imdb(path.parent, splits=("unsup",))["unsup"]
    assert len(unsup) == 50000 and unsup["label"].isna().all()
    train_movies, test_movies = set(data["train"]["movie_id"]), set(data["test"]["movie_id"])
    assert not set(unsup["movie_id"]) & test_movies  # the unlabelled reviews add no test movie
    assert len(train_movies & test_movies) <= 1
