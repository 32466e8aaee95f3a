"""Tests of the text corpus loaders (tiny Shakespeare, user files and folders)."""

from __future__ import annotations

import pytest

from rnn_apps.data.shakespeare import (
    load_corpus,
    load_shakespeare,
    read_text_source,
    split_text,
)
from rnn_apps.errors import UserInputError
from rnn_apps.testing import require_mirror_file


def test_split_is_contiguous_90_10():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    train, val = split_text(text, 0.1)
    assert train + val == text
    assert len(train) == 900 and len(val) == 100
    assert split_text(text, 0.0) == (text, "")


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, True])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(UserInputError, match="val_fraction"):
        split_text("abc", fraction)


def test_split_rejects_too_short_text():
    with pytest.raises(UserInputError, match="too short"):
        split_text("a", 0.5)


def test_read_file_and_folder(tmp_path):
    f = tmp_path / "one.txt"
    f.write_text("Hello, wörld\n", encoding="utf-8")
    assert read_text_source(f) == "Hello, wörld\n"
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_text("second", encoding="utf-8")
    (folder / "a.txt").write_text("first", encoding="utf-8")
    (folder / "sub" / "c.txt").write_text("third", encoding="utf-8")
    (folder / "ignored.md").write_text("not text", encoding="utf-8")
    assert read_text_source(folder) == "first\n\nsecond\n\nthird"
    corpus = load_corpus(folder, val_fraction=0.2)
    assert corpus.train + corpus.val == "first\n\nsecond\n\nthird"
    assert corpus.num_chars == len("first\n\nsecond\n\nthird")


def test_read_errors(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        read_text_source(tmp_path / "missing.txt")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(UserInputError, match="no .txt"):
        read_text_source(empty_dir)
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n", encoding="utf-8")
    with pytest.raises(UserInputError, match="empty"):
        read_text_source(blank)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(UserInputError, match="UTF-8"):
        read_text_source(latin)


@pytest.mark.mirror
def test_tiny_shakespeare_from_mirror():
    path = require_mirror_file("shakespeare.txt")
    text = load_shakespeare(data_dir=path.parent)
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    corpus = load_corpus("shakespeare", data_dir=path.parent)
    assert len(corpus.train) == 1_003_854
    assert corpus.train + corpus.val == text
    assert corpus.source == "shakespeare"
