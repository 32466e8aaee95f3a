"""Tagging written once against `model.run(signature, ...)` and `model.metadata`, which a
`Tagger` (in process) and a `SavedModelPredictor` of its export both offer.

- `as_sentences`: every accepted form of tagged data -> (token lists, tag lists);
- `tag_sentences`: token lists -> tag lists (batches of similar length through `tag`);
- `tag_texts`: raw sentences -> (token, tag) pairs (through `tag_text`);
- `evaluate_sentences`: token accuracy, unseen-word accuracy, per-tag scores and, for BIO tag
  sets, entity-span scores.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.data.conllu import (
    MAX_SENTENCE_TOKENS,
    TaggedSentence,
    is_bio_tagset,
    read_columns,
    read_conllu,
)
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.tagging.metrics import (
    confusion_matrix,
    span_scores,
    tag_report,
    token_accuracy,
    unseen_word_accuracy,
)

#: Most sentences in one call of the `tag` / `tag_text` signatures.
MAX_TAG_BATCH = 256


def as_sentences(
    data: Any, column: str = "upos", *, need_tags: bool = True
) -> tuple[list[list[str]], list[list[str]]]:
    """Tagged data -> (token lists, tag lists).

    Accepts a CoNLL-U file (`.conllu`, tags from `column`) or a token-per-line file (any other
    suffix; the tag in the last column), `TaggedSentence`s, `(tokens, tags)` pairs, or a
    DataFrame with `tokens` and `tags` columns (lists). With `need_tags=False`, token lists
    alone are accepted too (tags returned empty).

    Raises:
        UserInputError: another form, a token that is not a string, tokens and tags of
            different lengths, or a sentence over `MAX_SENTENCE_TOKENS` tokens.
    """
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        data = read_conllu(path, column=column) if path.suffix == ".conllu" else read_columns(path)
    if hasattr(data, "columns") and hasattr(data, "iterrows"):  # a DataFrame
        missing = {"tokens", "tags"} - set(data.columns)
        if missing:
            raise UserInputError(
                "the DataFrame needs 'tokens' and 'tags' columns (lists); missing "
                f"{sorted(missing)}."
            )
        data = list(zip(data["tokens"], data["tags"]))
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    for i, item in enumerate(data):
        if isinstance(item, TaggedSentence):
            toks, tg = item.tokens, item.tags
        elif not need_tags and not isinstance(item, tuple):
            toks, tg = item, None
        else:
            try:
                toks, tg = item
            except (TypeError, ValueError):
                raise UserInputError(
                    f"sentence {i}: expected (tokens, tags), a TaggedSentence, or a path."
                ) from None
        toks = list(toks)
        if not all(isinstance(t, str) for t in toks):
            raise UserInputError(f"sentence {i}: every token must be a string.")
        if len(toks) > MAX_SENTENCE_TOKENS:
            raise UserInputError(
                f"sentence {i} has {len(toks)} tokens; at most {MAX_SENTENCE_TOKENS}: split it."
            )
        if any(t == "" for t in toks):
            raise UserInputError(f'sentence {i}: an empty token; remove it ("" pads).')
        if tg is not None:
            tg = [str(t) for t in tg]
            if len(tg) != len(toks):
                raise UserInputError(
                    f"sentence {i}: {len(toks)} tokens but {len(tg)} tags; give one tag per token."
                )
        tokens.append(toks)
        tags.append(tg or [])
    return tokens, tags


def _padded(batch: Sequence[Sequence[str]]) -> np.ndarray:
    width = max([len(s) for s in batch] + [1])
    return np.array([list(s) + [""] * (width - len(s)) for s in batch], dtype=object)


def tag_sentences(
    model: Any, sentences: Sequence[Sequence[str]], *, batch_size: int = 64
) -> tuple[list[list[str]], list[np.ndarray]]:
    """Tags token lists with `model.run("tag", tokens=...)`: `(tags, confidences)` per sentence
    (in the order given), batches of similar length of at most `batch_size` sentences."""
    tokens, _ = as_sentences(sentences, need_tags=False)
    if not 1 <= batch_size <= MAX_TAG_BATCH:
        raise UserInputError(f"batch_size must be 1 to {MAX_TAG_BATCH}, got {batch_size}.")
    order = np.argsort([len(s) for s in tokens], kind="stable")
    out_tags: list[list[str]] = [[] for _ in tokens]
    out_conf: list[np.ndarray] = [np.zeros(0, np.float32) for _ in tokens]
    for lo in range(0, len(tokens), batch_size):
        idx = order[lo : lo + batch_size]
        res = model.run("tag", tokens=_padded([tokens[i] for i in idx]))
        for row, i in enumerate(idx):
            n = len(tokens[i])
            out_tags[i] = [t.decode("utf-8") for t in res["tags"][row, :n]]
            out_conf[i] = np.asarray(res["scores"][row, :n], np.float32)
    return out_tags, out_conf


def tag_texts(
    model: Any, texts: Sequence[str], *, batch_size: int = 64
) -> list[list[tuple[str, str]]]:
    """Raw sentences -> `[(token, tag), ...]` per sentence with `model.run("tag_text", ...)`
    (split in the graph; an empty text gives [])."""
    from rnn_apps.texts import as_utf8_bytes

    if not 1 <= batch_size <= MAX_TAG_BATCH:
        raise UserInputError(f"batch_size must be 1 to {MAX_TAG_BATCH}, got {batch_size}.")
    data = as_utf8_bytes(texts)
    out: list[list[tuple[str, str]]] = []
    for lo in range(0, len(data), batch_size):
        res = model.run("tag_text", text=np.array(data[lo : lo + batch_size], dtype=object))
        for row, n in enumerate(res["lengths"]):
            toks = [t.decode("utf-8") for t in res["tokens"][row, :n]]
            tags = [t.decode("utf-8") for t in res["tags"][row, :n]]
            out.append(list(zip(toks, tags)))
    return out


def evaluate_sentences(
    model: Any, data: Any, *, output_dir: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Scores of `model` on tagged `data` (any form of `as_sentences`).

    Returns:
        `num_sentences`, `num_tokens`, `accuracy`, `unseen_word_accuracy` and
        `num_unseen_tokens` (words outside the vocabulary of the tagged training sentences),
        `per_tag` (precision, recall, F1, support), `macro_f1` and, when the tags are BIO,
        `spans` (precision, recall, F1, per type). With `output_dir`, `confusion_matrix.png`
        (rows: gold tags, columns: predicted) is written there.
    """
    meta = model.metadata
    tokens, gold = as_sentences(data, str(meta.get("column", "upos")))
    if not tokens:
        raise UserInputError("no sentences to evaluate.")
    pred, _ = tag_sentences(model, tokens)
    vocabulary = list(meta.get("words") or [])
    num_tagged = meta.get("num_tagged_words")  # None: exported before untagged text existed
    words = set(vocabulary if num_tagged is None else vocabulary[:num_tagged])
    lowered = [[w.lower() for w in s] for s in tokens]
    unseen, n_unseen = unseen_word_accuracy(gold, pred, lowered, words)
    report = tag_report(gold, pred)
    out: dict[str, Any] = {
        "num_sentences": len(tokens),
        "num_tokens": sum(len(s) for s in tokens),
        "accuracy": token_accuracy(gold, pred),
        "unseen_word_accuracy": unseen,
        "num_unseen_tokens": n_unseen,
        "macro_f1": report["macro"]["f1"],
        "per_tag": {k: v for k, v in report.items() if k not in ("micro", "macro")},
    }
    if is_bio_tagset(t for s in gold for t in s):
        out["spans"] = span_scores(gold, pred)
    if output_dir is not None:
        from rnn_apps.reporting import plot_confusion_matrix

        counts, names = confusion_matrix(gold, pred)
        plot_confusion_matrix(counts, names, Path(output_dir) / "confusion_matrix.png")
    return out
