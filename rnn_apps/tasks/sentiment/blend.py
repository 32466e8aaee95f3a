"""The branch blend: non-negative weights of the branches' logits, fitted on the validation split.

`fit_blend` runs the trained (frozen) branches once over the validation batches, fits the
`LogitBlend` layer of the joined model (`model.build_sentiment_model`) on their logits
(200 full-batch steps of Adam) and scores every branch alone and the blend: the figures the
model selection is judged by (`validation_metrics_`, `validation_report_`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.tasks.sentiment import model as model_lib
from rnn_apps.tasks.sentiment.inference import classification_metrics

#: Full-batch steps of the blend weights' fit (run as one Keras epoch: 200 epochs would cost
#: seconds of per-epoch overhead).
BLEND_STEPS = 200


def fit_blend(
    model: Any, branches: Sequence[Any], val_ds: Any, pre: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fits the blend weights of `model` on the validation logits of its frozen branches.

    Args:
        model: The joined model; its layer `logits` (a `LogitBlend` with more than one
            branch) is fitted in place.
        branches: The branch models, in blend order: each (B, T) -> (B, O) logits.
        val_ds: Validation batches of `(tokens (B, T), class ids (B,))`.
        pre: The fit's `SentimentPreprocessor` (postprocess, class names).

    Returns:
        (metrics, report): metrics holds `branch_<name>_accuracy` for every branch,
        `blend_accuracy` and (more than one branch) `branch_weights`; report holds all
        `classification_metrics` of the blend.
    """
    import keras
    import tensorflow as tf

    # Compiled once for all batch shapes: eager calls would step the RNN in Python.
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def logits_of(tokens):
        return [b(tokens, training=False) for b in branches]

    parts: list[list[np.ndarray]] = [[] for _ in branches]
    ys = []
    for tokens, lab in val_ds:
        for i, z in enumerate(logits_of(tf.cast(tokens, tf.int32))):
            parts[i].append(np.asarray(z))
        ys.append(lab.numpy())
    z = [np.concatenate(p) for p in parts]  # k x (N, O)
    y = np.concatenate(ys)
    blend_layer = model.get_layer("logits")
    metrics: dict[str, Any] = {}
    if len(branches) > 1:
        inputs = [keras.Input(shape=(pre.output_dim,)) for _ in branches]
        blender = keras.Model(inputs, blend_layer(inputs))
        model_lib.compile_branch(blender, pre.output_dim, 0.05)
        steps = tf.data.Dataset.from_tensors((tuple(z), y)).repeat(BLEND_STEPS)
        blender.fit(steps, epochs=1, shuffle=False, verbose=0)
        blended = blender.predict(z, verbose=0)
        metrics["branch_weights"] = [float(w) for w in np.asarray(blend_layer.branch_weights)]
    else:
        blended = z[0]
    names = pre.class_names
    for branch, zi in zip(branches, z):
        prob = pre.postprocess(zi)["probability"].numpy()
        metrics[f"branch_{branch.name}_accuracy"] = classification_metrics(y, prob, names)[
            "accuracy"
        ]
    prob = pre.postprocess(blended)["probability"].numpy()
    report = classification_metrics(y, prob, names)
    metrics["blend_accuracy"] = report["accuracy"]
    return metrics, report
