"""Scores of predicted tags against gold tags, sentence by sentence.

- `token_accuracy`: the share of tokens tagged right (UD's UPOS / XPOS accuracy over every
  token of the test file).
- `unseen_word_accuracy`: the same over tokens whose word never occurs in training.
- `tag_report`: precision, recall, F1 and support per tag, with micro and macro averages.
- `span_scores`: entity spans (type and boundaries must both match) for BIO tags, micro
  precision / recall / F1 and per type, as `seqeval` computes them (its default conlleval
  mode, or `strict=True` for its strict IOB2 mode).
- `confusion_matrix`: counts (gold tag, predicted tag).

Every function takes sentences as sequences of tags (lists or arrays of strings) and refuses
sentences of different lengths in one line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.data.conllu import bio_spans
from rnn_apps.errors import UserInputError

Sentences = Sequence[Sequence[str]]


def _pairs(gold: Sentences, pred: Sentences) -> list[tuple[str, str]]:
    if len(gold) != len(pred):
        raise UserInputError(f"{len(gold)} gold sentences but {len(pred)} predicted ones.")
    pairs: list[tuple[str, str]] = []
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise UserInputError(
                f"sentence {i}: {len(g)} gold tags but {len(p)} predicted ones; predict one tag "
                "per token."
            )
        pairs.extend(zip(map(str, g), map(str, p)))
    return pairs


def token_accuracy(gold: Sentences, pred: Sentences) -> float:
    """The share of tokens whose predicted tag is the gold one (NaN without tokens)."""
    pairs = _pairs(gold, pred)
    if not pairs:
        return float("nan")
    return sum(g == p for g, p in pairs) / len(pairs)


def unseen_word_accuracy(
    gold: Sentences, pred: Sentences, tokens: Sentences, train_words: Any
) -> tuple[float, int]:
    """`(accuracy, count)` over the tokens whose word is not in `train_words` (a set of the
    training words, compared as written); NaN when there is none."""
    pairs = _pairs(gold, pred)
    words = [w for sentence in tokens for w in sentence]
    if len(words) != len(pairs):
        raise UserInputError(f"{len(words)} tokens for {len(pairs)} tags; give the same sentences.")
    unseen = [g == p for (g, p), w in zip(pairs, words) if w not in train_words]
    return (sum(unseen) / len(unseen) if unseen else float("nan")), len(unseen)


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def tag_report(gold: Sentences, pred: Sentences) -> dict[str, dict[str, float]]:
    """Per-tag precision / recall / F1 / support (gold count), plus `"micro"` (= accuracy)
    and `"macro"` (unweighted mean over the gold tags) averages."""
    pairs = _pairs(gold, pred)
    tp = Counter(g for g, p in pairs if g == p)
    n_gold = Counter(g for g, _ in pairs)
    n_pred = Counter(p for _, p in pairs)
    report = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in sorted(n_gold | n_pred)}
    gold_tags = sorted(n_gold)
    report["micro"] = _prf(sum(tp.values()), len(pairs), len(pairs))
    report["macro"] = {
        k: float(np.mean([report[t][k] for t in gold_tags])) if gold_tags else 0.0
        for k in ("precision", "recall", "f1")
    }
    report["macro"]["support"] = len(pairs)
    return report


def span_scores(gold: Sentences, pred: Sentences, *, strict: bool = False) -> dict[str, Any]:
    """Entity-span precision / recall / F1 (exact type and boundaries), micro over all spans,
    and `per_type`; spans read by `rnn_apps.data.conllu.bio_spans`."""
    _pairs(gold, pred)  # the length checks
    tp: Counter = Counter()
    n_gold: Counter = Counter()
    n_pred: Counter = Counter()
    for g, p in zip(gold, pred):
        g_spans = set(bio_spans(list(map(str, g)), strict=strict))
        p_spans = set(bio_spans(list(map(str, p)), strict=strict))
        tp.update(s[0] for s in g_spans & p_spans)
        n_gold.update(s[0] for s in g_spans)
        n_pred.update(s[0] for s in p_spans)
    out: dict[str, Any] = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    out["per_type"] = {t: _prf(tp[t], n_pred[t], n_gold[t]) for t in sorted(n_gold | n_pred)}
    return out


def confusion_matrix(
    gold: Sentences, pred: Sentences, labels: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """`(counts (K, K), labels)`: `counts[i, j]` tokens of gold `labels[i]` predicted
    `labels[j]`; labels default to every tag seen, sorted."""
    pairs = _pairs(gold, pred)
    names = list(labels) if labels is not None else sorted({t for pair in pairs for t in pair})
    index = {t: i for i, t in enumerate(names)}
    counts = np.zeros((len(names), len(names)), np.int64)
    for g, p in pairs:
        if g in index and p in index:
            counts[index[g], index[p]] += 1
    return counts, names
