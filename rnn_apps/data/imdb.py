"""IMDB Large Movie Review Dataset (aclImdb v1, Maas et al., ACL 2011).

25,000 train and 25,000 test reviews, balanced between `neg` and `pos`, laid out as
`aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt`. The loader reads the official archive
(`aclImdb_v1.tar.gz`) straight from the mirror or download cache, without unpacking 50,000 small
files; an already extracted `aclImdb/` folder next to it is read as well. Parsed splits are cached
in memory per archive (keyed by path, size and modification time), so a second call is free.

The unlabelled `train/unsup` reviews of the official archive are ignored (the mirror lacks them).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from rnn_apps.data._mirror import get_dataset_file, resolve_data_dir
from rnn_apps.errors import UserInputError

IMDB_FNAME = "aclImdb_v1.tar.gz"
IMDB_ORIGIN = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_CLASS_NAMES = ("neg", "pos")
IMDB_SPLITS = ("train", "test")
COLUMNS = ("text", "label", "rating", "review_id")

_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")


def _check_splits(splits: Iterable[str]) -> tuple[str, ...]:
    splits = tuple(splits)
    bad = [s for s in splits if s not in IMDB_SPLITS]
    if bad or not splits:
        raise UserInputError(
            f"Unknown IMDB split(s) {bad or list(splits)}; choose from {list(IMDB_SPLITS)}."
        )
    return splits


def _frame(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    # Sorted by (label, review id): the order does not depend on the archive's member order.
    rows.sort(key=lambda r: (r[1], r[3]))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["rating"] = df["rating"].astype("int64")
    df["review_id"] = df["review_id"].astype("int64")
    return df


def _empty_check(out: dict[str, list], source: Path) -> None:
    for split, rows in out.items():
        if not rows:
            raise UserInputError(
                f"{source} holds no {split!r} reviews; expected files like "
                f"aclImdb/{split}/pos/<id>_<rating>.txt (the aclImdb_v1 layout)."
            )


@functools.lru_cache(maxsize=4)
def _read_archive_cached(
    path: str, size: int, mtime: float, splits: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    import keras

    out: dict[str, list] = {s: [] for s in splits}
    progress = keras.utils.Progbar(None, unit_name="file", interval=2.0)
    seen = 0
    print(f"Reading {Path(path).name}", file=sys.stderr, flush=True)
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                seen += 1
                progress.update(seen)
                if not member.isfile():
                    continue
                match = _MEMBER.search(member.name)
                if match is None or match.group(1) not in out:
                    continue
                split, label, review_id, rating = match.groups()
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                text = handle.read().decode("utf-8", errors="replace")
                out[split].append((text, label, int(rating), int(review_id)))
    except (tarfile.TarError, EOFError, OSError) as err:
        raise UserInputError(
            f"Could not read the IMDB archive {path}: {err}. The file is damaged or not a "
            f"tar.gz archive; delete it and fetch {IMDB_FNAME} again from {IMDB_ORIGIN}."
        ) from err
    progress.update(seen, finalize=True)
    _empty_check(out, Path(path))
    return {s: _frame(rows) for s, rows in out.items()}


def read_imdb_archive(
    path: str | os.PathLike, splits: Sequence[str] = IMDB_SPLITS
) -> dict[str, pd.DataFrame]:
    """Reads reviews from an `aclImdb_v1.tar.gz`-style archive without extracting it.

    Args:
        path: The archive.
        splits: Which of `"train"`, `"test"` to read.

    Returns:
        `{split: DataFrame}` with columns `text` (str), `label` (`"neg"`/`"pos"`), `rating`
        (int, 1-10) and `review_id` (int), sorted by label then id.

    Raises:
        UserInputError: the path does not exist, the archive is damaged, or a split is empty.
    """
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"IMDB archive {str(p)!r} does not exist.")
    stat = p.stat()
    cached = _read_archive_cached(
        str(p.resolve()), stat.st_size, stat.st_mtime, _check_splits(splits)
    )
    return {s: df.copy() for s, df in cached.items()}


def read_imdb_directory(
    root: str | os.PathLike, splits: Sequence[str] = IMDB_SPLITS
) -> dict[str, pd.DataFrame]:
    """Reads reviews from an extracted `aclImdb/` folder (or a folder that contains one).

    Returns and raises as `read_imdb_archive`.
    """
    root = Path(root)
    if (root / "aclImdb").is_dir():
        root = root / "aclImdb"
    if not root.is_dir():
        raise UserInputError(f"IMDB folder {str(root)!r} does not exist.")
    out: dict[str, list] = {s: [] for s in _check_splits(splits)}
    for split in out:
        for label in IMDB_CLASS_NAMES:
            folder = root / split / label
            if not folder.is_dir():
                continue
            for f in folder.glob("*.txt"):
                match = re.fullmatch(r"(\d+)_(\d+)\.txt", f.name)
                if match is None:
                    continue
                text = f.read_bytes().decode("utf-8", errors="replace")
                out[split].append((text, label, int(match.group(2)), int(match.group(1))))
    _empty_check(out, root)
    return {s: _frame(rows) for s, rows in out.items()}


def load_imdb(
    data_dir: str | os.PathLike | None = None,
    *,
    splits: Sequence[str] = IMDB_SPLITS,
) -> dict[str, pd.DataFrame]:
    """Loads the labelled IMDB reviews from the mirror, the download cache, or the internet.

    Resolution: an extracted `aclImdb/` folder in `data_dir` (or `$RNN_APPS_DATA_DIR`) is read
    if present; else the archive `aclImdb_v1.tar.gz` found there, or downloaded once from the
    official address into `~/.keras/datasets`, is read directly.

    Args:
        data_dir: Mirror directory; defaults to `$RNN_APPS_DATA_DIR`.
        splits: Which of `"train"`, `"test"` to load.

    Returns:
        `{split: DataFrame}` with columns `text`, `label` (`"neg"`/`"pos"`), `rating`,
        `review_id`. Validation data must be taken out of `"train"`, never out of `"test"`.

    Raises:
        UserInputError: `data_dir` does not exist, or the data is damaged / incomplete.
        RuntimeError: no mirror copy and no network.
    """
    splits = _check_splits(splits)
    mirror = resolve_data_dir(data_dir)
    if mirror is not None and (mirror / "aclImdb" / splits[0]).is_dir():
        return read_imdb_directory(mirror / "aclImdb", splits)
    archive = get_dataset_file(IMDB_FNAME, IMDB_ORIGIN, data_dir=data_dir)
    return read_imdb_archive(archive, splits)
