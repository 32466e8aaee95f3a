"""Sentiment / text classification: raw text -> n-gram + bidirectional RNN branches -> label.

| module | holds |
| --- | --- |
| `config` | `SentimentConfig` |
| `preprocessor` | `SentimentPreprocessor` (text <-> ids, class names, postprocess) |
| `model` | the branch and blend builders |
| `task` | `SentimentClassifier` (the `Task`: `fit`, its hooks, inference) |
| `run` | `start_run`, `SentimentRun`: one `fit`'s checked inputs, split and batches |
| `datasets` | `text_dataset`: texts -> tokenised, length-bucketed tf.data batches |
| `branches` | training the n-gram branch and the RNN branch |
| `encoder_init` | the RNN's start: word vectors and language-model pretraining |
| `pretrain` | `pretrain_encoder`: the language-model pretraining loop |
| `distill` | the n-gram teacher's targets on the unlabelled texts |
| `blend` | `fit_blend`: the branch blend fitted on the validation split |
| `refit` | the refit of both branches on all labelled texts |
| `inference` | `predict_texts`, `evaluate_texts`: one code path for a classifier and an export |
| `data` | `load_text_data`, `load_text_dataframe` |
| `probes` | negation / no-evidence behaviour probes |

The input size cap: texts are cut at `MAX_TEXT_BYTES` bytes before any other processing.
"""

from rnn_apps.tasks.sentiment.config import SentimentConfig
from rnn_apps.tasks.sentiment.data import load_text_data, load_text_dataframe
from rnn_apps.tasks.sentiment.inference import (
    MAX_TEXT_BATCH,
    SentimentPrediction,
    classification_metrics,
    evaluate_texts,
    predict_texts,
)
from rnn_apps.tasks.sentiment.preprocessor import (
    MAX_TEXT_BYTES,
    SentimentPreprocessor,
    class_names_of,
    standardize_text,
)
from rnn_apps.tasks.sentiment.task import SentimentClassifier

__all__ = [
    "MAX_TEXT_BATCH",
    "MAX_TEXT_BYTES",
    "SentimentClassifier",
    "SentimentConfig",
    "SentimentPrediction",
    "SentimentPreprocessor",
    "class_names_of",
    "classification_metrics",
    "evaluate_texts",
    "load_text_data",
    "load_text_dataframe",
    "predict_texts",
    "standardize_text",
]
