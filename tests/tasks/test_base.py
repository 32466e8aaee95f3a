"""The shared Task base: configuration checks, the fit template, inference written once,
export, save/load and `--model` resolution, on a tiny task defined here."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import (
    SavedModelPredictor,
    Task,
    TaskConfig,
    open_model,
)


@dataclasses.dataclass
class ToyConfig(TaskConfig):
    units: int = 4
    learning_rate: float = 0.05
    epochs: int = 3
    patience: int = 2
    batch_size: int = 16
    cell: str = "gru"
    targets: list[str] | None = None
    verbose: int = 0

    task_name = "toy"

    def check(self) -> None:
        self.require_positive("units", "learning_rate", "epochs")
        self.require_choice("cell", ("gru", "lstm"))


class ToyTask(Task):
    """y = sum(x): (B, 3) float32 -> (B,) float32, scaled by a learned `Normalization`."""

    task_name = "toy"
    config_class = ToyConfig

    def _fit(self, train, validation, run):
        import keras

        x, y = train
        self.preprocessor_ = keras.layers.Normalization(name="scale")
        self.preprocessor_.adapt(x)
        with run.strategy.scope():
            inp = keras.Input((3,))
            out = keras.layers.Dense(1)(self.preprocessor_(inp))
            self.model_ = keras.Model(inp, out)
            self.model_.compile(keras.optimizers.Adam(self.config.learning_rate), "mse")
        self.train_model(
            self.model_, (x, y), validation, run=run, epochs=self.config.epochs, batch_size=16
        )

    def endpoints(self):
        import tensorflow as tf

        from rnn_apps.export import Endpoint

        def serve(x):  # (B, 3) -> (B,)
            return {"y": tf.reshape(self.model_(x), [-1])}

        return [Endpoint("serving_default", serve, [tf.TensorSpec([None, 3], tf.float32, "x")])]

    def sample_inputs(self):
        return {"serving_default": {"x": np.ones((2, 3), np.float32)}}

    def export_metadata(self):
        return {"inputs": "x"}


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_config_refuses_unknown_keys_wrong_types_and_bad_values():
    with pytest.raises(UserInputError, match=r"Unknown toy option\(s\) \['unitz'\]"):
        ToyConfig.from_dict({"unitz": 3})
    with pytest.raises(UserInputError, match="'learning_rate' must be float, got 'fast'"):
        ToyConfig.from_dict({"learning_rate": "fast"})
    with pytest.raises(UserInputError, match="'units' must be int, got True"):
        ToyConfig.from_dict({"units": True})
    with pytest.raises(UserInputError, match="'targets' must be list"):
        ToyConfig.from_dict({"targets": [1, 2]})
    with pytest.raises(UserInputError, match="'cell' must be one of 'gru', 'lstm'"):
        ToyConfig.from_dict({"cell": "rnn"})
    with pytest.raises(UserInputError, match="'units' must be > 0"):
        ToyTask(units=0)
    cfg = ToyConfig.from_dict({"learning_rate": 1, "targets": ["OT"]})  # int is a float
    assert cfg.learning_rate == 1 and cfg.replace(units=8).units == 8


def test_fit_template_export_metadata_and_open_model_paths(tmp_path):
    # That the export (verified in a clean process) and a reloaded pipeline give the in-process
    # outputs is checked for every registered task by `run_task_test`; here, on an
    # unregistered task: what the base adds around a task's own code.
    task = ToyTask(epochs=2).fit(_data(), _data(32), work_dir=tmp_path / "work")
    assert set(task.history_["model"]) >= {"loss", "val_loss"}
    assert not (tmp_path / "work" / "backup" / "model").exists()  # removed when training ends
    x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    assert task.run("serving_default", x=x)["y"].shape == (5,)

    report = task.export(tmp_path / "export")
    assert report.verified and report.metadata["task"] == "toy"
    predictor = open_model(tmp_path / "export", ToyTask)
    assert isinstance(predictor, SavedModelPredictor)
    assert predictor.metadata["inputs"] == "x"  # the task's export_metadata()

    task.save(tmp_path / "run" / "pipeline")
    state = json.loads((tmp_path / "run" / "pipeline" / "pipeline.json").read_text())
    assert state["task"] == "toy" and state["config"]["epochs"] == 2
    for path in (tmp_path / "run", tmp_path / "run" / "pipeline"):
        assert isinstance(open_model(path, ToyTask), ToyTask)


def test_open_model_explains_what_it_needs(tmp_path):
    with pytest.raises(UserInputError, match="neither a training output folder"):
        open_model(tmp_path, ToyTask)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "pipeline.json").write_text(
        json.dumps({"task": "forecast", "config": {}, "model_file": "model.keras"})
    )
    (tmp_path / "pipeline" / "model.keras").write_bytes(b"x")
    with pytest.raises(UserInputError, match="holds a 'forecast' pipeline, not a 'toy' one"):
        open_model(tmp_path, ToyTask)


def test_relative_export_path_from_another_working_directory(tmp_path, monkeypatch):
    """The export's checker runs in a temporary folder: a relative path must still work."""
    task = ToyTask(epochs=1).fit(_data())
    monkeypatch.chdir(tmp_path)
    report = task.export("rel/exported")
    assert report.verified and (tmp_path / "rel" / "exported" / "saved_model.pb").is_file()
