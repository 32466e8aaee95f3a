"""English–French sentence pairs from Tatoeba (the `fra-eng` file of the TensorFlow and
Keras translation tutorials), and any user file or DataFrame of sentence pairs.

The official file is `fra.txt` inside
`http://storage.googleapis.com/download.tensorflow.org/data/fra-eng.zip`: one pair per line,
`english<TAB>french`. The current manythings.org release adds a third, attribution column,
which is read and dropped. A mirror folder may hold `fra-eng/fra.txt` (as the project's
`../shared/datasets` does) or the zip itself.

One English sentence often has several French translations (and the reverse). A split that
puts some of them in training and others in test leaks, so `split_pairs` splits **by source
sentence**: all pairs of one source sentence fall on one side.
"""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError

FRA_ENG_FNAME = "fra-eng/fra.txt"
FRA_ENG_ZIP = "fra-eng.zip"
FRA_ENG_URL = "http://storage.googleapis.com/download.tensorflow.org/data/fra-eng.zip"
#: Input size cap: a pairs file larger than this is refused (the Tatoeba file is ~4 MB,
#: the full manythings.org release ~40 MB).
MAX_PAIRS_FILE_BYTES = 512 * 2**20
COLUMNS = ("english", "french")


@dataclasses.dataclass(frozen=True)
class PairSplits:
    """Train / validation / test pairs (DataFrames with `source` and `target` columns)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def _nfc(text: Any) -> str:
    return unicodedata.normalize("NFC", str(text)).strip()


def read_pairs(source: Any) -> pd.DataFrame:
    """Sentence pairs as a DataFrame with columns `english`, `french` (NFC, stripped).

    Args:
        source: A tab-separated file of `english<TAB>french[<TAB>attribution]` lines (the
            Tatoeba format, with or without the third column), a CSV/TSV file with a header
            naming two columns (the first two are used), or a DataFrame (its first two
            columns, or `english`/`french` when present).

    Raises:
        UserInputError: the file is missing, too large, unreadable, or holds no pairs.
    """
    if isinstance(source, pd.DataFrame):
        frame = source
        cols = list(COLUMNS) if set(COLUMNS) <= set(frame.columns) else list(frame.columns[:2])
        if len(cols) < 2:
            raise UserInputError("The pairs DataFrame needs two columns (source and target).")
        frame = frame[cols]
    else:
        path = Path(source)
        if not path.is_file():
            raise UserInputError(f"Pairs file {str(path)!r} does not exist.")
        if path.stat().st_size > MAX_PAIRS_FILE_BYTES:
            raise UserInputError(
                f"Pairs file {str(path)!r} is larger than {MAX_PAIRS_FILE_BYTES // 2**20} MB; "
                "split it or sample it first."
            )
        frame = _read_pairs_file(path)
    frame = frame.dropna()
    out = pd.DataFrame(
        {
            COLUMNS[0]: [_nfc(v) for v in frame.iloc[:, 0]],
            COLUMNS[1]: [_nfc(v) for v in frame.iloc[:, 1]],
        }
    )
    out = out[(out[COLUMNS[0]] != "") & (out[COLUMNS[1]] != "")].reset_index(drop=True)
    if out.empty:
        raise UserInputError(f"{source!r} holds no sentence pairs.")
    return out


def _read_pairs_file(path: Path) -> pd.DataFrame:
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise UserInputError(f"Pairs file {str(path)!r} is empty.")
    if "\t" in lines[0]:
        rows = [ln.split("\t") for ln in lines]
        bad = [i for i, r in enumerate(rows) if len(r) < 2]
        if bad:
            raise UserInputError(
                f"Pairs file {str(path)!r}: line {bad[0] + 1} has no tab; expected "
                "english<TAB>french per line."
            )
        return pd.DataFrame([r[:2] for r in rows])
    try:
        frame = pd.read_csv(path)
    except Exception as err:  # pandas raises many parser error types
        raise UserInputError(f"Could not read pairs file {str(path)!r}: {err}") from err
    if frame.shape[1] < 2:
        raise UserInputError(
            f"Pairs file {str(path)!r} has {frame.shape[1]} column(s); expected two (source, "
            "target), tab- or comma-separated."
        )
    return frame


def load_fra_eng(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The Tatoeba English–French pairs (`english`, `french`), from the mirror or downloaded.

    Args:
        data_dir: A mirror folder holding `fra-eng/fra.txt` or `fra-eng.zip`; defaults to
            `$RNN_APPS_DATA_DIR`, else the official zip is downloaded once.
    """
    from rnn_apps.data import get_dataset_file, resolve_data_dir

    mirror = resolve_data_dir(data_dir)
    if mirror is not None and (mirror / FRA_ENG_FNAME).is_file():
        return read_pairs(mirror / FRA_ENG_FNAME)
    folder = get_dataset_file(FRA_ENG_ZIP, FRA_ENG_URL, data_dir=data_dir, extract=True)
    found = sorted(Path(folder).rglob("fra.txt"))
    if not found:
        raise UserInputError(f"{FRA_ENG_ZIP} holds no fra.txt; delete {folder} and retry.")
    return read_pairs(found[0])


def split_pairs(
    pairs: pd.DataFrame,
    *,
    source_column: str = COLUMNS[0],
    target_column: str = COLUMNS[1],
    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05),
    seed: int = 0,
) -> PairSplits:
    """Splits pairs train / validation / test **by source sentence** (seeded).

    Every pair of one source sentence lands in the same part, so no test sentence was seen in
    training with another of its translations. The parts hold about `fractions` of the
    distinct source sentences.

    Returns:
        `PairSplits` of DataFrames with columns `source`, `target` (the test part keeps every
        reference translation of each of its sentences).
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise UserInputError(f"fractions must be three shares that sum to 1, got {fractions}.")
    for col in (source_column, target_column):
        if col not in pairs.columns:
            raise UserInputError(f"No column {col!r}; the pairs have {list(pairs.columns)}.")
    frame = pd.DataFrame(
        {"source": pairs[source_column].astype(str), "target": pairs[target_column].astype(str)}
    )
    sentences = np.array(sorted(frame["source"].unique()))
    if len(sentences) < 3:
        raise UserInputError("Need at least 3 distinct source sentences to split.")
    order = np.random.default_rng(seed).permutation(len(sentences))
    n_train = int(round(fractions[0] * len(sentences)))
    n_val = int(round(fractions[1] * len(sentences)))
    part = np.empty(len(sentences), dtype=np.int8)
    part[order[:n_train]] = 0
    part[order[n_train : n_train + n_val]] = 1
    part[order[n_train + n_val :]] = 2
    which = dict(zip(sentences, part))
    side = frame["source"].map(which).to_numpy()
    parts = [frame[side == k].reset_index(drop=True) for k in range(3)]
    return PairSplits(*parts)
