"""LiteRT and ONNX exports of each task's tensor-only core, on the task's benchmark data:
size, single-request latency, agreement with TensorFlow, and the accuracy cost of int8.

For every task asked for (`--tasks`), in one run: train a small model on the task's benchmark
data (`--minutes` each), export its core (`Task.core()`) as LiteRT (float32), LiteRT with
dynamic-range int8 weights (`quantize=True`) and ONNX, each verified in a clean process by
`rnn_apps/runtime.py`, then run the test inputs through each with
`rnn_apps.runtime.PortableModel` and through the core in TensorFlow (the reference):

- `metric`: the task's score on its test inputs (the same inputs for every format);
- `max_abs_diff`: the largest difference from the TensorFlow core over those inputs;
- `latency_ms`: p50, p99 and mean of `--requests` single-row requests (LiteRT's batch is 1),
  next to the task's SavedModel called in process on one raw input (strings, real units) and
  the core in TensorFlow;
- `size_mb` of each file;
- `signatures`: for a core with more signatures (the streaming `step` of forecast, panel and
  textgen), each one's `max_abs_diff` from TensorFlow on its sample inputs and the latency of
  one single-row call (one step of one stream), per format.

Test inputs: ETTh1 (forecast; the 4-month test part, one window a day, MSE in training-scaled
units), M4 hourly (panel; the 414 series' test hours, sMAPE / MASE / OWA), UD English EWT
(tag; test sentences up to 128 tokens, UPOS accuracy), Tatoeba en-fr (translate; 500 test
sentences, greedy decoding, sacreBLEU against the one reference of the split), IMDB
(sentiment; 2,000 test reviews, accuracy), tiny Shakespeare (textgen; 500 100-character
contexts of the validation text, next-character accuracy and bits per character). The models are
small and briefly trained: the figures compare formats, not the tasks' best scores.

    python benchmarks/export_formats.py --data-dir ../shared/datasets [--tasks forecast tag]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    latency_summary,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

FORMATS = (("litert", False), ("litert_int8", True), ("onnx", False))

# A case: (fitted task, test core inputs {name: (N, ...)}, score(outputs) -> {metric: value},
# one raw input of the SavedModel's serving_default {name: array}).
Case = tuple[Any, dict[str, np.ndarray], Callable[[dict[str, np.ndarray]], dict], dict]


# === Cases ===
def forecast_case(data_dir: str, minutes: float, seed: int) -> Case:
    from rnn_apps.data.etth1 import load_etth1
    from rnn_apps.tasks.forecast import ForecastConfig, Forecaster

    frame = load_etth1(data_dir)
    month = 30 * 24
    train_end, test_start = 12 * month, 16 * month
    lookback, horizon = 336, 96
    cfg = ForecastConfig(
        lookback=lookback, horizon=horizon, architecture="segrnn", epochs=30,
        max_train_minutes=minutes, seed=seed, verbose=0,
    )  # fmt: skip
    fc = Forecaster(cfg).fit(frame.iloc[:test_start])
    pre = fc.preprocessor_
    arr = frame[list(pre.columns)].to_numpy("float32")
    t_idx = [list(pre.columns).index(c) for c in pre.targets]
    std = arr[:train_end][:, t_idx].std(axis=0)
    starts = range(test_start - lookback, len(arr) - lookback - horizon + 1, 24)
    x = np.stack([arr[s : s + lookback] for s in starts])
    y = np.stack([arr[s + lookback : s + lookback + horizon][:, t_idx] for s in starts])

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        err = (out["forecast"] - y) / std
        return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}

    return fc, {"window": x}, score, {"window": x[:1]}


def panel_case(data_dir: str, minutes: float, seed: int) -> Case:
    from rnn_apps.data.m4 import load_m4
    from rnn_apps.tasks.forecast import metrics as M
    from rnn_apps.tasks.panel import PanelConfig, PanelForecaster
    from rnn_apps.tasks.panel.data import last_window

    m4 = load_m4("Hourly", data_dir=data_dir)
    cfg = PanelConfig(
        lookback=336, horizon=48, season=24, transform="log", units=64, d_model=64,
        epochs=40, steps_per_epoch=200, max_train_minutes=minutes, seed=seed, verbose=0,
    )  # fmt: skip
    fc = PanelForecaster(cfg).fit(m4.train)
    insample, actual = m4.series("train"), m4.series("test")
    ids = list(insample)
    x = np.stack([last_window(insample[k], cfg.lookback) for k in ids]).astype("float32")
    y = [np.asarray(actual[k], float) for k in ids]
    naive = [M.naive2(insample[k], 48, 24) for k in ids]
    scales = [M.mase_scale(insample[k], 24) for k in ids]

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        s = [M.smape(a, f) for a, f in zip(y, out["forecast"])]
        m = [np.mean(np.abs(a - f)) / c for a, f, c in zip(y, out["forecast"], scales)]
        s2 = [M.smape(a, f) for a, f in zip(y, naive)]
        m2 = [np.mean(np.abs(a - f)) / c for a, f, c in zip(y, naive, scales)]
        return {"smape": float(np.mean(s)), "mase": float(np.mean(m)),
                "owa": float(M.owa(s, m, s2, m2))}  # fmt: skip

    return fc, {"window": x}, score, {"window": x[:1]}


def tag_case(data_dir: str, minutes: float, seed: int) -> Case:
    import tensorflow as tf

    from rnn_apps.data.conllu import load_ud_ewt
    from rnn_apps.tasks.tagging import TaggingConfig
    from rnn_apps.tasks.tagging.task import LITERT_TOKENS, Tagger

    train = load_ud_ewt("train", data_dir=data_dir)
    dev = load_ud_ewt("dev", data_dir=data_dir)
    test = [s for s in load_ud_ewt("test", data_dir=data_dir) if len(s.tokens) <= LITERT_TOKENS]
    cfg = TaggingConfig(max_train_minutes=minutes, epochs=20, seed=seed, verbose=0)
    tagger = Tagger(cfg).fit(train, dev)
    pre = tagger.preprocessor_
    width = max(len(s.tokens) for s in test)
    tokens = np.array([s.tokens + [""] * (width - len(s.tokens)) for s in test], dtype=object)
    gold = np.array([s.tags + [""] * (width - len(s.tags)) for s in test], dtype=object)
    x = {k: np.asarray(v) for k, v in pre(tf.constant(tokens.astype(str))).items()}
    gold_ids = np.asarray(pre.encode_tags(tf.constant(gold.astype(str))))
    real = x["words"] > 0

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        ids = out["tag_ids"][:, :width]
        return {"upos_accuracy": float(np.mean(ids[real] == gold_ids[real]))}

    return tagger, x, score, {"text": np.array([" ".join(test[0].tokens)], dtype=object)}


def translate_case(data_dir: str, minutes: float, seed: int) -> Case:
    import sacrebleu
    import tensorflow as tf

    from rnn_apps.data.fra_eng import load_fra_eng, split_pairs
    from rnn_apps.tasks.translate import TranslateConfig, Translator
    from rnn_apps.tasks.translate.task import as_pairs

    splits = split_pairs(load_fra_eng(data_dir), seed=seed)
    cfg = TranslateConfig(max_train_minutes=minutes, epochs=12, seed=seed, verbose=0)
    tr = Translator(cfg).fit(splits.train, splits.validation)
    sources, targets = as_pairs(splits.test)
    sources, targets = sources[:500], targets[:500]
    pre = tr.preprocessor_
    x = {"source": np.asarray(pre.encode_source(tf.constant(sources)), "int32")}

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        text = pre.detokenize(tf.constant(out["tokens"]))
        hyp = [t.decode("utf-8") for t in np.asarray(text).ravel()]
        return {"bleu": float(sacrebleu.corpus_bleu(hyp, [targets]).score)}

    return tr, x, score, {"text": np.array(sources[:1], dtype=object)}


def sentiment_case(data_dir: str, minutes: float, seed: int) -> Case:
    import tensorflow as tf

    from rnn_apps.data.imdb import load_imdb
    from rnn_apps.tasks.sentiment import SentimentClassifier, SentimentConfig
    from rnn_apps.tasks.sentiment.preprocessor import has_evidence

    imdb = load_imdb(data_dir)
    train = imdb["train"].sample(frac=1.0, random_state=seed)
    test = imdb["test"].sample(n=2000, random_state=seed)
    cfg = SentimentConfig(
        max_train_minutes=minutes, epochs=2, ngram_epochs=2, ngram_buckets=2**18,
        lm_pretrain_epochs=None, seed=seed, verbose=0,
    )  # fmt: skip
    n_val = 2500
    clf = SentimentClassifier(cfg).fit(
        (train["text"].iloc[n_val:].tolist(), train["label"].iloc[n_val:].tolist()),
        (train["text"].iloc[:n_val].tolist(), train["label"].iloc[:n_val].tolist()),
    )
    pre = clf.preprocessor_
    texts = tf.constant(test["text"].tolist())
    ids = np.asarray(pre(texts))
    ids = np.pad(ids, [(0, 0), (0, pre.max_length - ids.shape[1])]).astype("int32")
    evidence = np.asarray(has_evidence(texts)).astype("int32")
    positive = (test["label"] == pre.class_names[-1]).to_numpy()

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        return {"accuracy": float(np.mean((out["probability"] > 0.5) == positive))}

    raw = {"text": np.array(test["text"].iloc[:1].tolist(), dtype=object)}
    return clf, {"token_ids": ids, "has_evidence": evidence}, score, raw


def textgen_case(data_dir: str, minutes: float, seed: int) -> Case:
    import tensorflow as tf

    from rnn_apps.data.shakespeare import load_corpus
    from rnn_apps.tasks.textgen import TextGenConfig, TextGenerator

    corpus = load_corpus(data_dir=data_dir)
    cfg = TextGenConfig(units=256, epochs=20, max_train_minutes=minutes, seed=seed, verbose=0)
    lm = TextGenerator(cfg).fit(corpus.train, corpus.val)
    context = 100
    starts = np.random.default_rng(seed).integers(0, len(corpus.val) - context - 1, 500)
    texts = [corpus.val[s : s + context + 1] for s in starts]
    ids = np.asarray(lm.vocab_(tf.constant(texts))).astype("int32")  # (N, 101)
    x, nxt = ids[:, :context], ids[:, context]

    def score(out: dict[str, np.ndarray]) -> dict[str, float]:
        logits = out["logits"].astype("float64")
        logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1))[:, None]
        logp -= logits.max(1, keepdims=True)
        return {
            "next_char_accuracy": float(np.mean(logits.argmax(1) == nxt)),
            "bits_per_char": float(-np.mean(logp[np.arange(len(nxt)), nxt]) / np.log(2)),
        }

    return lm, {"token_ids": x}, score, {"prompt": np.array(["ROMEO:"], dtype=object)}


CASES: dict[str, Callable[[str, float, int], Case]] = {
    "forecast": forecast_case,
    "panel": panel_case,
    "tag": tag_case,
    "translate": translate_case,
    "sentiment": sentiment_case,
    "textgen": textgen_case,
}


# === Measuring ===
def _timed(call: Callable[[], Any], requests: int) -> dict[str, float]:
    call()  # warm
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - t0))
    return latency_summary(times)


def _trim(have: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A LiteRT output of zero-padded inputs cut back to the reference's shape."""
    return have[tuple(slice(0, n) for n in like.shape)]


