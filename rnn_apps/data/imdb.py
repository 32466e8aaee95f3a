"""IMDB Large Movie Review Dataset (aclImdb v1, Maas et al., ACL 2011).

25,000 train and 25,000 test reviews, balanced between `neg` and `pos`, laid out as
`aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt`, plus 50,000 unlabelled reviews
`aclImdb/train/unsup/<id>_0.txt` (the `"unsup"` split here). `urls_{neg,pos,unsup}.txt` next to
the review folders give the IMDb page of the movie of every review (line N = review id N); the
loader turns it into a `movie_id` column (`"tt0453418"`), so a validation split can keep every
movie on one side (`rnn_apps.data.splits.group_split`). Train and test hold disjoint movies.

The loader reads the official archive (`aclImdb_v1.tar.gz`) straight from the mirror or download
cache, without unpacking 100,000 small files; an already extracted `aclImdb/` folder next to it
is read as well. Parsed splits are cached in memory per archive (keyed by path, size and
modification time), so a second call is free.
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
IMDB_SPLITS = ("train", "test", "unsup")
DEFAULT_SPLITS = ("train", "test")
COLUMNS = ("text", "label", "rating", "review_id", "movie_id")

_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos|unsup)/(\d+)_(\d+)\.txt$")
_URLS = re.compile(r"(?:^|/)aclImdb/(train|test)/urls_(neg|pos|unsup)\.txt$")
_MOVIE = re.compile(r"/title/(tt\d+)")


def _split_of(folder: str, label: str) -> str:
    return "unsup" if label == "unsup" else folder


def _movie_ids(urls_text: str) -> list[str]:
    """`urls_*.txt` content -> the movie id of each line (`""` where none is found)."""
    out = []
    for line in urls_text.splitlines():
        match = _MOVIE.search(line)
        out.append(match.group(1) if match else "")
    return out


def _check_splits(splits: Iterable[str]) -> tuple[str, ...]:
    splits = tuple(splits)
    bad = [s for s in splits if s not in IMDB_SPLITS]
    if bad or not splits:
        raise UserInputError(
            f"Unknown IMDB split(s) {bad or list(splits)}; choose from {list(IMDB_SPLITS)}."
        )
    return splits


def _frame(rows: list[tuple[str, str, int, int]], movies: dict[str, list[str]]) -> pd.DataFrame:
    """Rows `(text, label, rating, review_id)` -> the split's DataFrame, sorted by (label,
    review id) so the order does not depend on the archive's member order. `movies[label]`
    is the `urls_<label>.txt` of the split (missing: `movie_id` is `""`). Unlabelled reviews
    get the label None."""
    rows.sort(key=lambda r: (r[1], r[3]))

    def movie_of(label: str, review_id: int) -> str:
        ids = movies.get(label, [])
        return ids[review_id] if review_id < len(ids) else ""

    movie = [movie_of(label, rid) for _, label, _, rid in rows]
    df = pd.DataFrame(rows, columns=list(COLUMNS[:4]))
    df["rating"] = df["rating"].astype("int64")
    df["review_id"] = df["review_id"].astype("int64")
    df["movie_id"] = movie
    if len(df) and (df["label"] == "unsup").all():
        df["label"] = None
    return df


def _empty_check(out: dict[str, list], source: Path) -> None:
    for split, rows in out.items():
        if not rows:
            example = (
                "train/unsup/<id>_0.txt" if split == "unsup" else f"{split}/pos/<id>_<rating>.txt"
            )
            raise UserInputError(
                f"{source} holds no {split!r} reviews; expected files like "
                f"aclImdb/{example} (the aclImdb_v1 layout)."
            )


@functools.lru_cache(maxsize=4)
def _read_archive_cached(
    path: str, size: int, mtime: float, splits: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    import keras

    out: dict[str, list] = {s: [] for s in splits}
    urls: dict[str, dict[str, list[str]]] = {s: {} for s in splits}
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
                url_match = _URLS.search(member.name)
                if url_match is not None:
                    split = _split_of(*url_match.groups())
                    handle = archive.extractfile(member)
                    if split in urls and handle is not None:
                        text = handle.read().decode("utf-8", errors="replace")
                        urls[split][url_match.group(2)] = _movie_ids(text)
                    continue
                match = _MEMBER.search(member.name)
                if match is None or _split_of(*match.groups()[:2]) not in out:
                    continue
                folder, label, review_id, rating = match.groups()
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                text = handle.read().decode("utf-8", errors="replace")
                out[_split_of(folder, label)].append((text, label, int(rating), int(review_id)))
    except (tarfile.TarError, EOFError, OSError) as err:
        raise UserInputError(
            f"Could not read the IMDB archive {path}: {err}. The file is damaged or not a "
            f"tar.gz archive; delete it and fetch {IMDB_FNAME} again from {IMDB_ORIGIN}."
        ) from err
    progress.update(seen, finalize=True)
    _empty_check(out, Path(path))
    return {s: _frame(rows, urls[s]) for s, rows in out.items()}


def read_imdb_archive(
    path: str | os.PathLike, splits: Sequence[str] = DEFAULT_SPLITS
) -> dict[str, pd.DataFrame]:
    """Reads reviews from an `aclImdb_v1.tar.gz`-style archive without extracting it.

    Args:
        path: The archive.
        splits: Which of `"train"`, `"test"`, `"unsup"` (the 50,000 unlabelled reviews of
            `train/unsup`) to read.

    Returns:
        `{split: DataFrame}` with columns `text` (str), `label` (`"neg"`/`"pos"`; None for
        `"unsup"`), `rating` (int, 1-10; 0 for `"unsup"`), `review_id` (int) and `movie_id`
        (str, the IMDb title id such as `"tt0453418"` from `urls_*.txt`; `""` when the archive
        has no such file), sorted by label then id.

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
    root: str | os.PathLike, splits: Sequence[str] = DEFAULT_SPLITS
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
    urls: dict[str, dict[str, list[str]]] = {s: {} for s in out}
    for split in out:
        labels = ("unsup",) if split == "unsup" else IMDB_CLASS_NAMES
        for label in labels:
            parent = root / ("train" if split == "unsup" else split)
            url_file = parent / f"urls_{label}.txt"
            if url_file.is_file():
                urls[split][label] = _movie_ids(url_file.read_text("utf-8", errors="replace"))
            folder = parent / label
            if not folder.is_dir():
                continue
            for f in folder.glob("*.txt"):
                match = re.fullmatch(r"(\d+)_(\d+)\.txt", f.name)
                if match is None:
                    continue
                text = f.read_bytes().decode("utf-8", errors="replace")
                out[split].append((text, label, int(match.group(2)), int(match.group(1))))
    _empty_check(out, root)
    return {s: _frame(rows, urls[s]) for s, rows in out.items()}


def load_imdb(
    data_dir: str | os.PathLike | None = None,
    *,
    splits: Sequence[str] = DEFAULT_SPLITS,
) -> dict[str, pd.DataFrame]:
    """Loads IMDB reviews from the mirror, the download cache, or the internet.

    Resolution: an extracted `aclImdb/` folder in `data_dir` (or `$RNN_APPS_DATA_DIR`) is read
    if present; else the archive `aclImdb_v1.tar.gz` found there, or downloaded once from the
    official address into `~/.keras/datasets`, is read directly.

    Args:
        data_dir: Mirror directory; defaults to `$RNN_APPS_DATA_DIR`.
        splits: Which of `"train"`, `"test"` and `"unsup"` (the 50,000 unlabelled reviews)
            to load; default the two labelled ones.

    Returns:
        `{split: DataFrame}` with columns `text`, `label` (`"neg"`/`"pos"`, None for
        `"unsup"`), `rating`, `review_id` and `movie_id` (see `read_imdb_archive`).
        Validation data must be taken out of `"train"` (by movie:
        `rnn_apps.data.splits.group_split`), never out of `"test"`.

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
