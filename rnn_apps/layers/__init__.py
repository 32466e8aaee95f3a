"""Custom Keras layers of rnn_apps, one concept per module, all at module level.

Every layer is registered with `keras.saving.register_keras_serializable(package="rnn_apps")`
when this package is imported, which `import rnn_apps` does: a `.keras` file holding them loads
with `keras.saving.load_model(path, safe_mode=True)` after `import rnn_apps`.

| module | layers |
| --- | --- |
| `pooling` | `MaskedGlobalMaxPooling1D` |
| `segrnn` | `SegRNN` (forecasting) |
| `dlinear` | `DLinear` (forecasting) |
| `window_norm` | `LastValueCentering`, `AddLastValue`, `TakeTargets` (forecasting) |
| `text` | `NgramHashing`, `TfidfBag`, `CapIds`, `HeadTailCrop`, `LogitBlend` (sentiment) |
| `text` | the metric `SoftBinaryAccuracy` (soft distillation targets) |
"""

from rnn_apps.layers.dlinear import DLinear
from rnn_apps.layers.pooling import MaskedGlobalMaxPooling1D
from rnn_apps.layers.segrnn import SegRNN
from rnn_apps.layers.text import (
    CapIds,
    HeadTailCrop,
    LogitBlend,
    NgramHashing,
    SoftBinaryAccuracy,
    TfidfBag,
)
from rnn_apps.layers.window_norm import AddLastValue, LastValueCentering, TakeTargets

__all__ = [
    "AddLastValue",
    "DLinear",
    "LastValueCentering",
    "SegRNN",
    "TakeTargets",
    "CapIds",
    "HeadTailCrop",
    "LogitBlend",
    "SoftBinaryAccuracy",
    "NgramHashing",
    "TfidfBag",
    "MaskedGlobalMaxPooling1D",
]
