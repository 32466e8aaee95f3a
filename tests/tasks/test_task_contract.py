"""Every registered task held to one contract: `rnn_apps.testing.run_task_test` (fit, every
signature, export verified in a clean process, save/load, the command line with `--json`,
`--help` of every verb, bad input). A task added to the registry without a setup here fails."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnn_apps.tasks.registry import TASKS, get_task_class
from rnn_apps.testing import run_task_test


def _forecast(tmp_path):
    from rnn_apps.tasks.forecast import ForecastConfig, inference

    n = 360
    t = np.arange(n)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(n),
            "b": 5 + np.cos(2 * np.pi * t / 12) + 0.2 * rng.standard_normal(n),
        },
        index=pd.date_range("2024-01-01", periods=n, freq="h", name="date"),
    )
    csv = tmp_path / "series.csv"
    frame.to_csv(csv)
    config = ForecastConfig(
        lookback=48, horizon=12, targets=["a", "b"], seg_len=12, d_model=16, units=8,
        epochs=2, batch_size=32, patience=1, verbose=0,
    )  # fmt: skip
    data = ["--data", str(csv)]
    bad = [
        (lambda m: inference.predict_series(m, frame.iloc[:5]), "lookback|rows"),
        (lambda m: inference.predict_series(m, frame.drop(columns=["b"])), "b"),
    ]
    return config, frame.iloc[:300], frame.iloc[300:], data, data, data, bad


def _panel(tmp_path):
    from rnn_apps.tasks.panel import PanelConfig, predict_panel

    rng = np.random.default_rng(0)
    parts = []
    for k in range(12):
        n = int(rng.integers(40, 90))
        t = np.arange(n)
        y = 20 + 5 * np.sin(2 * np.pi * (t + k) / 12) + rng.normal(0, 0.5, n)
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": t, "y": y}))
    frame = pd.concat(parts, ignore_index=True)
    csv = tmp_path / "panel.csv"
    frame.to_csv(csv, index=False)
    config = PanelConfig(
        lookback=24, horizon=6, season=12, seg_len=12, d_model=8, units=8, num_layers=1,
        epochs=2, batch_size=32, levels=[80], quantiles=[0.1, 0.5, 0.9], patience=1, verbose=0,
    )  # fmt: skip
    data = ["--data", str(csv)]
    bad = [
        (lambda m: predict_panel(m, pd.concat([frame, frame.iloc[:1]])), "more than one row"),
        (lambda m: predict_panel(m, frame.assign(y="x")), "not a number"),
    ]
    return config, frame, None, data, data, data, bad


def _sentiment(tmp_path):
    from rnn_apps.tasks.sentiment import SentimentConfig, predict_texts

    rng = np.random.default_rng(0)
    words = {0: ["awful", "dull", "bad"], 1: ["great", "lovely", "good"]}
    filler = ["the", "film", "was", "a", "story", "and", "cast", "plot"]
    texts, labels = [], []
    for i in range(160):
        k = i % 2
        ws = list(rng.choice(filler, 5)) + list(rng.choice(words[k], 2))
        rng.shuffle(ws)
        texts.append(" ".join(ws))
        labels.append(["negative", "positive"][k])
    csv = tmp_path / "reviews.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(csv, index=False)
    config = SentimentConfig(
        max_tokens=64, rnn_max_tokens=40, max_length=24, sequence_length=12, embedding_dim=8,
        units=4, head_dropout=0.0, ngram_buckets=128, ngram_epochs=2, epochs=2, batch_size=32,
        learning_rate=0.01, patience=1, refit=False, lm_pretrain_epochs=0, verbose=0,
    )  # fmt: skip
    data = ["--data", str(csv)]
    bad = [
        (lambda m: predict_texts(m, ["fine", None]), r"texts\[1\] is None"),
        (lambda m: predict_texts(m, [b"\xff\xfe"]), "not valid UTF-8"),
    ]
    return (
        config, (texts[:128], labels[:128]), (texts[128:], labels[128:]),
        data, data, ["a good film", "an awful plot"], bad,
    )  # fmt: skip


def _textgen(tmp_path):
    from rnn_apps.tasks.textgen import TextGenConfig
    from rnn_apps.tasks.textgen.inference import generate_texts

    lines = [
        "First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
        "All:\nSpeak, speak.\n\n",
        "MENENIUS:\nWhat work's, my countrymen, in hand? where go you?\n\n",
    ]
    corpus = "".join(lines[i % len(lines)] for i in range(30))
    path = tmp_path / "corpus.txt"
    path.write_text(corpus, encoding="utf-8")
    split = int(len(corpus) * 0.9)
    config = TextGenConfig(
        units=8, embedding_dim=4, seq_len=16, batch_size=8, epochs=1, warmup_steps=2, verbose=0
    )
    bad = [(lambda m: generate_texts(m, ["ok", None], max_new_tokens=4, seed=1), "not a string")]
    return (
        config, corpus[:split], corpus[split:], ["--text", str(path)], ["--text", str(path)],
        ["--prompt", "All:", "--max-new-tokens", "8", "--seed", "1"], bad,
    )  # fmt: skip


def _translate(tmp_path):
    from rnn_apps.tasks.translate import TranslateConfig, translate_texts

    subjects = [("I am", "Je suis"), ("We are", "Nous sommes"), ("Tom is", "Tom est")]
    subjects += [("You are", "Vous êtes")]
    adjectives = [("tired", "fatigué"), ("happy", "heureux"), ("late", "en retard")]
    adjectives += [("here", "ici"), ("ready", "prêt"), ("sick", "malade")]
    rows = []
    for s_en, s_fr in subjects:
        for a_en, a_fr in adjectives:
            rows.append((f"{s_en} {a_en}.", f"{s_fr} {a_fr}."))
            rows.append((f"{s_en} not {a_en}.", f"{s_fr} pas {a_fr}."))
    frame = pd.DataFrame(rows * 2, columns=["english", "french"])
    path = tmp_path / "pairs.tsv"
    frame.to_csv(path, sep="\t", header=False, index=False)
    config = TranslateConfig(
        embedding_dim=8, units=8, batch_size=8, epochs=2, learning_rate=0.02,
        dropout=0.0, label_smoothing=0.0, patience=1, max_tokens=12, max_decode_length=12,
        beam_width=2, verbose=0,
    )  # fmt: skip
    bad = [
        (lambda m: translate_texts(m, ["I am late."], beam_width=50), "beam_width is at most"),
        (lambda m: translate_texts(m, [None]), r"texts\[0\] is None"),
    ]
    return (
        config, frame.iloc[:80], frame.iloc[80:], ["--data", str(path)],
        ["--data", str(path), "--max-test", "5"], ["I am happy."], bad,
    )  # fmt: skip


def _tag(tmp_path):
    from rnn_apps.tasks.tagging import TaggingConfig, tag_sentences, tag_texts

    rng = np.random.default_rng(0)
    lines = []
    for i in range(120):  # UPOS-like tags that depend on the next word
        words = list(rng.choice(["a", "b", "c", "d"], size=rng.integers(2, 7)))
        tags = ["NOUN" if nxt == "a" else "VERB" for nxt in [*words[1:], None]]
        lines.append(f"# sent_id = s{i}")
        for j, (w, t) in enumerate(zip(words, tags), 1):
            lines.append(f"{j}\t{w}\t{w}\t{t}\t_\t_\t0\tdep\t_\t_")
        lines.append("")
    path = tmp_path / "tiny.conllu"
    path.write_text("\n".join(lines), encoding="utf-8")
    from rnn_apps.data.conllu import read_conllu

    sentences = read_conllu(path)
    config = TaggingConfig(
        embedding_dim=8, char_embedding_dim=4, char_units=4, units=8, num_layers=1, epochs=2,
        batch_size=16, learning_rate=0.02, dropout=0.0, patience=1, verbose=0,
    )  # fmt: skip
    bad = [
        (lambda m: tag_sentences(m, [["a"] * 10_001]), "at most 10000"),
        (lambda m: tag_texts(m, [None]), r"texts\[0\] is None"),
        (lambda m: tag_sentences(m, [["a", ""]]), "an empty token"),
    ]
    return (
        config, sentences[:100], sentences[100:], ["--data", str(path)], ["--data", str(path)],
        ["a b a.", ""], bad,
    )  # fmt: skip


SETUPS = {
    "forecast": _forecast,
    "panel": _panel,
    "sentiment": _sentiment,
    "textgen": _textgen,
    "translate": _translate,
    "tag": _tag,
}


def test_every_registered_task_has_a_contract_setup():
    assert sorted(SETUPS) == sorted(TASKS)


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_task_contract(name, tmp_path):
    config, train, validation, cli_train, cli_eval, cli_predict, bad = SETUPS[name](tmp_path)
    run_task_test(
        get_task_class(name), config, train, validation, tmp_path,
        cli_train=cli_train, cli_evaluate=cli_eval, cli_predict=cli_predict, bad_inputs=bad,
    )  # fmt: skip
