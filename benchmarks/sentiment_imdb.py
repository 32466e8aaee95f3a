"""IMDB sentiment benchmark: the default pipeline vs a TF-IDF logistic regression baseline.

Protocol (issues 3 and 12): train on the 25k train reviews plus the 50k unlabelled ones
(`train/unsup`; `--no-unlabelled` leaves them out), holding a seeded 20% of *train* out for
early stopping and the branch blend, **by movie** (`--split random` for the old split);
evaluate on all 25k test reviews, which are used for nothing else. In the same run:

- a TF-IDF (unigrams + bigrams, sublinear tf, min_df 2) logistic regression (scikit-learn,
  C=10) trained on all 25k train reviews and scored on the same test set (the baseline);
- the split check: the same baseline fitted on the 80% part of the random split and of the
  movie split, scored on its validation part and on test (how optimistic each split is);
- each branch's validation and test accuracy (val -> test gap), what each training step cost
  (`step_seconds`), and the negation / no-evidence probes (`rnn_apps.tasks.sentiment.probes`).

Writes `benchmarks/results/sentiment_imdb.json` (+ plots in `benchmarks/results/sentiment_imdb/`)
and exports the model to `saved_models/sentiment_imdb/` with a MODEL_CARD.md.

Run it alone on the machine (shared machines serialise heavy runs):

    python benchmarks/sentiment_imdb.py --data-dir ../shared/datasets
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    dir_size_mb,
    peak_rss_mb,
    provenance,
    recorded_command,
    relative_to_root,
    result_path,
    write_result,
)
from sentiment_imdb_card import write_model_card  # noqa: E402

#: Options the recorded command leaves out: paths of this machine (they take their defaults
#: when it is run again) and the deadline of this run.
DROPPED_OPTIONS = ("--output", "--export-dir", "--work-dir", "--deadline", "--save-pipeline")
#: The run's figures the export's metadata.json records (with each branch's test accuracy).
EXPORTED_METRICS = ("test_accuracy", "test_f1", "test_roc_auc", "baseline_tfidf_lr_accuracy")


def tfidf_baseline(train_texts, train_y, test_texts, test_y, extra=None) -> tuple[float, float]:
    """TF-IDF (1-2 grams) + logistic regression: (test accuracy, seconds); with `extra` =
    (texts, y), returns ((test accuracy, extra accuracy), seconds)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.monotonic()

    def clean(texts):
        return [t.replace("<br />", " ") for t in texts]

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.95, sublinear_tf=True)
    x_train = vec.fit_transform(clean(train_texts))
    x_test = vec.transform(clean(test_texts))
    lr = LogisticRegression(C=10.0, solver="liblinear", max_iter=1000)
    lr.fit(x_train, train_y)
    acc = float((lr.predict(x_test) == np.asarray(test_y)).mean())
    if extra is not None:
        x_extra = vec.transform(clean(extra[0]))
        acc = (acc, float((lr.predict(x_extra) == np.asarray(extra[1])).mean()))
    return acc, time.monotonic() - start


def split_check(train_texts, y_train, movies, test_texts, y_test, fraction, seed) -> dict:
    """The baseline on the 80% part of the random and of the movie split: validation accuracy,
    test accuracy and their gap (how optimistic each validation split is)."""
    from rnn_apps.data.splits import group_split

    perm = np.random.default_rng(seed).permutation(len(train_texts))
    n_val = int(round(fraction * len(train_texts)))
    splits = {
        "random": (perm[n_val:], perm[:n_val]),
        "movie": group_split(movies, fraction, seed),
    }
    out = {}
    for name, (fit_idx, val_idx) in splits.items():
        (test_acc, val_acc), _ = tfidf_baseline(
            [train_texts[i] for i in fit_idx],
            y_train[fit_idx],
            test_texts,
            y_test,
            extra=([train_texts[i] for i in val_idx], y_train[val_idx]),
        )
        out[name] = {
            "validation_accuracy": val_acc,
            "test_accuracy": test_acc,
            "val_minus_test": round(val_acc - test_acc, 5),
        }
        print(f"split check {name}: val {val_acc:.4f} test {test_acc:.4f}", flush=True)
    return out


def accuracy(probability: np.ndarray, y: np.ndarray) -> float:
    """The accuracy of P(positive) thresholded at 0.5 against 0/1 labels."""
    return float(((probability >= 0.5).astype(int) == y).mean())


