"""The model card of `saved_models/sentiment_imdb/`, written by `benchmarks/sentiment_imdb.py`
from the trained (or loaded) pipeline and the run's result JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from _common import peak_rss_mb, provenance, result_path

from rnn_apps.tasks.sentiment import MAX_TEXT_BATCH, MAX_TEXT_BYTES

MODEL_CARD = """# sentiment_imdb: IMDB movie-review sentiment (rnn_apps)

A binary sentiment classifier exported as a TensorFlow SavedModel that takes raw text.

## Interface

`serving_default`: input `text` (`tf.string`, `[None]`, raw UTF-8 review text; invalid bytes are
replaced, texts are cut at {max_bytes:,} bytes; at most {max_batch:,} texts per call, more is
refused) -> `probability` (`float32`, `[None]`, probability that the review is
**pos**itive) and `label` (`tf.string`, `[None]`, `"neg"` or `"pos"`, threshold 0.5).

```python
import tensorflow as tf
model = tf.saved_model.load("saved_models/sentiment_imdb")
out = model.signatures["serving_default"](text=tf.constant(["this film was wonderful"]))
print(out["probability"].numpy(), out["label"].numpy())
```

Loading needs only TensorFlow (no rnn_apps). `assets/metadata.json` records the configuration,
vocabulary facts, versions and metrics.

## Model

- Text standardisation and vocabulary (`TextVectorization`, {vocab} tokens, adapted on the
  training reviews only; HTML markup stripped), inside the graph.
- RNN branch (`rnn_apps.build_bidirectional`): embedding {cfg.embedding_dim} of the {rnn_vocab} most
  frequent tokens (mask_zero), initialised with
  {emb_init};
  {layers} x bidirectional {cell} ({cfg.units} units per direction, embedding spatial dropout
  {cfg.embedding_dropout}, input dropout {cfg.dropout}), mask-aware mean+max pooling, dropout
  {cfg.head_dropout}, logit. It reads the first {cfg.head} and the last {tail} tokens of a
  review.{rnn_training}
- n-gram branch (in-graph NBSVM-style logistic regression): unigrams and hashed n-grams up to
  order {order} ({buckets} buckets) of the first {max_length} tokens, a binary bag weighted by
  {weighting} (counted on the training reviews), L2-normalised, linear weights with an L2
  penalty -> logit.
- The two logits are blended with non-negative weights fitted on the validation split
  (weights {weights}).

## Data and protocol

IMDB Large Movie Review Dataset v1.0 (Maas et al., ACL 2011). Training: the 25,000 train
reviews, of which a seeded 20% ({num_val}) is held out for early stopping, learning-rate
schedule and the blend ({split}; {num_fit} used for fitting), plus {num_unlabelled}
unlabelled reviews (`train/unsup`): the RNN branch learns the n-gram branch's
probabilities on them (distillation), and its word vectors and language model are learned on
them too.{refit} Test:
all 25,000 test reviews, never seen during training or model selection.

A text without any letter or digit (empty, blank, punctuation, emoji, bare markup) gets the
class prior of the training labels ({prior:.3f} positive) from every output.

Signature `branches`: `text` -> `ngram_branch`, `rnn_branch`, `blend` (`float32`, `[None]`,
each the probability of the positive class), so what each branch says can be checked from the
SavedModel alone.

Batches of up to 32 texts (single requests) run the model XLA-compiled on padded shapes
(lengths rounded up to 16, 32, ..., 512, {max_length} tokens; batch sizes to powers of two);
the first request of each new padded shape compiles (about a second), later ones reuse it.
Larger batches run the plain graph.

## Metrics (test, 25,000 reviews)

| model | validation accuracy ({split}) | test accuracy |
| --- | --- | --- |
| this model (blend) | {blend_val} | **{r[test_accuracy]:.4f}** |
| RNN branch alone | {rnn_val} | {rnn_acc} |
| n-gram branch alone | {ngram_val} | {ngram_acc} |
| TF-IDF (1-2 gram) logistic regression baseline, same run, all 25k train | | {base:.4f} |

