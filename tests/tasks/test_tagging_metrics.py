"""Tests of the tagging scores (`rnn_apps.tasks.tagging.metrics`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.tagging import (
    confusion_matrix,
    span_scores,
    tag_report,
    token_accuracy,
    unseen_word_accuracy,
)

GOLD = [["DET", "NOUN", "VERB"], ["PRON", "VERB"]]
PRED = [["DET", "VERB", "VERB"], ["PRON", "NOUN"]]


def test_token_accuracy_report_and_confusion():
    assert token_accuracy(GOLD, PRED) == 3 / 5
    assert math.isnan(token_accuracy([], []))
    report = tag_report(GOLD, PRED)
    assert report["VERB"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["NOUN"]["precision"] == 0.0 and report["NOUN"]["support"] == 1
    assert report["micro"]["f1"] == pytest.approx(3 / 5)
    assert report["macro"]["recall"] == pytest.approx(np.mean([1, 0, 1, 0.5]))
    counts, labels = confusion_matrix(GOLD, PRED)
    assert labels == ["DET", "NOUN", "PRON", "VERB"]
    assert counts[labels.index("NOUN"), labels.index("VERB")] == 1
    assert counts.sum() == 5 and np.trace(counts) == 3


def test_unseen_word_accuracy():
    tokens = [["the", "zorb", "runs"], ["she", "glimbs"]]
    acc, n = unseen_word_accuracy(GOLD, PRED, tokens, {"the", "runs", "she"})
    assert (acc, n) == (0.0, 2)
    acc, n = unseen_word_accuracy(GOLD, PRED, tokens, {w for s in tokens for w in s})
    assert math.isnan(acc) and n == 0


def test_span_scores_as_seqeval():
    # seqeval's README example: f1 0.50 (the MISC span's boundary is wrong, PER is right).
    gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = span_scores(gold, pred)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert scores["per_type"]["PER"]["f1"] == 1.0 and scores["per_type"]["MISC"]["f1"] == 0.0
    # A stray I- tag: a span in the default mode, none in strict mode.
    stray = [["O", "I-PER", "O"]]
    assert span_scores([["O", "B-PER", "O"]], stray)["f1"] == 1.0
    assert span_scores([["O", "B-PER", "O"]], stray, strict=True)["recall"] == 0.0


def test_mismatched_lengths_are_refused_in_one_line():
    with pytest.raises(UserInputError, match="sentence 1: 2 gold tags but 1 predicted"):
        token_accuracy(GOLD, [PRED[0], ["PRON"]])
    with pytest.raises(UserInputError, match="2 gold sentences but 1 predicted"):
        span_scores(GOLD, PRED[:1])
