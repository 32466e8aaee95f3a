"""Finding dataset files: a local mirror first, then the official download address.

A mirror is any directory holding the files under their official names (for example
`aclImdb_v1.tar.gz`, `shakespeare.txt`, `ETTh1.csv`). It is given by the `data_dir` argument of
every loader or, failing that, by the `RNN_APPS_DATA_DIR` environment variable. Without a mirror,
files are downloaded once with `keras.utils.get_file` into `~/.keras/datasets`.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path

from rnn_apps.errors import UserInputError

DATA_DIR_ENV = "RNN_APPS_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """Returns the mirror directory to read, or None when there is none.

    Args:
        data_dir: An explicit directory; takes precedence over `RNN_APPS_DATA_DIR`.

    Raises:
        UserInputError: the directory (argument or environment variable) does not exist.
    """
    source = "data_dir"
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV, "").strip()
        if not env:
            return None
        data_dir, source = env, f"${DATA_DIR_ENV}"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        where = "" if path.is_absolute() else f" (relative to the current folder {os.getcwd()})"
        raise UserInputError(
            f"{source} {str(path)!r}{where} does not exist or is not a directory; point it at a "
            "folder holding the dataset files under their official names (an absolute path "
            "works from any folder), or unset it to download them."
        )
    return path


def _default_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def get_dataset_file(
    fname: str,
    origin: str,
    *,
    data_dir: str | os.PathLike | None = None,
    extract: bool = False,
) -> Path:
    """Returns the local path of a dataset file, reading the mirror or downloading it.

    Args:
        fname: The file's official name (for example `"ETTh1.csv"`); may contain a subfolder
            (`"fra-eng/fra.txt"`).
        origin: The official download URL.
        data_dir: A mirror directory; defaults to `$RNN_APPS_DATA_DIR`.
        extract: For archives (`.tar.gz`, `.zip`): return the folder the archive extracts to.
            Extraction happens once, next to the archive when that folder is writable, else in
            `~/.keras/datasets`.

    Returns:
        The path of the file, or of the extracted folder when `extract=True`.

    Raises:
        UserInputError: `data_dir` does not exist.
        RuntimeError: the file is not in the mirror and could not be downloaded.
    """
    mirror = resolve_data_dir(data_dir)
    path: Path | None = None
    if mirror is not None and (mirror / fname).is_file():
        path = mirror / fname
    if path is None:
        cache = mirror if mirror is not None and os.access(mirror, os.W_OK) else None
        cache = cache or _default_cache_dir()
        if (cache / fname).is_file():
            path = cache / fname
        else:
            import keras

            cache.mkdir(parents=True, exist_ok=True)
            try:
                path = Path(
                    keras.utils.get_file(
                        fname=Path(fname).name,
                        origin=origin,
                        cache_dir=str(cache.parent),
                        cache_subdir=cache.name,
                    )
                )
            except Exception as err:  # network errors come in many types
                where = f"{mirror}" if mirror else f"a folder named by ${DATA_DIR_ENV}"
                raise RuntimeError(
                    f"Could not download {fname} from {origin} ({type(err).__name__}: {err}). "
                    f"Without network, put the file {fname!r} in {where} "
                    f"(or pass data_dir=...)."
                ) from err
    if not extract:
        return path
    return _extract(path)


def _archive_stem(path: Path) -> str:
    name = path.name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _extract(archive: Path) -> Path:
    """Extracts `archive` once into `<dir>/<stem>_extracted` and returns that folder."""
    parent = archive.parent if os.access(archive.parent, os.W_OK) else _default_cache_dir()
    target = parent / f"{_archive_stem(archive)}_extracted"
    if (target / ".complete").is_file():
        return target
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        else:
            with tarfile.open(archive) as tf_:
                tf_.extractall(tmp, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserInputError(
            f"Could not extract {archive}: {err}. The file is damaged or not an archive; "
            "delete it and download it again."
        ) from err
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target
