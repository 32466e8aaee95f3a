"""The baselines of `benchmarks/tagging_ud_ewt.py` on a tiny corpus (no timing claims)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from rnn_apps.data.conllu import TaggedSentence

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(script: str):
    """A benchmark script as a module (its harness imports resolve from benchmarks/)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(Path(script).stem, BENCHMARKS / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("tagging_ud_ewt.py")


TRAIN = [
    TaggedSentence(["The", "dog", "runs", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
    TaggedSentence(["A", "cat", "sleeps", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
    TaggedSentence(["Dogs", "run", "."], ["NOUN", "VERB", "PUNCT"]),
] * 5
TEST = [TaggedSentence(["The", "zebra", "runs", "."], ["DET", "NOUN", "VERB", "PUNCT"])]


def test_most_frequent_tag_gives_unknown_words_the_open_class_tag(bench):
    assert bench.most_frequent_tag(TRAIN, TEST, "upos") == [["DET", "NOUN", "VERB", "PUNCT"]]
    # Another column: the most frequent training tag.
    assert bench.most_frequent_tag(TRAIN, TEST, "misc:NER")[0][1] in {"NOUN", "VERB"}


def test_feature_logreg_tags_an_unseen_word_from_its_context(bench):
    pred, seconds = bench.feature_logreg(TRAIN, TEST, seed=0)
    assert pred == [["DET", "NOUN", "VERB", "PUNCT"]] and seconds >= 0
    assert bench._shape("McDonald's-2") == "XxXx'x"  # classes collapsed, cut at 6
    assert bench._shape("1990s") == "dx"


def test_seed_ensemble_takes_the_arg_max_of_the_mean_probabilities():
    import numpy as np

    seeds = _load("tagging_ud_ewt_seeds.py")

    # Two members disagree on the second token; the surer one wins the mean.
    a = [np.array([[0.9, 0.1], [0.45, 0.55]])]
    b = [np.array([[0.8, 0.2], [0.9, 0.1]])]
    assert seeds.ensemble_tags([a, b], ["NOUN", "VERB"]) == [["NOUN", "NOUN"]]
    assert seeds.ensemble_tags([a], ["NOUN", "VERB"]) == [["NOUN", "VERB"]]
