"""Text augmentation for distillation: chopped segments with word dropout.

The RNN branch learns the teacher's probabilities on more inputs than there are reviews:
each text gives `copies` variants, each a random contiguous span of its words (Johnson &
Zhang's "chopped" regions) with a fraction of the words deleted (Tang et al. 2019 mask words
the same way), labelled afterwards by the teacher, never by the original label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def chopped_segments(
    texts: Sequence[str],
    copies: int,
    *,
    seed: int,
    min_fraction: float = 0.3,
    drop_rate: float = 0.1,
) -> list[str]:
    """Random segments of `texts`, `copies` per text, in order (text 0's copies first).

    Args:
        texts: (N,) texts.
        copies: Segments per text (0: none).
        seed: Seed of the spans and dropped words.
        min_fraction: Shortest segment, as a fraction of the text's words (at least one word).
        drop_rate: Probability of deleting each word of a segment.

    Returns:
        (N * copies,) segments; an empty text gives empty segments.
    """
    if copies < 0 or not 0 < min_fraction <= 1 or not 0 <= drop_rate < 1:
        raise ValueError(f"bad augmentation settings {copies=}, {min_fraction=}, {drop_rate=}")
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for text in texts:
        words = _BREAK.sub(" ", text).split()
        n = len(words)
        for _ in range(copies):
            if n == 0:
                out.append("")
                continue
            size = int(rng.integers(max(1, int(np.ceil(min_fraction * n))), n + 1))
            start = int(rng.integers(0, n - size + 1))
            keep = rng.random(size) >= drop_rate
            segment = [w for w, k in zip(words[start : start + size], keep) if k]
            out.append(" ".join(segment or words[start : start + 1]))
    return out
