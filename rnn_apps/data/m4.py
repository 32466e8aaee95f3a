"""The M4 competition data (Makridakis et al., IJF 2020): one CSV per frequency and split, one
row per series (`"H1", v1, v2, ...`, ragged: trailing cells empty), no timestamps.

`load_m4("Hourly")` returns the training and the test part as long DataFrames (`unique_id`,
`ds`, `y`, as statsforecast and neuralforecast take them), `ds` the integer step (the test
steps continue each series' training steps), read from a mirror folder holding
`m4/<Frequency>-{train,test}.csv` or downloaded once from the M4-methods repository.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError

M4_URL = "https://raw.githubusercontent.com/Mcompetitions/M4-methods/master/Dataset/{split}/{name}"
#: Forecast horizon and seasonal period of each frequency (the competition's).
M4_FREQUENCIES = {
    "Hourly": (48, 24),
    "Daily": (14, 1),
    "Weekly": (13, 1),
    "Monthly": (18, 12),
    "Quarterly": (8, 4),
    "Yearly": (6, 1),
}


@dataclasses.dataclass(frozen=True)
class M4Data:
    """One M4 frequency.

    Attributes:
        train, test: Long DataFrames `unique_id`, `ds` (int step), `y` (float).
        horizon: The competition's forecast horizon H (the test length of every series).
        season: The seasonal period m of the competition's metrics.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    horizon: int
    season: int

    def series(self, part: str = "train") -> dict[str, np.ndarray]:
        """`{unique_id: values}` of `part` (`"train"` or `"test"`), in file order."""
        frame = self.train if part == "train" else self.test
        return {k: g["y"].to_numpy() for k, g in frame.groupby("unique_id", sort=False)}


def _read_wide(path: Path) -> pd.DataFrame:
    """A wide M4 CSV -> long `unique_id`, `ds` (0-based step), `y`."""
    wide = pd.read_csv(path, index_col=0)
    long = wide.stack(future_stack=True).dropna().reset_index()
    long.columns = ["unique_id", "column", "y"]
    long["ds"] = long.groupby("unique_id", sort=False).cumcount()
    return long[["unique_id", "ds", "y"]].astype({"y": float})


def load_m4(frequency: str = "Hourly", *, data_dir: str | os.PathLike | None = None) -> M4Data:
    """The M4 `frequency` (`"Hourly"`, ...): training series and their test continuations.

    Args:
        frequency: One of `M4_FREQUENCIES`.
        data_dir: A mirror folder holding `m4/<frequency>-{train,test}.csv`; defaults to
            `$RNN_APPS_DATA_DIR`, else the files are downloaded once.

    Raises:
        UserInputError: an unknown frequency, or test series that do not match the training
            ones.
    """
    from rnn_apps.data import get_dataset_file

    if frequency not in M4_FREQUENCIES:
        raise UserInputError(
            f"frequency={frequency!r}: expected one of {', '.join(M4_FREQUENCIES)}."
        )
    parts = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        name = f"{frequency}-{split}.csv"
        url = M4_URL.format(split=folder, name=name)
        parts[split] = _read_wide(Path(get_dataset_file(f"m4/{name}", url, data_dir=data_dir)))
    train, test = parts["train"], parts["test"]
    if list(train["unique_id"].unique()) != list(test["unique_id"].unique()):
        raise UserInputError("the M4 train and test files hold different series.")
    horizon, season = M4_FREQUENCIES[frequency]
    lengths = train.groupby("unique_id", sort=False).size()
    test = test.assign(ds=test["ds"].to_numpy() + lengths.loc[test["unique_id"]].to_numpy())
    return M4Data(train=train, test=test, horizon=horizon, season=season)
