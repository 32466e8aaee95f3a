"""Forecasting many series with one global model: quantiles and calibrated intervals.

`PanelForecaster` (task `panel`, `rnn-apps panel ...`) reads long-format data (`unique_id`,
`ds`, `y`, as statsforecast and neuralforecast take it), a dict of series or a wide frame,
trains one recurrent network over every series (each window scaled by its own statistics
inside the graph; short series left-padded and masked; optional future, calendar and static
covariates), forecasts quantiles that never cross, and widens the quantile intervals by
split-conformal factors so an 80% / 95% interval covers 80% / 95% of new data. Scores:
sMAPE, MASE, OWA against Naive2, MSIS and coverage (M4's).
"""

from rnn_apps.tasks.panel.config import PanelConfig
from rnn_apps.tasks.panel.data import Panel, read_panel
from rnn_apps.tasks.panel.inference import backtest, evaluate_panel, predict_panel
from rnn_apps.tasks.panel.task import PanelForecaster

__all__ = [
    "Panel",
    "PanelConfig",
    "PanelForecaster",
    "backtest",
    "evaluate_panel",
    "predict_panel",
    "read_panel",
]
