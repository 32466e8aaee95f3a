"""Translation quality: corpus BLEU and chrF (sacreBLEU) against every reference of each
source sentence, the evaluation helpers written against the `run`/`metadata` API (a
`Translator` in process or a `SavedModelPredictor`), and the attention heatmap.

Shape legend: B sentences, T target tokens, S source tokens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.texts import as_utf8_bytes

_SPACES = re.compile(r"[\u00a0\u202f\u2007\u2009]")


def clean_reference(text: str) -> str:
    """A reference as scored: French spacing characters -> plain spaces (the model writes
    plain spaces), whitespace collapsed."""
    return " ".join(_SPACES.sub(" ", str(text)).split())


def group_references(sources: Sequence[str], targets: Sequence[str]) -> tuple[list, list]:
    """Pairs -> (distinct sources in first-seen order, [references of each source])."""
    refs: dict[str, list[str]] = {}
    for s, t in zip(sources, targets):
        refs.setdefault(str(s), []).append(clean_reference(t))
    return list(refs), list(refs.values())


def corpus_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """Corpus BLEU and chrF of `hypotheses` (one per sentence) against `references` (a list
    of references per sentence, any number), with sacreBLEU's defaults (13a tokenisation,
    cased).

    Returns:
        `{"bleu": float, "chrf": float, "bleu_signature": str}` (scores 0-100).
    """
    import sacrebleu

    if len(hypotheses) != len(references):
        raise UserInputError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    hypotheses = [str(h) for h in hypotheses]
    if not hypotheses:
        return {"bleu": float("nan"), "chrf": float("nan"), "bleu_signature": ""}
    width = max(len(r) for r in references)
    streams = [[r[j] if j < len(r) else None for r in references] for j in range(width)]
    hyps = hypotheses
    bleu = sacrebleu.metrics.BLEU()
    chrf = sacrebleu.metrics.CHRF()
    b = bleu.corpus_score(hyps, streams)
    c = chrf.corpus_score(hyps, streams)
    return {"bleu": float(b.score), "chrf": float(c.score), "bleu_signature": str(b.format())}


def translate_texts(
    model: Any,
    texts: Sequence[Any],
    *,
    beam_width: int | None = None,
    max_length: int | None = None,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Translates `texts` with `model.run("translate", ...)` in batches of similar length.

    Args:
        model: A `Translator` or a `SavedModelPredictor` of one.
        texts: Sentences (str or bytes).
        beam_width: Beam width (1 = greedy); default the model's configured one.
        max_length: Maximum output tokens; default the model's configured one.
        batch_size: Sentences per call (at most the model's `max_batch_sentences`).

    Returns:
        `{"translation": (B,) str array, "score": (B,) float32}` in the order of `texts`.
    """
    cfg = dict(model.metadata.get("config", {}))
    k = int(beam_width if beam_width is not None else cfg.get("beam_width", 4))
    m = int(max_length if max_length is not None else cfg.get("max_decode_length", 40))
    if k < 1 or m < 1:
        raise UserInputError(f"beam_width and max_length must be >= 1, got {k} and {m}.")
    max_k = int(model.metadata.get("max_beam_width", 16))
    max_m = int(model.metadata.get("max_decode_length_cap", 200))
    if k > max_k:
        raise UserInputError(f"beam_width is at most {max_k} for this model, got {k}.")
    if m > max_m:
        raise UserInputError(f"max_length is at most {max_m} tokens for this model, got {m}.")
    max_b = int(model.metadata.get("max_batch_sentences", batch_size))
    if not 1 <= batch_size <= max_b:
        raise UserInputError(f"batch_size must be 1 to {max_b} sentences, got {batch_size}.")
    data = as_utf8_bytes(texts)
    order = np.argsort([len(t) for t in data], kind="stable")
    out_text = np.empty(len(data), dtype=object)
    out_score = np.zeros(len(data), dtype=np.float32)
    for lo in range(0, len(data), batch_size):
        idx = order[lo : lo + batch_size]
        batch = np.array([data[i] for i in idx], dtype=object)
        res = model.run("translate", text=batch, beam_width=k, max_length=m)
        out_text[idx] = [
            v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in res["translation"]
        ]
        out_score[idx] = res["score"]
    return {"translation": out_text, "score": out_score}


