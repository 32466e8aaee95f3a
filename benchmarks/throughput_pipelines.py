"""The pipelines' own training rates, a section of `benchmarks/throughput.py` (see its module
doc): `Forecaster.fit` on ETTh1 in windows per second, `SentimentClassifier.fit` (its RNN
branch) in real tokens per second. Both over the whole fit call: lower bounds.

Not a script: `throughput.py` imports it (its folder is on `sys.path`).
"""

from __future__ import annotations

import json
from typing import Any

from _common import ROOT


def forecast_pipeline_rate(epochs: int) -> dict[str, Any]:
    """`Forecaster.fit` on ETTh1 (the committed model's configuration, `epochs` epochs):
    training windows per second over the whole fit call (setup and validation included)."""
    from rnn_apps.data.etth1 import ETTH1_COLUMNS, load_etth1, split_etth1
    from rnn_apps.tasks.forecast import ForecastConfig, Forecaster

    meta = json.loads((ROOT / "saved_models/forecast_etth1/assets/metadata.json").read_text())
    c = meta["config"]
    cfg = ForecastConfig(
        lookback=c["lookback"],
        horizon=c["horizon"],
        targets=list(ETTH1_COLUMNS),
        architecture=c["model"],
        seg_len=c["seg_len"],
        d_model=c["d_model"],
        dropout=c["dropout"],
        loss=c["loss"],
        learning_rate=c["learning_rate"],
        batch_size=c["batch_size"],
        epochs=epochs,
        seed=0,
        verbose=0,
    )
    train, val, _ = split_etth1(load_etth1(), cfg.lookback)
    fc = Forecaster(cfg).fit(train, val)
    epochs_run = max(len(h.get("loss", [])) for h in fc.history_.values())
    windows = fc.num_train_windows_ * epochs_run
    return {
        "config": f"{c['model']} lookback {c['lookback']} horizon {c['horizon']} batch "
        f"{c['batch_size']} (the committed model's), {epochs_run} epoch(s)",
        "train_windows": fc.num_train_windows_,
        "fit_seconds": round(fc.train_seconds_, 2),
        "windows_per_second": round(windows / fc.train_seconds_, 1),
    }


def sentiment_pipeline_rate(num_texts: int = 4000, epochs: int = 1) -> dict[str, Any]:
    """`SentimentClassifier.fit` on `num_texts` IMDB train reviews (seeded sample; 1,000 more
    for validation), the RNN branch alone (no n-gram branch, no distillation, no
    language-model pretraining, random embedding) at the default configuration: the real
    tokens it reads (each text cut to `sequence_length`, as its crop does) per second of its
    training step, validation included (a lower bound)."""
    import numpy as np
    import tensorflow as tf

    from rnn_apps.data.imdb import load_imdb
    from rnn_apps.tasks.sentiment import SentimentClassifier, SentimentConfig
    from rnn_apps.tasks.sentiment.preprocessor import standardize_text

    train = load_imdb(splits=("train",))["train"]
    pick = np.random.default_rng(0).permutation(len(train))[: num_texts + 1000]
    texts = train["text"].to_numpy()[pick].tolist()
    labels = train["label"].to_numpy()[pick].tolist()
    cfg = SentimentConfig(
        ngram_branch=False,
        distill=False,
        embedding_init=None,
        lm_pretrain_epochs=0,
        refit=False,
        epochs=epochs,
        seed=0,
        verbose=0,
    )
    clf = SentimentClassifier(cfg).fit(
        texts[:num_texts],
        labels[:num_texts],
        validation_data=(texts[num_texts:], labels[num_texts:]),
    )
    words = tf.strings.split(standardize_text(tf.constant(texts[:num_texts])))
    read = np.minimum(words.row_lengths().numpy(), cfg.sequence_length).sum()
    epochs_run = len(clf.history_["rnn"]["loss"])
    seconds = clf.step_seconds_["rnn"]
    return {
        "config": f"BiGRU {cfg.units}, embedding {cfg.embedding_dim}, batch {cfg.batch_size}, "
        f"length buckets, up to {cfg.sequence_length} tokens per review (the default RNN "
        f"branch), {num_texts} reviews, {epochs_run} epoch(s)",
        "train_texts": num_texts,
        "rnn_fit_seconds": round(seconds, 2),
        "real_tokens_per_second": round(float(read) * epochs_run / seconds, 1),
    }
