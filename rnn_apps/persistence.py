"""Saving a trained pipeline: its Keras model file plus a JSON state, each written atomically.

Every file is written under a temporary name in the target folder and renamed into place, so
a crash mid-save never leaves a truncated model or state file where a good one was; other
files in the folder (plots, reports, an export) are left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def save_pipeline(
    directory: str | os.PathLike,
    *,
    write_model: Callable[[Path], Any],
    model_file: str,
    state: Mapping[str, Any],
    state_file: str,
    **json_kwargs: Any,
) -> Path:
    """Writes `<directory>/<model_file>` with `write_model(path)` and `state` as JSON.

    Args:
        directory: Target folder (created if needed).
        write_model: Writes the model to the path it is given, e.g. `model.save` or
            `model.save_weights` (the temporary path keeps `model_file`'s suffix).
        model_file: Final name of the model file (`model.keras`, `model.weights.h5`).
        state: JSON-serialisable pipeline state.
        state_file: Final name of the JSON file.
        **json_kwargs: Passed to `json.dumps` (e.g. `indent`, `ensure_ascii`).

    Returns:
        The folder.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tag = f".tmp-{os.getpid()}-"
    tmp_model, tmp_state = d / f"{tag}{model_file}", d / f"{tag}{state_file}"
    try:
        write_model(tmp_model)
        tmp_state.write_text(json.dumps(state, **json_kwargs))
        os.replace(tmp_model, d / model_file)
        os.replace(tmp_state, d / state_file)
    finally:
        for leftover in (tmp_model, tmp_state):
            leftover.unlink(missing_ok=True)
    return d
