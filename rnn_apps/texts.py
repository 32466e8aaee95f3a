"""Texts at the package boundary: one rule for every text task.

Every text a task takes (sentiment, translation, text generation) is a `str`, or `bytes` that
are valid UTF-8. Anything else (`None`, a number, bytes in another encoding) is refused with
one line naming the position, rather than scored as the word "None" or decoded with
replacement characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError


def as_utf8_bytes(texts: Sequence[Any] | str | bytes, name: str = "texts") -> list[bytes]:
    """Texts as UTF-8 bytes; a single string is one text.

    Args:
        texts: A string, bytes, or a 1-D sequence (list, tuple, NumPy array) of them.
        name: How the caller names the argument in messages.

    Returns:
        One `bytes` per text.

    Raises:
        UserInputError: an element that is not a string, or bytes that are not valid UTF-8.
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise UserInputError(
            f"{name} must be a 1-D list of strings, got an array of shape {texts.shape}."
        )
    if not isinstance(texts, (list, tuple, np.ndarray)):
        try:
            texts = list(texts)
        except TypeError:
            raise UserInputError(
                f"{name} must be a string or a list of strings, got {type(texts).__name__}."
            ) from None
    out = []
    for i, t in enumerate(texts):
        if isinstance(t, (bytes, np.bytes_)):
            try:
                bytes(t).decode("utf-8")
            except UnicodeDecodeError as err:
                raise UserInputError(
                    f"{name}[{i}] is not valid UTF-8 (byte {bytes(t)[err.start]:#04x} at "
                    f"{err.start}); decode it with its own encoding and pass a str."
                ) from None
            out.append(bytes(t))
        elif isinstance(t, (str, np.str_)):
            out.append(str(t).encode("utf-8", "surrogatepass"))
        else:
            raise UserInputError(f"{name}[{i}] is {t!r} ({type(t).__name__}), not a string.")
    return out