def _max_abs_diff(have: np.ndarray, ref: np.ndarray) -> float:
    """The largest difference, NaN where both hold NaN counting as equal (a panel state's
    left padding) and NaN on one side only as infinite."""
    have, ref = have.astype("float64"), ref.astype("float64")
    both = np.isnan(have) & np.isnan(ref)
    diff = np.where(both, 0.0, np.abs(have - ref))
    return float(np.max(np.where(np.isnan(diff), np.inf, diff), initial=0.0))


def measure_signatures(core: Any, model_path: Path | None, requests: int) -> dict[str, Any]:
    """Per extra signature of `core`: one single-row call's latency and, for an export
    (`model_path`), the largest difference from TensorFlow on the signature's sample inputs.
    Without `model_path`: the TensorFlow core's latency."""
    import tensorflow as tf

    from rnn_apps.runtime import PortableModel

    result = {}
    for sig_name, sig in (core.signatures or {}).items():
        names = [s.name for s in sig.input_signature]
        fn = tf.function(sig.fn, input_signature=list(sig.input_signature))
        one = {n: np.asarray(sig.sample_inputs[n])[:1] for n in names}
        if model_path is None:
            args = [tf.constant(v) for v in one.values()]
            result[sig_name] = {"latency_ms": _timed(lambda fn=fn, a=args: fn(*a), requests)}
            continue
        ref = fn(*[tf.constant(sig.sample_inputs[n]) for n in names])
        ref = {k: np.asarray(v) for k, v in ref.items()}
        model = PortableModel(model_path, signature=sig_name)
        out = model(**sig.sample_inputs)
        result[sig_name] = {
            "max_abs_diff": {k: _max_abs_diff(_trim(out[k], ref[k]), ref[k]) for k in ref},
            "latency_ms": _timed(lambda model=model, one=one: model(**one), requests),
        }
    return result


