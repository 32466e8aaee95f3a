"""English <-> French translation: an attention encoder-decoder with beam search in the graph.

Public names: `Translator` (the `Task`), `TranslateConfig`, `TranslatePreprocessor`,
`standardize`, `greedy_decode` / `beam_search` / `decode`, `corpus_scores`,
`evaluate_pairs`, `translate_texts`, `plot_attention`, `as_pairs`; the signature caps
`MAX_TRANSLATE_BATCH`, `MAX_BEAM_WIDTH`, `MAX_DECODE_CAP`.
"""

from rnn_apps.tasks.translate.config import MAX_DECODE_CAP, TranslateConfig
from rnn_apps.tasks.translate.decoding import Decoder, beam_search, decode, greedy_decode
from rnn_apps.tasks.translate.metrics import (
    attention_weights,
    corpus_scores,
    evaluate_pairs,
    plot_attention,
    translate_texts,
)
from rnn_apps.tasks.translate.preprocessor import TranslatePreprocessor, standardize
from rnn_apps.tasks.translate.task import (
    MAX_BEAM_WIDTH,
    MAX_TRANSLATE_BATCH,
    Translator,
    as_pairs,
)

__all__ = [
    "MAX_BEAM_WIDTH",
    "MAX_DECODE_CAP",
    "MAX_TRANSLATE_BATCH",
    "Decoder",
    "TranslateConfig",
    "TranslatePreprocessor",
    "Translator",
    "as_pairs",
    "attention_weights",
    "beam_search",
    "corpus_scores",
    "decode",
    "evaluate_pairs",
    "greedy_decode",
    "plot_attention",
    "standardize",
    "translate_texts",
]