def evaluate_pairs(
    model: Any,
    sources: Sequence[str],
    targets: Sequence[str],
    *,
    beam_width: int | None = None,
    max_sentences: int | None = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """BLEU and chrF, greedy and beam, on pairs grouped by source sentence.

    Args:
        model: A `Translator` or a `SavedModelPredictor`.
        sources, targets: Test pairs (a source may appear with several references).
        beam_width: Beam width of the beam scores (default: the model's).
        max_sentences: Score a seeded sample of at most this many distinct sources (None:
            all).
        seed: Seed of that sample.

    Returns:
        `{"num_test_sentences", "bleu": {"greedy", "beam"}, "chrf": {...}, "beam_width",
        "examples": [first few {source, references, greedy, beam}]}`.
    """
    srcs, refs = group_references(sources, targets)
    if not srcs:
        raise UserInputError("No test pairs to evaluate on.")
    if max_sentences is not None and len(srcs) > max_sentences:
        pick = np.sort(np.random.default_rng(seed).permutation(len(srcs))[:max_sentences])
        srcs, refs = [srcs[i] for i in pick], [refs[i] for i in pick]
    cfg = dict(model.metadata.get("config", {}))
    k = int(beam_width if beam_width is not None else cfg.get("beam_width", 4))
    greedy = translate_texts(model, srcs, beam_width=1)
    beam = translate_texts(model, srcs, beam_width=max(k, 1))
    g, b = corpus_scores(greedy["translation"], refs), corpus_scores(beam["translation"], refs)
    return {
        "num_test_sentences": len(srcs),
        "beam_width": k,
        "bleu": {"greedy": g["bleu"], "beam": b["bleu"]},
        "chrf": {"greedy": g["chrf"], "beam": b["chrf"]},
        "mean_score": {
            "greedy": float(np.mean(greedy["score"])),
            "beam": float(np.mean(beam["score"])),
        },
        "bleu_signature": b["bleu_signature"],
        "examples": [
            {"source": s, "references": r, "greedy": gt, "beam": bt}
            for s, r, gt, bt in list(zip(srcs, refs, greedy["translation"], beam["translation"]))[
                :5
            ]
        ],
    }


def attention_weights(task: Any, sentence: str) -> tuple[list[str], list[str], np.ndarray]:
    """What the decoder looked at while translating `sentence` greedily (in process only).

    Returns:
        (source tokens (S,), output tokens (T,), weights (T, S): row t is the attention
        distribution of output token t over the source tokens).
    """
    import tensorflow as tf

    from rnn_apps.tasks.translate.preprocessor import END, standardize

    if task.config.attention is None:
        raise UserInputError("This model has no attention (attention=None): nothing to plot.")
    pre = task.preprocessor_
    text = tf.constant([sentence.encode("utf-8") if isinstance(sentence, str) else sentence])
    src = pre.encode_source(text)  # (1, S)
    tokens = task.greedy_ids(text)[0]  # (L,)
    vocab = pre.target_vectorizer.get_vocabulary()
    out_ids = []
    for t in tokens.tolist():
        if t == 0:
            break
        out_ids.append(t)
        if t == pre.end_id:
            break
    model = task.model_
    enc = task.encoder_(src, training=False)
    enc_out, states = enc[0], list(enc[1:])
    dec_in = tf.constant([[pre.start_id, *out_ids[:-1]]], tf.int32)  # (1, T)
    x = model.get_layer("decoder_embedding")(dec_in)
    ns = 2 if task.config.cell == "lstm" else 1
    i = 0
    while True:
        try:
            rnn = model.get_layer(f"decoder_rnn_{i + 1}")
        except ValueError:
            break
        x, *_ = rnn(x, initial_state=states[i * ns : (i + 1) * ns], training=False)
        i += 1
    values = model.get_layer("encoder_outputs_masking")(enc_out)
    _, scores = model.get_layer("attention")(
        [x, values], return_attention_scores=True, training=False
    )
    n_src = int(src.shape[1])
    words = standardize(text)[0].numpy().decode("utf-8").split(" ")[:n_src]
    src_vocab = pre.source_vectorizer.get_vocabulary()
    src_tokens = [
        w if src_vocab[int(j)] != "[UNK]" else f"{w} (UNK)" for w, j in zip(words, src[0].numpy())
    ]
    out_tokens = [vocab[t] if vocab[t] != END else "[end]" for t in out_ids]
    return src_tokens, out_tokens, np.asarray(scores[0])[:, : len(src_tokens)]


def plot_attention(task: Any, sentences: Sequence[str], path: str | os.PathLike) -> Path:
    """PNG of attention heatmaps (rows: output tokens, columns: source tokens), one panel
    per sentence, through `rnn_apps.reporting`."""
    from rnn_apps import reporting

    sentences = list(sentences)[:4]
    n = max(len(sentences), 1)
    fig, axes = reporting.new_figure(1, n, figsize=(4.5 * n, 4.5), squeeze=False)
    for ax, sentence in zip(axes[0], sentences):
        src, out, w = attention_weights(task, sentence)
        ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(out)), out, fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    fig.suptitle("what the decoder looked at (attention weights)")
    return reporting.save_figure(fig, path)
