"""Sequence tagging: one label per token (part-of-speech tags, named entities).

Modules: `config` (`TaggingConfig`), `model` (the core and its softmax / CRF head),
`inference` (tagging and scoring written once against `run(...)` / `metadata`), `metrics`
(accuracy, per-tag and span scores), `task` (`Tagger`). The corpus readers are
`rnn_apps.data.conllu`, the layers `rnn_apps.layers.TaggingPreprocessor`, `CharEncoder` and
`CRF`, pretrained vectors `rnn_apps.embeddings.load_word_vectors`.
"""

from rnn_apps.tasks.tagging.config import TaggingConfig
from rnn_apps.tasks.tagging.inference import (
    MAX_TAG_BATCH,
    as_sentences,
    evaluate_sentences,
    tag_sentences,
    tag_texts,
)
from rnn_apps.tasks.tagging.metrics import (
    confusion_matrix,
    span_scores,
    tag_report,
    token_accuracy,
    unseen_word_accuracy,
)
from rnn_apps.tasks.tagging.task import Tagger

__all__ = [
    "MAX_TAG_BATCH",
    "Tagger",
    "TaggingConfig",
    "as_sentences",
    "confusion_matrix",
    "evaluate_sentences",
    "span_scores",
    "tag_report",
    "tag_sentences",
    "tag_texts",
    "token_accuracy",
    "unseen_word_accuracy",
]
