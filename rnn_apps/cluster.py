"""The multi-worker cluster this process belongs to, read from the `TF_CONFIG` environment
variable (the `tf.distribute` convention). Pure Python: no TensorFlow import.

- `tf_config()`: the parsed `TF_CONFIG` (None without it); raises `UserInputError` for JSON
  that does not parse.
- `require_cluster()`: the parsed `TF_CONFIG`, checked to name a `cluster` and a `task` (what
  `MultiWorkerMirroredStrategy` needs).
- `worker_index()`, `is_chief()`: this process's place in the cluster (index 0 and no
  `TF_CONFIG` are the chief, which writes models and reports).
"""

from __future__ import annotations

import json
import os
from typing import Any

from rnn_apps.errors import UserInputError


def tf_config() -> dict[str, Any] | None:
    """The parsed `TF_CONFIG` environment variable, or None when it is unset or empty."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise UserInputError(f"TF_CONFIG is not valid JSON ({err}).") from err


def require_cluster() -> dict[str, Any]:
    """The parsed `TF_CONFIG`, which must name a `cluster` and a `task`."""
    config = tf_config()
    if not config or "cluster" not in config or "task" not in config:
        raise UserInputError(
            "strategy 'multi_worker' needs TF_CONFIG with 'cluster' and 'task', e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}.'
        )
    return config


def _task() -> dict[str, Any]:
    """The `task` entry of `TF_CONFIG` ({} without TF_CONFIG)."""
    return (tf_config() or {}).get("task", {})


def worker_index() -> int:
    """This process's worker index in `TF_CONFIG` (0 without TF_CONFIG)."""
    return int(_task().get("index", 0))


def is_chief() -> bool:
    """True on the worker that writes models and reports (index 0, or no TF_CONFIG)."""
    task = _task()
    return task.get("type", "worker") in ("chief", "worker") and worker_index() == 0
