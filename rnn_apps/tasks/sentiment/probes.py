"""Behaviour probes of a sentiment model: negation / word order, and no-evidence texts.

`NEGATION_SET` holds short sentences whose label depends on word order or negation. It was
written (2026-11-22) before any model of issue #12 was tuned and is not used for training or
model selection: it is a regression check. A bag of words gets many of them wrong ("not bad"
holds "bad"; "did not like" holds "like").

`NO_EVIDENCE_TEXTS` hold no word or number at all: a model should answer them with the class
prior ("no evidence, no opinion"), not with a confident label.

`probe_report(model)` runs both through `model.run("serving_default", ...)` (a trained
`SentimentClassifier` or a `SavedModelPredictor`) and says how many it gets right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: (text, label) pairs; the label is "pos" or "neg" (IMDB's class names).
NEGATION_SET: tuple[tuple[str, str], ...] = (
    ("This movie was not bad at all.", "pos"),
    ("I did not like it.", "neg"),
    ("Not a single dull moment.", "pos"),
    ("It could not have been better.", "pos"),
    ("I wanted to love it, but it was a mess.", "neg"),
    ("I didn't expect much, but it turned out wonderful.", "pos"),
    ("Not good.", "neg"),
    ("Not great, not terrible, just boring.", "neg"),
    ("I can't say I enjoyed a single minute of it.", "neg"),
    ("Never have I laughed so hard; a true delight.", "pos"),
    ("The trailer was awful, but the film itself is excellent.", "pos"),
    ("The cast is great, but the film itself is awful.", "neg"),
    ("Nothing about this movie works.", "neg"),
    ("There is nothing I would change about this film.", "pos"),
    ("I was not disappointed.", "pos"),
    ("It is hardly a masterpiece; I was bored throughout.", "neg"),
    ("Far from perfect, yet I loved every minute.", "pos"),
    ("Don't waste your time on this one.", "neg"),
    ("You won't regret watching it.", "pos"),
    ("It is not worth the ticket price.", "neg"),
    ("I expected to hate it, and I ended up loving it.", "pos"),
    ("Beautiful photography cannot save a dull, lifeless script.", "neg"),
    ("No one who loves cinema should miss this.", "pos"),
    ("Not funny, not clever, not worth it.", "neg"),
)

#: Texts without any word or number: the answer should be the class prior.
NO_EVIDENCE_TEXTS: tuple[str, ...] = (
    "",
    "   ",
    "\n\t",
    "!!!",
    "...?!",
    "\U0001f600\U0001f44d",
    "\U0001f621 \U0001f621",
    "<br /><br />",
)


def probe_report(model: Any) -> dict[str, Any]:
    """How a model does on `NEGATION_SET` and `NO_EVIDENCE_TEXTS`.

    Args:
        model: A trained `SentimentClassifier` or a `SavedModelPredictor` of a two-class model
            whose classes are `"neg"` and `"pos"`.

    Returns:
        `negation_correct`, `negation_total`, `negation` (per sentence: text, expected,
        predicted, probability), `no_evidence_probabilities` (per text) and
        `no_evidence_max_distance_from_half`.
    """
    from rnn_apps.tasks.sentiment.inference import predict_texts

    texts = [t for t, _ in NEGATION_SET]
    pred = predict_texts(model, texts)
    rows = [
        {"text": t, "expected": y, "predicted": p, "probability": round(float(q), 4)}
        for (t, y), p, q in zip(NEGATION_SET, pred.labels, pred.probabilities)
    ]
    empty = predict_texts(model, list(NO_EVIDENCE_TEXTS)).probabilities
    return {
        "negation_correct": int(sum(r["expected"] == r["predicted"] for r in rows)),
        "negation_total": len(rows),
        "negation": rows,
        "no_evidence_probabilities": [round(float(q), 4) for q in empty],
        "no_evidence_max_distance_from_half": round(float(np.max(np.abs(empty - 0.5))), 4),
    }
