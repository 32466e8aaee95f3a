"""IMDB loader: a small archive laid out like aclImdb, an extracted folder, bad paths."""

from __future__ import annotations

import io
import tarfile

import pytest

from rnn_apps.data.imdb import (
    IMDB_FNAME,
    load_imdb,
    read_imdb_archive,
    read_imdb_directory,
)
from rnn_apps.errors import UserInputError
from rnn_apps.testing import require_mirror_file

REVIEWS = {
    "aclImdb/train/pos/0_9.txt": "Great film.<br /><br />Loved it.",
    "aclImdb/train/pos/12_7.txt": "Quite good \u00e9t\u00e9 \U0001f600",
    "aclImdb/train/neg/3_1.txt": "Awful.",
    "aclImdb/train/neg/1_4.txt": "Boring and long.",
    "aclImdb/test/pos/5_10.txt": "A masterpiece.",
    "aclImdb/test/neg/2_2.txt": "Terrible acting.",
    "aclImdb/train/unsup/7_0.txt": "unlabelled, ignored",
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
    assert list(train.columns) == ["text", "label", "rating", "review_id"]
    assert len(train) == 4 and len(test) == 2  # unsup ignored
    # Sorted by label, then review id.
    assert train["label"].tolist() == ["neg", "neg", "pos", "pos"]
    assert train["review_id"].tolist() == [1, 3, 0, 12]
    assert train["rating"].tolist() == [4, 1, 9, 7]
    assert "<br />" in train["text"].iloc[2]  # raw text; the pipeline strips markup
    assert "\ufffd" in train["text"].iloc[0]  # invalid bytes replaced, not an error
    assert "\U0001f600" in train["text"].iloc[3]
    assert set(test["label"]) == {"neg", "pos"}


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
