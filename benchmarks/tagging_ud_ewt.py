"""UD English EWT part-of-speech benchmark: the tagger vs the baselines a user would pick.

Protocol (the treebank's standard one): train on train, choose on dev (early stopping), report
on every token of test with the gold tokenisation (multiword tokens split into their syntactic
words). In the same run, on the same sentences:

- most-frequent tag: each word's most frequent training tag; unknown words get the most
  frequent open-class tag (NOUN for UPOS);
- a feature-based logistic regression (scikit-learn): the word, its lower case, prefixes and
  suffixes up to 3 characters, its shape, and the neighbouring words - what a user would
  otherwise train;
- the tagger with a CRF head and with a softmax head (`--heads`), each trained within
  `--max-train-minutes`; with `--unlabelled imdb`, each also learns from the 50,000 unlabelled
  IMDB reviews of the mirror (untagged English: vocabulary and PPMI + SVD word vectors; see
  `rnn_apps.tasks.tagging.unlabelled`).

Reported per model: UPOS (and XPOS with `--column xpos`) accuracy, unseen-word accuracy,
training seconds; for the first head, tokens/s tagged by its SavedModel (batches of 64
sentences) and single-sentence latency. Writes `benchmarks/results/tagging_ud_ewt.json`; with
`--export-dir`, the first head's tagger is exported there with a `MODEL_CARD.md` (the
committed `saved_models/tagger_ud_en_upos`).

    python benchmarks/tagging_ud_ewt.py --data-dir ../shared/datasets \
        [--export-dir saved_models/tagger_ud_en_upos]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    dir_size_mb,
    latency_summary,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

OPEN_CLASS_DEFAULT = {"upos": "NOUN", "xpos": "NN"}


def most_frequent_tag(train, test, column: str) -> list[list[str]]:
    """Each word's most frequent training tag; unknown words the most frequent open-class."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in train:
        for w, t in zip(s.tokens, s.tags):
            counts[w][t] += 1
    fallback = OPEN_CLASS_DEFAULT.get(column)
    if fallback is None:
        fallback = Counter(t for s in train for t in s.tags).most_common(1)[0][0]
    return [[counts[w].most_common(1)[0][0] if w in counts else fallback for w in s.tokens]
            for s in test]  # fmt: skip


def _shape(w: str) -> str:
    out = []
    for c in w:
        k = "X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)[:6]


def _features(tokens: list[str], i: int) -> dict[str, float]:
    w = tokens[i]
    f = {"w=" + w: 1.0, "lw=" + w.lower(): 1.0, "shape=" + _shape(w): 1.0, "bias": 1.0}
    for k in (1, 2, 3):
        f[f"p{k}={w[:k].lower()}"] = 1.0
        f[f"s{k}={w[-k:].lower()}"] = 1.0
    for d in (-2, -1, 1, 2):
        j = i + d
        f[f"w{d}=" + (tokens[j].lower() if 0 <= j < len(tokens) else "<pad>")] = 1.0
    f["s3+w1=" + w[-3:].lower() + "|" + (tokens[i + 1].lower() if i + 1 < len(tokens) else "")] = 1
    return f


