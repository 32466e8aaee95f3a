"""Tests of the token-tagged corpus readers (CoNLL-U, BIO columns, UD English EWT)."""

from __future__ import annotations

import pytest

from rnn_apps.data.conllu import (
    MAX_SENTENCE_TOKENS,
    TaggedSentence,
    bio_spans,
    is_valid_bio,
    load_ud_ewt,
    parse_columns,
    parse_conllu,
    read_columns,
    read_conllu,
)
from rnn_apps.errors import UserInputError
from rnn_apps.testing import require_mirror_file


def _row(i, form, upos, xpos="_", misc="_"):
    return "\t".join([str(i), form, form.lower(), upos, xpos, "_", "0", "root", "_", misc])


CONLLU = "\n".join(
    [
        "# sent_id = a-1",
        "# text = I don't know.",
        _row(1, "I", "PRON", "PRP"),
        "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_",
        _row(2, "do", "AUX", "VBP"),
        _row(3, "n't", "PART", "RB"),
        _row(4, "know", "VERB", "VB"),
        "4.1\tknow\tknow\tVERB\tVB\t_\t_\t_\t2:conj\tCopyOf=4",
        _row(5, ".", "PUNCT", "."),
        "",
        "# sent_id = a-2",
        _row(1, "Paris", "PROPN", "NNP", "NER=B-LOC"),
        _row(2, "Hilton", "PROPN", "NNP", "SpaceAfter=No|NER=I-LOC"),
        "",
    ]
)


def test_conllu_tags_the_syntactic_words_and_skips_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    first, second = read_conllu(path)
    assert first.tokens == ["I", "do", "n't", "know", "."]
    assert first.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.comments == ["sent_id = a-1", "text = I don't know."]
    assert read_conllu(path, column="xpos")[0].tags == ["PRP", "VBP", "RB", "VB", "."]
    assert read_conllu(path, column="misc:NER")[1].tags == ["B-LOC", "I-LOC"]
    assert read_conllu(path, column="misc:NER")[0].tags == ["O"] * 5  # attribute absent
    assert second.tokens == ["Paris", "Hilton"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("1\tI\tPRON\n", r"<text>:1: expected 10 tab-separated CoNLL-U fields, got 3"),
        (_row("x", "I", "PRON") + "\n", r"<text>:1: word id 'x' is not an integer"),
        (_row(1, "", "PRON") + "\n", r"<text>:1: empty FORM"),
        ("# only a comment\n\n", r"<text>:2: a sentence has comments but no word lines"),
    ],
)
def test_conllu_errors_name_the_line(text, match):
    with pytest.raises(UserInputError, match=match):
        parse_conllu(text.splitlines())


def test_conllu_bad_column_and_sentence_cap():
    with pytest.raises(UserInputError, match="column='lemmas': expected one of lemma, upos"):
        parse_conllu([], column="lemmas")
    with pytest.raises(UserInputError, match="'misc:NER'"):
        parse_conllu([], column="misc:")
    rows = [_row(i + 1, "w", "X") for i in range(MAX_SENTENCE_TOKENS + 1)]
    with pytest.raises(UserInputError, match=f"more than {MAX_SENTENCE_TOKENS} tokens"):
        parse_conllu(rows)
    assert len(parse_conllu(rows[:MAX_SENTENCE_TOKENS])[0].tokens) == MAX_SENTENCE_TOKENS


def test_columns_format_conll2003_and_tab_separated(tmp_path):
    conll = (
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n"
    )
    path = tmp_path / "train.txt"
    path.write_text(conll, encoding="utf-8")
    sentences = read_columns(path)
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER"]]
    assert read_columns(path, tag_column=1)[0].tags == ["NNP", "VBZ"]
    tabbed = parse_columns(["New York\tB-LOC", "is\tO", ""])
    assert tabbed[0].tokens == ["New York", "is"]  # a tab keeps spaces inside the token
    with pytest.raises(UserInputError, match=r"<text>:2: expected a token and a tag"):
        parse_columns(["a O", "lonely"])
    with pytest.raises(UserInputError, match="tag_column=5 but the line has 2 columns"):
        parse_columns(["a O"], tag_column=5)


def test_files_refused_in_one_line(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        read_conllu(tmp_path / "missing.conllu")
    bad = tmp_path / "latin1.conllu"
    bad.write_bytes(_row(1, "caf\xe9", "NOUN").encode("latin-1"))
    with pytest.raises(UserInputError, match="not UTF-8"):
        read_conllu(bad)
    with pytest.raises(UserInputError, match="2 tokens and 1 tags"):
        TaggedSentence(["a", "b"], ["X"])


def test_bio_spans_and_validity_as_strict_span_scoring():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "I-ORG", "O", "B-MISC"]
    strict = [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("MISC", 8, 9)]
    assert bio_spans(tags, strict=True) == strict
    # conlleval / seqeval's default: the stray I-ORG starts a span of its own.
    assert bio_spans(tags) == sorted([*strict, ("ORG", 6, 7)], key=lambda s: s[1])
    assert not is_valid_bio(tags)  # I-ORG after I-LOC
    assert is_valid_bio(["B-PER", "I-PER", "O", "B-LOC"]) and is_valid_bio([])
    assert not is_valid_bio(["O", "I-PER"]) and not is_valid_bio(["I-PER"])
    assert bio_spans(["O", "I-PER", "I-PER"], strict=True) == []
    assert bio_spans(["O", "I-PER", "I-PER"]) == [("PER", 1, 3)]
    # seqeval's README example: two entities (MISC 0-3, PER 4-5) in the first sentence.
    assert bio_spans(["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"]) == [("MISC", 3, 6)]
    assert bio_spans(["B-PER", "I-PER", "O"]) == [("PER", 0, 2)]


@pytest.mark.parametrize(
    "split, sentences, tokens", [("train", 12544, 204577), ("dev", 2001, 25147)]
)
def test_ud_ewt_mirror_matches_the_official_counts(split, sentences, tokens):
    mirror = require_mirror_file(f"UD_English-EWT/en_ewt-ud-{split}.conllu").parents[1]
    data = load_ud_ewt(split, data_dir=mirror)
    assert len(data) == sentences and sum(len(s.tokens) for s in data) == tokens
    tags = {t for s in data for t in s.tags}
    assert len(tags) == 17 and "_" not in tags  # the 17 UPOS tags, every word tagged
    with pytest.raises(UserInputError, match="split='validation'"):
        load_ud_ewt("validation", data_dir=mirror)