def measure(name: str, case: Case, requests: int, work: Path) -> dict[str, Any]:
    import tensorflow as tf

    from rnn_apps.portable import _specs
    from rnn_apps.runtime import PortableModel
    from rnn_apps.tasks.predictor import SavedModelPredictor

    task, inputs, score, raw = case
    core = task.core()
    fn = tf.function(core.fn, input_signature=_specs(core, None))
    names = [s.name for s in core.input_signature]
    rows = len(inputs[names[0]])
    ref_parts = []
    for i in range(0, rows, 256):
        args = [tf.constant(inputs[n][i : i + 256]) for n in names]
        ref_parts.append({k: np.asarray(v) for k, v in fn(*args).items()})
    ref = {k: np.concatenate([p[k] for p in ref_parts]) for k in ref_parts[0]}
    one = {n: inputs[n][:1] for n in names}
    entry: dict[str, Any] = {"test_rows": rows, "formats": {}}
    entry["formats"]["tensorflow_core"] = {
        "metric": score(ref),
        "latency_ms": _timed(lambda: fn(*[tf.constant(one[n]) for n in names]), requests),
    }
    if core.signatures:
        entry["formats"]["tensorflow_core"]["signatures"] = measure_signatures(core, None, requests)
    task.export(work / f"{name}_sm")
    sm = SavedModelPredictor(work / f"{name}_sm")
    entry["formats"]["saved_model_raw_input"] = {
        "latency_ms": _timed(lambda: sm.run("serving_default", **raw), requests),
        "size_mb": round(
            sum(f.stat().st_size for f in (work / f"{name}_sm").rglob("*") if f.is_file()) / 2**20,
            3,
        ),
    }
    for label, quantize in FORMATS:
        fmt = "onnx" if label == "onnx" else "litert"
        path = work / f"{name}_{label}"
        t0 = time.monotonic()
        report = task.export(path, format=fmt, quantize=quantize)
        seconds = time.monotonic() - t0
        model = PortableModel(path)
        out = model(**inputs)
        out = {k: _trim(out[k], ref[k]) for k in ref}
        diffs = {k: _max_abs_diff(out[k], ref[k]) for k in ref if ref[k].size}
        entry["formats"][label] = {
            "metric": score(out),
            "max_abs_diff": diffs,
            "size_mb": report.size_mb,
            "latency_ms": _timed(lambda model=model: model(**one), requests),
            "export_seconds": round(seconds, 1),
        }
        if core.signatures:
            entry["formats"][label]["signatures"] = measure_signatures(core, path, requests)
        print(f"{name} {label}: {entry['formats'][label]['metric']} diff {diffs} "
              f"{report.size_mb} MB", flush=True)  # fmt: skip
    entry["train_seconds"] = round(float(getattr(task, "train_seconds_", 0.0) or 0.0), 1)
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("RNN_APPS_DATA_DIR"))
    p.add_argument("--tasks", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--minutes", type=float, default=3.0, help="training minutes per task")
    p.add_argument("--requests", type=int, default=200, help="single-row requests timed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=str(result_path("export_formats")))
    args = p.parse_args(argv)
    start = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "export_formats",
        "command": recorded_command(
            "export_formats.py", sys.argv[1:] if argv is None else argv, drop_options=("--output",)
        ),
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
        "versions": provenance(),
        "tasks": {},
    }
    import keras

    keras.utils.set_random_seed(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            print(f"== {name}", flush=True)
            case = CASES[name](args.data_dir, args.minutes, args.seed)
            result["tasks"][name] = measure(name, case, args.requests, Path(tmp))
            write_result(args.output, result)  # what is done survives a kill
    result["peak_rss_mb"] = peak_rss_mb()
    result["total_seconds"] = round(time.monotonic() - start, 1)
    write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
