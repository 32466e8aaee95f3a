"""Saving a trained pipeline: its Keras model file plus a JSON state, committed atomically.

The model is written under a new, generation-tagged name (`model-<tag>.keras`) that no other
save uses; the JSON state, which names that model file, is then written under a temporary name
and renamed into place. That rename is the single commit point: a crash before it leaves the
previous state pointing at the previous model (both untouched), a crash after it leaves the
new pair. Model files of earlier saves are removed after the commit. Other files in the folder
(plots, reports, an export) are left alone.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

MODEL_FILE_KEY = "model_file"


def _split_name(model_file: str) -> tuple[str, str]:
    """`"model.weights.h5"` -> `("model", ".weights.h5")` (Keras checks these suffixes)."""
    stem, dot, rest = model_file.partition(".")
    return stem, dot + rest


def save_pipeline(
    directory: str | os.PathLike,
    *,
    write_model: Callable[[Path], Any],
    model_file: str,
    state: Mapping[str, Any],
    state_file: str,
    **json_kwargs: Any,
) -> Path:
    """Writes the model with `write_model(path)` and `state` (plus the model's file name) as
    `<directory>/<state_file>`.

    Args:
        directory: Target folder (created if needed).
        write_model: Writes the model to the path it is given, e.g. `model.save` or
            `model.save_weights` (the path keeps `model_file`'s suffix).
        model_file: Model file name pattern (`model.keras`, `model.weights.h5`); the file is
            saved as `<stem>-<tag><suffix>` and its name recorded in the state under
            `"model_file"` (read it back with `model_path`).
        state: JSON-serialisable pipeline state.
        state_file: Name of the JSON file.
        **json_kwargs: Passed to `json.dumps` (e.g. `indent`, `ensure_ascii`).

    Returns:
        The folder.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    stem, suffix = _split_name(model_file)
    name = f"{stem}-{secrets.token_hex(4)}{suffix}"
    tmp_model, tmp_state = d / f".tmp-{name}", d / f".tmp-{os.getpid()}-{state_file}"
    committed = False
    try:
        write_model(tmp_model)
        os.replace(tmp_model, d / name)
        text = json.dumps({**state, MODEL_FILE_KEY: name}, **json_kwargs)
        tmp_state.write_text(text)
        os.replace(tmp_state, d / state_file)  # the commit
        committed = True
    finally:
        for leftover in (tmp_model, tmp_state):
            leftover.unlink(missing_ok=True)
        if not committed:
            (d / name).unlink(missing_ok=True)
    for old in [d / model_file, *d.glob(f"{stem}-*{suffix}")]:
        if old.name != name and old.is_file():
            old.unlink()
    return d


def model_path(directory: str | os.PathLike, state: Mapping[str, Any], model_file: str) -> Path:
    """The model file a saved state belongs to (`model_file` for saves that did not record it).

    Raises:
        FileNotFoundError: the file is missing, with what to do about it.
    """
    path = Path(directory) / str(state.get(MODEL_FILE_KEY, model_file))
    if not path.is_file():
        raise FileNotFoundError(
            f"{str(Path(directory))!r} holds no model file {path.name!r} for its saved state: "
            "the folder was changed by hand or copied in part; save or train again."
        )
    return path


def read_pipeline(
    directory: str | os.PathLike, *, state_file: str, model_file: str, missing: str
) -> tuple[dict[str, Any], Path]:
    """Reads what `save_pipeline` wrote: `(state, path of its model file)`.

    Args:
        directory: The folder.
        state_file: Name of the JSON file.
        model_file: Model file name of saves that did not record theirs.
        missing: Error message when the folder holds no `state_file`.

    Raises:
        UserInputError: no `state_file` (with `missing` as the message).
        FileNotFoundError: the state's model file is missing (see `model_path`).
    """
    from rnn_apps.errors import UserInputError

    d = Path(directory)
    if not (d / state_file).is_file():
        raise UserInputError(missing)
    state = json.loads((d / state_file).read_text())
    return state, model_path(d, state, model_file)
