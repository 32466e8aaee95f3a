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
`os.cpu_count()`, the CPU's model and AVX512-BF16 flag, the load average at the start and the
git commit: `_common.provenance`).

The serving, text generation and suggestion sections live in `throughput_serving.py`, the
pipelines' rates in `throughput_pipelines.py`; the shared harness in `_common.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if str(Path(__file__).resolve().parent) not in sys.path:  # the harness and the sections
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    emit_result,
    provenance,
    recorded_command,
    relative_to_root,
    result_path,
    run_child,
    write_result,
)
from throughput_pipelines import forecast_pipeline_rate, sentiment_pipeline_rate  # noqa: E402
from throughput_serving import (  # noqa: E402
    sentiment_rnn_branch_latency,
    serve_child,
    serving_section,
    textgen_section,
)

RESULT = result_path("throughput")
#: Seconds a training variant's child process may take before it is killed.
VARIANT_TIMEOUT = 1800.0

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
    out = run_child(cmd, env=env, timeout=VARIANT_TIMEOUT)
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
        emit_result(run_variant(a._variant, steps, warmup, a.seed))
        return 0
    if a._serve:
        emit_result(serve_child(a._serve, a._serve_dir))
        return 0

    out_path = Path(a.output)
    result: dict[str, Any] = {}
    if a.merge and out_path.exists():
        result = json.loads(out_path.read_text())
    result["provenance"] = provenance()
    command = recorded_command(
        "throughput.py", sys.argv[1:], path_options={"--output": "<file>"}, data_option=None
    )
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
    write_result(out_path, result)
    print(json.dumps({k: v for k, v in result.items() if k != "training"}, indent=1)[:4000])
    print("wrote", relative_to_root(out_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
