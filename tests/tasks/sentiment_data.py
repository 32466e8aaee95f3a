"""Tiny synthetic review corpora and CLI helpers shared by the sentiment test files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnn_apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
POS = ["great", "wonderful", "superb", "loved", "brilliant"]
NEG = ["awful", "boring", "terrible", "hated", "dull"]
FILLER = ["the", "film", "movie", "plot", "actor", "scene", "was", "a", "and", "it"]

BAD_INPUTS = [  # the third (~1.2 MB) is cut at MAX_TEXT_BYTES; invalid UTF-8: run_task_test
    "", "   \t\n ", "great " * 200_000, "\U0001f600\U0001f44d\U0001f3ac", "<br /><br />",
]  # fmt: skip
# refit and lm_pretrain_epochs off: one test below covers each (they double the time).
TINY = dict(
    max_tokens=64, rnn_max_tokens=40, max_length=24, sequence_length=12, embedding_dim=8,
    units=4, head_dropout=0.0, ngram_buckets=128, ngram_epochs=6, batch_size=32,
    learning_rate=0.01, patience=3, refit=False, lm_pretrain_epochs=0, verbose=0,
)  # fmt: skip


def corpus(n: int, seed: int = 0, classes: tuple[list[str], ...] = (NEG, POS)):
    """Texts whose class is given by which word list dominates; labels are indices."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        k = i % len(classes)
        words = list(rng.choice(FILLER, size=rng.integers(3, 12)))
        words += list(rng.choice(classes[k], size=rng.integers(1, 3)))
        rng.shuffle(words)
        if rng.random() < 0.3:
            words.insert(int(rng.integers(len(words))), "<br /><br />")
        texts.append(" ".join(words))
        labels.append(k)
    return texts, labels


def write_csv(path: Path, n: int, seed: int = 0) -> Path:
    texts, labels = corpus(n, seed)
    names = ["negative", "positive"]
    pd.DataFrame({"review": texts, "sentiment": [names[k] for k in labels]}).to_csv(
        path, index=False
    )
    return path


def run_cli(*argv: str) -> int:
    return main([str(a) for a in argv])
