"""Prediction and evaluation written once against the `run(...)` / `metadata` API.

Every function here takes `model`: a trained `SentimentClassifier` (in process) or a
`rnn_apps.tasks.base.SavedModelPredictor` (an export, e.g. `saved_models/sentiment_imdb`);
both run the same `serving_default` graph (`text` -> `probability`, `label`) and carry the
same metadata (`class_names`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.sentiment.preprocessor import MAX_TEXT_BYTES, encode_labels

#: Most texts per call of the `serving_default` and `branches` signatures (refused in the
#: graph beyond it); `predict`'s `batch_size` is at most this.
MAX_TEXT_BATCH = 1024


@dataclasses.dataclass
class SentimentPrediction:
    """Predictions for a batch of texts.

    Attributes:
        probabilities: (B,) probability of the positive class (two classes) or (B, C).
        labels: (B,) predicted class names.
    """

    probabilities: np.ndarray
    labels: list[str]


def as_bytes(texts: Sequence[Any] | str | bytes) -> list[bytes]:
    """Texts as UTF-8 bytes (a single string is one text)."""
    from rnn_apps.texts import as_utf8_bytes

    return as_utf8_bytes(texts)


def run_batched(
    texts: Sequence[bytes],
    fn: Callable[[np.ndarray], Mapping[str, np.ndarray]],
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Runs `fn` on batches of texts of similar length (less padding) and puts the outputs
    back in input order: N texts -> `{output: (N, ...)}`; {} for no texts.

    Raises:
        UserInputError: `batch_size` outside 1..`MAX_TEXT_BATCH`.
    """
    if not 1 <= int(batch_size) <= MAX_TEXT_BATCH:
        raise UserInputError(f"batch_size must be 1 to {MAX_TEXT_BATCH}, got {batch_size}.")
    if not len(texts):
        return {}
    order = np.argsort([min(len(t), MAX_TEXT_BYTES) for t in texts], kind="stable")
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(texts), batch_size):
        batch = np.array([texts[j] for j in order[i : i + batch_size]], dtype=object)
        for key, value in fn(batch).items():
            parts.setdefault(key, []).append(np.asarray(value))
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return {key: np.concatenate(values)[inverse] for key, values in parts.items()}


def predict_texts(model: Any, texts: Sequence[Any], batch_size: int = 256) -> SentimentPrediction:
    """Raw texts -> `SentimentPrediction` through `model.run("serving_default", text=...)`."""
    texts = as_bytes(texts)
    num_classes = len(model.metadata["class_names"])
    out = run_batched(texts, lambda b: model.run("serving_default", text=b), batch_size)
    if not out:
        shape = (0,) if num_classes == 2 else (0, num_classes)
        return SentimentPrediction(np.zeros(shape, np.float32), [])
    labels = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in out["label"]]
    return SentimentPrediction(out["probability"].astype(np.float32), labels)


def branch_probabilities(
    model: Any, texts: Sequence[Any], batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Raw texts -> the probability of each branch alone and of the blend, through
    `model.run("branches", text=...)`: `{"ngram_branch": (N,), "rnn_branch": (N,),
    "blend": (N,)}` ((N, C) with more than two classes).

    Raises:
        UserInputError: the model has no `branches` signature (exported before it existed).
    """
    if "branches" not in model.signature_names:
        raise UserInputError(
            "This sentiment model has no 'branches' signature (exported by an older "
            "rnn_apps); re-export it with `rnn-apps sentiment export --model DIR`."
        )
    texts = as_bytes(texts)
    out = run_batched(texts, lambda b: model.run("branches", text=b), batch_size)
    if not out:  # no texts: the signature's own empty outputs
        out = model.run("branches", text=np.zeros((0,), dtype=object))
    return {k: v.astype(np.float32) for k, v in out.items()}


def classification_metrics(
    y_true: np.ndarray, prob: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 (positive class / macro), ROC-AUC and the confusion
    matrix (rows true, columns predicted) from (N,) or (N, C) probabilities."""
    from sklearn import metrics as skm

    num_classes = len(class_names)
    y_true = np.asarray(y_true).astype(int)
    if num_classes == 2:
        pred = (prob >= 0.5).astype(int)
        avg = "binary"
    else:
        pred = prob.argmax(axis=1)
        avg = "macro"
    out: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "precision": float(skm.precision_score(y_true, pred, average=avg, zero_division=0)),
        "recall": float(skm.recall_score(y_true, pred, average=avg, zero_division=0)),
        "f1": float(skm.f1_score(y_true, pred, average=avg, zero_division=0)),
    }
    try:
        if num_classes == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, prob))
        else:
            out["roc_auc"] = float(
                skm.roc_auc_score(y_true, prob, multi_class="ovr", labels=list(range(num_classes)))
            )
    except ValueError:  # a class absent from y_true
        out["roc_auc"] = float("nan")
    out["confusion_matrix"] = skm.confusion_matrix(
        y_true, pred, labels=list(range(num_classes))
    ).tolist()
    out["class_names"] = list(class_names)
    out["num_examples"] = int(len(y_true))
    return out


def evaluate_texts(
    model: Any,
    texts: Sequence[Any],
    labels: Sequence[Any],
    *,
    output_dir: str | os.PathLike | None = None,
    histories: Mapping[str, Any] | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Metrics of `model` on labelled texts (`classification_metrics` of the blend, plus
    `branch_accuracy`: the accuracy of each branch alone and of the blend, when the model has
    the `branches` signature); with `output_dir`, writes `confusion_matrix.png` (and
    `learning_curves.png` from `histories`) there.

    Raises:
        UserInputError: no texts, texts and labels of different lengths, a missing label or
            one that is not a class of the model.
    """
    from rnn_apps import reporting

    texts = as_bytes(texts)
    labels = list(labels)
    if not texts:
        raise UserInputError("Nothing to evaluate: the data holds no texts.")
    if len(texts) != len(labels):
        raise UserInputError(f"Got {len(texts)} texts but {len(labels)} labels.")
    class_names = list(model.metadata["class_names"])
    y = encode_labels(labels, class_names)
    if "branches" in model.signature_names:  # one pass gives every branch and the blend
        probs = branch_probabilities(model, texts, batch_size)
        prob = probs["blend"]
    else:  # an export made before the `branches` signature
        probs, prob = {}, predict_texts(model, texts, batch_size).probabilities
    out = classification_metrics(y, prob, class_names)
    if probs:
        out["branch_accuracy"] = {
            name: classification_metrics(y, p, class_names)["accuracy"] for name, p in probs.items()
        }
    if output_dir is not None:
        out_dir = Path(output_dir)
        reporting.plot_confusion_matrix(
            out["confusion_matrix"], class_names, out_dir / "confusion_matrix.png"
        )
        if histories:
            reporting.plot_learning_curves(
                histories, out_dir / "learning_curves.png", metrics=("loss", "accuracy")
            )
    return out
