"""Tests of the tagger's parts: the preprocessor layer, the character encoder, the core and its
softmax / CRF heads, on tiny synthetic corpora."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps.errors import UserInputError
from rnn_apps.layers import CharEncoder, TaggingPreprocessor, WordDropout
from rnn_apps.layers.crf import bio_constraints
from rnn_apps.layers.tagging_preprocessor import split_text
from rnn_apps.tasks.tagging import Tagger, TaggingConfig
from rnn_apps.tasks.tagging.model import TaggerModel, build_tagger_core
from rnn_apps.tasks.tagging.unlabelled import read_unlabelled, split_unlabelled
from rnn_apps.testing import run_layer_test


def _next_word_corpus(n=240, seed=0):
    """A tag that depends on the *next* word: X when the next word is 'a', else Y."""
    rng = np.random.default_rng(seed)
    sentences, tags = [], []
    for _ in range(n):
        words = list(rng.choice(["a", "b", "c", "d"], size=rng.integers(2, 8)))
        sentences.append(words)
        tags.append(["X" if nxt == "a" else "Y" for nxt in [*words[1:], None]])
    return sentences, tags


def _batch(pre, sentences, tags=None):
    t = max(len(s) for s in sentences)
    tokens = tf.constant([s + [""] * (t - len(s)) for s in sentences])
    x = pre(tokens)
    if tags is None:
        return x
    ids = pre.encode_tags(tf.constant([g + [""] * (t - len(g)) for g in tags]))
    return x, tf.where(x["words"] > 0, ids, -1)


def test_preprocessor_ids_tags_and_config_round_trip():
    pre = TaggingPreprocessor(max_word_chars=4).adapt(
        [["The", "dog"], ["the", "cat", "runs"]], [["DET", "NOUN"], ["DET", "NOUN", "VERB"]]
    )
    out = pre(tf.constant([["THE", "zebra", ""]]))
    assert out["words"].numpy().tolist() == [[2, 1, 0]]  # lower-cased; unknown; padding
    assert out["chars"].shape == (1, 3, 4) and not out["chars"].numpy()[0, 2].any()
    assert pre.tags == ["DET", "NOUN", "VERB"] and pre.num_tags == 3
    ids = pre.encode_tags(tf.constant([["VERB", ""]]))
    assert ids.numpy().tolist() == [[2, 0]]
    names = pre.decode_tags(tf.constant([[2, 1]]), tf.constant([[True, False]]))
    assert names.numpy().tolist() == [[b"VERB", b""]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="tags unknown to the model"):
        pre.encode_tags(tf.constant([["ADJ"]]))
    clone = TaggingPreprocessor.from_config(pre.get_config())
    assert clone(tf.constant([["cat"]]))["words"].numpy().tolist() == [[4]]


def test_split_text_as_ud_english_tokenises():
    tokens = split_text(tf.constant(["I don't know, Tom's dog.", ""])).numpy()
    assert [t.decode() for t in tokens[0] if t] == [
        "I", "do", "n't", "know", ",", "Tom", "'s", "dog", ".",
    ]  # fmt: skip
    assert not any(tokens[1])


@pytest.mark.parametrize("kind", ["bilstm", "cnn"])
def test_char_encoder_shapes_and_padding(kind):
    enc = CharEncoder(10, embedding_dim=4, units=3, kind=kind)
    chars = np.array([[[2, 3, 0], [4, 0, 0], [0, 0, 0]]], "int32")  # a padded third token
    out = run_layer_test(enc, chars)
    assert out.shape == (1, 3, enc.output_dim) and not out[0, 2].any()
    assert out[0, 0].any()
    assert np.asarray(enc.compute_mask(chars)).tolist() == [[True, True, False]]


@pytest.mark.parametrize("kind", ["bilstm", "cnn"])
def test_padding_never_changes_the_scores_of_real_tokens(kind):
    """The word mask reaches the recurrent layers through the concatenation with the
    character vectors (a padded step never enters the backward direction)."""
    core = build_tagger_core(
        num_words=20, num_chars=12, num_tags=4, max_word_chars=3, embedding_dim=4,
        char_encoder=kind, char_embedding_dim=3, char_units=3, units=5, num_layers=2,
        dropout=0.0, word_dropout=0.0,
    )  # fmt: skip
    words = np.array([[4, 7, 2, 9]], "int32")
    chars = np.array([[[3, 4, 0], [5, 0, 0], [6, 7, 8], [2, 0, 0]]], "int32")
    short = np.asarray(core({"words": words, "chars": chars}))
    padded = {
        "words": np.pad(words, [(0, 0), (0, 6)]),
        "chars": np.pad(chars, [(0, 0), (0, 6), (0, 0)]),
    }
    np.testing.assert_allclose(np.asarray(core(padded))[:, :4], short, atol=1e-6)


def test_word_dropout_replaces_known_words_only_while_training():
    ids = np.tile(np.array([[5, 1, 7, 0, 0]], "int32"), (400, 1))
    layer = WordDropout(0.3, unknown_id=1, seed=3)
    assert run_layer_test(layer, ids).tolist() == ids.tolist()  # inference: the identity
    out = np.asarray(layer(ids, training=True))
    assert (out[:, 3:] == 0).all() and (out[:, 1] == 1).all()  # padding and [UNK] kept
    known = out[:, [0, 2]]
    assert set(np.unique(known)) <= {1, 5, 7}
    assert abs((known == 1).mean() - 0.3) < 0.05
    again = np.asarray(WordDropout(0.3, unknown_id=1, seed=3)(ids, training=True))
    assert again.tolist() == out.tolist()  # a seed repeats the draws
    with pytest.raises(ValueError, match="rate must be in"):
        WordDropout(1.0)


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_bidirectional_tagger_learns_a_tag_set_by_the_next_word(head):
    sentences, tags = _next_word_corpus()
    pre = TaggingPreprocessor(max_word_chars=2).adapt(sentences, tags)
    core = build_tagger_core(
        num_words=pre.num_words, num_chars=pre.num_chars, num_tags=pre.num_tags,
        max_word_chars=2, embedding_dim=8, char_encoder=None, units=8, num_layers=1, dropout=0.0,
        word_dropout=0.0,
    )  # fmt: skip
    model = TaggerModel(core, head=head)
    model.compile(optimizer=keras.optimizers.Adam(0.03))
    x, y = _batch(pre, sentences, tags)
    model.fit(x, y, batch_size=32, epochs=15, verbose=0)
    test_sentences, test_tags = _next_word_corpus(60, seed=1)
    xt, yt = _batch(pre, test_sentences, test_tags)
    pred = np.asarray(model.decode(xt))
    mask = yt.numpy() >= 0
    assert (pred[mask] == yt.numpy()[mask]).mean() > 0.97
    # Padding never changes the tags of real tokens: each sentence alone gives the same.
    for i in range(5):
        alone = np.asarray(model.decode(_batch(pre, [test_sentences[i]])))[0]
        assert alone.tolist() == pred[i, : len(test_sentences[i])].tolist()


def test_crf_head_never_decodes_an_invalid_bio_sequence():
    names = ["B-PER", "I-PER", "O"]
    sentences = [["w1", "w2", "w3"]] * 4
    pre = TaggingPreprocessor(max_word_chars=2).adapt(sentences, [["O", "B-PER", "I-PER"]] * 4)
    core = build_tagger_core(
        num_words=pre.num_words, num_chars=pre.num_chars, num_tags=3, max_word_chars=2,
        embedding_dim=4, char_encoder="cnn", char_units=4, units=4, num_layers=1,
    )  # fmt: skip
    # Untrained, with scores pushed towards I-PER everywhere.
    core.get_layer("scores").bias.assign([0.0, 5.0, 0.0])
    allowed, start = bio_constraints(names)
    model = TaggerModel(core, head="crf", allowed=allowed, allowed_start=start)
    pred = np.asarray(model.decode(_batch(pre, sentences)))
    for row in pred:
        seq = [names[t] for t in row]
        assert all(
            not cur.startswith("I-") or prev in ("B-PER", "I-PER")
            for prev, cur in zip(["O", *seq], seq)
        ), seq


def test_untagged_words_join_the_vocabulary_after_the_tagged_ones():
    counts = {"zebra": 9, "the": 50, "gnu": 5, "rare": 4}
    pre = TaggingPreprocessor(max_word_chars=4).adapt(
        [["The", "dog"], ["the", "cat"]], [["DET", "NOUN"], ["DET", "NOUN"]], counts, 5
    )
    assert pre.words == ["the", "dog", "cat", "zebra", "gnu"] and pre.num_tagged_words == 3
    clone = TaggingPreprocessor.from_config(pre.get_config())
    assert clone.num_tagged_words == 3
    assert clone(tf.constant([["gnu", "rare"]]))["words"].numpy().tolist() == [[6, 1]]
    capped = TaggingPreprocessor(max_words=5).adapt([["a", "b"]], [["X", "Y"]], counts, 5)
    assert capped.words == ["a", "b", "the"]  # max_words counts padding and [UNK]


def test_split_unlabelled_and_its_errors(tmp_path):
    assert split_unlabelled(["I don't know.", ""]) == [["i", "do", "n't", "know", "."], []]
    assert split_unlabelled([["The", "Dog"]]) == [["the", "dog"]]
    with pytest.raises(UserInputError, match="not one string"):
        split_unlabelled("one text")
    with pytest.raises(UserInputError, match="mixes texts and token lists"):
        split_unlabelled(["a text", ["tokens"]])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n\nstill fine\n\xff\xfe broken\n")
    with pytest.raises(UserInputError, match="bad.txt line 4 is not UTF-8"):
        read_unlabelled(bad)
    good = tmp_path / "good.txt"
    good.write_text("one text\n\n  \ntwo\n", encoding="utf-8")
    assert read_unlabelled(good) == ["one text", "two"]
    with pytest.raises(UserInputError, match="does not exist"):
        read_unlabelled(tmp_path / "missing.txt")


def test_fit_with_untagged_text_extends_the_vocabulary_and_starts_the_embedding():
    sentences, tags = _next_word_corpus(60)
    untagged = ["a b c d e", "e a b", "f e a"] * 10  # "e" 30 times, "f" 10 times
    config = TaggingConfig(
        embedding_dim=4, char_embedding_dim=4, char_units=4, units=4, num_layers=1, epochs=1,
        verbose=0,
    )  # fmt: skip
    tagger = Tagger(config).fit(list(zip(sentences, tags)), unlabelled=untagged)
    pre = tagger.preprocessor_
    assert pre.words[pre.num_tagged_words :] == ["e", "f"]
    assert tagger.unlabelled_["texts"] == 30 and tagger.unlabelled_["words_added"] == 2
    # Unseen words are counted against the tagged words only: "e" has an id but is unseen.
    report = tagger.evaluate([(["e", "a"], ["X", "Y"])])
    assert report["num_unseen_tokens"] == 1
    with pytest.raises(UserInputError, match="not both"):
        Tagger(dataclasses.replace(config, word_vectors="v.txt")).fit(
            list(zip(sentences, tags)), unlabelled=untagged
        )
