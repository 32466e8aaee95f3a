"""Distillation: the RNN branch also learns the trained n-gram branch's answers on unlabelled texts.

With `fit(unlabelled=...)` and `config.distill`, the trained n-gram branch (the teacher)
labels the unlabelled texts: its probability of the positive class with two classes (soft
targets), else its arg max class (self-training). The RNN branch then trains on the labelled
texts with their labels plus the unlabelled texts with these targets (Tang et al. 2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment.inference import as_bytes, run_batched
from rnn_apps.tasks.sentiment.preprocessor import has_evidence


def teacher_targets(pre: Any, teacher: Any, texts: Sequence[str]) -> np.ndarray:
    """The teacher's targets for texts, in input order.

    Args:
        pre: The fit's `SentimentPreprocessor`.
        teacher: A trained branch model: (B, T) token ids -> (B, O) logits.
        texts: (N,) texts.

    Returns:
        (N,) float32 probabilities of the positive class (two classes), or (N,) int64 arg max
        class ids; a text without evidence gets the class prior's.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def targets(text):
        logits = teacher(pre(text), training=False)
        return pre.postprocess(logits, has_evidence(text))["probability"]

    out = run_batched(as_bytes(texts), lambda b: {"p": targets(tf.constant(b))}, 512)["p"]
    if pre.output_dim == 1:
        return out.astype(np.float32)
    return out.argmax(axis=1).astype(np.int64)


def distillation_dataset(
    srun: Any, teacher: Any, texts: Sequence[str], y: np.ndarray, *, name: str
) -> tuple[Any, int]:
    """The RNN branch's training batches with distillation: the labelled texts with their class
    ids and `srun.unlabelled` with the teacher's targets (recorded as step
    `distillation_targets` + the suffix of `name`, e.g. `_refit`).

    Args:
        srun: The fit's `SentimentRun`.
        teacher: The trained n-gram branch.
        texts: (N,) labelled texts; `y`: (N,) their class ids.
        name: The RNN branch's training name (`rnn`, `rnn_refit`).

    Returns:
        (batches of `texts + unlabelled` (`text_dataset`), N + number of unlabelled texts).
    """
    from rnn_apps.progress import step

    extra = srun.unlabelled
    with step(f"Labelling {len(extra)} unlabelled texts ({name} teacher)", srun.config.verbose):
        soft = teacher_targets(srun.pre, teacher, extra)
    targets = np.concatenate([y.astype(soft.dtype), soft])
    ds = srun.dataset(list(texts) + list(extra), targets, train=True)
    srun.lap("distillation_targets" + name[len("rnn") :])
    return ds, len(texts) + len(extra)
