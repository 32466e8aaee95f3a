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

With `fit(unlabelled=...)` (IMDB: the 50,000 `unsup` reviews) the RNN branch also learns the
n-gram branch's probabilities on the unlabelled texts (distillation) and its word vectors are
counted on them too; with `fit(groups=...)` (IMDB: movie ids) the validation split keeps every
movie on one side.

Export: `serving_default`: `text` tf.string [None] -> `probability` float32 [None] (two
classes: P(positive class)) or [None, C], and `label` tf.string [None]; `branches`: `text` ->
the probability of each branch alone and of the blend (`ngram_branch`, `rnn_branch`, `blend`),
so what the RNN adds can be checked from the SavedModel alone. A text without any letter or
digit gets the training class prior from every output. With `jit_compile` (default), batches
of up to 32 texts run the model XLA-compiled on padded shapes
(`rnn_apps.export.xla_on_padded_shapes`), in the export and in process.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.sentiment import model as model_lib
from rnn_apps.tasks.sentiment.augment import chopped_segments
from rnn_apps.tasks.sentiment.config import SentimentConfig
from rnn_apps.tasks.sentiment.data import as_text_list
from rnn_apps.tasks.sentiment.inference import (
    SentimentPrediction,
    as_bytes,
    branch_probabilities,
    classification_metrics,
    evaluate_texts,
    predict_texts,
    run_batched,
)
from rnn_apps.tasks.sentiment.preprocessor import (
    MAX_TEXT_BYTES,
    SentimentPreprocessor,
    check_labels,
    class_names_of,
    has_evidence,
)

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
LENGTH_BUCKETS = (32, 64, 96, 128, 160, 192, 256, 320, 400, 512, 768)
#: Token lengths the serving graph pads to when XLA-compiled (plus `max_length`).
SERVING_LENGTHS = (16, 32, 64, 128, 256, 512)


