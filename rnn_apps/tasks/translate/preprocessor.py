"""Sentences -> token ids and token ids -> clean sentences, for both sides of a translator.

`TranslatePreprocessor` is a `keras.layers.Layer` (defined at module level in
`rnn_apps.layers.translate_preprocessor`, registered on `import rnn_apps`, and re-exported
here with its helpers under their usual names): called on source sentences (B,) it returns
the source ids (B, S) the encoder takes. The same layer maps sentences inside `tf.data` while
training and inside the exported SavedModel, so both see exactly the same tokens; it owns the
inverse mapping too (`detokenize`: ids -> a detokenised, true-cased sentence). See that
module for the standardisation steps (`standardize`).
"""

from __future__ import annotations

from rnn_apps.layers.translate_preprocessor import (
    END,
    MAX_TEXT_BYTES,
    START,
    UNK,
    TranslatePreprocessor,
    standardize,
)

__all__ = ["END", "MAX_TEXT_BYTES", "START", "UNK", "TranslatePreprocessor", "standardize"]