def feature_logreg(train, test, seed: int) -> tuple[list[list[str]], float]:
    """The feature-based logistic-regression tagger: (test predictions, training seconds)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.monotonic()
    x = [_features(s.tokens, i) for s in train for i in range(len(s.tokens))]
    y = [t for s in train for t in s.tags]
    vec = DictVectorizer()
    clf = LogisticRegression(C=5.0, max_iter=300, random_state=seed)
    clf.fit(vec.fit_transform(x), y)
    seconds = time.monotonic() - start
    pred = clf.predict(vec.transform([_features(s.tokens, i) for s in test
                                      for i in range(len(s.tokens))]))  # fmt: skip
    out, k = [], 0
    for s in test:
        out.append(list(pred[k : k + len(s.tokens)]))
        k += len(s.tokens)
    return out, seconds


def _scores(gold, pred, test, train_words) -> dict[str, Any]:
    from rnn_apps.tasks.tagging import token_accuracy, unseen_word_accuracy

    lowered = [[w.lower() for w in s.tokens] for s in test]
    unseen, n = unseen_word_accuracy(gold, pred, lowered, train_words)
    return {"accuracy": token_accuracy(gold, pred), "unseen_word_accuracy": unseen,
            "num_unseen_tokens": n}  # fmt: skip


def imdb_unlabelled(data_dir: str | None) -> list[str]:
    """The 50,000 unlabelled IMDB reviews as plain texts (`<br />` -> space)."""
    from rnn_apps.data.imdb import load_imdb

    reviews = load_imdb(data_dir, splits=("unsup",))["unsup"]["text"]
    return reviews.str.replace("<br />", " ", regex=False).tolist()


def serving_speed(export_dir: Path, test) -> dict[str, Any]:
    """Tokens/s of the SavedModel's `tag` signature in batches of 64 sentences, and the
    latency of one sentence."""
    import numpy as np
    import tensorflow as tf

    fn = tf.saved_model.load(str(export_dir)).signatures["tag"]
    sentences = [s.tokens for s in test]

    def batch(rows):
        width = max(len(r) for r in rows)
        return tf.constant([r + [""] * (width - len(r)) for r in rows])

    fn(tokens=batch(sentences[:64]))  # warm-up
    start, tokens = time.perf_counter(), 0
    for lo in range(0, len(sentences), 64):
        rows = sentences[lo : lo + 64]
        fn(tokens=batch(rows))
        tokens += sum(len(r) for r in rows)
    rate = tokens / (time.perf_counter() - start)
    one = batch([sentences[len(sentences) // 2]])
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        fn(tokens=one)
        times.append(1000 * (time.perf_counter() - t0))
    return {"tokens_per_second_batch_64": float(np.round(rate, 1)),
            "single_sentence_latency_ms": latency_summary(times)}  # fmt: skip


def write_model_card(export_dir: Path, r: dict[str, Any], head: str) -> None:
    """`MODEL_CARD.md` of the exported tagger: data, model, the scores of this run."""
    from rnn_apps.data.conllu import MAX_SENTENCE_TOKENS
    from rnn_apps.tasks.tagging import MAX_TAG_BATCH

    m, cfg = r["models"][f"tagger_{head}"], r["models"][f"tagger_{head}"]["config"]
    column = cfg["column"].upper()
    extra = m.get("unlabelled", {})
    init = "random init"
    if extra.get("texts"):
        init = (
            f"started from PPMI + SVD vectors of the tagged sentences and {extra['texts']:,} "
            f"unlabelled IMDB reviews ({extra['tokens']:,} tokens), which added "
            f"{extra['words_added']:,} words to the vocabulary"
        )
    lines = [
        f"# tagger_ud_en_upos: English {column} tagger, BiLSTM + character encoder + {head}",
        "",
        "Trained by `benchmarks/tagging_ud_ewt.py` on UD English EWT (CC BY-SA 4.0): train "
        "split for training, dev for early stopping, scored on every token of test (gold "
        "tokenisation, multiword tokens split into syntactic words).",
        "",
        "## Model",
        f"- word embedding ({cfg['embedding_dim']}, {init}, word dropout "
        f"{cfg['word_dropout']}) + {cfg['char_encoder']} character encoder "
        f"({cfg['char_units']} units), {cfg['num_layers']} bidirectional "
        f"{cfg['cell'].upper()} layers ({cfg['units']} units per direction), {head} output",
        f"- training: {m['epochs']} epochs, {m['train_seconds']:.0f} s on a 2-core CPU "
        "(best dev epoch kept)",
        "",
        f"## Quality (test, {r['num_test_tokens']:,} tokens, same run)",
        "",
        "| model | accuracy | unseen-word accuracy |",
        "|---|---|---|",
    ]
    for name, e in r["models"].items():
        lines.append(
            f"| {name} | {100 * e['accuracy']:.2f} | {100 * e['unseen_word_accuracy']:.2f} |"
        )
    serving = m["serving"]
    lines += [
        "",
        f"Unseen words: {m['num_unseen_tokens']} test tokens whose lower case is not in "
        "the training data. SavedModel speed (CPU): "
        f"{serving['tokens_per_second_batch_64']:,.0f} tokens/s in batches of 64 sentences, "
        f"{serving['single_sentence_latency_ms']['p50_ms']:.1f} ms per sentence (p50).",
        "",
        f"Reproduce (about {r['total_seconds'] / 60:.0f} minutes on 2 CPU cores): `{r['command']}`",
        "",
        "## Use",
        "```",
        'rnn-apps tag predict --model saved_models/tagger_ud_en_upos "I don\'t like it."',
        "```",
        'Signatures: `tag`: `tokens` tf.string [None, None] (right-padded with "") -> `tags` '
        'tf.string (same shape, "" on padding), `scores` (each chosen tag\'s softmax '
        "probability), `lengths`; `tag_text` (also "
        "`serving_default`): `text` tf.string [None] (split at whitespace, punctuation and "
        "English clitics in the graph) -> `tokens`, `tags`, `scores`, `lengths`. Runs with "
        "TensorFlow alone.",
        "",
        "## Limits",
        f"- at most {MAX_TAG_BATCH} sentences per call and {MAX_SENTENCE_TOKENS:,} tokens per "
        "sentence; web text of the EWT "
        "kind (reviews, e-mail, blogs, answers): expect lower accuracy on other domains;",
        "- `tag_text`'s splitting approximates UD's tokenisation (no multiword-token "
        "analysis: `don't` is split as `do n't`, `gonna` is not split).",
    ]
    (export_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("RNN_APPS_DATA_DIR"))
    p.add_argument("--column", default="upos")
    p.add_argument("--heads", nargs="+", default=["crf", "softmax"], choices=["crf", "softmax"])
    p.add_argument("--max-train-minutes", type=float, default=14.0, help="per tagger")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--char-encoder", default="bilstm")
    p.add_argument("--char-units", type=int, default=32, help="character encoder width")
    p.add_argument("--char-embedding-dim", type=int, default=32)
    p.add_argument("--word-dropout", type=float, default=0.25)
    p.add_argument("--word-vectors", default=None, help="pretrained vectors (text format)")
    p.add_argument("--export-dir", default=None, help="export the first head's tagger here")
    p.add_argument(
        "--unlabelled", choices=["none", "imdb"], default="none",
        help="untagged text to learn word vectors from (imdb: the 50,000 unlabelled reviews)",
    )  # fmt: skip
    p.add_argument("--max-train-sentences", type=int, default=None, help="debug: fewer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(result_path("tagging_ud_ewt")))
    args = p.parse_args(argv)
    start = time.monotonic()

    from rnn_apps.data.conllu import load_ud_ewt
    from rnn_apps.tasks.tagging import Tagger, TaggingConfig, tag_sentences

    train, dev, test = (
        load_ud_ewt(s, column=args.column, data_dir=args.data_dir) for s in ("train", "dev", "test")
    )
    if args.max_train_sentences:
        train = train[: args.max_train_sentences]
    unlabelled = imdb_unlabelled(args.data_dir) if args.unlabelled == "imdb" else None
    gold = [s.tags for s in test]
    train_words = {w.lower() for s in train for w in s.tokens}
    result: dict[str, Any] = {
        "benchmark": "tagging_ud_ewt",
        "command": recorded_command(
            "tagging_ud_ewt.py",
            sys.argv[1:] if argv is None else argv,
            path_options={"--word-vectors": "<vectors>", "--export-dir": "<dir>"},
            drop_options=("--output",),
        ),  # fmt: skip
        "protocol": f"train on train, early stopping on dev, {args.column} accuracy over every "
        "token of test (gold tokenisation, syntactic words)",
        "num_sentences": {"train": len(train), "dev": len(dev), "test": len(test)},
        "num_test_tokens": sum(len(s.tokens) for s in test),
        "versions": provenance(),
        "models": {},
    }
    print(f"most-frequent tag ({len(train)} training sentences)", flush=True)
    result["models"]["most_frequent_tag"] = _scores(
        gold, most_frequent_tag(train, test, args.column), test, train_words
    )
    print("feature-based logistic regression", flush=True)
    pred, seconds = feature_logreg(train, test, args.seed)
    result["models"]["feature_logreg"] = {
        **_scores(gold, pred, test, train_words),
        "train_seconds": round(seconds, 1),
    }
    for k, head in enumerate(args.heads):
        print(f"tagger, {head} head", flush=True)
        cfg = TaggingConfig(
            column=args.column, head=head, char_encoder=args.char_encoder, units=args.units,
            char_units=args.char_units, char_embedding_dim=args.char_embedding_dim,
            epochs=args.epochs, max_train_minutes=args.max_train_minutes, seed=args.seed,
            word_dropout=args.word_dropout, word_vectors=args.word_vectors, verbose=2,
        )  # fmt: skip
        tagger = Tagger(cfg).fit(train, dev, unlabelled=unlabelled)
        pred = tag_sentences(tagger, [s.tokens for s in test])[0]
        dev_pred = tag_sentences(tagger, [s.tokens for s in dev])[0]
        entry = {
            **_scores(gold, pred, test, train_words),
            "dev_accuracy": _scores([s.tags for s in dev], dev_pred, dev, train_words)["accuracy"],
            "train_seconds": round(tagger.train_seconds_, 1),
            "epochs": len(tagger.history_["tagger"]["loss"]),
            "dev_loss": tagger.history_["tagger"].get("val_loss"),
            "unlabelled": {"source": args.unlabelled, **tagger.unlabelled_},
            "config": cfg.to_dict(),
        }
        if k == 0:
            with tempfile.TemporaryDirectory() as tmp:
                export_dir = Path(args.export_dir or Path(tmp) / "sm")
                tagger.export(export_dir)
                entry["serving"] = serving_speed(export_dir, test)
                entry["saved_model_mb"] = dir_size_mb(export_dir)
        result["models"][f"tagger_{head}"] = entry
        write_result(args.output, result)  # what is done so far survives a kill
    base = result["models"]["feature_logreg"]["accuracy"]
    for entry in result["models"].values():
        entry["points_above_feature_logreg"] = round(100 * (entry["accuracy"] - base), 2)
    result["peak_rss_mb"] = peak_rss_mb()
    result["total_seconds"] = round(time.monotonic() - start, 1)
    write_result(args.output, result)
    if args.export_dir:
        write_model_card(Path(args.export_dir), result, args.heads[0])
    for name, entry in result["models"].items():
        print(f"{name}: accuracy {100 * entry['accuracy']:.2f}, unseen "
              f"{100 * entry['unseen_word_accuracy']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
