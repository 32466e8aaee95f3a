"""`SentimentClassifier`: raw text -> class, on the shared `Task` base.

`predict(texts) = postprocess(model(preprocessor(texts)))`, one graph in process
(`Task.run`) and in the export:

1. `SentimentPreprocessor` (adapted on the training texts only): standardise (HTML stripped,
   input cut at `MAX_TEXT_BYTES`), tokenise -> right-padded token ids (B, T).
2. The model (`model.py`): an n-gram branch (NBSVM-style logistic regression on hashed
   n-grams) and a bidirectional RNN branch, each trained by `Task.train_model` (backups under
   `work_dir/backup/ngram` and `work_dir/backup/rnn`), their logits blended with weights
   fitted on the validation split.
3. `SentimentPreprocessor.postprocess`: logits -> `probability` and `label`.

This module holds the class and its `Task` hooks; `fit`'s steps live beside it: `run` (input
checks, split, vocabulary, the fit's `SentimentRun`), `datasets` (tf.data), `branches`
(training a branch), `encoder_init` (word vectors, language-model pretraining), `distill`,
`blend` and `refit`.

With `fit(..., unlabelled=...)` (IMDB: the 50,000 `unsup` reviews) the RNN branch also learns
the n-gram branch's probabilities on the unlabelled texts (distillation) and its word vectors
are counted on them too; with `fit(..., groups=...)` (IMDB: movie ids) the validation split
keeps every movie on one side.

Export: `serving_default`: `text` tf.string [None] -> `probability` float32 [None] (two
classes: P(positive class)) or [None, C], and `label` tf.string [None]; `branches`: `text` ->
the probability of each branch alone and of the blend (`ngram_branch`, `rnn_branch`, `blend`),
so what the RNN adds can be checked from the SavedModel alone. Both refuse more than
`MAX_TEXT_BATCH` texts per call (InvalidArgumentError). A text without any letter or
digit gets the training class prior from every output. With `jit_compile` (default), batches
of up to 32 texts run the model XLA-compiled on padded shapes
(`rnn_apps.export.xla_on_padded_shapes`), in the export and in process.

LiteRT / ONNX (`export(format=...)`): `core()`, token ids (B, max_length) and has_evidence (B,)
-> `probability`; the client tokenises with the `vocabulary` in the export's metadata.json.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.sentiment import model as model_lib
from rnn_apps.tasks.sentiment.blend import fit_blend
from rnn_apps.tasks.sentiment.branches import train_ngram_branch, train_rnn_branch
from rnn_apps.tasks.sentiment.config import SentimentConfig
from rnn_apps.tasks.sentiment.datasets import LENGTH_BUCKETS
from rnn_apps.tasks.sentiment.inference import (
    MAX_TEXT_BATCH,
    SentimentPrediction,
    branch_probabilities,
    evaluate_texts,
    predict_texts,
)
from rnn_apps.tasks.sentiment.preprocessor import (
    MAX_TEXT_BYTES,
    SentimentPreprocessor,
    has_evidence,
)
from rnn_apps.tasks.sentiment.refit import refit
from rnn_apps.tasks.sentiment.run import FIT_PARAMS, SentimentRun, start_run

__all__ = ["LENGTH_BUCKETS", "SAMPLE_TEXTS", "SERVING_LENGTHS", "SentimentClassifier"]

#: Texts the export is verified with (empty, blank, emoji, bad bytes, markup).
SAMPLE_TEXTS = [
    b"this film was wonderful",
    b"an awful, boring movie. the worst.",
    b"",
    b"   ",
    "great acting \U0001f600\U0001f44d".encode(),
    b"\xff\xfe invalid \xc3\x28 bytes",
    b"<script>alert(1)</script> Great film! &amp; <b>moving</b>",
]
#: Token lengths the serving graph pads to when XLA-compiled (plus `max_length`).
SERVING_LENGTHS = (16, 32, 64, 128, 256, 512)
#: `fit`'s old keyword for `validation` (the `fit(texts, labels, validation_data=...)` form).
_VALIDATION_DATA = "validation_data"


class SentimentClassifier(Task):
    """Raw text -> class, trained with `fit`, exported with `export`.

    Learned state after `fit` or `load`: `preprocessor_` (vocabulary, class names), `model_`,
    `history_` (`{"ngram": ..., "rnn": ...}`), `epochs_`, `num_distilled_` (unlabelled texts
    the RNN learnt the teacher on), `lm_pretrain_` (the language-model pretraining's history,
    or why it was skipped), `word_vector_coverage_` (with `word_vectors`: the share of the
    vocabulary found there), `step_seconds_`, `validation_metrics_` (accuracy of each branch
    and of the blend, blend weights), `validation_report_` (all metrics of the blend on the
    validation split), `refit_` (the refit on all labelled texts: its epochs, or why it was
    skipped), `train_seconds_`; after a refit in this process also `selection_model_` (the
    model the validation figures are of; not saved).

    Example:
        >>> clf = SentimentClassifier(SentimentConfig(epochs=3))
        >>> clf.fit(texts, labels)                      # labels may be strings
        >>> clf.predict(["this film was wonderful"]).probabilities
        >>> clf.export("exported/my_sentiment")
    """

    task_name: ClassVar[str] = "sentiment"
    #: 2: the signatures refuse more than MAX_TEXT_BATCH texts per call.
    contract_version: ClassVar[int] = 2
    config_class: ClassVar[type[SentimentConfig]] = SentimentConfig
    fit_param_names: ClassVar[tuple[str, ...]] = FIT_PARAMS
    config: SentimentConfig

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        train: Any,
        validation: Any = None,
        *,
        work_dir: str | os.PathLike | None = None,
        strategy: Any = None,
        tensorboard: bool = False,
        data_options: Any = None,
        **fit_params: Any,
    ) -> SentimentClassifier:
        """Adapts the preprocessor on the training texts, trains both branches, blends them.

        Args:
            train: `(texts, labels)`: N texts (str or bytes) and their labels (any values but
                NaN/None; compared as strings; two or more classes). `fit(texts, labels)`
                (then `validation` holds the labels) is accepted as well, and so are a
                `tf.data.Dataset` of `{"text", "label"}` dicts or `(text, label)` pairs and a
                TFDS name `"tfds:imdb_reviews"` (`Task.raw_data`; `ClassLabel` labels become
                their class names).
            validation: `(texts, labels)`; default: a seeded `validation_split` of the
                training data (whole groups with `groups`).
            work_dir: Run folder: `BackupAndRestore` checkpoints under `work_dir/backup/ngram`
                and `work_dir/backup/rnn` (an interrupted `fit` with the same `work_dir`
                resumes), TensorBoard logs under `work_dir/logs`.
            strategy: `"default"` (None), `"mirrored"`, `"multi_worker"` (over the machines in
                `TF_CONFIG`; fixed batches of `batch_size` texts) or a `tf.distribute.Strategy`.
            tensorboard: Write TensorBoard logs.
            data_options: How a dataset or TFDS name is read and converted (`data_dir`,
                `split`, `max_examples`, `max_bytes`, `text_column`, `label_column`).
            **fit_params: The sentiment-specific inputs:
                `class_names`: fix the class order (default: sorted; see `class_names_of`);
                `positive_label`: with two classes, the class whose probability is reported;
                `groups`: (N,) group of every training text (IMDB: its movie id), the
                validation split then holds out whole groups (ignored with `validation`);
                `unlabelled`: extra texts without labels (at most `max_unlabelled` are used):
                the RNN branch learns the n-gram branch's probabilities on them (`distill`),
                the word vectors are counted on them (`ppmi_unlabelled`) and the RNN's
                language-model pretraining reads them (`lm_pretrain_epochs`); the vocabulary
                is adapted on the labelled training texts only;
                `validation_data`: the same as `validation` (its former name).

        Returns:
            self.

        Raises:
            UserInputError: an unknown fit parameter, no labels, no texts, texts and labels of
                different lengths, a missing (NaN) label, fewer than two classes, a label not
                in `class_names`, `groups` of another length than the texts.
        """
        train, validation = self.fit_data(train, validation, data_options)
        train, validation = _train_and_validation(
            train, validation, fit_params.pop(_VALIDATION_DATA, None)
        )
        return super().fit(
            train,
            validation,
            work_dir=work_dir,
            strategy=strategy,
            tensorboard=tensorboard,
            **fit_params,
        )

    def raw_from_examples(
        self, examples: Any, text_column: str | None = None, label_column: str | None = None
    ) -> tuple[list[str], list[Any]]:
        """`(texts, labels)` of the features `text_column` (default `text`, else `x`) and
        `label_column` (default `label`, else `y`)."""
        from rnn_apps.data.tfds import labelled_texts

        return labelled_texts(examples, text_column, label_column)

    def _fit(self, train: Any, validation: Any, run: FitRun, **fit_params: Any) -> None:
        with warnings.catch_warnings():
            # The length-bucketed datasets have no known size: Keras learns it in the first
            # epoch and warns that the data "ran out"; nothing is wrong.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            srun = start_run(self.config, train, validation, run, **fit_params)
            self._train(srun)

    def _train(self, srun: SentimentRun) -> None:
        """Model selection (both branches early-stopped on the validation split, the blend
        fitted there), then the refit on all labelled texts (`config.refit`)."""
        from rnn_apps.progress import step

        cfg = self.config
        self.preprocessor_ = srun.pre
        self.step_seconds_ = srun.step_seconds
        self.time_budget_exhausted_ = False
        self.refit_: dict[str, Any] = {}
        self.selection_model_ = None
        branches = []
        if cfg.ngram_branch:
            branches.append(train_ngram_branch(self, srun, "ngram", srun.train_ds, srun.val_ds))
        distil = bool(
            srun.unlabelled and cfg.distill and branches and not srun.fit_run.multi_worker
        )
        self.num_distilled_ = len(srun.unlabelled) if distil else 0
        teacher = branches[0] if distil else None
        rnn = train_rnn_branch(
            self, srun, "rnn", srun.texts, srun.y, srun.train_ds, teacher, srun.val_ds
        )
        self.model_ = model_lib.build_sentiment_model([*branches, rnn], srun.pre.output_dim)
        with step("Fitting the branch blend on the validation texts", cfg.verbose):
            self.validation_metrics_, self.validation_report_ = fit_blend(
                self.model_, [*branches, rnn], srun.val_ds, srun.pre
            )
        srun.lap("blend")
        if cfg.refit and srun.held_out:
            self.refit_, model = refit(self, srun, distil=distil)
            if model is not None:
                self.selection_model_, self.model_ = self.model_, model
        self.lm_pretrain_ = srun.lm_pretrain
        self.word_vector_coverage_ = srun.word_vector_coverage
        self.epochs_ = {k: len(h.get("loss", [])) for k, h in self.history_.items()}

    # ------------------------------------------------------------------ Task hooks
    def endpoints(self) -> list[Any]:
        """`serving_default`: `text` (B,) tf.string -> `probability`, `label`."""
        import tensorflow as tf

        from rnn_apps.export import Endpoint, assert_batch_at_most, xla_on_padded_shapes

        pre, model = self.preprocessor_, self.model_
        branches = model_lib.branches_of(model)
        spec = [tf.TensorSpec([None], tf.string, name="text")]

        def blend_logits(tokens):
            return model(tokens, training=False)  # (B, T) -> (B, O)

        blend = model.get_layer("logits")  # `LogitBlend` over the branches in this order

        def all_logits(tokens):
            z = [b(tokens, training=False) for b in branches]  # each (B, T) -> (B, O)
            logits = {b.name: zi for b, zi in zip(branches, z)}
            logits["blend"] = blend(z) if len(z) > 1 else z[0]  # each branch runs once
            return logits

        if self.config.jit_compile:
            buckets = [b for b in SERVING_LENGTHS if b < pre.max_length] + [pre.max_length]
            blend_logits = xla_on_padded_shapes(blend_logits, buckets)
            all_logits = xla_on_padded_shapes(all_logits, buckets)

        def capped(text):
            with tf.control_dependencies([assert_batch_at_most(text, MAX_TEXT_BATCH, "texts")]):
                return tf.identity(text)

        def serve(text):
            text = capped(text)
            tokens = pre(text)  # (B,) -> (B, T)
            return pre.postprocess(blend_logits(tokens), has_evidence(text))  # -> (B,), (B,)

        def probabilities(text):
            text = capped(text)
            evidence = has_evidence(text)  # (B,), once for every output
            logits = all_logits(pre(text))
            return {k: pre.postprocess(z, evidence)["probability"] for k, z in logits.items()}

        return [
            Endpoint("serving_default", serve, spec),
            Endpoint("branches", probabilities, spec),
        ]

    def core(self) -> Any:
        """`serving_default` after the strings, for LiteRT and ONNX: `token_ids` (B, T) int32
        (T = `max_length`, right-padded with 0) and `has_evidence` (B,) int32 ->
        `probability`, the same numbers as `serving_default` gives for the same texts.

        `has_evidence` (does the standardised text hold a letter or a digit?) is a regular
        expression over the text, which cannot be told from the ids (punctuation and unknown
        words share ids with real words), so the client computes it; the model's branches
        (n-grams hashed from the ids, the RNN) take the ids alone."""
        import tensorflow as tf

        from rnn_apps.portable import Core

        self._check_fitted()
        pre, model = self.preprocessor_, self.model_
        length, binary = pre.max_length, pre.output_dim == 1

        def fn(token_ids: Any, has_evidence: Any) -> dict[str, Any]:
            logits = model(token_ids, training=False)  # (B, T) -> (B, O)
            logits = pre.no_evidence_to_prior(logits, has_evidence > 0)
            if binary:
                return {"probability": tf.sigmoid(logits[:, 0])}  # (B,)
            return {"probability": tf.nn.softmax(logits, axis=-1)}  # (B, C)

        texts = tf.constant(SAMPLE_TEXTS)
        ids = pre(texts).numpy()
        ids = np.pad(ids, [(0, 0), (0, length - ids.shape[1])])
        evidence = has_evidence(texts).numpy().astype("int32")
        what = "P(class_names[-1])" if binary else "(B, C): of the classes in class_names"
        return Core(
            fn=fn,
            input_signature=[
                tf.TensorSpec([None, length], tf.int32, name="token_ids"),
                tf.TensorSpec([None], tf.int32, name="has_evidence"),
            ],
            sample_inputs={"token_ids": ids.astype("int32"), "has_evidence": evidence},
            track=[model],
            metadata=self._core_metadata(),
            client=f"token_ids: the text standardised as metadata `standardize` says, split "
            f"on whitespace, each token's index in metadata `vocabulary` (1 = [UNK] if absent), "
            f"its first {length} tokens ([1] if none), right-padded with 0 to {length}; "
            "has_evidence: 1 if the standardised text holds a letter or a digit, else 0 (the "
            f"output is then the training class prior); probability: {what}, as "
            "serving_default's (label: threshold 0.5 / arg max, named by the client).",
        )

    def _core_metadata(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "vocabulary": self.preprocessor_.get_vocabulary(),
            "standardize": (
                f"cut at max_text_bytes ({MAX_TEXT_BYTES}) bytes, invalid UTF-8 -> U+FFFD, "
                "Unicode lower-case; drop <script>/<style> elements with their content, HTML "
                'comments and every other tag; &nbsp; &lt; &gt; -> space, &quot; &#34; -> ", '
                "&#39; &apos; -> ', &amp; -> &, any other entity -> space; a space on each side "
                'of each of !?.,;:()" ; every run of characters other than letters, digits, '
                "' and !?.,;:()\" -> one space; then split on whitespace "
                "(rnn_apps.layers.sentiment_preprocessor.standardize_text)"
            ),
            "class_prior": list(self.preprocessor_.class_prior),
        }

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        texts = {"text": np.array(SAMPLE_TEXTS, dtype=object)}
        return {"serving_default": texts, "branches": texts}

    def export_metadata(self) -> dict[str, Any]:
        pre, cfg = self.preprocessor_, self.config
        return {
            "class_names": list(pre.class_names),
            "positive_class": pre.class_names[-1] if pre.output_dim == 1 else None,
            "vocabulary_size": pre.vocabulary_size,
            "max_length": cfg.max_length,
            "rnn_sequence_length": cfg.sequence_length,
            "max_text_bytes": MAX_TEXT_BYTES,
            "max_batch_texts": MAX_TEXT_BATCH,
            "inputs": f"text: at most {MAX_TEXT_BATCH} raw UTF-8 strings per call (invalid "
            f"bytes replaced, each cut at {MAX_TEXT_BYTES} bytes, HTML markup stripped)",
            "outputs": (
                "probability: P(positive class) (two classes) or class probabilities; "
                "label: the predicted class name"
            ),
        }

    def get_state(self) -> dict[str, Any]:
        return {
            **self.preprocessor_.get_state(),
            "step_seconds": getattr(self, "step_seconds_", {}),
            "num_distilled": getattr(self, "num_distilled_", 0),
            "lm_pretrain": getattr(self, "lm_pretrain_", {}),
            "word_vector_coverage": getattr(self, "word_vector_coverage_", None),
            "refit": getattr(self, "refit_", {}),
            "epochs": getattr(self, "epochs_", {}),
            "validation_metrics": getattr(self, "validation_metrics_", {}),
            "validation_report": getattr(self, "validation_report_", {}),
        }

    def set_state(self, state: Any, model_file: Path) -> None:
        super().set_state(state, model_file)
        cfg = self.config
        self.preprocessor_ = SentimentPreprocessor.from_state(state, cfg.max_tokens, cfg.max_length)
        self.epochs_ = state.get("epochs", {})
        self.step_seconds_ = state.get("step_seconds", {})
        self.num_distilled_ = state.get("num_distilled", 0)
        self.lm_pretrain_ = state.get("lm_pretrain", {})
        self.word_vector_coverage_ = state.get("word_vector_coverage")
        self.refit_ = state.get("refit", {})
        self.validation_metrics_ = state.get("validation_metrics", {})
        self.validation_report_ = state.get("validation_report", {})

    # ------------------------------------------------------------------ inference
    @property
    def class_names_(self) -> list[str]:
        """The class names (two classes: the positive one last)."""
        self._check_fitted()
        return list(self.preprocessor_.class_names)

    def predict(self, texts: Sequence[Any] | str, batch_size: int = 256) -> SentimentPrediction:
        """Raw texts -> probabilities and labels (the export's `serving_default` graph)."""
        self._check_fitted()
        return predict_texts(self, texts, batch_size)

    def branch_probabilities(
        self, texts: Sequence[Any], batch_size: int = 256
    ) -> dict[str, np.ndarray]:
        """Probabilities of each branch alone and of the blend (the export's `branches`
        signature): `{"ngram_branch": ..., "rnn_branch": ..., "blend": ...}`, each (B,) or
        (B, C)."""
        self._check_fitted()
        return branch_probabilities(self, texts, batch_size)

    def evaluate(
        self,
        texts: Sequence[Any] | Any,
        labels: Sequence[Any] | None = None,
        *,
        output_dir: str | os.PathLike | None = None,
        data_options: Any = None,
    ) -> dict[str, Any]:
        """Accuracy, precision, recall, F1 (positive class / macro), ROC-AUC, confusion matrix.

        `texts` and `labels`, or labelled examples alone: a `tf.data.Dataset` or a TFDS name
        (`"tfds:imdb_reviews"`: its `test` split unless `data_options` names another; see
        `Task.raw_data`). With `output_dir`, writes `confusion_matrix.png`,
        `learning_curves.png` and `metrics.json` there.
        """
        from rnn_apps.reporting import write_json

        self._check_fitted()
        if labels is None:
            texts, labels = _labelled(self.raw_data(texts, **dict(data_options or {})))
        out = evaluate_texts(self, texts, labels, output_dir=output_dir, histories=self.history_)
        if output_dir is not None:
            write_json(Path(output_dir) / "metrics.json", out)
        return out


def _train_and_validation(train: Any, validation: Any, validation_data: Any) -> tuple[Any, Any]:
    """`fit`'s data as `((texts, labels), (texts, labels) or None)`, from the `Task.fit` form
    `fit((texts, labels), validation)` or the form `fit(texts, labels, validation_data=...)`."""
    if _is_pair(train):
        if validation_data is not None:
            if validation is not None:
                raise UserInputError(
                    "Give the validation data once: validation or validation_data."
                )
            validation = validation_data
    elif validation is None:
        raise UserInputError("fit needs labels: fit((texts, labels)) or fit(texts, labels).")
    else:  # fit(texts, labels, ...)
        train, validation = (train, validation), validation_data
    if validation is not None and not (
        isinstance(validation, (tuple, list)) and len(validation) == 2
    ):
        raise UserInputError("The validation data must be a (texts, labels) pair.")
    return train, validation


def _labelled(data: Any) -> tuple[Any, Any]:
    """`(texts, labels)` of `evaluate`'s data given without labels."""
    if not _is_pair(data):
        raise UserInputError(
            "evaluate needs labels: evaluate(texts, labels), or a tf.data.Dataset / tfds:NAME "
            "of labelled texts."
        )
    return data


def _is_pair(data: Any) -> bool:
    """`(texts, labels)` rather than texts: a 2-tuple whose first item is not one text."""
    return isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], (str, bytes))