@contextlib.contextmanager
def selected_model(clf: Any) -> Iterator[None]:
    """Runs `clf`'s signatures with the model selected before its refit
    (`clf.selection_model_`) inside the block."""
    final = clf.model_
    clf.model_, clf._signature_fns = clf.selection_model_, {}
    try:
        yield
    finally:
        clf.model_, clf._signature_fns = final, {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="mirror holding aclImdb_v1.tar.gz")
    parser.add_argument("--output", default=str(result_path("sentiment_imdb")))
    parser.add_argument("--export-dir", default=str(ROOT / "saved_models" / "sentiment_imdb"))
    parser.add_argument("--work-dir", default=None, help="BackupAndRestore folder (resume)")
    parser.add_argument("--max-train-minutes", type=float, default=30.0)
    parser.add_argument(
        "--deadline",
        default=None,
        help="HH:MM (UTC) by which the run must end: shortens the training budget so that "
        "evaluation and export (about --reserve-minutes) still fit",
    )
    parser.add_argument("--reserve-minutes", type=float, default=6.0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--subset", type=int, default=None, help="debug: use N train/test reviews")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--config", default=None, help="JSON object of SentimentConfig overrides")
    parser.add_argument(
        "--no-unlabelled", action="store_true", help="leave the 50k unlabelled reviews out"
    )
    parser.add_argument("--split", choices=("movie", "random"), default="movie")
    parser.add_argument(
        "--card-only",
        metavar="PIPELINE",
        default=None,
        help="only rewrite --export-dir/MODEL_CARD.md from a pipeline saved with "
        "--save-pipeline and the --output JSON of its run (no training)",
    )
    parser.add_argument(
        "--save-pipeline",
        default=None,
        help="also save the trained pipeline there (re-export later without retraining)",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.card_only:
        from rnn_apps.tasks.sentiment import SentimentClassifier

        result = json.loads(Path(args.output).read_text())
        write_model_card(Path(args.export_dir), SentimentClassifier.load(args.card_only), result)
        print(f"wrote {Path(args.export_dir) / 'MODEL_CARD.md'}", flush=True)
        return 0
    from rnn_apps.data.imdb import load_imdb
    from rnn_apps.reporting import plot_confusion_matrix, plot_learning_curves
    from rnn_apps.tasks.base import SavedModelPredictor
    from rnn_apps.tasks.sentiment import (
        SentimentClassifier,
        SentimentConfig,
        classification_metrics,
        predict_texts,
    )
    from rnn_apps.tasks.sentiment.probes import probe_report

    t0 = time.monotonic()
    prov = provenance()  # at the start: the load average before this run's work
    data = load_imdb(args.data_dir, splits=("train", "test", "unsup"))
    train, test, unsup = data["train"], data["test"], data["unsup"]
    if args.no_unlabelled:
        unsup = unsup.iloc[:0]
    if args.subset:
        train = train.sample(n=min(args.subset, len(train)), random_state=args.seed)
        test = test.sample(n=min(args.subset, len(test)), random_state=args.seed)
        unsup = unsup.sample(n=min(2 * args.subset, len(unsup)), random_state=args.seed)
    unlabelled = unsup["text"].tolist()
    movies = train["movie_id"].tolist()
    train_texts, train_labels = train["text"].tolist(), train["label"].tolist()
    test_texts, test_labels = test["text"].tolist(), test["label"].tolist()
    y_train = np.array([lab == "pos" for lab in train_labels], dtype=int)
    y_test = np.array([lab == "pos" for lab in test_labels], dtype=int)
    counts = f"{len(train_texts)} train / {len(test_texts)} test / {len(unlabelled)} unlabelled"
    print(f"loaded {counts} reviews", flush=True)

    overrides = {"max_train_minutes": args.max_train_minutes, "seed": args.seed, "verbose": 2}
    overrides.update(json.loads(args.config) if args.config else {})
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    config = SentimentConfig.from_dict(overrides)

    load_average = prov["load_average_at_start"]
    result: dict = {"benchmark": "sentiment_imdb", "load_average_at_start": load_average}
    if not args.skip_baseline:
        base_acc, base_sec = tfidf_baseline(train_texts, y_train, test_texts, y_test)
        result["baseline_tfidf_lr_accuracy"] = base_acc
        result["baseline_tfidf_lr_seconds"] = round(base_sec, 1)
        print(f"baseline TF-IDF LR: {base_acc:.4f} ({base_sec:.0f}s)", flush=True)

    if args.deadline:
        hh, mm = (int(v) for v in args.deadline.split(":"))
        now = time.gmtime()
        left = (hh * 60 + mm) - (now.tm_hour * 60 + now.tm_min + now.tm_sec / 60.0)
        left %= 24 * 60  # a deadline after midnight
        budget = max(2.0, min(config.max_train_minutes or 1e9, left - args.reserve_minutes))
        config = config.replace(max_train_minutes=round(budget, 1))
        print(f"deadline {args.deadline} UTC: training budget {budget:.1f} min", flush=True)

    work_dir = Path(args.work_dir or Path(tempfile.gettempdir()) / "rnn_apps_sentiment_imdb_work")
    clf = SentimentClassifier(config)
    clf.fit(
        train_texts,
        train_labels,
        class_names=["neg", "pos"],
        groups=movies if args.split == "movie" else None,
        unlabelled=unlabelled or None,
        work_dir=work_dir,
    )
    print(f"trained in {clf.train_seconds_:.0f}s, epochs {clf.epochs_}", flush=True)
    print(f"validation: {clf.validation_metrics_}", flush=True)

    t_eval = time.monotonic()
    branch = clf.branch_probabilities(test_texts)
    prob = branch["blend"]
    metrics = classification_metrics(y_test, prob, clf.class_names_)
    eval_seconds = time.monotonic() - t_eval
    branch_acc = {
        f"test_accuracy_{k}": accuracy(p, y_test) for k, p in branch.items() if k != "blend"
    }
    print(f"test accuracy {metrics['accuracy']:.4f} {branch_acc} ({eval_seconds:.0f}s)", flush=True)
    # With a refit, the validation figures are of the model selected before it: score that
    # one on test too (the val -> test gap of one model, and what the refit gave).
    selected_acc: dict[str, float] = {}
    if getattr(clf, "selection_model_", None) is not None:
        with selected_model(clf):
            selected = clf.branch_probabilities(test_texts)
        selected_acc = {name: accuracy(p, y_test) for name, p in selected.items()}
        print(f"before the refit: test accuracy {selected_acc}", flush=True)

    if not args.skip_baseline:
        result["split_check_tfidf_lr"] = split_check(
            train_texts, y_train, movies, test_texts, y_test, config.validation_split, config.seed
        )
        same_80pct = result["split_check_tfidf_lr"][args.split]["test_accuracy"]
        result["baseline_tfidf_lr_accuracy_same_80pct_train"] = same_80pct
    val = clf.validation_metrics_
    gaps = {}
    final_acc = {
        **{k[len("test_accuracy_") :]: v for k, v in branch_acc.items()},
        "blend": metrics["accuracy"],
    }
    test_of_validated = selected_acc or final_acc
    for name in ("ngram_branch", "rnn_branch", "blend"):
        key = "blend_accuracy" if name == "blend" else f"branch_{name}_accuracy"
        if key in val and name in test_of_validated:
            v, t = val[key], test_of_validated[name]
            gaps[name] = {"validation": v, "test": t, "val_minus_test": round(v - t, 5)}
    result["val_to_test_gap"] = {
        "split": args.split,
        "model": "selected before the refit" if selected_acc else "the final model",
        **gaps,
    }
    result["refit"] = {**getattr(clf, "refit_", {})}
    if selected_acc:
        result["refit"]["test_accuracy_before"] = selected_acc
        result["refit"]["test_accuracy_after"] = final_acc
    probes = probe_report(clf)
    print(
        f"negation probes: {probes['negation_correct']}/{probes['negation_total']}; no-evidence "
        f"max |p - 0.5| = {probes['no_evidence_max_distance_from_half']}",
        flush=True,
    )

    plot_dir = Path(args.output).with_suffix("")
    cm, names = metrics["confusion_matrix"], clf.class_names_
    plots = {  # no machine paths: relative to the repository, else the file name
        "confusion_matrix": plot_confusion_matrix(cm, names, plot_dir / "confusion_matrix.png"),
        "learning_curves": plot_learning_curves(
            clf.history_, plot_dir / "learning_curves.png", metrics=("loss", "accuracy")
        ),
    }
    plots = {name: relative_to_root(path) for name, path in plots.items()}
    num_val = int(clf.validation_report_["num_examples"])
    rnn_acc = branch_acc.get("test_accuracy_rnn_branch", 0.0)
    ngram_acc = branch_acc.get("test_accuracy_ngram_branch", float("nan"))
    acc, gain = metrics["accuracy"], metrics["accuracy"] - ngram_acc
    rnn_above_baseline = bool(rnn_acc > result.get("baseline_tfidf_lr_accuracy", 1.0))
    result["targets"] = {
        "rnn_branch_at_least_0.910": bool(rnn_acc >= 0.910),
        "rnn_branch_above_baseline": rnn_above_baseline,
        "blend_at_least_0.920": bool(acc >= 0.920),
        "blend_at_least_0.3_points_above_ngram_branch": bool(gain >= 0.003),
        "team_goal_0.93": bool(acc >= 0.93),
    }
    result.update(
        {
            "test_accuracy": acc,
            "test_precision": metrics["precision"],
            "test_recall": metrics["recall"],
            "test_f1": metrics["f1"],
            "test_roc_auc": metrics["roc_auc"],
            "test_confusion_matrix": metrics["confusion_matrix"],
            **branch_acc,
            "rnn_gain_over_ngram_branch": None if np.isnan(gain) else gain,
            "rnn_branch_beats_baseline": rnn_above_baseline,
            "beats_baseline": bool(acc > result.get("baseline_tfidf_lr_accuracy", 0.0)),
            "num_train": len(train_texts),
            "num_train_fit": len(train_texts) - num_val,
            "num_validation": num_val,
            "validation_split": args.split,
            "num_unlabelled": len(unlabelled),
            "num_unlabelled_distilled": clf.num_distilled_,
            "lm_pretrain": getattr(clf, "lm_pretrain_", {}),
            "num_test": len(test_texts),
            "train_seconds": round(clf.train_seconds_, 1),
            "step_seconds": clf.step_seconds_,
            "probes": probes,
            "eval_seconds": round(eval_seconds, 1),
            "epochs": clf.epochs_,
            "time_budget_exhausted": clf.time_budget_exhausted_,
            "validation": clf.validation_metrics_,
            "config": config.to_dict(),
            "command": recorded_command(
                "sentiment_imdb.py",
                sys.argv[1:] if argv is None else argv,
                drop_options=DROPPED_OPTIONS,
            ),
            "history": clf.history_,
            "plots": plots,
            "versions": {k: prov[k] for k in ("rnn_apps", "tensorflow", "keras", "python")},
            "provenance": prov,
        }
    )

    if args.save_pipeline:
        clf.save(args.save_pipeline)
        print(f"pipeline saved to {args.save_pipeline}", flush=True)
    if not args.skip_export:
        export_dir = Path(args.export_dir)
        report = clf.export(
            export_dir,
            metadata={
                "dataset": "IMDB aclImdb v1 (Maas et al. 2011)",
                "metrics": {k: result.get(k) for k in (*EXPORTED_METRICS, *branch_acc)},
                **{k: result[k] for k in ("num_train", "num_unlabelled", "validation_split")},
                "num_test": len(test_texts),
                "negation_probes_correct": probes["negation_correct"],
            },
        )
        # The SavedModel must give the in-process probabilities on real reviews too.
        sample = test_texts[:500]
        served = predict_texts(SavedModelPredictor(export_dir), sample).probabilities
        max_diff = float(np.abs(served - prob[:500]).max())
        size_mb = dir_size_mb(export_dir)
        result.update(
            export_dir=relative_to_root(export_dir),
            export_size_mb=size_mb,
            export_verified=report.verified,
            export_max_abs_diff_500_test_reviews=max_diff,
        )
        write_model_card(export_dir, clf, result)
        print(f"exported to {export_dir} ({size_mb} MB), max diff {max_diff:.2e}", flush=True)

    shutil.rmtree(work_dir, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    result["peak_rss_mb"] = peak_rss_mb()
    write_result(args.output, result, ensure_ascii=True)
    keys = ("test_accuracy", "baseline_tfidf_lr_accuracy", "train_seconds", "epochs", "peak_rss_mb")
    print(json.dumps({k: result.get(k) for k in keys}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
