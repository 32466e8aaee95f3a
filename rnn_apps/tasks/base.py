"""The one shape every task pipeline has: configuration, preprocessor, model, postprocess.

A task (`Forecaster`, `SentimentClassifier`, `TextGenerator`, ...) derives from `Task` and
supplies hooks; everything the pipelines share lives here, written once:

- configuration: a `TaskConfig` dataclass, built with overrides and checked in one style
  (`TaskConfig.from_dict` refuses unknown keys and values of the wrong type, naming the key;
  the task's `check` hook adds ranges and choices);
- the fit template (`Task.fit`): seed, `tf.distribute` strategy scope, and `Task.train_model`
  with the standard callbacks (`EarlyStopping` restoring the best weights, `ReduceLROnPlateau`
  or the task's schedule, `BackupAndRestore` under `work_dir/backup/<name>` resumed only by the
  same run (`rnn_apps.tasks.backups`), optional
  TensorBoard, a wall-clock budget), switching to `rnn_apps._compat.distributed_fit` under
  `MultiWorkerMirroredStrategy`;
- inference written once: a task's export `endpoints()` are the functions that run
  `postprocess(model(preprocessor(raw)))`; in process, `Task.run(signature, **inputs)` runs the
  very same functions (compiled with `tf.function`), and a `SavedModelPredictor` runs them from
  the export, so task code that predicts from `run(...)` works on both;
- `export` (a SavedModel through `rnn_apps.export.export_saved_model`; LiteRT or ONNX of the
  `core()` through `rnn_apps.portable.export_core`), `save`/`load` (atomic, through
  `rnn_apps.persistence`), and the CLI verbs (`rnn_apps.cli`).

Hooks a task supplies:

- `task_name`, `config_class`: class attributes;
- `_fit(train, validation, run, **fit_params)`: adapt the preprocessor on `train`, build the
  model(s), train them with `self.train_model(...)` (`fit_param_names` lists the task's own
  `fit_params`; `fit` refuses any other name);
- `endpoints()`: the export signatures (`rnn_apps.export.Endpoint`), first = `serving_default`;
- `sample_inputs()`: inputs to verify the export with, `{signature: {input: array}}`;
- `export_metadata()`: task facts for `metadata.json` (class names, scaling, vocabulary ...);
- `core()`: the tensor-only part of the serving graph (`rnn_apps.portable.Core`) that
  `export(format="litert" | "onnx")` converts;
- `get_state()` / `set_state(state, model_file)`: learned state besides the model (JSON).
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from rnn_apps.config import TaskConfig
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.backups import claim_backup, data_fingerprint, release_backup
from rnn_apps.tasks.layout import (  # noqa: F401  (re-exported: the run layout)
    BACKUP_DIR,
    BACKUP_RUN_FILE,
    PIPELINE_DIR,
    REPORT_FILE,
    SAVED_MODEL_DIR,
    STATE_FILE,
)
from rnn_apps.tasks.predictor import (  # noqa: F401  (re-exported)
    Predictor,
    SavedModelPredictor,
    is_saved_model,
    open_model,
    read_json,
    resolve_pipeline_dir,
)

T = TypeVar("T", bound="Task")

# =========================================================================== fitting


@dataclasses.dataclass
class FitRun:
    """What one `Task.fit` call trains with (passed to the task's `_fit` hook).

    Attributes:
        strategy: The `tf.distribute.Strategy`; build models under `strategy.scope()`.
        multi_worker: True under `MultiWorkerMirroredStrategy` (`train_model` then uses
            `distributed_fit`, which needs batches of exactly `batch_size`).
        work_dir: Run folder: `BackupAndRestore` backups go to `work_dir/backup/<name>`,
            TensorBoard logs to `work_dir/logs/<name>`. None: neither.
        tensorboard: Write TensorBoard logs.
        verbose: Keras verbosity.
        deadline: `time.monotonic()` value at which the training budget is spent, or None.
    """

    strategy: Any
    multi_worker: bool = False
    work_dir: Path | None = None
    tensorboard: bool = False
    verbose: int = 1
    deadline: float | None = None

    def minutes_left(self) -> float | None:
        """Minutes left of the training budget (None: no budget)."""
        if self.deadline is None:
            return None
        return max((self.deadline - time.monotonic()) / 60.0, 0.0)


def _check_finite_history(name: str, history: Mapping[str, list[float]]) -> None:
    """Refuses a training run whose loss became NaN or infinite (nothing is saved then)."""
    losses = history.get("loss", [])
    if losses and not all(np.isfinite(v) for v in losses):
        epoch = next(i for i, v in enumerate(losses) if not np.isfinite(v)) + 1
        raise UserInputError(
            f"Training of {name!r} diverged: its loss became {losses[epoch - 1]} in epoch "
            f"{epoch}; nothing was saved. Lower the learning rate or check the data for huge "
            "or missing values."
        )


# =========================================================================== the task


class Task:
    """Base of every task pipeline: a preprocessor, a model from the builders, a postprocess.

    Subclasses set `task_name` and `config_class` and implement the hooks listed in the module
    docstring. Learned state (set by `fit` or `load`): `model_`, `history_`,
    `train_seconds_`, plus the task's own (`preprocessor_` ...).
    """

    task_name: ClassVar[str] = "task"
    config_class: ClassVar[type[TaskConfig]] = TaskConfig
    #: The model file pattern of `save` (`.keras`, loaded with `safe_mode=True`).
    model_file: ClassVar[str] = "model.keras"
    #: Version of the task's export contract (signatures, inputs, caps, metadata), recorded in
    #: every export's `metadata.json`. Bump it whenever the exported graph's behaviour changes:
    #: `tests/test_saved_models.py` then fails until the committed model is regenerated
    #: (`make models`). Exports from before the field existed count as version 1.
    contract_version: ClassVar[int] = 1
    #: Names of the task's own `fit(**fit_params)` inputs (sentiment: `groups`, ...).
    fit_param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: TaskConfig | None = None, **overrides: Any) -> None:
        if config is not None and not isinstance(config, self.config_class):
            raise UserInputError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, got "
                f"{type(config).__name__}."
            )
        base = (config or self.config_class()).to_dict()
        self.config = self.config_class.from_dict({**base, **overrides})
        self._signature_fns: dict[str, Callable] = {}

    # ------------------------------------------------------------------ state
    @property
    def is_fitted(self) -> bool:
        return getattr(self, "model_", None) is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise UserInputError(
                f"This {type(self).__name__} is not trained yet: call fit(...) or load(...) first."
            )

    # ------------------------------------------------------------------ hooks
    def _fit(
        self, train: Any, validation: Any, run: FitRun, **fit_params: Any
    ) -> None:  # pragma: no cover
        raise NotImplementedError

    def endpoints(self) -> list[Any]:  # pragma: no cover
        """The export's signatures (`rnn_apps.export.Endpoint`), first = serving_default."""
        raise NotImplementedError

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        """`{signature: {input: array}}` the export is verified with."""
        return {}

    def core(self) -> Any:
        """The tensor-only part of the serving graph that LiteRT and ONNX convert: an
        `rnn_apps.portable.Core` (tasks that have one override this)."""
        raise UserInputError(
            f"the {self.task_name} task has no tensor-only core to export as LiteRT or ONNX "
            "yet; export a SavedModel (format='saved_model')."
        )

    def export_metadata(self) -> dict[str, Any]:
        """Task facts for the export's `metadata.json`."""
        return {}

    def track(self) -> list[Any]:
        """Keras layers/models (and TF trackables) the endpoints use.

        Found without a per-task hook: every learned attribute of the task (a name ending in
        `_`) whose value is a `keras.layers.Layer` (models and the preprocessor layers
        included), a `tf.Module` or a TF trackable resource (a lookup table), in name order,
        each once. Of a Keras layer the export tracks only the TF resources it holds (see
        `rnn_apps.export.export_saved_model`). Override it only if the endpoints use a
        trackable that is not such an attribute.
        """
        import keras
        import tensorflow as tf

        kinds = (keras.layers.Layer, tf.Module, tf.saved_model.experimental.TrackableResource)
        found: dict[int, Any] = {}
        for name, value in sorted(vars(self).items()):
            if name.endswith("_") and not name.startswith("__") and isinstance(value, kinds):
                found.setdefault(id(value), value)
        return list(found.values())

    def get_state(self) -> dict[str, Any]:
        """Learned state besides the model (JSON-serialisable)."""
        return {}

    def set_state(self, state: Mapping[str, Any], model_file: Path) -> None:
        """Restores `get_state()` and the model from `model_file` (default: `.keras`)."""
        import keras

        import rnn_apps  # noqa: F401  (registers the custom layers)

        self.model_ = keras.saving.load_model(model_file, safe_mode=True)

    def _write_model(self, path: Path) -> None:
        self.model_.save(path)

    # ------------------------------------------------------------------ fit template
    def fit(
        self: T,
        train: Any,
        validation: Any = None,
        *,
        work_dir: str | os.PathLike | None = None,
        strategy: Any = None,
        tensorboard: bool = False,
        data_options: Mapping[str, Any] | None = None,
        **fit_params: Any,
    ) -> T:
        """Adapts the preprocessor on `train` only, builds the model and trains it.

        Args:
            train: Training data: the task's raw form (texts and labels, a series, a text), a
                `tf.data.Dataset` of examples or a TFDS name `"tfds:NAME"` (read by
                `raw_data`; a TFDS name also gives its `validation` split when it has one).
            validation: Validation data of the same forms; None = held out of `train` as the
                task's config says.
            work_dir: Run folder for `BackupAndRestore` backups (a killed `fit` with the same
                `work_dir` resumes) and TensorBoard logs.
            strategy: `"default"` (None), `"mirrored"` (all local GPUs), `"multi_worker"`
                (`MultiWorkerMirroredStrategy` over the machines in `TF_CONFIG`) or a
                `tf.distribute.Strategy`; models are built under its scope.
            tensorboard: Write TensorBoard logs under `work_dir/logs`.
            data_options: How a dataset or TFDS name is read (`data_dir`, `split`,
                `max_examples`, `max_bytes`; see `rnn_apps.data.tfds`) and converted (the
                task's `raw_from_examples` options, e.g. `text_column`).
            **fit_params: The task's own fit inputs (`fit_param_names`), passed to `_fit`.

        Returns:
            self.

        Raises:
            UserInputError: a fit parameter the task does not take.
        """
        import keras

        unknown = [k for k in fit_params if k not in self.fit_param_names]
        if unknown:
            accepted = ", ".join(self.fit_param_names) or "none"
            raise UserInputError(
                f"{type(self).__name__}.fit got an unknown parameter {unknown[0]!r}; it "
                f"accepts {accepted}."
            )

        from rnn_apps.training import is_multi_worker, resolve_strategy

        train, validation = self.fit_data(train, validation, data_options)
        cfg = self.config.validate()
        strategy = resolve_strategy(self._check_strategy(strategy))
        keras.utils.set_random_seed(cfg.seed)
        start = time.monotonic()
        budget = getattr(cfg, "max_train_minutes", None)
        run = FitRun(
            strategy=strategy,
            multi_worker=is_multi_worker(strategy),
            work_dir=None if work_dir is None else Path(work_dir),
            tensorboard=tensorboard,
            verbose=int(getattr(cfg, "verbose", 1)),
            deadline=None if budget is None else start + 60.0 * float(budget),
        )
        self.history_: dict[str, Any] = {}
        self._signature_fns = {}
        if run.work_dir is not None:
            data = data_fingerprint(train, validation, sorted(fit_params.items()))
            claim_backup(run.work_dir / BACKUP_DIR, self.task_name, self.config.to_dict(), data)
        self._fit(train, validation, run, **fit_params)
        self.train_seconds_ = time.monotonic() - start
        if run.work_dir is not None:
            release_backup(run.work_dir / BACKUP_DIR)
        return self

    # ------------------------------------------------------------------ input data
    def raw_from_examples(self, examples: Any, **options: Any) -> Any:
        """Hook: `rnn_apps.data.tfds.Examples` (read from a TFDS split or a `tf.data.Dataset`)
        -> the task's raw form. Default: a pandas DataFrame of the scalar features (what the
        forecaster reads; `columns=[...]` picks some)."""
        from rnn_apps.data.tfds import examples_frame

        return examples_frame(examples, **options)

    def raw_data(self, data: Any, *, role: str = "evaluate", **options: Any) -> Any:
        """`data` in the task's raw form: a `tf.data.Dataset`, a TFDS name `"tfds:NAME"` (its
        `split`, default the `role`'s: `train`, or `test` else `validation` for `evaluate`)
        or `Examples` are read (`rnn_apps.data.tfds`: options `data_dir`, `split`,
        `max_examples`, `max_bytes`) and converted by `raw_from_examples` (the other
        options); anything else is returned unchanged.

        Example:
            >>> fc.evaluate(fc.raw_data(tf_dataset))
        """
        from rnn_apps.data import tfds

        if not tfds.is_input(data):
            return data
        examples = tfds.read(data, role=role, **tfds.load_options(options))
        return self.raw_from_examples(examples, **tfds.converter_options(options))

    def fit_data(
        self, train: Any, validation: Any, options: Mapping[str, Any] | None = None
    ) -> tuple[Any, Any]:
        """`fit`'s `train` / `validation` in the task's raw form (see `raw_data`; a TFDS name
        as `train` also gives its `validation` split when `validation` is None)."""
        from rnn_apps.data import tfds

        if not (tfds.is_input(train) or tfds.is_input(validation)):
            return train, validation
        train, validation = tfds.fit_inputs(train, validation, options)
        convert = tfds.converter_options(options)
        if isinstance(train, tfds.Examples):
            train = self.raw_from_examples(train, **convert)
        if isinstance(validation, tfds.Examples):
            validation = self.raw_from_examples(validation, **convert)
        return train, validation

    def _check_strategy(self, strategy: Any) -> Any:
        """Hook: refuse strategies the task cannot train under (before any is created)."""
        return strategy

    def train_model(
        self,
        model: Any,
        train_data: Any,
        validation_data: Any = None,
        *,
        run: FitRun,
        name: str = "model",
        epochs: int,
        patience: int | None = None,
        reduce_lr_on_plateau: bool = True,
        callbacks: Sequence[Any] = (),
        fixed_batches: Any = None,
        global_batch_size: int | None = None,
        on_epoch_begin: Callable[[int], None] | None = None,
        **fit_kwargs: Any,
    ) -> dict[str, list[float]]:
        """Trains a compiled model with the standard callbacks; returns its history.

        Args:
            model: A compiled Keras model (built under `run.strategy.scope()`).
            train_data: What `model.fit` takes (a `tf.data.Dataset` or arrays `(x, y)`).
            validation_data: Validation data; enables `EarlyStopping` (restoring the best
                weights) and `ReduceLROnPlateau` on `val_loss`.
            run: The `FitRun` of this `fit`.
            name: Names the backup (`work_dir/backup/<name>`) and log folders.
            epochs: Maximum epochs.
            patience: Early-stopping patience (default: the config's `patience`).
            reduce_lr_on_plateau: Halve the learning rate after a epoch without progress
                (off when the task brings its own schedule).
            callbacks: Extra callbacks (the task's schedule ...).
            fixed_batches: Under multi-worker: the dataset of exactly `global_batch_size`
                batches (`distributed_fit` needs them); default `train_data`.
            global_batch_size: Under multi-worker: examples per step.
            on_epoch_begin: Under multi-worker: called with the epoch index.
            **fit_kwargs: Passed to `model.fit` (`batch_size`, `shuffle`, `steps_per_epoch`).

        Returns:
            `{metric: [value per epoch]}`.
        """
        import keras

        patience = getattr(self.config, "patience", 3) if patience is None else patience
        backup = None if run.work_dir is None else run.work_dir / BACKUP_DIR / name
        if run.multi_worker:
            from rnn_apps._compat import distributed_fit

            history = distributed_fit(
                model,
                fixed_batches if fixed_batches is not None else train_data,
                epochs=epochs,
                strategy=run.strategy,
                global_batch_size=int(global_batch_size or self.config.batch_size),
                validation_data=validation_data,
                patience=None if validation_data is None else patience,
                backup_dir=backup,
                on_epoch_begin=on_epoch_begin,
                verbose=run.verbose,
            )
        else:
            cbs: list[Any] = []
            if validation_data is not None:
                cbs.append(
                    keras.callbacks.EarlyStopping(
                        monitor="val_loss", patience=patience, restore_best_weights=True
                    )
                )
                if reduce_lr_on_plateau:
                    cbs.append(
                        keras.callbacks.ReduceLROnPlateau(
                            monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5
                        )
                    )
            if backup is not None:
                from rnn_apps._compat import backup_and_restore

                cbs.append(backup_and_restore(backup))
                if run.tensorboard:
                    cbs.append(keras.callbacks.TensorBoard(str(run.work_dir / "logs" / name)))
            budget = None
            if run.deadline is not None:
                from rnn_apps.callbacks import TimeBudget

                budget = TimeBudget(run.deadline)
                cbs.append(budget)
            cbs.append(keras.callbacks.TerminateOnNaN())
            cbs.extend(callbacks)
            if isinstance(train_data, tuple) and len(train_data) == 2:
                x, y = train_data
                fit_args: dict[str, Any] = {"x": x, "y": y}
            else:
                fit_args = {"x": train_data}
                fit_kwargs.setdefault("shuffle", False)  # a tf.data pipeline shuffles itself
            with warnings.catch_warnings():
                # Datasets of unknown length (length-bucketed batches) end this way each epoch.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                history = model.fit(
                    **fit_args,
                    validation_data=validation_data,
                    epochs=epochs,
                    callbacks=cbs,
                    verbose=run.verbose,
                    **fit_kwargs,
                ).history
            if budget is not None and budget.exhausted:
                self.time_budget_exhausted_ = True
        out = {k: [float(v) for v in vs] for k, vs in history.items()}
        self.history_[name] = out
        _check_finite_history(name, out)
        return out

    # ------------------------------------------------------------------ inference
    def signature(self, name: str = "serving_default") -> tuple[Callable, list[str], list[Any]]:
        """The endpoint `name` compiled with `tf.function` (what the export serves), with its
        input names and specs."""
        import tensorflow as tf

        self._check_fitted()
        if name not in self._signature_fns:
            endpoints = {e.name: e for e in self.endpoints()}
            if name == "serving_default" and name not in endpoints:
                name_ = next(iter(endpoints))
                endpoints[name] = endpoints[name_]
            if name not in endpoints:
                raise UserInputError(f"{self.task_name} has no signature {name!r}.")
            e = endpoints[name]
            self._signature_fns[name] = (
                tf.function(e.fn, input_signature=list(e.input_signature)),
                [s.name for s in e.input_signature],
                list(e.input_signature),
            )
        return self._signature_fns[name]

    @property
    def signature_names(self) -> list[str]:
        """The export's signature names (as `SavedModelPredictor.signature_names`)."""
        self._check_fitted()
        return sorted({e.name for e in self.endpoints()} | {"serving_default"})

    def run(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        """Runs export signature `signature` in process: same graph as the SavedModel."""
        import tensorflow as tf

        fn, names, specs = self.signature(signature)
        missing = [n for n in names if n not in inputs]
        if missing:
            raise UserInputError(f"signature {signature!r} needs input(s) {missing}.")
        args = [tf.constant(inputs[n], dtype=s.dtype) for n, s in zip(names, specs)]
        return {k: np.asarray(v.numpy()) for k, v in fn(*args).items()}

    @property
    def metadata(self) -> dict[str, Any]:
        """What the export's `metadata.json` will hold about the task (as a predictor has)."""
        return {
            "task": self.task_name,
            "contract_version": self.contract_version,
            **self.export_metadata(),
        }

    # ------------------------------------------------------------------ export
    def export(
        self,
        path: str | os.PathLike,
        *,
        metadata: Mapping[str, Any] | None = None,
        verify: bool = True,
        format: str = "saved_model",
        quantize: bool = False,
        batch_size: int = 1,
    ):
        """Writes the task as a SavedModel with its signatures (raw input in, the same
        function as in process), or its tensor-only `core()` as LiteRT or ONNX
        (`rnn_apps.portable.export_core`), verified in a clean process.

        Args:
            path: Destination folder (replaced atomically).
            metadata: Extra facts for `metadata.json`.
            verify: Run the export in a clean process and compare with the task in process.
            format: `"saved_model"`, `"litert"` or `"onnx"`.
            quantize: Dynamic-range int8 weights (LiteRT).
            batch_size: LiteRT's fixed batch.

        Returns:
            An `ExportReport` (SavedModel) or a `PortableReport` (LiteRT, ONNX).
        """
        from rnn_apps.export import export_saved_model
        from rnn_apps.portable import FORMATS, export_core

        self._check_fitted()
        if format not in FORMATS:
            raise UserInputError(f"format must be one of {FORMATS}, got {format!r}.")
        meta = {
            "task": self.task_name,
            "contract_version": self.contract_version,
            "config": self.config.to_dict(),
            **self.export_metadata(),
            **dict(metadata or {}),
        }
        if format != "saved_model":
            return export_core(
                self.core(), path, format=format, metadata=meta, quantize=quantize,
                batch_size=batch_size, verify=verify,
            )  # fmt: skip
        if quantize:
            raise UserInputError("quantize applies to LiteRT exports (format='litert').")
        return export_saved_model(
            path,
            endpoints=self.endpoints(),
            track=[t for t in self.track() if t is not None],
            metadata=meta,
            sample_inputs=self.sample_inputs(),
            verify=verify,
        )

    # ------------------------------------------------------------------ save / load
    def save(self, directory: str | os.PathLike) -> Path:
        """Saves the trained pipeline: `pipeline.json` (task, config, learned state) and
        `model-<tag>.keras`, committed atomically (`rnn_apps.persistence.save_pipeline`)."""
        from rnn_apps.persistence import save_pipeline

        self._check_fitted()
        state = {
            "task": self.task_name,
            "config": self.config.to_dict(),
            "history": getattr(self, "history_", {}),
            "train_seconds": getattr(self, "train_seconds_", None),
            **self.get_state(),
        }
        return save_pipeline(
            directory,
            write_model=self._write_model,
            model_file=self.model_file,
            state=state,
            state_file=STATE_FILE,
            indent=1,
        )

    @classmethod
    def load(cls: type[T], directory: str | os.PathLike) -> T:
        """Loads a pipeline written by `save` (or a training folder holding `pipeline/`).

        Raises:
            UserInputError: no saved pipeline there, or one of another task.
        """
        from rnn_apps.persistence import read_pipeline

        d = resolve_pipeline_dir(directory)
        state, model_file = read_pipeline(
            d,
            state_file=STATE_FILE,
            model_file=cls.model_file,
            missing=f"{str(directory)!r} holds no saved {cls.task_name} pipeline (no "
            f"{STATE_FILE}); train one with `rnn-apps {cls.task_name} train`.",
        )
        task = state.get("task")
        if task != cls.task_name:
            raise UserInputError(
                f"{str(directory)!r} holds a {task!r} pipeline, not a {cls.task_name!r} one; "
                f"use `rnn-apps {task} ...`."
            )
        damaged = f"{str(d / STATE_FILE)!r} is damaged"
        if not isinstance(state.get("config"), dict):
            raise UserInputError(f"{damaged} (no 'config' object); train again.")
        obj = cls(cls.config_class.from_dict(state["config"]))
        obj.history_ = state.get("history", {})
        obj.train_seconds_ = state.get("train_seconds")
        try:
            obj.set_state(state, model_file)
        except (KeyError, TypeError, IndexError, AttributeError) as err:
            raise UserInputError(
                f"{damaged} ({type(err).__name__}: {err}); train again or restore it from a copy."
            ) from err
        obj._signature_fns = {}
        return obj