class SentimentClassifier(Task):
    """Raw text -> class, trained with `fit`, exported with `export`.

    Learned state after `fit` or `load`: `preprocessor_` (vocabulary, class names), `model_`,
    `history_` (`{"ngram": ..., "rnn": ...}`), `epochs_`, `num_distilled_` and
    `num_augmented_` (texts the RNN learnt the teacher on), `validation_metrics_` (accuracy of
    each branch and of the blend, blend weights), `validation_report_` (all metrics of the
    blend on the validation split), `train_seconds_`.

    Example:
        >>> clf = SentimentClassifier(SentimentConfig(epochs=3))
        >>> clf.fit(texts, labels)                      # labels may be strings
        >>> clf.predict(["this film was wonderful"]).probabilities
        >>> clf.export("exported/my_sentiment")
    """

    task_name: ClassVar[str] = "sentiment"
    config_class: ClassVar[type[SentimentConfig]] = SentimentConfig
    config: SentimentConfig

    # ------------------------------------------------------------------ fit
    def fit(  # type: ignore[override]
        self,
        texts: Sequence[Any],
        labels: Sequence[Any] | None = None,
        *,
        validation_data: tuple[Sequence[Any], Sequence[Any]] | None = None,
        class_names: Sequence[str] | None = None,
        positive_label: str | None = None,
        groups: Sequence[Any] | None = None,
        unlabelled: Sequence[Any] | None = None,
        work_dir: str | os.PathLike | None = None,
        tensorboard: bool = False,
        strategy: Any = None,
    ) -> SentimentClassifier:
        """Adapts the preprocessor on `texts`, trains both branches and blends them.

        Args:
            texts: Training texts (str or bytes); or a `(texts, labels)` pair with `labels`
                None (the `Task.fit(train)` form).
            labels: Their labels (any values but NaN/None; compared as strings). Two or more
                classes.
            validation_data: `(texts, labels)`; default: a seeded `validation_split` of the
                training data.
            class_names: Fix the class order (default: sorted; see `class_names_of`).
            positive_label: With two classes, the class whose probability is reported.
            groups: (N,) group of every training text (IMDB: its movie id): the validation
                split then holds out whole groups. Ignored with `validation_data`.
            unlabelled: Extra texts without labels (at most `max_unlabelled` are used): the
                RNN branch learns the n-gram branch's probabilities on them (`distill`) and
                the word vectors are counted on them (`ppmi_unlabelled`). The vocabulary is
                adapted on the labelled training texts only.
            work_dir: Run folder: `BackupAndRestore` checkpoints under `work_dir/backup/ngram`
                and `work_dir/backup/rnn` (an interrupted `fit` with the same `work_dir`
                resumes), TensorBoard logs under `work_dir/logs`.
            tensorboard: Write TensorBoard logs.
            strategy: `"default"` (None), `"mirrored"`, `"multi_worker"` (over the machines in
                `TF_CONFIG`; fixed batches of `batch_size` texts) or a `tf.distribute.Strategy`.

        Returns:
            self.

        Raises:
            UserInputError: no texts, texts and labels of different lengths, a missing (NaN)
                label, fewer than two classes, a label not in `class_names`, `groups` of
                another length than `texts`.
        """
        if labels is None:
            if not (isinstance(texts, tuple) and len(texts) == 2):
                raise UserInputError("fit needs labels: fit(texts, labels) or fit((texts, labels))")
            texts, labels = texts
        texts = as_text_list(texts, "texts")
        labels = check_labels(labels)
        if len(texts) != len(labels):
            raise UserInputError(f"Got {len(texts)} texts but {len(labels)} labels.")
        if class_names is not None:
            names = [str(c) for c in class_names]
            if len(names) < 2:
                raise UserInputError(f"Need at least two classes, got {names}.")
        else:
            names = class_names_of(labels, positive_label)
        validation = None
        if validation_data is not None:
            validation = (
                as_text_list(validation_data[0], "validation texts"),
                check_labels(validation_data[1], "validation labels"),
            )
        if groups is not None:
            groups = ["" if g is None else str(g) for g in groups]
            if len(groups) != len(texts):
                raise UserInputError(
                    f"Got {len(texts)} texts but {len(groups)} groups: give one group (e.g. "
                    "movie id) per training text."
                )
        self._class_names = names
        self._groups = groups
        self._unlabelled = (
            None
            if unlabelled is None or not len(unlabelled)
            else as_text_list(list(unlabelled)[: self.config.max_unlabelled], "unlabelled")
        )
        return super().fit(
            (texts, labels),
            validation,
            work_dir=work_dir,
            strategy=strategy,
            tensorboard=tensorboard,
        )

    def _fit(self, train: Any, validation: Any, run: FitRun) -> None:
        with warnings.catch_warnings():
            # The length-bucketed datasets have no known size: Keras learns it in the first
            # epoch and warns that the data "ran out"; nothing is wrong.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            self._fit_branches(train, validation, run)

    def _fit_branches(self, train: Any, validation: Any, run: FitRun) -> None:
        from rnn_apps.progress import step

        cfg = self.config
        texts, labels = train
        pre = SentimentPreprocessor(cfg.max_tokens, cfg.max_length, self._class_names)
        y = pre.encode_labels(labels)
        if validation is None:
            if len(texts) < 4:
                raise UserInputError(
                    f"Only {len(texts)} texts: need at least 4 to hold out a validation split."
                )
            if getattr(self, "_groups", None) is not None:
                from rnn_apps.data.splits import group_split

                fit_idx, val_idx = group_split(self._groups, cfg.validation_split, cfg.seed)
            else:
                perm = np.random.default_rng(cfg.seed).permutation(len(texts))
                n_val = max(1, int(round(cfg.validation_split * len(texts))))
                fit_idx, val_idx = perm[n_val:], perm[:n_val]
            val_texts, y_val = [texts[i] for i in val_idx], y[val_idx]
            texts, y = [texts[i] for i in fit_idx], y[fit_idx]
        else:
            val_texts, y_val = validation[0], pre.encode_labels(validation[1])
        if run.multi_worker and len(texts) < cfg.batch_size:
            raise UserInputError(
                f"Multi-worker training uses fixed batches of batch_size={cfg.batch_size} "
                f"texts but only {len(texts)} are left for training: lower batch_size."
            )
        with step(f"Adapting the vocabulary on {len(texts)} training texts", cfg.verbose):
            pre.adapt(texts)
        pre.set_class_prior(y)
        self.preprocessor_ = pre
        self.step_seconds_: dict[str, float] = {}
        clock = time.monotonic()
        vocab_size, out_dim = pre.vocabulary_size, pre.output_dim
        train_ds = self._dataset(texts, y, train=True)
        val_ds = self._dataset(val_texts, y_val, train=False)
        fixed = None
        if run.multi_worker:
            fixed = self._dataset(texts, y, train=True, fixed_batches=True)
        common = dict(run=run, fixed_batches=fixed, global_batch_size=cfg.batch_size)
        common["shuffle"] = False  # the datasets shuffle themselves
        self.time_budget_exhausted_ = False

        branches = []
        if cfg.ngram_branch:
            with run.strategy.scope():
                ngram = model_lib.build_ngram_branch(cfg, vocab_size, out_dim)
                with step("Counting n-gram document frequencies", cfg.verbose):
                    nb = cfg.ngram_weighting == "nb" and out_dim == 1
                    model_lib.set_ngram_weights(ngram, train_ds, nb=nb)
                model_lib.compile_branch(ngram, out_dim, cfg.ngram_learning_rate)
            self.train_model(
                ngram, train_ds, val_ds, name="ngram", epochs=cfg.ngram_epochs, **common
            )
            branches.append(ngram)
            clock = self._lap("ngram", clock)
        unlabelled = getattr(self, "_unlabelled", None) or []
        distilling = bool(unlabelled and cfg.distill and branches and not run.multi_worker)
        rounds = cfg.distill_rounds if distilling else 1
        teacher = branches[0] if distilling else None
        self.num_distilled_ = len(unlabelled) if distilling else 0
        self.num_augmented_ = 0
        self.distill_rounds_: list[dict[str, float]] = []
        vectors = None
        pretrained: dict[str, list[Any]] | None = None
        self.lm_pretrain_: dict[str, list[float]] = {}
        best: tuple[float, Any, dict[str, Any], dict[str, Any]] | None = None
        for r in range(1, rounds + 1):
            name = "rnn" if r == 1 else f"rnn_round{r}"
            rnn_ds, num_rnn_texts = train_ds, len(texts)
            if distilling:
                what = f"Labelling {len(unlabelled)} unlabelled texts (round {r} teacher)"
                extra = unlabelled
                if cfg.distill_augment:  # chopped, word-dropped copies, labelled by the teacher
                    augmented = chopped_segments(
                        list(texts) + unlabelled, cfg.distill_augment, seed=cfg.seed + r
                    )
                    extra = unlabelled + augmented
                    self.num_augmented_ = len(augmented)
                    what += f" and {len(augmented)} augmented segments"
                with step(what, cfg.verbose):
                    soft = self._teacher_targets(teacher, extra)
                targets = np.concatenate([y.astype(soft.dtype), soft])
                rnn_ds = self._dataset(list(texts) + extra, targets, train=True)
                num_rnn_texts += len(extra)
                clock = self._lap(
                    "distillation_targets" if r == 1 else f"distillation_targets_round{r}", clock
                )
            with run.strategy.scope():
                rnn = model_lib.build_rnn_branch(cfg, vocab_size, out_dim)
                # The average spans at most about half an epoch, so that a small dataset
                # trains as without it (momentum <= 1 - 2 / steps per epoch).
                steps = -(-num_rnn_texts // cfg.batch_size)
                ema = min(cfg.ema_momentum, max(0.0, 1.0 - 2.0 / steps))
                model_lib.compile_branch(rnn, out_dim, cfg.learning_rate, ema)
            if cfg.embedding_init == "ppmi":
                embedding = rnn.get_layer("rnn_classifier").get_layer("embedding")
                if r == 1:  # the same word vectors start every round
                    rows = int(embedding.input_dim)
                    # Reuse the distillation batches when they hold exactly texts + unlabelled
                    # (word vectors never count the augmented copies).
                    tokenised = rnn_ds if distilling and not cfg.distill_augment else None
                    vectors = self._word_vectors(rows, train_ds, tokenised, texts, y, unlabelled)
                    clock = self._lap("word_vectors", clock)
                if vectors is not None:
                    embedding.embeddings.assign(vectors)
            if cfg.lm_pretrain_epochs:  # the same pretrained encoder starts every round
                pretrained = self._pretrained_encoder(rnn, rnn_ds, pretrained, run)
                if r == 1:
                    clock = self._lap("lm_pretrain", clock)
            averaging = []
            if ema > 0:
                from rnn_apps.callbacks import ValidateOnAverage

                averaging.append(ValidateOnAverage())
            self.train_model(
                rnn, rnn_ds, val_ds, name=name, epochs=cfg.epochs, callbacks=averaging, **common
            )
            clock = self._lap(name, clock)
            self.model_ = model_lib.build_sentiment_model([*branches, rnn], out_dim)
            with step("Fitting the branch blend on the validation texts", cfg.verbose):
                self._fit_blend([*branches, rnn], val_ds)
            clock = self._lap("blend" if r == 1 else f"blend_round{r}", clock)
            score = self.validation_metrics_["blend_accuracy"]
            self.distill_rounds_.append(
                {
                    "round": r,
                    "rnn_branch_accuracy": self.validation_metrics_[f"branch_{rnn.name}_accuracy"],
                    "blend_accuracy": score,
                }
            )
            if best is None or score > best[0]:
                metrics = {**self.validation_metrics_, "distill_round_kept": r}
                best = (score, self.model_, metrics, self.validation_report_)
            teacher = self.model_  # the next round learns from this round's blend
            if self.time_budget_exhausted_:
                break
        assert best is not None
        _, self.model_, self.validation_metrics_, self.validation_report_ = best
        self.epochs_ = {k: len(h.get("loss", [])) for k, h in self.history_.items()}

    def _word_vectors(
        self,
        rows: int,
        train_ds: Any,
        tokenised: Any,
        texts: Sequence[str],
        y: np.ndarray,
        unlabelled: Sequence[str],
    ) -> np.ndarray | None:
        """(rows, embedding_dim) PPMI + SVD word vectors of the training texts, and of the
        unlabelled ones with `ppmi_unlabelled` (read from `tokenised`, batches of exactly the
        training + unlabelled texts, when given); None when the texts are too small to
        factorise."""
        from rnn_apps.progress import step

        cfg = self.config
        ppmi_ds = train_ds
        if unlabelled and cfg.ppmi_unlabelled:
            ppmi_ds = tokenised
            if ppmi_ds is None:  # tokenise the training + unlabelled texts here
                dummy = np.zeros(len(texts) + len(unlabelled), y.dtype)
                ppmi_ds = self._dataset(list(texts) + list(unlabelled), dummy, train=False)
        with step(f"Learning {rows} word vectors (PPMI + SVD)", cfg.verbose):
            return model_lib.ppmi_vectors(cfg, ppmi_ds, rows)

    def _pretrained_encoder(
        self, rnn: Any, batches: Any, pretrained: dict[str, list[Any]] | None, run: FitRun
    ) -> dict[str, list[Any]]:
        """Language-model pretraining of `rnn`'s embedding and first bidirectional layer on
        `batches` (`rnn_apps.tasks.sentiment.pretrain`), or the weights of an earlier round's
        pretraining set on this fresh branch. Returns those weights by layer name."""
        from rnn_apps.progress import step
        from rnn_apps.tasks.sentiment.pretrain import pretrain_encoder

        cfg = self.config
        inner = rnn.get_layer("rnn_classifier")
        layers = {name: inner.get_layer(name) for name in ("embedding", "rnn_1")}
        if pretrained is not None:
            for name, layer in layers.items():
                layer.set_weights(pretrained[name])
            return pretrained
        with step(
            f"Pretraining the RNN encoder as a language model ({cfg.lm_pretrain_epochs} "
            "epochs, forward and backward)",
            cfg.verbose,
        ):
            self.lm_pretrain_ = pretrain_encoder(
                rnn,
                batches,
                epochs=cfg.lm_pretrain_epochs,
                num_sampled=cfg.lm_num_sampled,
                learning_rate=cfg.learning_rate,
                seed=cfg.seed,
                # at most half of the time left, the rest is for learning the labels
                deadline=None if run.deadline is None else (time.monotonic() + run.deadline) / 2,
                verbose=cfg.verbose,
            )
        return {name: layer.get_weights() for name, layer in layers.items()}

    def _lap(self, name: str, since: float) -> float:
        """Records the seconds since `since` as step `name`; returns the time now."""
        now = time.monotonic()
        self.step_seconds_[name] = round(now - since, 1)
        return now

    def _teacher_targets(self, teacher: Any, texts: Sequence[str]) -> np.ndarray:
        """The trained n-gram branch's targets for unlabelled texts, in input order: (N,)
        float32 probabilities (two classes) or (N,) int arg max classes (self-training)."""
        import tensorflow as tf

        pre = self.preprocessor_

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def targets(text):
            logits = teacher(pre(text), training=False)
            return pre.postprocess(logits, has_evidence(text))["probability"]

        out = run_batched(as_bytes(texts), lambda b: {"p": targets(tf.constant(b))}, 512)["p"]
        if pre.output_dim == 1:
            return out.astype(np.float32)
        return out.argmax(axis=1).astype(np.int64)

    def _dataset(self, texts: Sequence[str], y: np.ndarray, *, train: bool, fixed_batches=False):
        """tf.data of (tokens (B, T) right-padded, y (B,)), bucketed by length.

        With `fixed_batches` (multi-worker training) every batch holds exactly `batch_size`
        texts (the remainder is dropped) and no length bucketing is done, so every worker runs
        the same number of steps.
        """
        import tensorflow as tf

        cfg, pre = self.config, self.preprocessor_
        y_t = tf.constant(y.astype(np.float32) if pre.output_dim == 1 else y.astype(np.int32))
        ds = (
            tf.data.Dataset.from_tensor_slices((tf.constant(list(texts), tf.string), y_t))
            .batch(512)
            .map(lambda t, lab: (pre.dense_and_lengths(t), lab))
            .unbatch()
            .map(lambda tn, lab: (tn[0][: tn[1]], lab))  # (T_max,) -> (n,)
            .cache()
        )
        if train:
            ds = ds.shuffle(len(texts), seed=cfg.seed, reshuffle_each_iteration=True)
        if fixed_batches:
            ds = ds.padded_batch(
                cfg.batch_size,
                padded_shapes=([None], []),
                padding_values=(0, None),
                drop_remainder=True,
            )
            return ds.prefetch(tf.data.AUTOTUNE)
        bounds = [b for b in LENGTH_BUCKETS if b < cfg.max_length]
        ds = ds.bucket_by_sequence_length(
            lambda t, lab: tf.shape(t)[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[cfg.batch_size] * (len(bounds) + 1),
            padded_shapes=([None], []),
            padding_values=(0, None),
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    def _fit_blend(self, branches: Sequence[Any], val_ds: Any) -> None:
        """Fits the `LogitBlend` weights on the validation logits of the frozen branches and
        records the validation metrics of each branch and of the blend."""
        import keras
        import tensorflow as tf

        # Compiled once for all batch shapes: eager calls would step the RNN in Python.
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def logits_of(tokens):
            return [b(tokens, training=False) for b in branches]

        parts: list[list[np.ndarray]] = [[] for _ in branches]
        ys = []
        for tokens, lab in val_ds:
            for i, z in enumerate(logits_of(tf.cast(tokens, tf.int32))):
                parts[i].append(np.asarray(z))
            ys.append(lab.numpy())
        z = [np.concatenate(p) for p in parts]  # k x (N, O)
        y = np.concatenate(ys)
        blend_layer = self.model_.get_layer("logits")
        metrics: dict[str, Any] = {}
        if len(branches) > 1:
            inputs = [keras.Input(shape=(self.preprocessor_.output_dim,)) for _ in branches]
            blender = keras.Model(inputs, blend_layer(inputs))
            model_lib.compile_branch(blender, self.preprocessor_.output_dim, 0.05)
            blender.fit(z, y, batch_size=len(y), epochs=200, verbose=0)
            blended = blender.predict(z, verbose=0)
            metrics["branch_weights"] = [float(w) for w in np.asarray(blend_layer.branch_weights)]
        else:
            blended = z[0]
        names = self.preprocessor_.class_names
        for branch, zi in zip(branches, z):
            prob = self.preprocessor_.postprocess(zi)["probability"].numpy()
            metrics[f"branch_{branch.name}_accuracy"] = classification_metrics(y, prob, names)[
                "accuracy"
            ]
        prob = self.preprocessor_.postprocess(blended)["probability"].numpy()
        self.validation_report_ = classification_metrics(y, prob, names)
        metrics["blend_accuracy"] = self.validation_report_["accuracy"]
        self.validation_metrics_ = metrics

    # ------------------------------------------------------------------ Task hooks
    def endpoints(self) -> list[Any]:
        """`serving_default`: `text` (B,) tf.string -> `probability`, `label`."""
        import tensorflow as tf

        from rnn_apps.export import Endpoint, xla_on_padded_shapes

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

        def serve(text):
            tokens = pre(text)  # (B,) -> (B, T)
            return pre.postprocess(blend_logits(tokens), has_evidence(text))  # -> (B,), (B,)

        def probabilities(text):
            evidence = has_evidence(text)  # (B,), once for every output
            logits = all_logits(pre(text))
            return {k: pre.postprocess(z, evidence)["probability"] for k, z in logits.items()}

        return [
            Endpoint("serving_default", serve, spec),
            Endpoint("branches", probabilities, spec),
        ]

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
            "inputs": "text: raw UTF-8 strings (invalid bytes replaced, cut at "
            f"{MAX_TEXT_BYTES} bytes, HTML markup stripped)",
            "outputs": (
                "probability: P(positive class) (two classes) or class probabilities; "
                "label: the predicted class name"
            ),
        }

    def track(self) -> list[Any]:
        return [self.preprocessor_.vectorizer, self.model_]

    def get_state(self) -> dict[str, Any]:
        return {
            **self.preprocessor_.get_state(),
            "step_seconds": getattr(self, "step_seconds_", {}),
            "num_distilled": getattr(self, "num_distilled_", 0),
            "num_augmented": getattr(self, "num_augmented_", 0),
            "distill_rounds": getattr(self, "distill_rounds_", []),
            "lm_pretrain": getattr(self, "lm_pretrain_", {}),
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
        self.num_augmented_ = state.get("num_augmented", 0)
        self.distill_rounds_ = state.get("distill_rounds", [])
        self.lm_pretrain_ = state.get("lm_pretrain", {})
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
        texts: Sequence[Any],
        labels: Sequence[Any],
        *,
        output_dir: str | os.PathLike | None = None,
    ) -> dict[str, Any]:
        """Accuracy, precision, recall, F1 (positive class / macro), ROC-AUC, confusion matrix.

        With `output_dir`, writes `confusion_matrix.png`, `learning_curves.png` and
        `metrics.json` there.
        """
        from rnn_apps.reporting import write_json

        self._check_fitted()
        out = evaluate_texts(self, texts, labels, output_dir=output_dir, histories=self.history_)
        if output_dir is not None:
            write_json(Path(output_dir) / "metrics.json", out)
        return out
