"""Backups of interrupted runs: whose they are, and when they may be resumed.

`Task.fit` with a `work_dir` trains under `BackupAndRestore` (`work_dir/backup/<model>`).
Beside those backups, `claim_backup` records the run's task, configuration and a fingerprint
of its data (`data_fingerprint`), and refuses to resume backups an interrupted run of another
configuration or other data left there: a resumed run would otherwise mix the two, or fail on
weights of another shape, and report training that did not happen. `release_backup` removes
the record once a fit completes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.layout import BACKUP_RUN_FILE

__all__ = ["claim_backup", "data_fingerprint", "release_backup"]


def data_fingerprint(*parts: Any) -> str:
    """A SHA-256 of training data in any of the tasks' raw forms (texts, frames, arrays)."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if x is None:
            h.update(b"\0none")
        elif isinstance(x, str):
            h.update(x.encode("utf-8", "surrogatepass") + b"\0")
        elif isinstance(x, bytes):
            h.update(x + b"\0")
        elif isinstance(x, (pd.DataFrame, pd.Series)):
            names = x.columns if isinstance(x, pd.DataFrame) else [x.name]
            h.update(repr(list(names)).encode())
            h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
        elif isinstance(x, np.ndarray) and x.dtype != object:
            h.update(repr((x.shape, x.dtype.str)).encode() + x.tobytes())
        elif isinstance(x, (list, tuple, np.ndarray)):
            h.update(f"[{len(x)}".encode())
            for item in x:
                feed(item)
        else:
            h.update(repr(x).encode())

    for part in parts:
        feed(part)
    return h.hexdigest()


def claim_backup(backup: Path, task_name: str, config: dict[str, Any], data: str) -> None:
    """Records this run's configuration and a fingerprint of its data beside its
    `BackupAndRestore` backups, and refuses to resume backups that an interrupted run of
    another configuration or other data left there (a resumed run would otherwise mix the
    two, or fail on weights of another shape, and report training that did not happen)."""
    from rnn_apps.reporting import write_json

    record = {"task": task_name, "config": config, "data": data}
    path = backup / BACKUP_RUN_FILE
    progress = backup.is_dir() and any(
        f.is_file() and f != path for f in backup.rglob("*")
    )  # a claim without saved epochs (a run that stopped before its first) resumes nothing
    if path.is_file() and progress:
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        same_run = isinstance(previous, dict) and previous.get("task") == task_name
        same_run = same_run and previous.get("config") == json.loads(json.dumps(record["config"]))
        if same_run and previous.get("data") != data:
            raise UserInputError(
                f"{str(backup)!r} holds the backup of an interrupted run on other training "
                "data; run again with the same data to resume it, or delete that folder "
                "(`rnn-apps ... train --fresh`) to start over."
            )
        if not same_run:
            old = (previous or {}).get("config", {}) if isinstance(previous, dict) else {}
            changed = sorted(
                k for k in set(old) | set(record["config"]) if old.get(k) != record["config"].get(k)
            )
            raise UserInputError(
                f"{str(backup)!r} holds the backup of an interrupted run with another "
                f"configuration (differs in {', '.join(changed[:6]) or 'its task'}); run "
                "again with the same options to resume it, or delete that folder (`rnn-apps "
                "... train --fresh`) to start over."
            )
    elif progress and not path.is_file():
        raise UserInputError(
            f"{str(backup)!r} holds a backup of an unknown run (no {BACKUP_RUN_FILE}); "
            "delete that folder (`rnn-apps ... train --fresh`) to start over."
        )
    backup.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def release_backup(backup: Path) -> None:
    """After a completed fit: removes the run record and the backup folder once each model's
    `BackupAndRestore` has removed its own backup."""
    (backup / BACKUP_RUN_FILE).unlink(missing_ok=True)
    if backup.is_dir() and not any(backup.iterdir()):
        backup.rmdir()
