"""Sequence tagging (one label per token: part-of-speech tags, named entities).

Built so far: the scoring (`metrics`). The corpus readers are `rnn_apps.data.conllu`, the CRF
output layer `rnn_apps.layers.CRF`, pretrained vectors `rnn_apps.embeddings.load_word_vectors`.
"""

from rnn_apps.tasks.tagging.metrics import (
    confusion_matrix,
    span_scores,
    tag_report,
    token_accuracy,
    unseen_word_accuracy,
)

__all__ = [
    "confusion_matrix",
    "span_scores",
    "tag_report",
    "token_accuracy",
    "unseen_word_accuracy",
]
