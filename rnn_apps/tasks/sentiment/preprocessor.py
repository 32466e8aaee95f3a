"""Raw text -> token ids, class names <-> class ids, and logits -> probabilities and labels.

`SentimentPreprocessor` is a `keras.layers.Layer` (defined at module level in
`rnn_apps.layers.sentiment_preprocessor`, registered on `import rnn_apps`, and re-exported here
with its helpers under their usual names): called on texts (B,) it returns the token ids
(B, T) the model takes. The same layer maps texts inside `tf.data` while training and inside
the exported SavedModel's `serving_default`, so both see exactly the same tokens. It also owns
the inverse mappings (token ids -> text with `detokenize`, class ids -> class names in
`postprocess`).

Input size cap: every text is cut at `MAX_TEXT_BYTES` bytes before any other processing.
A text without any letter or digit gets the training class prior from `postprocess`.
"""

from __future__ import annotations

from rnn_apps.layers.sentiment_preprocessor import (
    MAX_TEXT_BYTES,
    SentimentPreprocessor,
    check_labels,
    class_names_of,
    encode_labels,
    has_evidence,
    standardize_text,
)

__all__ = [
    "MAX_TEXT_BYTES",
    "SentimentPreprocessor",
    "check_labels",
    "class_names_of",
    "encode_labels",
    "has_evidence",
    "standardize_text",
]
