"""What a trained task and a loaded export share (`Predictor`), and opening either from disk.

`SavedModelPredictor` runs the signatures of an exported SavedModel the way `Task.run` runs
them in process; `open_model` turns what `--model PATH` names (a SavedModel, a training output
folder or a saved pipeline) into one or the other, finding the task through the registry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.layout import PIPELINE_DIR, STATE_FILE

if TYPE_CHECKING:
    from rnn_apps.tasks.base import Task

# =========================================================================== predictors


@runtime_checkable
class Predictor(Protocol):
    """What a trained `Task` and a loaded export (`SavedModelPredictor`) share.

    Task inference code (`rnn_apps.tasks.<task>.inference`, the CLI's `evaluate` and
    `predict`) takes a `Predictor`, so it runs the same on a model trained in this process and
    on a SavedModel loaded from disk.

    Attributes:
        task_name: The registered task (`rnn_apps.tasks.registry`).
        metadata: The export's `metadata.json` facts (`Task.metadata` in process).
        signature_names: The export's signature names.
    """

    task_name: str

    @property
    def metadata(self) -> dict[str, Any]: ...

    @property
    def signature_names(self) -> list[str]: ...

    def run(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        """Runs signature `signature` on `inputs` (arrays or Python values); NumPy outputs."""
        ...


class SavedModelPredictor:
    """Runs the signatures of an exported SavedModel (what `Task.run` does in process).

    Attributes:
        path: The SavedModel folder.
        metadata: Its `assets/metadata.json`.
        task_name: The task that exported it.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import tensorflow as tf

        from rnn_apps.export import read_metadata

        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        self.task_name = str(self.metadata.get("task", ""))
        self._loaded = tf.saved_model.load(str(self.path))

    @property
    def signature_names(self) -> list[str]:
        return sorted(self._loaded.signatures.keys())

    def run(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        """Runs signature `signature` on `inputs` (arrays or Python values); NumPy outputs."""
        import tensorflow as tf

        if signature not in self._loaded.signatures:
            raise UserInputError(
                f"The SavedModel {str(self.path)!r} has no signature {signature!r}; it has "
                f"{self.signature_names}."
            )
        fn = self._loaded.signatures[signature]
        specs = fn.structured_input_signature[1]
        feed = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
        return {k: np.asarray(v.numpy()) for k, v in fn(**feed).items()}


# =========================================================================== paths


def is_saved_model(path: str | os.PathLike) -> bool:
    """A folder exported by rnn_apps (`saved_model.pb` and `assets/metadata.json`)."""
    p = Path(path)
    return (p / "saved_model.pb").is_file() and (p / "assets" / "metadata.json").is_file()


def resolve_pipeline_dir(path: str | os.PathLike) -> Path:
    """`path` itself when it holds `pipeline.json`, else `path/pipeline` (a training folder)."""
    p = Path(path)
    if (p / STATE_FILE).is_file():
        return p
    return p / PIPELINE_DIR


def open_model(
    path: str | os.PathLike, task_class: type[Task] | None = None
) -> Task | SavedModelPredictor:
    """What `--model PATH` names: a SavedModel (a `SavedModelPredictor`) or a training output
    folder / saved pipeline (the `Task`, loaded in process).

    Args:
        path: The folder.
        task_class: The task the caller expects; None: whichever task made it (read from the
            export's `metadata["task"]` or the pipeline's `"task"`, through the registry).

    Raises:
        UserInputError: nothing usable there, or a model of another task.
    """
    from rnn_apps.tasks.registry import get_task_class

    p = Path(path)
    name = task_class.task_name if task_class is not None else None
    what = f"a {name!r} model" if name else "a model"
    if is_saved_model(p):
        predictor = SavedModelPredictor(p)
        if name is not None and predictor.task_name != name:
            raise UserInputError(
                f"--model {str(p)!r} is a {predictor.task_name!r} model, not a {name!r} one; "
                f"use `rnn-apps {predictor.task_name} ...`."
            )
        if name is None:
            get_task_class(predictor.task_name)  # a task this version knows
        return predictor
    pipeline = resolve_pipeline_dir(p)
    if (pipeline / STATE_FILE).is_file():
        if task_class is None:
            state = read_json(pipeline / STATE_FILE)
            task_class = get_task_class(str(state.get("task")))
        return task_class.load(p)
    if (p / "saved_model.pb").is_file():
        raise UserInputError(
            f"--model {str(p)!r} is a SavedModel without rnn_apps metadata "
            "(assets/metadata.json); export it with `rnn-apps ... export`."
        )
    hint = f"rnn-apps {name} train --output-dir DIR" if name else "rnn-apps <task> train"
    raise UserInputError(
        f"--model {str(p)!r} is neither a training output folder (with pipeline/) nor an "
        f"exported SavedModel holding {what}; train one with `{hint}`."
    )


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file as a dict; a clear error when it is not valid JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserInputError(f"{str(path)!r} is not valid JSON ({err}).") from err
    if not isinstance(data, dict):
        raise UserInputError(f"{str(path)!r} is not a JSON object; it is damaged.")
    return data
