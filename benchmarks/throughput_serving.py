"""Serving and generation sections of `benchmarks/throughput.py` (see its module doc).

- `serving_section`: every committed SavedModel timed in a child process that never imports
  rnn_apps (`serve_child`, run as `python benchmarks/throughput.py --_serve NAME`).
- `textgen_section`: the old vs the XLA generation loop on the same briefly trained LM, in
  process and exported.
- `sentiment_rnn_branch_latency`: what XLA would give the sentiment RNN branch in serving.

Not a script: `throughput.py` imports it (its folder is on `sys.path`). Imports no rnn_apps at
import time (the serving child imports this module).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, latency_summary, percentile, run_child

#: The SavedModels under `saved_models/` that `serving_section` times.
SAVED_MODELS = ("sentiment_imdb", "forecast_etth1", "textgen_shakespeare", "translate_en_fr")
#: The command line script whose `--_serve NAME [--_serve-dir DIR]` runs `serve_child`.
SCRIPT = Path(__file__).with_name("throughput.py")
#: Seconds a serving child may take (load, warm-up and every timed call) before it is killed.
SERVE_TIMEOUT = 900.0
#: The committed sentiment model's RNN branch input (`sentiment_rnn_branch_latency`).
BRANCH_VOCAB = 20_000
BRANCH_EMBED = 128


# --------------------------------------------------------------------------- serving


def serving_inputs(quick: bool) -> dict[str, Any]:
    """Requests for every model, made here (the serving child must not import rnn_apps)."""
    import numpy as np

    reviews: list[str] = []
    try:
        from rnn_apps.data.imdb import load_imdb

        texts = load_imdb(splits=("test",))["test"]["text"].tolist()
        rng = np.random.default_rng(0)
        long = [t for t in texts if len(t.split()) >= 200]
        for i in rng.choice(len(long), size=256, replace=False):
            reviews.append(" ".join(long[i].split()[:200]))
        review_source = "IMDB test reviews cut to 200 words"
    except Exception:
        words = [
            "the",
            "film",
            "was",
            "not",
            "as",
            "good",
            "as",
            "i",
            "hoped",
            "but",
            "the",
            "acting",
            "and",
            "music",
            "were",
        ]
        rng = np.random.default_rng(0)
        reviews = [" ".join(rng.choice(words, 200)) for _ in range(256)]
        review_source = "synthetic 200-word reviews (no IMDB mirror)"
    window = None
    data_dir = os.environ.get("RNN_APPS_DATA_DIR")
    meta = json.loads((ROOT / "saved_models/forecast_etth1/assets/metadata.json").read_text())
    if data_dir and (Path(data_dir) / "ETTh1.csv").exists():
        import pandas as pd

        frame = pd.read_csv(Path(data_dir) / "ETTh1.csv")[meta["columns"]]
        window = frame.to_numpy(np.float32).tolist()
        window_source = "ETTh1 rows (real units)"
    else:
        window_source = "metadata mean + std * N(0, 1) (no ETTh1 mirror)"
    sentences = [
        "I think we should go home now.",
        "The cat is sleeping on the sofa.",
        "She bought three books yesterday.",
        "Do you want to eat something?",
    ]
    return {
        "reviews": reviews,
        "review_source": review_source,
        "series": window,
        "window_source": window_source,
        "sentences": sentences * 16,
        "requests": 50 if quick else 200,
    }


def serve_child(name: str, directory: str | None = None) -> dict[str, Any]:
    """Runs in a subprocess without rnn_apps: loads one SavedModel and times it.

    Args:
        name: Which committed model (decides the requests).
        directory: Load this export instead of `saved_models/<name>` (same kind of model).
    """
    import numpy as np
    import tensorflow as tf

    spec = json.loads(sys.stdin.read())
    n_req = int(spec["requests"])
    folder = Path(directory) if directory else ROOT / "saved_models" / name
    t0 = time.perf_counter()
    loaded = tf.saved_model.load(str(folder))
    load_seconds = time.perf_counter() - t0
    meta = json.loads((folder / "assets" / "metadata.json").read_text())
    out: dict[str, Any] = {"load_seconds": round(load_seconds, 2)}

    if name == "sentiment_imdb":
        fn = loaded.signatures["serving_default"]
        one = {"text": tf.constant(spec["reviews"][:1])}
        many = {"text": tf.constant(spec["reviews"][:256])}
        items, unit = 256, "reviews"
        out["request"] = "one 200-word review: " + spec["review_source"]
    elif name == "forecast_etth1":
        fn = loaded.signatures["serving_default"]
        (arg,) = [v for v in fn.structured_input_signature[1].values()]
        _, lookback, feats = arg.shape
        rng = np.random.default_rng(0)
        if spec["series"] is not None:
            series = np.asarray(spec["series"], np.float32)
            starts = rng.integers(0, len(series) - lookback, size=256)
            windows = np.stack([series[s : s + lookback] for s in starts])
        else:
            mean = np.asarray(meta["scaling"]["mean"], np.float32)
            std = np.asarray(meta["scaling"]["std"], np.float32)
            windows = mean + std * rng.standard_normal((256, lookback, feats)).astype(np.float32)
        one = {arg.name: tf.constant(windows[:1])}
        many = {arg.name: tf.constant(windows)}
        items, unit = 256, "windows"
        out["request"] = f"one window ({lookback} x {feats}, real units): {spec['window_source']}"
    elif name == "textgen_shakespeare":
        fn = loaded.signatures["generate"]

        def args(prompts: list[str]) -> dict[str, Any]:
            return {
                "prompt": tf.constant(prompts),
                "max_new_tokens": tf.constant(200, tf.int32),
                "temperature": tf.constant(1.0),
                "top_k": tf.constant(0, tf.int32),
                "top_p": tf.constant(1.0),
                "seed": tf.constant(1, tf.int32),
            }

        one = args(["ROMEO:\n"])
        many = args(["ROMEO:\n", "JULIET:\n", "KING HENRY:\n", "First Citizen:\n"] * 8)
        items, unit = 32, "prompts (200 characters each)"
        out["request"] = "200 new characters from one prompt (temperature 1, no top-k/top-p)"
    else:
        fn = loaded.signatures["serving_default"]
        one = {"text": tf.constant(spec["sentences"][:1])}
        many = {"text": tf.constant(spec["sentences"][:64])}
        items, unit = 64, "sentences"
        out["request"] = "one short sentence (serving_default: beam search as exported)"
    assert "rnn_apps" not in sys.modules, "the serving child imported rnn_apps"
    for _ in range(10):
        fn(**one)
    times = []
    for _ in range(n_req):
        t = time.perf_counter()
        fn(**one)
        times.append((time.perf_counter() - t) * 1000)
    fn(**many)
    reps = 3
    t = time.perf_counter()
    for _ in range(reps):
        fn(**many)
    batch_seconds = (time.perf_counter() - t) / reps
    out.update(
        {
            "requests": n_req,
            **latency_summary(times),
            "batch_items": items,
            "batch_unit": unit,
            "batch_seconds": round(batch_seconds, 4),
            "batch_items_per_second": round(items / batch_seconds, 1),
            "rnn_apps_imported": "rnn_apps" in sys.modules,
        }
    )
    if name == "textgen_shakespeare":
        out["chars_per_second"] = round(200 * 1000 / (sum(times) / len(times)), 1)
        out["batch_chars_per_second"] = round(items * 200 / batch_seconds, 1)
    return out


def serve_in_child(name: str, payload: str, directory: str | None = None) -> dict[str, Any]:
    """`serve_child` in a fresh interpreter (never imports rnn_apps); its result or error."""
    cmd = [sys.executable, str(SCRIPT), "--_serve", name]
    if directory:
        cmd += ["--_serve-dir", directory]
    return run_child(cmd, stdin=payload, timeout=SERVE_TIMEOUT)


def serving_section(quick: bool) -> dict[str, Any]:
    """Times each committed SavedModel in its own subprocess."""
    payload = json.dumps(serving_inputs(quick))
    out: dict[str, Any] = {}
    for name in SAVED_MODELS:
        out[name] = serve_in_child(name, payload)
        print(name, json.dumps(out[name]), flush=True)
    return out


# --------------------------------------------------------------------------- text generation


def textgen_section(quick: bool, train_seconds: float) -> dict[str, Any]:
    """Old vs XLA generation loop on the same briefly trained LM, in this process."""
    import numpy as np
    import tensorflow as tf

    from rnn_apps.tasks.textgen import TextGenConfig, TextGenerator
    from rnn_apps.tasks.textgen.sampling import LMGraph

    data_dir = os.environ.get("RNN_APPS_DATA_DIR")
    path = Path(data_dir) / "shakespeare.txt" if data_dir else None
    if path is not None and path.exists():
        text, source = path.read_text(encoding="utf-8"), "tiny shakespeare"
    else:
        words = [
            "to",
            "be",
            "or",
            "not",
            "to",
            "be",
            "that",
            "is",
            "the",
            "question",
            "whether",
            "tis",
            "nobler",
        ]
        text = " ".join(np.random.default_rng(0).choice(words, 200_000))
        source = "synthetic words (no mirror)"
    cut = int(len(text) * 0.9)
    cfg = TextGenConfig(
        cell="gru",
        units=384,
        embedding_dim=64,
        seq_len=100,
        batch_size=32,
        epochs=1,
        max_train_minutes=train_seconds / 60,
        verbose=0,
    )
    lm = TextGenerator(cfg)
    t0 = time.perf_counter()
    lm.fit(text[: cut // (4 if quick else 1)], text[cut : cut + 20_000])
    fit_seconds = time.perf_counter() - t0
    steps = int(getattr(lm, "steps_run_", 0) or 0)
    out: dict[str, Any] = {
        "model": "char GRU 384, embedding 64 (the committed model's architecture)",
        "corpus": source,
        "fit_seconds": round(fit_seconds, 1),
        "train_steps": steps,
        # the whole fit call (vocabulary, compile, validation included): a lower bound
        "fit_chars_per_second": round(steps * cfg.batch_size * cfg.seq_len / fit_seconds, 1),
    }
    n_new = 200
    reps = 10 if quick else 40
    args = [
        tf.constant(n_new, tf.int32),
        tf.constant(1.0),
        tf.constant(0, tf.int32),
        tf.constant(1.0),
        tf.constant(1, tf.int32),
    ]
    for label, jit in (("old_loop", False), ("xla_loop", True)):
        graph = LMGraph(lm.model_, lm.vocab_, lm.unigram_logits_, jit_compile=jit)
        fn = tf.function(graph.generate_ids, input_signature=None)
        res: dict[str, Any] = {}
        for batch in (1, 32):
            prompts = tf.constant(["ROMEO:\n"] * batch)
            t = time.perf_counter()
            first = fn(prompts, *args)
            res[f"first_call_seconds_batch_{batch}"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            for _ in range(reps):
                fn(prompts, *args)
            sec = (time.perf_counter() - t) / reps
            res[f"chars_per_second_batch_{batch}"] = round(batch * n_new / sec, 1)
            res[f"ms_per_call_batch_{batch}"] = round(sec * 1000, 2)
            res.setdefault("sample", graph.vocab.decode(prompts[:1], first[:1]).numpy()[0])
        res["sample"] = res["sample"].decode("utf-8", "replace")[:80]
        greedy = [tf.constant(n_new, tf.int32), tf.constant(0.0)] + args[2:]
        out[f"_greedy_{label}"] = fn(tf.constant(["ROMEO:\n"] * 32), *greedy).numpy()
        out[label] = res
    same = np.array_equal(out.pop("_greedy_old_loop"), out.pop("_greedy_xla_loop"))
    out["greedy_ids_identical_32x200"] = bool(same)
    for b in (1, 32):
        key = f"chars_per_second_batch_{b}"
        out[f"speedup_batch_{b}"] = round(out["xla_loop"][key] / out["old_loop"][key], 2)
    # The same weights exported both ways, served like the committed model (no rnn_apps).
    import tempfile

    payload = json.dumps({"requests": 50 if quick else 200})
    exported: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, jit in (("old_loop", False), ("xla_loop", True)):
            lm._graph = LMGraph(lm.model_, lm.vocab_, lm.unigram_logits_, jit_compile=jit)
            lm._signature_fns = {}
            lm.export(Path(tmp) / label)
            res = serve_in_child("textgen_shakespeare", payload, str(Path(tmp) / label))
            keep = ("p50_ms", "p99_ms", "chars_per_second", "batch_chars_per_second", "error")
            exported[label] = {k: res[k] for k in keep if k in res}
    lm._set_graph()
    if all("chars_per_second" in v for v in exported.values()):
        exported["speedup_one_prompt"] = round(
            exported["xla_loop"]["chars_per_second"] / exported["old_loop"]["chars_per_second"], 2
        )
    out["exported_saved_model"] = exported
    return out


def sentiment_rnn_branch_latency(requests: int) -> dict[str, Any]:
    """What XLA would give the sentiment RNN branch in serving (a suggestion, measured).

    The committed sentiment model's RNN branch (bidirectional GRU 64 over an embedding 128,
    mean+max pooling; most of its serving time is this branch's 2 x 200-step while loop) is
    rebuilt with random weights (speed does not depend on them) and timed on one 200-token
    review and on 256 of them: `tf.function` vs `tf.function(jit_compile=True)`.
    """
    import numpy as np
    import tensorflow as tf

    import rnn_apps

    model = rnn_apps.build_bidirectional(
        vocab_size=BRANCH_VOCAB,
        embedding_dim=BRANCH_EMBED,
        cell="gru",
        units=64,
        pooling="mean_max",
    )
    rng = np.random.default_rng(0)
    one = tf.constant(rng.integers(1, BRANCH_VOCAB, size=(1, 200), dtype=np.int32))
    many = tf.constant(rng.integers(1, BRANCH_VOCAB, size=(256, 200), dtype=np.int32))
    out: dict[str, Any] = {"model": "Embedding(20000, 128) -> BiGRU(64) -> mean+max -> Dense(1)"}
    for label, jit in (("graph", False), ("xla", True)):
        fn = tf.function(lambda x: model(x, training=False), jit_compile=jit)
        for _ in range(5):
            fn(one)
        times = []
        for _ in range(requests):
            t = time.perf_counter()
            fn(one).numpy()
            times.append((time.perf_counter() - t) * 1000)
        fn(many)
        t = time.perf_counter()
        fn(many).numpy()
        batch_seconds = time.perf_counter() - t
        out[label] = {
            "p50_ms": round(percentile(times, 50), 3),
            "p99_ms": round(percentile(times, 99), 3),
            "batch_items_per_second": round(256 / batch_seconds, 1),
        }
    out["p50_speedup"] = round(out["graph"]["p50_ms"] / out["xla"]["p50_ms"], 2)
    return out
