"""Text generation: character- and word-level recurrent language models.

Modules: `config` (`TextGenConfig`), `preprocessor` (tokenization, `Vocabulary`: text <-> ids,
training windows), `model` (the LM from the builders), `sampling` (`LMGraph`: in-graph
generation and scoring, the caps), `inference` (generate/score/evaluate written once against
`run(...)`/`metadata`), `callbacks` (schedule, state reset, validation), `task`
(`TextGenerator`).
"""

from rnn_apps.data.shakespeare import load_corpus
from rnn_apps.tasks.textgen.config import CELLS, LEVELS, TextGenConfig
from rnn_apps.tasks.textgen.inference import (
    MAX_NUM_SAMPLES,
    check_sampling_args,
    evaluate_text,
    generate_texts,
    loss_metrics,
    score_texts,
)
from rnn_apps.tasks.textgen.preprocessor import (
    NEWLINE_TOKEN,
    OOV_ID,
    OOV_TOKEN,
    PAD_ID,
    Vocabulary,
    detokenize_words,
    tokenize,
)
from rnn_apps.tasks.textgen.sampling import (
    MAX_GENERATE_BATCH,
    MAX_NEW_TOKENS_CAP,
    MAX_PROMPT_CHARS,
    MAX_SCORE_BATCH_TOKENS,
    MAX_SCORE_CHARS,
    SERVING_DEFAULTS,
    LMGraph,
    generate_signature,
)
from rnn_apps.tasks.textgen.task import TextGenerator, plot_learning_curve

__all__ = [
    "CELLS",
    "LEVELS",
    "MAX_GENERATE_BATCH",
    "MAX_NEW_TOKENS_CAP",
    "MAX_NUM_SAMPLES",
    "MAX_PROMPT_CHARS",
    "MAX_SCORE_BATCH_TOKENS",
    "MAX_SCORE_CHARS",
    "NEWLINE_TOKEN",
    "OOV_ID",
    "OOV_TOKEN",
    "PAD_ID",
    "SERVING_DEFAULTS",
    "LMGraph",
    "TextGenConfig",
    "TextGenerator",
    "Vocabulary",
    "check_sampling_args",
    "detokenize_words",
    "evaluate_text",
    "generate_signature",
    "generate_texts",
    "load_corpus",
    "loss_metrics",
    "plot_learning_curve",
    "score_texts",
    "tokenize",
]
