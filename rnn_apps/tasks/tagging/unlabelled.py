"""Word vectors for the tagger from untagged text: `fit(..., unlabelled=texts)`.

Tagged corpora are small (UD English EWT: 12,544 sentences); untagged text of the same
language is plentiful. With `unlabelled` texts, `Tagger.fit`

1. splits them as the export's `tag_text` does (`split_text`, in the graph) and counts their
   lower-cased words;
2. extends the word vocabulary after the tagged training words with the most frequent untagged
   words (seen at least `MIN_UNLABELLED_COUNT` times, up to `max_words`), so that many words
   absent from the tagged data still get a vector of their own;
3. initialises the word embedding with PPMI + SVD vectors (`rnn_apps.embeddings
   .ppmi_svd_embeddings`) counted over the tagged sentences and the untagged texts, so that
   words used alike start alike.

Caps: at most `MAX_UNLABELLED_TEXTS` texts and `MAX_UNLABELLED_TOKENS` tokens in all.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError

#: Most untagged texts `fit` reads.
MAX_UNLABELLED_TEXTS = 1_000_000
#: Most tokens of all untagged texts together.
MAX_UNLABELLED_TOKENS = 50_000_000
#: Fewest occurrences in the untagged texts for a word to join the vocabulary.
MIN_UNLABELLED_COUNT = 5
#: Co-occurrence window of the PPMI counts (small: neighbours say most about a word's class).
PPMI_WINDOW = 3

__all__ = [
    "MAX_UNLABELLED_TEXTS",
    "MAX_UNLABELLED_TOKENS",
    "MIN_UNLABELLED_COUNT",
    "read_unlabelled",
    "split_unlabelled",
    "unlabelled_counts",
    "unlabelled_vectors",
]


def read_unlabelled(path: str | os.PathLike) -> list[str]:
    """The untagged texts of a UTF-8 text file, one per non-blank line (at most
    `MAX_UNLABELLED_TEXTS`).

    Raises:
        UserInputError: no such file, not UTF-8, no text, or too many lines.
    """
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"unlabelled text file {str(p)!r} does not exist.")
    texts: list[str] = []
    with p.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UserInputError(f"{p.name} line {number} is not UTF-8 text.") from None
            if line.strip():
                texts.append(line.rstrip("\r\n"))
            if len(texts) > MAX_UNLABELLED_TEXTS:
                raise UserInputError(
                    f"{p.name} has more than {MAX_UNLABELLED_TEXTS:,} texts; sample them."
                )
    if not texts:
        raise UserInputError(f"{p.name} holds no text.")
    return texts


def split_unlabelled(texts: Sequence[Any], batch_size: int = 512) -> list[list[str]]:
    """Untagged texts (strings) or token lists -> lower-cased token lists; texts are split
    by `split_text` (whitespace, punctuation, English clitics) in batches.

    Raises:
        UserInputError: not a list of texts / token lists, or over the caps.
    """
    import tensorflow as tf

    from rnn_apps.layers.tagging_preprocessor import split_text
    from rnn_apps.texts import as_utf8_bytes

    if isinstance(texts, (str, bytes)):
        raise UserInputError("unlabelled must be a list of texts, not one string.")
    texts = list(texts)
    if len(texts) > MAX_UNLABELLED_TEXTS:
        raise UserInputError(
            f"unlabelled has {len(texts):,} texts; at most {MAX_UNLABELLED_TEXTS:,}: sample them."
        )
    out: list[list[str]] = []
    raw = [t for t in texts if isinstance(t, (str, bytes))]
    if raw and len(raw) != len(texts):
        raise UserInputError("unlabelled mixes texts and token lists; give one kind.")
    if not raw:  # token lists
        for i, toks in enumerate(texts):
            if isinstance(toks, (str, bytes)) or not all(isinstance(w, str) for w in toks):
                raise UserInputError(f"unlabelled[{i}] is neither a text nor a list of strings.")
            out.append([w.lower() for w in toks if w])
    else:
        data = as_utf8_bytes(raw, "unlabelled")
        for lo in range(0, len(data), batch_size):
            tokens = split_text(tf.constant(data[lo : lo + batch_size]))
            lowered = tf.strings.lower(tokens, encoding="utf-8").numpy()
            out.extend([w.decode("utf-8") for w in row if w] for row in lowered)
    total = sum(len(s) for s in out)
    if total > MAX_UNLABELLED_TOKENS:
        raise UserInputError(
            f"unlabelled holds {total:,} tokens; at most {MAX_UNLABELLED_TOKENS:,}: sample it."
        )
    return out


def unlabelled_vectors(
    words: Sequence[str],
    tagged: Sequence[Sequence[str]],
    unlabelled: Sequence[Sequence[str]],
    dim: int,
    seed: int = 0,
) -> np.ndarray:
    """PPMI + SVD vectors of the vocabulary: (2 + len(words), dim) float32, row 0 padding,
    row 1 [UNK], row 2 + i the vector of `words[i]`.

    Args:
        words: The vocabulary (lower-cased), in id order from id 2.
        tagged: The tagged training sentences' tokens.
        unlabelled: Lower-cased token lists of the untagged texts.
        dim: The vector width.
        seed: Seed of the SVD start vector.
    """
    from rnn_apps.embeddings import ppmi_svd_embeddings

    index = {w: i + 2 for i, w in enumerate(words)}

    def ids(sentences, lower):
        for s in sentences:
            yield np.fromiter(
                (index.get(w.lower() if lower else w, 1) for w in s), np.int32, len(s)
            )

    sequences = [*ids(tagged, True), *ids(unlabelled, False)]
    rows = len(words) + 2
    k = min(dim, rows - 1)  # the SVD gives fewer than `rows` components
    vectors = ppmi_svd_embeddings(sequences, rows, k, window=PPMI_WINDOW, seed=seed)
    return np.pad(vectors, [(0, 0), (0, dim - k)])  # (V, dim): a tiny vocabulary's extra zeros


def unlabelled_counts(unlabelled: Sequence[Sequence[str]]) -> Counter:
    """Word counts of lower-cased token lists."""
    return Counter(w for s in unlabelled for w in s)
