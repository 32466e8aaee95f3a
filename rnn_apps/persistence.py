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
import re
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


def check_model_file_name(name: Any, model_file: str) -> None:
    """A saved state may only name a model file inside its own folder, of the pattern its
    task saves (`<stem>-<tag><suffix>` or `model_file` itself): no path separators, no `..`,
    no absolute path. A crafted state file cannot make `load` read any other file.

    Raises:
        UserInputError: the name breaks these rules.
    """
    from rnn_apps.errors import UserInputError

    stem, suffix = _split_name(model_file)
    ok = (
        isinstance(name, str)
        and name == Path(name).name
        and "/" not in name
        and "\\" not in name
        and name not in (".", "..")
        and (
            name == model_file
            or re.fullmatch(rf"{re.escape(stem)}-[0-9a-f]{{1,32}}{re.escape(suffix)}", name)
        )
    )
    if not ok:
        raise UserInputError(
            f"The saved state names model file {name!r}, which is not a {stem}-<tag>{suffix} "
            "file of its own folder; refusing to load it (the state file was altered)."
        )


def model_path(directory: str | os.PathLike, state: Mapping[str, Any], model_file: str) -> Path:
    """The model file a saved state belongs to (`model_file` for saves that did not record it).

    Raises:
        FileNotFoundError: the file is missing, with what to do about it.
    """
    name = state.get(MODEL_FILE_KEY, model_file)
    check_model_file_name(name, model_file)
    path = Path(directory) / name
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
        UserInputError: no `state_file` (with `missing` as the message), or one that is not
            a JSON object.
        FileNotFoundError: the state's model file is missing (see `model_path`).
    """
    from rnn_apps.errors import UserInputError

    d = Path(directory)
    if not (d / state_file).is_file():
        raise UserInputError(missing)
    try:
        state = json.loads((d / state_file).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserInputError(
            f"{str(d / state_file)!r} is damaged (not valid JSON: {err}); train again or "
            "restore it from a copy."
        ) from err
    if not isinstance(state, dict):
        raise UserInputError(
            f"{str(d / state_file)!r} is damaged (not a JSON object); train again or restore "
            "it from a copy."
        )
    return state, model_path(d, state, model_file)


# --------------------------------------------------------------------------- run folders

#: What `rnn-apps <task> train` writes into its output folder (anything else there is not
#: ours, and a run refuses to replace the folder).
RUN_ENTRIES = ("pipeline", "saved_model", "report.json", "backup", "logs")
#: Entries of an output folder that a new run carries over instead of replacing.
_CARRIED = ("logs",)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _siblings(out: Path, kind: str) -> list[Path]:
    """`.<name>.<kind>-<pid>-<tag>` folders next to `out`."""
    if not out.parent.is_dir():
        return []
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


def _owner_pid(path: Path) -> int | None:
    try:
        return int(path.name.rsplit(".", 1)[1].split("-")[1])
    except (IndexError, ValueError):
        return None


def recover_run_dir(out: str | os.PathLike) -> None:
    """Cleans what a killed run left next to output folder `out`.

    A staging folder that was complete (`.complete` marker) when the run died between the two
    renames of `commit_run_dir` becomes `out`; every other stale `.tmp-*` / `.old-*` sibling of
    a process that is gone is removed. Folders of live processes are left alone.
    """
    import shutil

    out = Path(out)
    for kind in ("tmp", "old"):
        for path in _siblings(out, kind):
            pid = _owner_pid(path)
            if pid is not None and pid != os.getpid() and _pid_alive(pid):
                continue
            if kind == "tmp" and not out.exists() and (path / ".complete").is_file():
                os.replace(path, out)
                (out / ".complete").unlink(missing_ok=True)
                continue
            shutil.rmtree(path, ignore_errors=True)


def check_run_dir(out: str | os.PathLike) -> None:
    """Refuses an output folder holding files a run did not write (a run replaces the
    folder as a whole, so pointing `--output-dir` at, say, a source tree would lose them).

    Raises:
        UserInputError: naming the foreign entries and the fix.
    """
    from rnn_apps.errors import UserInputError

    out = check_output_path(out)
    if not out.exists():
        return
    foreign = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in RUN_ENTRIES
        and not p.name.startswith(("worker-", "."))
        and p.suffix not in (".png", ".json", ".csv")
    )
    if foreign:
        raise UserInputError(
            f"--output-dir {str(out)!r} holds files a run did not write ({foreign[:5]}); a "
            "run replaces the folder's results, so give a new or empty folder."
        )


def check_output_path(path: str | os.PathLike, flag: str = "--output-dir") -> Path:
    """Refuses an output folder that cannot be one: an existing file, or a path below a file.

    Args:
        path: The folder to be written.
        flag: How the caller names it in the message.

    Returns:
        `path` as a `Path`.

    Raises:
        UserInputError: naming the file in the way.
    """
    from rnn_apps.errors import UserInputError

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserInputError(f"{flag} {str(p)!r} is a file, not a folder; give a folder path.")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserInputError(
                    f"{flag} {str(p)!r} cannot be created: {str(parent)!r} is a file."
                )
            break
    return p


def staging_dir(out: str | os.PathLike) -> Path:
    """A fresh staging folder next to `out` for the results of a run (see `commit_run_dir`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def commit_run_dir(stage: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Makes the complete staging folder `stage` the output folder `out`, as one step.

    `logs/` (TensorBoard) of the old `out` is carried over; the rest of the old results go.
    A marker written before the swap lets `recover_run_dir` finish a swap cut between its two
    renames, so `out` always holds one run's results, never a mix.
    """
    import shutil

    stage, out = Path(stage), Path(out)
    check_run_dir(out)
    if out.is_dir():
        for p in out.iterdir():
            if p.name in _CARRIED and not (stage / p.name).exists():
                os.replace(p, stage / p.name)
    (stage / ".complete").write_text("")
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(3)}"
        os.replace(out, old)
    os.replace(stage, out)  # the commit
    (out / ".complete").unlink(missing_ok=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
