"""rnn_apps: recurrent neural networks that ship.

Builders return plain `keras.Model`s; task pipelines (sentiment, text generation, forecasting)
train, evaluate and export TensorFlow SavedModels that serve raw input without this package.
"""

__version__ = "0.1.0"

from rnn_apps._startup import quiet_tensorflow_startup  # noqa: E402

with quiet_tensorflow_startup():
    import tensorflow as _tf

    from rnn_apps import layers  # noqa: F401  (registers the custom layers)

    _tf.config.list_physical_devices()  # device discovery prints its notices here, once
from rnn_apps.builders import (  # noqa: E402
    EncoderDecoder,
    build_bidirectional,
    build_encoder_decoder,
    build_simple_rnn,
    build_stacked_rnn,
    compile_model,
)
from rnn_apps.errors import UserInputError  # noqa: E402

__all__ = [
    "EncoderDecoder",
    "UserInputError",
    "__version__",
    "build_bidirectional",
    "build_encoder_decoder",
    "build_simple_rnn",
    "build_stacked_rnn",
    "compile_model",
]
