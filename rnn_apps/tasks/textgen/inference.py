"""Inference written once: generate, score and evaluate through `model.run(signature, ...)`
and `model.metadata`, which a `TextGenerator` (in process, the export's own functions) and a
`SavedModelPredictor` (an exported SavedModel, including ones exported before the caps
existed) both offer. The Python API and the CLI (`predict`/`evaluate --model`) call these.

Each function checks its inputs in Python first and raises `UserInputError` with one line
naming the argument and the fix, before any graph runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.textgen.sampling import (
    MAX_NEW_TOKENS_CAP,
    MAX_PROMPT_CHARS,
    MAX_SCORE_BATCH_TOKENS,
    MAX_SCORE_CHARS,
)

#: Most samples per prompt of one `generate` call (and CLI `--num-samples`).
MAX_NUM_SAMPLES = 64
#: Sequences (prompts x samples) one `generate_texts` call samples at most.
MAX_GENERATE_SEQUENCES = 4096
#: Sequences sampled per call of the `generate` signature (chunk i uses seed + i).
GENERATE_CHUNK = 64


def loss_metrics(nats_per_token: float, chars_per_token: float = 1.0) -> dict[str, float]:
    """nats/token -> also bits/token, bits/char and perplexity."""
    bits = nats_per_token / math.log(2.0)
    return {
        "nats_per_token": float(nats_per_token),
        "bits_per_token": float(bits),
        "bits_per_char": float(bits / chars_per_token),
        "perplexity": float(math.exp(min(nats_per_token, 700.0))),
    }


def as_text_batch(texts: Any, name: str, cap: int) -> np.ndarray:
    """A string or a 1-D sequence of strings -> (B,) object array; each at most `cap` chars.

    Raises:
        UserInputError: not strings, not rank 0/1, or a text over `cap` characters.
    """
    if isinstance(texts, str):
        texts = [texts]
    if isinstance(texts, bytes):
        texts = [texts]
    try:
        arr = np.asarray(texts if isinstance(texts, np.ndarray) else list(texts), dtype=object)
    except TypeError:
        raise UserInputError(
            f"{name} must be a string or a 1-D list of strings, got {type(texts).__name__}."
        ) from None
    if arr.ndim != 1:
        raise UserInputError(
            f"{name} must be a string or a 1-D list of strings (shape [batch]), got an array "
            f"of shape {tuple(arr.shape)}; flatten it first."
        )
    out = []
    for i, t in enumerate(arr):
        if isinstance(t, bytes):
            try:
                t = t.decode("utf-8")
            except UnicodeDecodeError as err:
                raise UserInputError(
                    f"{name}[{i}] is not valid UTF-8 (byte {t[err.start]:#04x} at {err.start}); "
                    "decode it with its own encoding and pass a str."
                ) from None
        if not isinstance(t, str):
            raise UserInputError(f"{name}[{i}] is a {type(t).__name__}, not a string.")
        if len(t) > cap:
            hint = " or use evaluate(), which scores any length" if name == "text" else ""
            raise UserInputError(
                f"{name}[{i}] has {len(t)} characters; at most {cap} per text: split it{hint}."
            )
        out.append(t)
    return np.asarray(out, dtype=object).reshape([len(out)])


def check_sampling_args(
    max_new_tokens: Any, temperature: Any, top_k: Any, top_p: Any
) -> tuple[int, float, int, float]:
    """Validates sampling arguments; raises `UserInputError` naming the bad one."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise UserInputError(f"max_new_tokens={max_new_tokens!r}: expected an integer.")
    if max_new_tokens > MAX_NEW_TOKENS_CAP:
        raise UserInputError(
            f"max_new_tokens={max_new_tokens}: at most {MAX_NEW_TOKENS_CAP} per call."
        )
    try:
        temperature = float(temperature)
        top_p = float(top_p)
    except (TypeError, ValueError) as err:
        raise UserInputError(f"temperature and top_p must be numbers ({err}).") from err
    if not math.isfinite(temperature):
        raise UserInputError(f"temperature={temperature!r}: expected a finite number.")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise UserInputError(f"top_k={top_k!r}: expected an integer >= 0 (0 = off).")
    if not 0.0 < top_p <= 1.0:
        raise UserInputError(f"top_p={top_p!r}: expected a float in (0, 1] (1.0 = off).")
    return int(max_new_tokens), temperature, int(min(top_k, 2**31 - 1)), top_p


def _check_stop(stop: str | None, metadata: dict[str, Any]) -> None:
    if stop is None:
        return
    if not isinstance(stop, str) or not stop:
        raise UserInputError("stop must be a non-empty string or None.")
    vocab = metadata.get("vocabulary")
    if metadata.get("level") == "char" and vocab is not None:
        unknown = sorted(set(stop) - set(vocab))
        if unknown:
            raise UserInputError(
                f"stop={stop!r} holds characters the model never generates ({unknown}, not in "
                "its vocabulary); it could never match."
            )


