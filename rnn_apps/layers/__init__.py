"""Custom Keras layers of rnn_apps, one concept per module, all at module level.

Every layer is registered with `keras.saving.register_keras_serializable(package="rnn_apps")`
when this package is imported, which `import rnn_apps` does: a `.keras` file holding them loads
with `keras.saving.load_model(path, safe_mode=True)` after `import rnn_apps`.

| module | layers |
| --- | --- |
| `pooling` | `MaskedGlobalMaxPooling1D` |
| `char_encoder` | `CharEncoder` (a word's characters -> a vector; sequence tagging) |
| `crf` | `CRF` (linear-chain CRF: log-likelihood, Viterbi decoding; sequence tagging) |
| `word_dropout` | `WordDropout` (token ids -> [UNK] at random while training; tagging) |
| `segrnn` | `SegRNN` (forecasting) |
| `dlinear` | `DLinear` (forecasting) |
| `difference_rnn` | `DifferenceRNN` (forecasting; streams with O(1) work per observation) |
| `quantiles` | `NonCrossingQuantiles`, the loss `PinballLoss` (forecast quantiles) |
| `covariates` | `CovariateEncoder` (future and static covariates -> network inputs) |
| `window_scale` | `MaskedWindowScale`, `UnscaleForecast` (many-series forecasting) |
| `window_norm` | `LastValueCentering`, `AddLastValue`, `TakeTargets` (forecasting) |
| `text` | `NgramHashing`, `TfidfBag`, `CapIds`, `HeadTailCrop`, `LogitBlend` (sentiment) |
| `text` | the metric `SoftBinaryAccuracy` (soft distillation targets) |
| `forecast_preprocessor` | `ForecastPreprocessor` (window in real units -> scaled window) |
| `sentiment_preprocessor` | `SentimentPreprocessor` (texts -> token ids; postprocess) |
| `translate_preprocessor` | `TranslatePreprocessor` (source sentences -> ids; ids -> text) |
| `textgen_preprocessor` | `TextGenPreprocessor` = `Vocabulary` (texts <-> token ids) |
| `tagging_preprocessor` | `TaggingPreprocessor` (tokens -> word and character ids; tags) |

The task preprocessors are layers, as keras-hub's preprocessors are: adapted on training data
only (their `adapt`), they map a task's raw input to the model's input tensors in a `tf.data`
pipeline (`ds.map(pre)`), in a functional Keras model and in the exported SavedModel alike, and
an export tracks them as attributes of the task (`Task.track`), without a per-task hook.
"""

from rnn_apps.layers.char_encoder import CharEncoder
from rnn_apps.layers.covariates import CovariateEncoder
from rnn_apps.layers.crf import CRF
from rnn_apps.layers.difference_rnn import DifferenceRNN
from rnn_apps.layers.dlinear import DLinear
from rnn_apps.layers.forecast_preprocessor import ForecastPreprocessor
from rnn_apps.layers.pooling import MaskedGlobalMaxPooling1D
from rnn_apps.layers.quantiles import NonCrossingQuantiles, PinballLoss
from rnn_apps.layers.segrnn import SegRNN
from rnn_apps.layers.sentiment_preprocessor import SentimentPreprocessor
from rnn_apps.layers.tagging_preprocessor import TaggingPreprocessor
from rnn_apps.layers.text import (
    CapIds,
    HeadTailCrop,
    LogitBlend,
    NgramHashing,
    SoftBinaryAccuracy,
    TfidfBag,
)
from rnn_apps.layers.textgen_preprocessor import TextGenPreprocessor
from rnn_apps.layers.translate_preprocessor import TranslatePreprocessor
from rnn_apps.layers.window_norm import AddLastValue, LastValueCentering, TakeTargets
from rnn_apps.layers.window_scale import MaskedWindowScale, UnscaleForecast
from rnn_apps.layers.word_dropout import WordDropout

__all__ = [
    "CRF",
    "CharEncoder",
    "CovariateEncoder",
    "DifferenceRNN",
    "AddLastValue",
    "DLinear",
    "LastValueCentering",
    "MaskedWindowScale",
    "UnscaleForecast",
    "SegRNN",
    "TakeTargets",
    "CapIds",
    "HeadTailCrop",
    "LogitBlend",
    "SoftBinaryAccuracy",
    "NgramHashing",
    "TfidfBag",
    "MaskedGlobalMaxPooling1D",
    "NonCrossingQuantiles",
    "PinballLoss",
    "ForecastPreprocessor",
    "SentimentPreprocessor",
    "TaggingPreprocessor",
    "TextGenPreprocessor",
    "TranslatePreprocessor",
    "WordDropout",
]
