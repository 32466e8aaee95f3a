"""Forecasting: any pandas series to multi-horizon RNN forecasts, baselines and a SavedModel.

Pipeline: a DataFrame (`DatetimeIndex` or a date column) or a CSV file -> a validated, regular
series (`preprocessor.read_series`, `check_values`) -> every stride-1 window of `lookback` past
rows (all features) and `horizon` future rows (targets) (`make_windows`) -> scaling inside the
graph (`ForecastPreprocessor`: `keras.layers.Normalization` adapted on the training rows) -> a
network (`model.build_network`: `segrnn`, `lstm`, `gru`, `seq2seq`, `dlinear`) -> forecasts in
real units. `Forecaster` (`task.py`) is the `Task`; `inference.py` evaluates, predicts and plots
through the export's graph, for a `Forecaster` and an exported SavedModel alike; `baselines.py`
holds repeat-last and seasonal naive.
"""

from rnn_apps.layers import AddLastValue, DLinear, LastValueCentering, SegRNN, TakeTargets
from rnn_apps.tasks.forecast.baselines import (
    repeat_last_forecast,
    seasonal_naive_forecast,
)
from rnn_apps.tasks.forecast.config import ARCHITECTURES, ForecastConfig
from rnn_apps.tasks.forecast.model import (
    build_dlinear,
    build_network,
    build_rnn_forecaster,
    build_segrnn,
    build_seq2seq,
)
from rnn_apps.tasks.forecast.preprocessor import (
    ForecastPreprocessor,
    check_timestamps,
    check_values,
    make_windows,
    read_series,
)
from rnn_apps.tasks.forecast.task import MAX_ABS_SCALED, Forecaster

__all__ = [
    "ARCHITECTURES",
    "MAX_ABS_SCALED",
    "AddLastValue",
    "DLinear",
    "ForecastConfig",
    "ForecastPreprocessor",
    "Forecaster",
    "LastValueCentering",
    "SegRNN",
    "TakeTargets",
    "build_dlinear",
    "build_network",
    "build_rnn_forecaster",
    "build_segrnn",
    "build_seq2seq",
    "check_timestamps",
    "check_values",
    "make_windows",
    "read_series",
    "repeat_last_forecast",
    "seasonal_naive_forecast",
]
