"""Progress messages for the long steps that have no Keras progress bar of their own
(reading an archive, adapting a vocabulary, counting n-grams, verifying an export)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def step(message: str, verbose: bool | int = True) -> Iterator[None]:
    """Prints `message ...` on stderr before the block and `message: done in X s` after it.

    Args:
        message: What the block does, e.g. `"Adapting the vocabulary on 20000 texts"`.
        verbose: Print nothing when false.
    """
    if not verbose:
        yield
        return
    print(f"{message} ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    yield
    print(f"{message}: done in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