def generate_texts(
    model: Any,
    prompt: str | Sequence[str] = "",
    *,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    num_samples: int = 1,
    stop: str | None = None,
) -> list[str]:
    """Samples continuations with `model.run("generate", ...)`.

    Args:
        model: A `TextGenerator` or a `SavedModelPredictor` of a textgen export.
        prompt: A prompt or a 1-D list of prompts (each at most `MAX_PROMPT_CHARS`); [] -> [].
        max_new_tokens, temperature, top_k, top_p: See `rnn_apps.tasks.textgen.sampling`.
        seed: Seed of the stateless sampler (None = a random one).
        num_samples: Samples per prompt (1..`MAX_NUM_SAMPLES`). Prompts x samples (at most
            `MAX_GENERATE_SEQUENCES`) are drawn in chunks of `GENERATE_CHUNK` sequences, chunk
            i with seed `seed + i`.
        stop: Optional stop string: each sample is cut right after the first time it produces
            it (the stop string is kept at the end).

    Returns:
        `len(prompts) * num_samples` texts (prompt + continuation), prompt-major.
    """
    prompts = as_text_batch(prompt, "prompt", MAX_PROMPT_CHARS)
    n, temperature, top_k, top_p = check_sampling_args(max_new_tokens, temperature, top_k, top_p)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise UserInputError(f"num_samples={num_samples!r}: expected an integer.")
    if not 1 <= num_samples <= MAX_NUM_SAMPLES:
        raise UserInputError(
            f"num_samples={num_samples}: expected 1 to {MAX_NUM_SAMPLES} samples per prompt."
        )
    _check_stop(stop, model.metadata)
    if seed is None:
        seed = int(np.random.randint(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise UserInputError(f"seed={seed!r}: expected an integer.")
    batch = np.repeat(prompts, int(num_samples)).astype(object)
    if batch.size == 0:
        return []
    if batch.size > MAX_GENERATE_SEQUENCES:
        raise UserInputError(
            f"{len(prompts)} prompts x {num_samples} samples = {batch.size} sequences; at most "
            f"{MAX_GENERATE_SEQUENCES} per call: split the prompts."
        )
    out = []
    for i, lo in enumerate(range(0, batch.size, GENERATE_CHUNK)):  # memory follows the chunk
        out.extend(
            model.run(
                "generate",
                prompt=batch[lo : lo + GENERATE_CHUNK],
                max_new_tokens=np.int32(n),
                temperature=np.float32(temperature),
                top_k=np.int32(top_k),
                top_p=np.float32(top_p),
                seed=np.int32((int(seed) + i) % 2**31),
            )["text"]
        )
    texts = [t.decode("utf-8") for t in out]
    if stop is not None:
        cut = []
        for p, t in zip(batch, texts):
            j = t.find(stop, len(p))
            cut.append(t if j < 0 else t[: j + len(stop)])
        texts = cut
    return texts


def score_texts(model: Any, texts: str | Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """`(nats per token (B,), tokens (B,))` of each text with `model.run("score", ...)`.

    Each text at most `MAX_SCORE_CHARS` characters; an empty text scores NaN; [] -> empty.
    Texts of similar length are sent together, each call below the signature's
    `MAX_SCORE_BATCH_TOKENS` (texts x characters of the longest, an upper bound of tokens).
    """
    batch = as_text_batch(texts, "text", MAX_SCORE_CHARS)
    nll = np.zeros([batch.size], np.float32)
    count = np.zeros([batch.size], np.int32)
    lengths = np.asarray([len(t) for t in batch], np.int64)
    order = np.argsort(-lengths, kind="stable")  # longest first: each group's first is its max
    lo = 0
    while lo < batch.size:
        group = max(1, MAX_SCORE_BATCH_TOKENS // max(int(lengths[order[lo]]), 1))
        idx = order[lo : lo + group]
        out = model.run("score", text=batch[idx])
        nll[idx] = np.asarray(out["nll_per_token"], np.float32)
        if "num_tokens" in out:
            count[idx] = np.asarray(out["num_tokens"], np.int32)
        else:  # exports made before `num_tokens` existed (char level: one token per character)
            count[idx] = lengths[idx]
        lo += len(idx)
    return nll, count


def split_text(text: str, chunks: int, level: str) -> list[str]:
    """`text` cut into about `chunks` contiguous pieces (at whitespace at word level)."""
    chunks = max(1, min(int(chunks), len(text)))
    base, extra = divmod(len(text), chunks)
    sizes = [base + 1] * extra + [base] * (chunks - extra)  # as np.array_split
    bounds, pos = [0], 0
    for size in sizes[:-1]:
        pos = max(pos + size, bounds[-1])
        if level != "char":  # move to the next whitespace, at most 1000 characters on
            stop = min(pos + 1000, len(text))
            while pos < stop and not text[pos].isspace():
                pos += 1
        bounds.append(min(pos, len(text)))
    bounds.append(len(text))
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def evaluate_text(model: Any, text: str, *, chunks: int | None = None) -> dict[str, float]:
    """Cross-entropy of a text of any length, the state carried through each chunk.

    The text is cut into `chunks` contiguous pieces (default: the model's `val_chunks`, more
    when a piece would exceed `MAX_SCORE_CHARS`), each scored by `score` (its first token under
    the unigram distribution); the result is the token-weighted mean.

    Returns:
        `nats_per_token`, `bits_per_token`, `bits_per_char`, `perplexity`, `num_tokens`,
        `num_chars`.
    """
    if not isinstance(text, str) or not text:
        raise UserInputError("evaluate needs a non-empty text.")
    meta = model.metadata
    level = str(meta.get("level", "char"))
    if chunks is None:
        chunks = int(meta.get("val_chunks") or (meta.get("config") or {}).get("val_chunks", 16))
    chunks = max(int(chunks), math.ceil(len(text) / MAX_SCORE_CHARS))
    nll, n = score_texts(model, split_text(text, chunks, level))
    ok = n > 0
    total = float(np.sum(nll[ok].astype(np.float64) * n[ok]))
    count = int(np.sum(n))
    if count == 0:
        raise UserInputError("The text has no tokens to score.")
    out = loss_metrics(total / count, len(text) / count)
    out.update({"num_tokens": count, "num_chars": len(text)})
    return out