{refit_metrics}Negation and word order (`rnn_apps/tasks/sentiment/probes.py`, 24 short sentences
written before tuning): {r[probes][negation_correct]} of {r[probes][negation_total]} right.

{rnn_note}{ablations}Precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f}, ROC-AUC {auc:.4f};
confusion matrix (rows true neg/pos, columns predicted neg/pos): {r[test_confusion_matrix]}.

Training took {train_minutes:.1f} minutes on a shared 2-core CPU ({epochs}; seconds per
step: {step_seconds}); peak RSS {rss} MB.

## Reproduce

```
{r[command]}
```

(`benchmarks/results/sentiment_imdb.json` holds every figure of the run that produced this
model.) Created {created} with rnn_apps {version}, TensorFlow {tf}, Keras {keras}.

## Limitations

English movie reviews only; the vocabulary is IMDB's. Texts longer than {max_length} tokens are
judged on their first {max_length} (n-gram branch) and head + tail (RNN branch). Sarcasm, mixed
reviews and domain shift (product reviews, tweets) lower the accuracy. Not for decisions about
people.
"""


def rnn_note(blend_acc: float, branch_acc: dict, baseline: float) -> str:
    """A paragraph for the model card on what the RNN branch adds (and whether it is enough)."""
    ngram = branch_acc.get("test_accuracy_ngram_branch")
    rnn = branch_acc.get("test_accuracy_rnn_branch")
    if ngram is None or rnn is None:
        return ""
    side = "above" if rnn > baseline else "below"
    gain = 100 * (blend_acc - ngram)
    verdict = "" if gain >= 0.3 else " (the target is +0.3 points: not reached)"
    return (
        f"The RNN branch alone ({rnn:.4f}) scores {side} the linear baseline ({baseline:.4f}) "
        f"and the blend is {gain:+.2f} points from the n-gram branch alone ({ngram:.4f})"
        f"{verdict}.\n\n"
    )


ABLATIONS = result_path("sentiment_imdb_ablations")


def ablation_table(path: Path = ABLATIONS) -> str:
    """A model-card table of what each step gave, from the ablation runs' JSON ("" without
    it): one row per run with its validation blend and test accuracy per branch."""
    if not path.is_file():
        return ""
    runs = json.loads(path.read_text())["runs"]
    rows = [
        "What each step gave (`benchmarks/results/sentiment_imdb_ablations.json`; chosen by "
        "validation, test shown):\n",
        "| run | validation blend | test RNN branch | test n-gram branch | test blend |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        val, test = run["validation"], run["test"]
        cells = [val["blend"], test["rnn_branch"], test["ngram_branch"], test["blend"]]
        cells = ["not run" if c is None else f"{c:.4f}" for c in cells]
        rows.append(f"| {run['name']}: {run['change']} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n"


def rnn_training(clf: Any) -> str:
    """The model card's sentences on language-model pretraining and weight averaging."""
    cfg, out = clf.config, ""
    lm = getattr(clf, "lm_pretrain_", {}).get("lm_loss", [])
    if lm:
        out += (
            f" Before learning the labels, its embedding and GRU were trained for {len(lm)} "
            "epochs as a forward and a backward language model on the training and unlabelled "
            f"reviews (sampled softmax, {cfg.lm_num_sampled} negatives; loss "
            f"{lm[0]:.2f} -> {lm[-1]:.2f})."
        )
    if cfg.ema_momentum:
        out += (
            f" It keeps a moving average of its weights (momentum {cfg.ema_momentum}); the "
            "average is what was validated, early-stopped and exported."
        )
    return out


def refit_sentences(result: dict[str, Any]) -> tuple[str, str]:
    """The model card's sentences on the refit: (protocol, metrics); empty without one."""
    refit = result.get("refit") or {}
    if "skipped" in refit:
        return f" The refit on all labelled reviews was skipped: {refit['skipped']}.", ""
    if "num_texts" not in refit:
        return "", ""
    epochs = ", ".join(f"{k} {v}" for k, v in refit["epochs"].items())
    protocol = (
        f" After the model selection, both branches were trained again on all "
        f"{refit['num_texts']:,} labelled reviews (training + validation split) for the epochs "
        f"selected on the validation split ({epochs}), at the learning rates those epochs "
        "had, and blended with the weights fitted on the validation split: the validation "
        "figures below are of the selected models, before that refit."
    )
    before = refit.get("test_accuracy_before")
    if not before:
        return protocol, ""
    return protocol, (
        "Before the refit (the models the validation figures are of), on test: blend "
        f"{before['blend']:.4f}, RNN branch {before.get('rnn_branch', float('nan')):.4f}, "
        f"n-gram branch {before.get('ngram_branch', float('nan')):.4f}.\n\n"
    )


