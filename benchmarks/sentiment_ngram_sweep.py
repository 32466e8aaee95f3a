"""The sentiment model's n-gram branch alone on IMDB, for a list of settings: validation only.

Protocol: the IMDB train reviews with the pipeline's movie-grouped validation split (seeded 20%
of the movies held out), the vocabulary adapted on the fitting part, the n-gram branch built,
weighted and trained exactly as `SentimentClassifier.fit` does (`ReduceLROnPlateau` on the
validation loss), for `ngram_epochs` epochs; its validation accuracy and loss after every
epoch. The test reviews are not read: this chooses settings (`ngram_l2` was chosen here).

    python benchmarks/sentiment_ngram_sweep.py --data-dir ../shared/datasets \\
        '{"ngram_l2": 2.5e-6}' '{"ngram_l2": 2e-7}' ...

Writes `benchmarks/results/sentiment_ngram_sweep.json` (one entry per setting; `--merge` keeps
the entries of an earlier run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import provenance, recorded_command, result_path, write_result  # noqa: E402

RESULT = result_path("sentiment_ngram_sweep")


def sweep_one(texts, labels, movies, overrides: dict) -> dict:
    """Trains the n-gram branch with `overrides`; its validation curve."""
    import keras

    from rnn_apps.data.splits import group_split
    from rnn_apps.tasks.sentiment import SentimentConfig
    from rnn_apps.tasks.sentiment import model as model_lib
    from rnn_apps.tasks.sentiment.datasets import text_dataset
    from rnn_apps.tasks.sentiment.preprocessor import SentimentPreprocessor

    cfg = SentimentConfig(**{"verbose": 0, **overrides})
    fit_idx, val_idx = group_split(movies, cfg.validation_split, cfg.seed)
    pre = SentimentPreprocessor(cfg.max_tokens, cfg.max_length, ["neg", "pos"])
    y = pre.encode_labels(labels)
    fit_texts = [texts[i] for i in fit_idx]
    pre.adapt(fit_texts)
    keras.utils.set_random_seed(cfg.seed)
    # the pipeline's own tokenised, length-bucketed batches
    train_ds = text_dataset(pre, cfg, fit_texts, y[fit_idx], train=True)
    val_ds = text_dataset(pre, cfg, [texts[i] for i in val_idx], y[val_idx], train=False)
    ngram = model_lib.build_ngram_branch(cfg, pre.vocabulary_size, 1)
    model_lib.set_ngram_weights(ngram, train_ds, nb=cfg.ngram_weighting == "nb")
    model_lib.compile_branch(ngram, 1, cfg.ngram_learning_rate)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5
    )
    start = time.monotonic()
    with warnings.catch_warnings():  # the length-bucketed dataset's unknown size
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        hist = ngram.fit(
            train_ds,
            validation_data=val_ds,
            epochs=cfg.ngram_epochs,
            callbacks=[plateau],
            shuffle=False,  # the dataset shuffles itself
            verbose=0,
        ).history
    best = min(range(len(hist["val_loss"])), key=hist["val_loss"].__getitem__)
    return {
        "config": overrides,
        "command": recorded_command("sentiment_ngram_sweep.py", [json.dumps(overrides)]),
        "seconds": round(time.monotonic() - start, 1),
        "val_accuracy": [round(v, 4) for v in hist["val_accuracy"]],
        "val_loss": [round(v, 4) for v in hist["val_loss"]],
        "kept_epoch": best + 1,
        "kept_val_accuracy": round(hist["val_accuracy"][best], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", help="JSON objects of SentimentConfig overrides")
    parser.add_argument("--data-dir", default=None, help="mirror holding aclImdb_v1.tar.gz")
    parser.add_argument("--output", default=str(RESULT))
    parser.add_argument("--merge", action="store_true", help="keep an earlier run's entries")
    args = parser.parse_args(argv)
    from rnn_apps.data.imdb import load_imdb

    train = load_imdb(args.data_dir, splits=("train",))["train"]
    texts, labels = train["text"].tolist(), train["label"].tolist()
    movies = train["movie_id"].tolist()
    out = Path(args.output)
    result = {"benchmark": "sentiment_ngram_sweep", "protocol": __doc__.split("\n\n")[1]}
    entries = []
    if args.merge and out.exists():
        entries = json.loads(out.read_text()).get("entries", [])
    for setting in args.settings:
        entry = sweep_one(texts, labels, movies, json.loads(setting))
        print(json.dumps(entry), flush=True)
        entries = [e for e in entries if e["config"] != entry["config"]] + [entry]
    result["entries"] = entries
    result["provenance"] = provenance()  # of this run (merged entries may be older)
    write_result(out, result, ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
