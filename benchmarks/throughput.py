"""Benchmark (issue #14): training throughput and serving latency, all figures from one run.

Training protocol (`training`): the issue's configuration, a masked 2-layer BiLSTM (64 and 32
units, embedding 128, vocabulary 20,000, binary logit head), batch 64, reviews capped at 200
tokens. Token ids are uniform random ids drawn with IMDB's real length distribution: the
lengths of the 25,000 train reviews (the sentiment preprocessor's `standardize_text` + a
whitespace split), cached beside the mirror's archive in the user cache folder; without the
mirror a log-normal fit of those lengths is used (recorded in `lengths.source`). Each variant
runs in a fresh subprocess (so thread settings and the mixed-precision policy cannot leak),
builds its batches, runs `warmup` steps (at least one of every batch shape, so tracing and XLA
compiles are excluded) and then `--steps` timed `model.fit` steps. The figure is real
(non-padding) tokens per second over the timed steps. Variants:

- `hand_keras_padded` (the anchor): a hand-written `keras.Sequential`, `Embedding(mask_zero)`,
  two `Bidirectional(LSTM)`, batches padded to 200 in shuffled order, `model.fit`.
- `rnn_apps`: `rnn_apps.build_bidirectional` compiled with `rnn_apps.compile_model`, fed by
  the package's training input path as `fit` runs it: the sentiment task's `_dataset`
  (`bucket_by_sequence_length` over its `LENGTH_BUCKETS`) at its default batch size
  (`SentimentConfig.batch_size`, 128). `rnn_apps_batch_64` is the same path at the anchor's
  batch of 64.
- the variants tried on top of it (see `VARIANTS`): XLA, bucket widths, batch size, bf16,
  thread settings (in code and from the environment), and the two halves of the gain (hand
  model + buckets, builder + padding).

`training.speedup_vs_hand_keras` = `rnn_apps` / `hand_keras_padded`, same run: the median of
`--pairs` (3) pairs of runs of the two, the first pair in the variant list and the others
after all the variants, alternating which of the two runs first (`training.pairs`), because
this shared machine drifts by 10-30% over a run.

Serving protocol (`serving`): every committed SavedModel under `saved_models/` is loaded with
`tf.saved_model.load` in a subprocess that never imports rnn_apps (checked: `rnn_apps` not in
`sys.modules`). Single-request latency: 10 warm-up calls, then >= 200 timed calls (p50, p99):
a 200-word review, one 720-step ETTh1 window in real units, 200 generated characters from one
prompt, one sentence to translate. Batch throughput: 256 reviews, 256 windows, 32 prompts x
200 characters, 64 sentences (`batch_items_per_second`; `chars_per_second` for generation).

Text generation (`textgen_generation`): a character LM of the committed model's architecture
(GRU 384, embedding 64) trained for a few seconds on tiny Shakespeare, then the same weights
generate 200 characters through the old in-graph loop (`LMGraph(jit_compile=False)`) and the
XLA-compiled loop (`jit_compile=True`, the default), in this run.

Serving suggestion (`serving_suggestions.sentiment_rnn_branch`): the committed sentiment
model's RNN branch architecture (most of that model's latency) with random weights, one
200-token review and 256 of them, `tf.function` vs `tf.function(jit_compile=True)`.

Pipelines (`pipelines`): the text-generation fit above in characters per second, and
`Forecaster.fit` on ETTh1 (the committed model's configuration, one epoch) in training
windows per second, both over the whole fit call (setup and validation included: lower
bounds), and `SentimentClassifier.fit` (its RNN branch alone, 4,000 IMDB reviews, one
epoch) in real tokens per second of that branch's training.

Command line (run under the machine's CPU lock; `--quick` is a smoke run of a few minutes;
a full run takes about 15 minutes: 10-11 for the training variants and pairs, 4 for the
rest):

    python benchmarks/throughput.py [--quick] [--steps 100] [--warmup 15] [--pairs 3]
        [--variants a,b,...] [--skip-training] [--skip-serving] [--skip-textgen]
        [--skip-pipelines] [--merge] [--output PATH]

`--merge` keeps the sections of an existing result that this run skips (so the training
variants and the rest can run as two commands); `runs` lists each command with its
provenance. Writes `benchmarks/results/throughput.json` (no machine paths; versions,
`os.cpu_count()`, the CPU's AVX512-BF16 flag and the load average at the start).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "throughput.json"
SAVED_MODELS = ("sentiment_imdb", "forecast_etth1", "textgen_shakespeare", "translate_en_fr")

VOCAB = 20_000
MAX_LEN = 200
BATCH = 64
EMBED = 128
UNITS = (64, 32)

#: Variant name -> settings. `model`: "hand" or "rnn_apps"; `batches`: "padded" (to MAX_LEN,
#: shuffled) or "bucketed" (`bucket_by_sequence_length`; `buckets` overrides the boundaries);
#: `jit`: `jit_compile`; `policy`: Keras dtype policy; `threads`: (intra, inter) op threads;
#: `batch`: batch size ("package": the sentiment task's default); `env`: environment variables
#: of the variant's process.
VARIANTS: dict[str, dict[str, Any]] = {
    "hand_keras_padded": {"model": "hand", "batches": "padded"},
    # The package's path as `fit` runs it: the sentiment task's batch size and boundaries.
    "rnn_apps": {"model": "rnn_apps", "batches": "bucketed", "batch": "package"},
    # The same path at the anchor's batch of 64, and its two halves.
    "rnn_apps_batch_64": {"model": "rnn_apps", "batches": "bucketed"},
    "hand_keras_bucketed": {"model": "hand", "batches": "bucketed"},
    "rnn_apps_padded": {"model": "rnn_apps", "batches": "padded"},
    "hand_keras_padded_batch_128": {"model": "hand", "batches": "padded", "batch": 128},
    # Tried on top of the package's path.
    "rnn_apps_jit": {"model": "rnn_apps", "batches": "bucketed", "batch": "package", "jit": True},
    "rnn_apps_buckets_16": {
        "model": "rnn_apps",
        "batches": "bucketed",
        "batch": "package",
        "buckets": 16,
    },
    "rnn_apps_bf16": {
        "model": "rnn_apps",
        "batches": "bucketed",
        "batch": "package",
        "policy": "mixed_bfloat16",
    },
    "rnn_apps_threads_1x2": {
        "model": "rnn_apps",
        "batches": "bucketed",
        "batch": "package",
        "threads": (1, 2),
    },
    # The same thread setting from the environment, before TensorFlow starts (what a user of
    # the CLI or of a training script can set without code).
    "rnn_apps_env_threads_1x2": {
        "model": "rnn_apps",
        "batches": "bucketed",
        "batch": "package",
        "env": {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "2"},
    },
    "rnn_apps_batch_256": {"model": "rnn_apps", "batches": "bucketed", "batch": 256},
}
QUICK_VARIANTS = ("hand_keras_padded", "rnn_apps")


# --------------------------------------------------------------------------- provenance


def cpu_flags() -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def provenance() -> dict[str, Any]:
    """Versions, core count, load average, CPU flags that matter here (no paths)."""
    import importlib.metadata as md

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    flags = cpu_flags()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow") or version("tensorflow-cpu"),
        "keras": version("keras"),
        "rnn_apps": version("rnn_apps") or version("rnn-apps"),
        "numpy": version("numpy"),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_avx512_bf16": "avx512_bf16" in flags,
        "cpu_amx_bf16": "amx_bf16" in flags,
        "cpu_avx512f": "avx512f" in flags,
    }


# --------------------------------------------------------------------------- lengths


def _lengths_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rnn_apps" / "imdb_train_token_lengths.json"


def imdb_lengths() -> tuple[list[int], str]:
    """Token counts of the 25,000 IMDB train reviews (uncapped) and where they came from.

    Read once from the mirror (the sentiment preprocessor's `standardize_text` + whitespace
    split) and cached; without the mirror, 25,000 draws of a log-normal fitted to them.
    """
    import numpy as np

    cache = _lengths_cache()
    if cache.exists():
        return json.loads(cache.read_text()), "imdb_train (cached)"
    try:
        import tensorflow as tf

        from rnn_apps.data.imdb import load_imdb
        from rnn_apps.tasks.sentiment.preprocessor import standardize_text

        texts = load_imdb(splits=("train",))["train"]["text"].tolist()
        lengths: list[int] = []
        for s in range(0, len(texts), 1000):
            std = standardize_text(tf.constant(texts[s : s + 1000]))
            words = tf.strings.split(std)
            lengths.extend(int(n) for n in words.row_lengths().numpy())
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(lengths))
        return lengths, "imdb_train"
    except Exception as err:  # no mirror / no network: a log-normal fit of the real lengths
        print(f"IMDB lengths unavailable ({type(err).__name__}); log-normal fallback", flush=True)
        rng = np.random.default_rng(0)
        draws = np.exp(rng.normal(5.2, 0.72, size=25_000)).astype(int) + 4
        return [int(x) for x in draws], "lognormal(mu=5.2, sigma=0.72) fallback"


# --------------------------------------------------------------------------- training


def make_batches(
    lengths: list[int], kind: str, batch: int, buckets: int | None, n_batches: int, seed: int
) -> list[Any]:
    """`n_batches` (ids (B, T) int32, labels (B,) float32) numpy batches.

    `padded`: shuffled reviews padded to `MAX_LEN` (what the tutorials write). `bucketed`: the
    sentiment task's input path, `bucket_by_sequence_length` over its `LENGTH_BUCKETS` (or
    boundaries every `buckets` tokens), padded to the longest review of each batch.
    """
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    lens = np.minimum(np.asarray(lengths), MAX_LEN)
    lens = lens[lens > 0]
    need = n_batches * batch * 2 + 4096  # bucketing leaves partial batches in its buckets
    lens = rng.choice(lens, size=max(need, len(lens)), replace=True)
    flat = tf.constant(rng.integers(1, VOCAB, size=int(lens.sum()), dtype=np.int32))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    labels = rng.integers(0, 2, size=len(lens)).astype(np.float32)
    ds = (
        tf.data.Dataset.from_tensor_slices((starts, lens.astype(np.int64), labels))
        .shuffle(len(lens), seed=seed)
        .map(lambda s, n, y: (flat[s : s + n], y))
    )
    if kind == "padded":
        ds = ds.padded_batch(batch, padded_shapes=([MAX_LEN], []), drop_remainder=True)
    else:
        try:
            from rnn_apps.tasks.sentiment.task import LENGTH_BUCKETS
        except ImportError:  # the sentiment task mid-edit: its boundaries as of issue #14
            LENGTH_BUCKETS = (32, 64, 96, 128, 160, 192, 256, 320, 400, 512, 768)  # noqa: N806

        if buckets:
            bounds = list(range(buckets, MAX_LEN, buckets))
        else:
            bounds = [b for b in LENGTH_BUCKETS if b < MAX_LEN]
        ds = ds.bucket_by_sequence_length(
            lambda t, y: tf.shape(t)[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[batch] * (len(bounds) + 1),
            padded_shapes=([None], []),
            padding_values=(0, None),
        )
    out = []
    for x, y in ds.take(n_batches):
        out.append((x.numpy().astype(np.int32), y.numpy()))
    return out


def build_model(spec: dict[str, Any]) -> Any:
    """The variant's compiled model: hand-written Keras or the package's builder."""
    import keras

    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    jit = bool(spec.get("jit", False))
    if spec["model"] == "hand":
        model = keras.Sequential(
            [
                keras.Input(shape=(None,), dtype="int32"),
                keras.layers.Embedding(VOCAB, EMBED, mask_zero=True),
                keras.layers.Bidirectional(keras.layers.LSTM(UNITS[0], return_sequences=True)),
                keras.layers.Bidirectional(keras.layers.LSTM(UNITS[1])),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], jit_compile=jit)
        return model
    import rnn_apps

    model = rnn_apps.build_bidirectional(
        vocab_size=VOCAB, embedding_dim=EMBED, cell="lstm", units=list(UNITS), output_dim=1
    )
    metrics = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    return rnn_apps.compile_model(model, loss=loss, metrics=metrics, jit_compile=jit)


def run_variant(name: str, steps: int, warmup: int, seed: int) -> dict[str, Any]:
    """Times one training variant in this process (see the module doc)."""
    import numpy as np

    spec = VARIANTS[name]
    threads = spec.get("threads")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])
    import keras

    if spec.get("policy"):
        keras.mixed_precision.set_global_policy(spec["policy"])
    keras.utils.set_random_seed(seed)
    lengths, source = imdb_lengths()
    batch = spec.get("batch", BATCH)
    if batch == "package":
        from rnn_apps.tasks.sentiment import SentimentConfig

        batch = SentimentConfig().batch_size
    batch = int(batch)
    # Same number of reviews for every batch size: tokens/s compare like with like.
    n_timed = max(1, steps * BATCH // batch)
    batches = make_batches(
        lengths, spec["batches"], batch, spec.get("buckets"), warmup + n_timed, seed
    )
    # Warm-up: the first `warmup` batches plus one of every shape the timed part will see.
    timed = batches[warmup:]
    seen = {b[0].shape for b in batches[:warmup]}
    extra = []
    for b in timed:
        if b[0].shape not in seen:
            seen.add(b[0].shape)
            extra.append(b)
    warm = batches[:warmup] + extra
    model = build_model(spec)
    sig = (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.float32))

    def dataset(items: list[Any]) -> Any:
        return tf.data.Dataset.from_generator(lambda: iter(items), output_signature=sig)

    t0 = time.perf_counter()
    model.fit(dataset(warm), epochs=1, verbose=0)
    warm_seconds = time.perf_counter() - t0
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if not stamps:
                stamps.append(time.perf_counter())

        def on_train_end(self, logs=None):
            stamps.append(time.perf_counter())

    model.fit(dataset(timed), epochs=1, verbose=0, callbacks=[Stamp()])
    seconds = stamps[-1] - stamps[0]
    real = int(sum(int(np.count_nonzero(x)) for x, _ in timed))
    slots = int(sum(x.size for x, _ in timed))
    return {
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()},
        "batch_size": batch,
        "timed_steps": len(timed),
        "warmup_steps": len(warm),
        "warmup_seconds": round(warm_seconds, 2),
        "seconds": round(seconds, 3),
        "real_tokens": real,
        "padded_slots": slots,
        "padding_fraction": round(1 - real / slots, 4),
        "real_tokens_per_second": round(real / seconds, 1),
        "lengths_source": source,
        "distinct_shapes": len({x.shape for x, _ in batches}),
    }


def run_variant_process(name: str, steps: int, warmup: int, seed: int) -> dict[str, Any]:
    """`run_variant(name)` in a subprocess (fresh TF state, the variant's environment)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--_variant", name, "--steps", str(steps)]
    cmd += ["--warmup", str(warmup), "--seed", str(seed)]
    env = {**os.environ, **VARIANTS[name].get("env", {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        out = {"error": " | ".join(tail)[-600:]}
    else:
        out = json.loads(lines[-1][len("RESULT ") :])
    out["wall_seconds"] = round(time.perf_counter() - t0, 1)
    print(name, json.dumps(out), flush=True)
    return out


def training_section(
    variants: list[str], steps: int, warmup: int, seed: int, pairs: int = 3
) -> dict[str, Any]:
    """Runs each variant in a subprocess, in the order given, then `pairs - 1` more pairs of
    the anchor and the package's path, alternating which runs first (the machine drifts:
    `speedup_vs_hand_keras` is the median of the pairs' ratios)."""
    results: dict[str, Any] = {}
    for name in variants:
        results[name] = run_variant_process(name, steps, warmup, seed)
    pair_rates: list[dict[str, float]] = []
    head = ("hand_keras_padded", "rnn_apps")
    if all("real_tokens_per_second" in results.get(n, {}) for n in head):
        pair_rates.append({n: results[n]["real_tokens_per_second"] for n in head})
        for k in range(1, pairs):
            order = head[::-1] if k % 2 else head
            runs = {n: run_variant_process(n, steps, warmup, seed + k) for n in order}
            if all("real_tokens_per_second" in r for r in runs.values()):
                pair_rates.append({n: runs[n]["real_tokens_per_second"] for n in head})
    rates = {
        k: v["real_tokens_per_second"] for k, v in results.items() if "real_tokens_per_second" in v
    }
    out: dict[str, Any] = {
        "config": {
            "model": f"Embedding({VOCAB}, {EMBED}, mask_zero) -> BiLSTM({UNITS[0]}, seq) -> "
            f"BiLSTM({UNITS[1]}) -> Dense(1) logits",
            "batch_size": BATCH,
            "max_length": MAX_LEN,
            "timed_steps_at_batch_64": steps,
            "warmup_steps": warmup,
            "optimizer": "Adam (rnn_apps.compile_model: clipnorm=1.0)",
        },
        "real_tokens_per_second": rates,
        "variants": results,
    }
    anchor = rates.get("hand_keras_padded")
    if anchor:
        out["ratio_vs_hand_keras"] = {k: round(v / anchor, 3) for k, v in rates.items()}
    if pair_rates:
        ratios = [p["rnn_apps"] / p["hand_keras_padded"] for p in pair_rates]
        out["pairs"] = [{**p, "ratio": round(r, 3)} for p, r in zip(pair_rates, ratios)]
        out["speedup_vs_hand_keras"] = round(statistics.median(ratios), 3)
        out["speedup_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
        out["anchor_range"] = [
            min(p["hand_keras_padded"] for p in pair_rates),
            max(p["hand_keras_padded"] for p in pair_rates),
        ]
    return out


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


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


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
            "p50_ms": round(_percentile(times, 50), 3),
            "p99_ms": round(_percentile(times, 99), 3),
            "mean_ms": round(sum(times) / len(times), 3),
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
    cmd = [sys.executable, __file__, "--_serve", name]
    if directory:
        cmd += ["--_serve-dir", directory]
    proc = subprocess.run(cmd, input=payload, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)[-600:]}
    return json.loads(lines[-1][len("RESULT ") :])


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
        vocab_size=VOCAB, embedding_dim=EMBED, cell="gru", units=64, pooling="mean_max"
    )
    rng = np.random.default_rng(0)
    one = tf.constant(rng.integers(1, VOCAB, size=(1, 200), dtype=np.int32))
    many = tf.constant(rng.integers(1, VOCAB, size=(256, 200), dtype=np.int32))
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
            "p50_ms": round(_percentile(times, 50), 3),
            "p99_ms": round(_percentile(times, 99), 3),
            "batch_items_per_second": round(256 / batch_seconds, 1),
        }
    out["p50_speedup"] = round(out["graph"]["p50_ms"] / out["xla"]["p50_ms"], 2)
    return out


# --------------------------------------------------------------------------- pipelines


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


# --------------------------------------------------------------------------- main


def main() -> int:
    """Parses the command line and runs the requested sections (or one child job)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few steps, two variants")
    p.add_argument("--steps", type=int, default=None, help="timed train steps (default 100)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 15)")
    p.add_argument("--variants", default=None, help="comma-separated subset of the variants")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="anchor / package-path pairs for the headline ratio (default 3, quick 1)",
    )
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--skip-serving", action="store_true")
    p.add_argument("--skip-textgen", action="store_true")
    p.add_argument("--skip-pipelines", action="store_true", help="no forecast fit rate")
    p.add_argument("--textgen-train-seconds", type=float, default=20.0)
    p.add_argument("--merge", action="store_true", help="keep sections of an existing result")
    p.add_argument("--output", default=str(RESULT))
    p.add_argument("--_variant", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_serve", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_serve-dir", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    steps = a.steps or (10 if a.quick else 100)
    warmup = a.warmup or (5 if a.quick else 15)
    a.pairs = a.pairs or (1 if a.quick else 3)
    if a._variant:
        print("RESULT " + json.dumps(run_variant(a._variant, steps, warmup, a.seed)), flush=True)
        return 0
    if a._serve:
        print("RESULT " + json.dumps(serve_child(a._serve, a._serve_dir)), flush=True)
        return 0

    out_path = Path(a.output)
    result: dict[str, Any] = {}
    if a.merge and out_path.exists():
        result = json.loads(out_path.read_text())
    result["provenance"] = provenance()
    command = ("python benchmarks/throughput.py " + " ".join(sys.argv[1:])).strip()
    sections = [
        name
        for name, skip in (
            ("training", a.skip_training),
            ("serving", a.skip_serving),
            ("textgen_generation", a.skip_textgen),
            ("pipelines", a.skip_pipelines and a.skip_textgen),
        )
        if not skip
    ]
    run = {"command": command, "sections": sections, **result["provenance"]}
    result["runs"] = [*result.get("runs", []), run]
    result.pop("command", None)
    result.pop("commands", None)
    result["quick"] = a.quick
    t0 = time.perf_counter()
    if not a.skip_training:
        names = a.variants.split(",") if a.variants else None
        names = names or (list(QUICK_VARIANTS) if a.quick else list(VARIANTS))
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            p.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
        result["training"] = training_section(names, steps, warmup, a.seed, a.pairs)
    if not a.skip_serving:
        result["serving"] = serving_section(a.quick)
    if not a.skip_textgen:
        tg = textgen_section(a.quick, a.textgen_train_seconds)
        result["textgen_generation"] = tg
        pipes = result.setdefault("pipelines", {})
        pipes["textgen_chars_per_second"] = {
            "chars_per_second": tg["fit_chars_per_second"],
            "protocol": f"TextGenerator.fit for {a.textgen_train_seconds:g} s (budget) on "
            f"{tg['corpus']}, GRU 384, batch 32 x 100 chars; whole fit call",
        }
    if not a.skip_serving:
        result["serving_suggestions"] = {
            "sentiment_rnn_branch": sentiment_rnn_branch_latency(50 if a.quick else 200)
        }
    if not a.skip_pipelines:
        pipes = result.setdefault("pipelines", {})
        try:
            pipes["forecast_windows_per_second"] = forecast_pipeline_rate(1)
        except Exception as err:  # no mirror: say so in the result
            pipes["forecast_windows_per_second"] = {"error": f"{type(err).__name__}: {err}"}
        try:
            pipes["sentiment_tokens_per_second"] = sentiment_pipeline_rate()
        except Exception as err:  # no mirror: say so in the result
            pipes["sentiment_tokens_per_second"] = {"error": f"{type(err).__name__}: {err}"}
    result["total_seconds"] = round(time.perf_counter() - t0, 1)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "training"}, indent=1)[:4000])
    print("wrote", out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