def write_model_card(export_dir: Path, clf: Any, result: dict[str, Any]) -> None:
    """Writes `export_dir/MODEL_CARD.md` from the trained (or loaded) pipeline and the run's
    result (the JSON this benchmark writes)."""
    cfg, val = clf.config, clf.validation_metrics_
    versions = result.get("versions") or provenance()  # of the run that trained the model
    branch_acc = {k: v for k, v in result.items() if k.startswith("test_accuracy_")}
    baseline = result.get("baseline_tfidf_lr_accuracy")
    baseline = float("nan") if baseline is None else baseline
    num_val = int(result["num_validation"])
    refit, refit_metrics = refit_sentences(result)
    card = MODEL_CARD.format(
        max_bytes=MAX_TEXT_BYTES,
        max_batch=MAX_TEXT_BATCH,
        cfg=cfg,
        r=result,
        refit=refit,
        refit_metrics=refit_metrics,
        vocab=clf.preprocessor_.vocabulary_size,
        emb_init=(
            "PPMI + SVD word vectors learned on the training"
            + (" and unlabelled" if result.get("num_unlabelled") and cfg.ppmi_unlabelled else "")
            + " reviews"
            if cfg.embedding_init == "ppmi"
            else "random values"
        ),
        layers=cfg.num_layers,
        order=cfg.ngram_order,
        buckets=cfg.ngram_buckets,
        max_length=cfg.max_length,
        rnn_vocab=min(clf.preprocessor_.vocabulary_size, cfg.rnn_max_tokens or 10**9),
        cell=cfg.cell.upper(),
        tail=cfg.sequence_length - cfg.head,
        rnn_training=rnn_training(clf),
        weighting=(
            "each n-gram's Naive-Bayes log-count ratio (Wang & Manning 2012)"
            if cfg.ngram_weighting == "nb"
            else "inverse document frequency"
        ),
        weights=[round(w, 3) for w in val.get("branch_weights", [])],
        num_val=num_val,
        num_fit=int(result["num_train"]) - num_val,
        split=(
            "whole movies held out" if result["validation_split"] == "movie" else "random reviews"
        ),
        num_unlabelled=f"{clf.num_distilled_:,}",
        prior=clf.preprocessor_.class_prior[-1],
        blend_val=f"{val['blend_accuracy']:.4f}",
        rnn_val=f"{val.get('branch_rnn_branch_accuracy', float('nan')):.4f}",
        ngram_val=f"{val.get('branch_ngram_branch_accuracy', float('nan')):.4f}",
        step_seconds=", ".join(f"{k} {v:.0f}" for k, v in clf.step_seconds_.items()),
        rnn_acc=f"{branch_acc.get('test_accuracy_rnn_branch', float('nan')):.4f}",
        ngram_acc=f"{branch_acc.get('test_accuracy_ngram_branch', float('nan')):.4f}",
        base=baseline,
        rnn_note=rnn_note(result["test_accuracy"], branch_acc, baseline),
        ablations=ablation_table(),
        precision=result["test_precision"],
        recall=result["test_recall"],
        f1=result["test_f1"],
        auc=result["test_roc_auc"],
        train_minutes=result["train_seconds"] / 60.0,
        epochs=", ".join(f"{k}: {v} epochs" for k, v in clf.epochs_.items()),
        rss=result.get("peak_rss_mb") or peak_rss_mb(),
        created=time.strftime("%Y-%m-%d", time.gmtime()),
        version=versions["rnn_apps"],
        tf=versions["tensorflow"],
        keras=versions["keras"],
    )
    (Path(export_dir) / "MODEL_CARD.md").write_text(card)
