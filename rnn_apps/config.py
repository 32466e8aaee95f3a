"""Task configurations from mappings (a `--config` file, a saved pipeline's JSON)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from rnn_apps.errors import UserInputError

T = TypeVar("T")


def config_from_dict(cls: type[T], values: Mapping[str, Any], task: str) -> T:
    """Builds the dataclass `cls` from `values`, refusing unknown keys.

    Args:
        cls: A dataclass type (the task's configuration).
        values: Option name -> value.
        task: Task name for the error message.

    Raises:
        UserInputError: a key that is not a field of `cls`; the message lists the known ones.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserInputError(f"Unknown {task} option(s) {unknown}; known options: {sorted(known)}.")
    return cls(**dict(values))
