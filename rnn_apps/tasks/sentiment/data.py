"""Labelled texts from a DataFrame, a CSV file or a folder with one subfolder per class."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.sentiment.preprocessor import check_labels


def as_text_list(values: Sequence[Any], what: str = "texts") -> list[str]:
    """Texts as `str` (bytes decoded with bad bytes replaced, None/NaN as empty texts).

    Raises:
        UserInputError: `values` is empty.
    """
    if isinstance(values, (str, bytes)):
        values = [values]
    out = []
    for v in values:
        if isinstance(v, bytes):
            v = v.decode("utf-8", errors="replace")
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            v = ""
        out.append(str(v))
    if not out:
        raise UserInputError(f"{what} is empty: give at least one text per class.")
    return out


def load_text_dataframe(
    df: Any, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Texts and string labels from a pandas DataFrame with the named columns.

    Raises:
        UserInputError: a column is missing (the message lists the columns there are), the
            frame is empty, or a label is missing (NaN).
    """
    missing = [c for c in (text_column, label_column) if c not in df.columns]
    if missing:
        raise UserInputError(
            f"The data has no column(s) {missing}; its columns are {list(map(str, df.columns))}. "
            "Pass text_column=... and label_column=... (CLI: --text-column/--label-column)."
        )
    if len(df) == 0:
        raise UserInputError("The dataset is empty: it has no rows.")
    labels = check_labels(df[label_column].tolist(), f"labels (column {label_column!r})")
    return as_text_list(df[text_column].tolist(), "the text column"), labels


def load_text_data(
    source: Any, text_column: str = "text", label_column: str = "label"
) -> tuple[list[str], list[str]]:
    """Texts and labels from a DataFrame, a CSV file, or a folder with one subfolder per class.

    In a folder, every file of `<folder>/<class>/` is one text (read as UTF-8, bad bytes
    replaced); the subfolder's name is its label.

    Raises:
        UserInputError: the path does not exist, a CSV is unreadable or lacks the columns, a
            label is missing, no texts are found.
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return load_text_dataframe(source, text_column, label_column)
    path = Path(source)
    if not path.exists():
        raise UserInputError(
            f"Data path {str(path)!r} does not exist; give a CSV file with columns "
            f"{text_column!r} and {label_column!r}, or a folder with one subfolder per class."
        )
    if path.is_dir():
        texts, labels = [], []
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(
                p for p in sub.rglob("*") if p.is_file() and not p.name.startswith(".")
            ):
                texts.append(f.read_bytes().decode("utf-8", errors="replace"))
                labels.append(sub.name)
        if not texts:
            raise UserInputError(
                f"Folder {str(path)!r} holds no texts: expected one subfolder per class "
                "(e.g. pos/, neg/) with one text file per example."
            )
        return texts, labels
    return load_text_dataframe(read_csv_file(path), text_column, label_column)


def read_csv_file(path: str | Path) -> Any:
    """A CSV file as a pandas DataFrame.

    Raises:
        UserInputError: the file is missing or unreadable, in one line.
    """
    import pandas as pd

    try:
        return pd.read_csv(path)
    except Exception as err:  # pandas raises many parser error types
        message = " ".join(str(err).split())
        raise UserInputError(f"Could not read CSV file {str(path)!r}: {message}") from err
