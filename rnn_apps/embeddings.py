"""Word vectors learned from the training token ids, to initialise an `Embedding`.

`ppmi_svd_embeddings` counts co-occurrences of token ids in a symmetric window (weighted by
1 / distance), turns them into positive pointwise mutual information with context-distribution
smoothing (Levy, Goldberg & Dagan 2015) and factorises that with a truncated SVD. It needs only
the training texts (no external corpus, no download), runs in a minute on IMDB's 5M training
tokens, and gives an RNN classifier a much better starting point than a random embedding.

Shape legend: N sequences, V vocabulary (ids 0 .. V-1; 0 = padding), D embedding width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

PAD_ID = 0
OOV_ID = 1


def ppmi_svd_embeddings(
    sequences: Iterable[np.ndarray],
    vocab_size: int,
    dim: int,
    *,
    window: int = 5,
    alpha: float = 0.75,
    scale: float = 0.05,
    seed: int = 0,
) -> np.ndarray:
    """PPMI + truncated SVD word vectors: N sequences of ids -> (V, D) float32.

    Args:
        sequences: Token-id sequences (ids >= `vocab_size` are counted as [UNK], id 1).
        vocab_size: V, the number of rows of the result.
        dim: D, the vector width (must be < V).
        window: Co-occurrences up to this distance count, weighted 1 / distance.
        alpha: Context-distribution smoothing exponent.
        scale: Per-dimension standard deviation of the result (a Keras-like init scale).
        seed: Seed of the SVD's start vector (the result is deterministic).

    Returns:
        (V, D) float32 `U * sqrt(S)` with rows L2-normalised then scaled; row 0 (padding) and
        rows of ids never seen are zero.

    Raises:
        ValueError: `dim >= vocab_size`, or no sequence has two tokens.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    if not 0 < dim < vocab_size:
        raise ValueError(f"dim must be in [1, vocab_size={vocab_size}), got {dim}.")
    rows, cols, vals = [], [], []
    for seq in sequences:
        s = np.asarray(seq, dtype=np.int32)
        s = np.where(s >= vocab_size, OOV_ID, s)
        for d in range(1, min(window, len(s) - 1) + 1):
            a, b = s[:-d], s[d:]
            w = np.full(len(a), 1.0 / d, np.float32)
            rows += [a, b]
            cols += [b, a]
            vals += [w, w]
    if not rows:
        raise ValueError("No sequence has two tokens: nothing to learn word vectors from.")
    counts = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(vocab_size, vocab_size),
    ).tocsr()  # sums duplicates
    counts.eliminate_zeros()
    total = counts.sum()
    word = np.asarray(counts.sum(axis=1)).ravel()
    ctx = np.asarray(counts.sum(axis=0)).ravel() ** alpha
    ctx = ctx / ctx.sum()
    c = counts.tocoo()
    pmi = np.log(c.data / total) - np.log(word[c.row] / total) - np.log(ctx[c.col] + 1e-12)
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=counts.shape)
    rng = np.random.default_rng(seed)
    u, sv, _ = svds(ppmi.astype(np.float64), k=dim, v0=rng.uniform(-1, 1, vocab_size))
    vectors = u * np.sqrt(sv)[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.where(norms > 1e-8, vectors / np.maximum(norms, 1e-8), 0.0)
    vectors *= scale * math.sqrt(dim)
    vectors[PAD_ID] = 0.0
    return vectors.astype(np.float32)
