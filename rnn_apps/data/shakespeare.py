"""Text corpora for language modelling: tiny Shakespeare and any user `.txt` file or folder.

The split is contiguous, by characters: the first `1 - val_fraction` of the text trains, the
rest validates (with `val_fraction=0.1` this is the protocol behind nanoGPT's
`shakespeare_char` numbers). Never shuffle a language-model corpus before splitting: nearby
lines share words and names, so a shuffled split leaks.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from rnn_apps.errors import UserInputError

SHAKESPEARE_FNAME = "shakespeare.txt"
SHAKESPEARE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/shakespeare.txt"


@dataclasses.dataclass(frozen=True)
class TextCorpus:
    """A corpus split contiguously into a training and a validation part.

    Attributes:
        train: The first part of the text (characters `[0, split)`).
        val: The rest (characters `[split, len)`); empty when `val_fraction=0`.
        source: Where the text came from (a path, or `"shakespeare"`).
    """

    train: str
    val: str
    source: str

    @property
    def num_chars(self) -> int:
        """Total number of characters (train + val)."""
        return len(self.train) + len(self.val)


def load_shakespeare(*, data_dir: str | os.PathLike | None = None) -> str:
    """Returns the tiny Shakespeare text (1,115,394 characters).

    Args:
        data_dir: A mirror folder holding `shakespeare.txt`; defaults to `$RNN_APPS_DATA_DIR`,
            else the file is downloaded once from the official address.

    Raises:
        UserInputError: `data_dir` does not exist.
        RuntimeError: the file is neither in the mirror nor downloadable.
    """
    from rnn_apps.data import get_dataset_file

    path = get_dataset_file(SHAKESPEARE_FNAME, SHAKESPEARE_URL, data_dir=data_dir)
    return _read_file(Path(path))


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserInputError(
            f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); convert it to UTF-8 "
            "first (e.g. `iconv -f latin1 -t utf-8`)."
        ) from err


def read_text_source(path: str | os.PathLike) -> str:
    """Reads a UTF-8 text file, or every `*.txt` file under a folder (recursively).

    Files of a folder are read in sorted path order and joined with a blank line, so the
    contiguous split is reproducible.

    Args:
        path: A text file or a folder.

    Returns:
        The text.

    Raises:
        UserInputError: the path does not exist, a folder holds no `.txt` file, a file is not
            UTF-8, or the text is empty.
    """
    p = Path(path).expanduser()
    if p.is_file():
        text = _read_file(p)
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*.txt") if f.is_file())
        if not files:
            raise UserInputError(f"Folder {str(p)!r} holds no .txt file; give a text file.")
        text = "\n\n".join(_read_file(f) for f in files)
    else:
        raise UserInputError(f"Text source {str(p)!r} does not exist; give a .txt file or folder.")
    if not text.strip():
        raise UserInputError(f"Text source {str(p)!r} is empty.")
    return text


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Splits `text` contiguously: `(first 1 - val_fraction, last val_fraction)` of characters.

    Raises:
        UserInputError: `val_fraction` is not in [0, 1), or the training part would be empty.
    """
    if isinstance(val_fraction, bool) or not 0.0 <= float(val_fraction) < 1.0:
        raise UserInputError(f"val_fraction={val_fraction!r}: expected a float in [0, 1).")
    split = int(len(text) * (1.0 - float(val_fraction)))
    if split <= 0:
        raise UserInputError(
            f"The text has {len(text)} characters: too short to hold a training part."
        )
    return text[:split], text[split:]


def load_corpus(
    source: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.1,
) -> TextCorpus:
    """Loads a corpus and splits it contiguously (first 90% train, last 10% validation).

    Args:
        source: None or `"shakespeare"` for tiny Shakespeare; else a `.txt` file or a folder
            of `.txt` files.
        data_dir: Mirror folder for tiny Shakespeare (see `load_shakespeare`).
        val_fraction: Fraction of characters, taken from the end, used for validation.

    Returns:
        A `TextCorpus`.

    Raises:
        UserInputError: a bad source or fraction (see `read_text_source`, `split_text`).
    """
    if source is None or str(source) == "shakespeare":
        text, name = load_shakespeare(data_dir=data_dir), "shakespeare"
    else:
        text, name = read_text_source(source), str(source)
    train, val = split_text(text, val_fraction)
    return TextCorpus(train=train, val=val, source=name)
