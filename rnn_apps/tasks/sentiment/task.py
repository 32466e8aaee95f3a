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
import sys
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
    blend on the validation split), `refit_` (the refit on all labelled texts: its epochs, or
    why it was skipped), `train_seconds_`; after a refit in this process also
    `selection_model_` (the model the validation figures are of; not saved).

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
                RNN branch learns the n-gram branch's probabilities on them (`distill`), the
                word vectors are counted on them (`ppmi_unlabelled`) and the RNN's
                language-model pretraining reads them (`lm_pretrain_epochs`, by default 4
                epochs when unlabelled texts are given). The vocabulary is adapted on the
                labelled training texts only.
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
        held_out = validation is None
        if held_out:
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
        self._clock = time.monotonic()
        out_dim = pre.output_dim
        train_ds = self._dataset(texts, y, train=True)
        val_ds = self._dataset(val_texts, y_val, train=False)
        fixed = None
        if run.multi_worker:
            fixed = self._dataset(texts, y, train=True, fixed_batches=True)
        common = dict(run=run, fixed_batches=fixed, global_batch_size=cfg.batch_size)
        common["shuffle"] = False  # the datasets shuffle themselves
        self.time_budget_exhausted_ = False
        self.refit_: dict[str, Any] = {}
        self.selection_model_ = None

        branches = []
        if cfg.ngram_branch:
            branches.append(self._train_ngram_branch("ngram", train_ds, val_ds, common))
        unlabelled = getattr(self, "_unlabelled", None) or []
        distilling = bool(unlabelled and cfg.distill and branches and not run.multi_worker)
        rounds = cfg.distill_rounds if distilling else 1
        teacher = branches[0] if distilling else None
        self.num_distilled_ = len(unlabelled) if distilling else 0
        self.num_augmented_ = 0
        self.distill_rounds_: list[dict[str, float]] = []
        # Computed once per fit: the word vectors (from the training batches, or the
        # training + unlabelled ones) and the pretrained encoder.
        self._rnn_init: dict[str, Any] = {"train_ds": train_ds, "pretrained": None}
        self.lm_pretrain_: dict[str, Any] = {}
        best: tuple[float, Any, dict[str, Any], dict[str, Any]] | None = None
        for r in range(1, rounds + 1):
            name = "rnn" if r == 1 else f"rnn_round{r}"
            suffix = "" if r == 1 else f"_round{r}"
            rnn = self._train_rnn_branch(
                name, texts, y, train_ds, teacher, unlabelled, val_ds, common, seed=cfg.seed + r
            )
            self.model_ = model_lib.build_sentiment_model([*branches, rnn], out_dim)
            with step("Fitting the branch blend on the validation texts", cfg.verbose):
                self._fit_blend([*branches, rnn], val_ds)
            self._lap("blend" + suffix)
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
        if cfg.refit and held_out:
            kept = int(self.validation_metrics_.get("distill_round_kept", 1))
            self._refit(
                texts + val_texts,
                np.concatenate([y, y_val]),
                unlabelled if distilling else [],
                kept,
                common,
            )
        self.epochs_ = {k: len(h.get("loss", [])) for k, h in self.history_.items()}

    def _train_ngram_branch(
        self,
        name: str,
        train_ds: Any,
        val_ds: Any,
        common: dict[str, Any],
        epochs: int | None = None,
        learning_rates: Sequence[float] | None = None,
    ) -> Any:
        """Builds the n-gram branch, counts its n-gram weights on `train_ds` and trains it:
        early-stopped on `val_ds`, or (refit, `val_ds` None) for `epochs` epochs at the
        per-epoch `learning_rates` of the selection run."""
        from rnn_apps.progress import step

        cfg, pre, run = self.config, self.preprocessor_, common["run"]
        with run.strategy.scope():
            ngram = model_lib.build_ngram_branch(cfg, pre.vocabulary_size, pre.output_dim)
            with step("Counting n-gram document frequencies", cfg.verbose):
                nb = cfg.ngram_weighting == "nb" and pre.output_dim == 1
                model_lib.set_ngram_weights(ngram, train_ds, nb=nb)
            model_lib.compile_branch(ngram, pre.output_dim, cfg.ngram_learning_rate)
        self.train_model(
            ngram,
            train_ds,
            val_ds,
            name=name,
            epochs=epochs or cfg.ngram_epochs,
            callbacks=_replay(learning_rates),
            **common,
        )
        self._lap(name)
        return ngram

    def _train_rnn_branch(
        self,
        name: str,
        texts: Sequence[str],
        y: np.ndarray,
        labelled_ds: Any,
        teacher: Any,
        unlabelled: Sequence[str],
        val_ds: Any,
        common: dict[str, Any],
        *,
        seed: int,
        epochs: int | None = None,
        learning_rates: Sequence[float] | None = None,
    ) -> Any:
        """Builds and trains the RNN branch on the labelled `texts` (`labelled_ds`: their
        training batches) plus, with a `teacher`,
        the `unlabelled` texts (and `distill_augment` chopped copies) with the teacher's
        targets. Its embedding starts from the word vectors and its encoder from the
        language-model pretraining, both computed once per `fit` (`self._rnn_init`).
        Early-stopped on `val_ds` (validating the weight average), or (refit, `val_ds` None)
        trained for `epochs` epochs at the per-epoch `learning_rates` of the selection run."""
        from rnn_apps.progress import step

        cfg, pre, run = self.config, self.preprocessor_, common["run"]
        suffix = name[len("rnn") :]
        num_texts = len(texts)
        if teacher is None:
            rnn_ds = labelled_ds
        else:
            what = f"Labelling {len(unlabelled)} unlabelled texts ({name} teacher)"
            extra = list(unlabelled)
            if cfg.distill_augment:  # chopped, word-dropped copies, labelled by the teacher
                augmented = chopped_segments(list(texts) + extra, cfg.distill_augment, seed=seed)
                extra += augmented
                self.num_augmented_ = len(augmented)
                what += f" and {len(augmented)} augmented segments"
            with step(what, cfg.verbose):
                soft = self._teacher_targets(teacher, extra)
            targets = np.concatenate([y.astype(soft.dtype), soft])
            rnn_ds = self._dataset(list(texts) + extra, targets, train=True)
            num_texts += len(extra)
            self._lap("distillation_targets" + suffix)
        with run.strategy.scope():
            rnn = model_lib.build_rnn_branch(cfg, pre.vocabulary_size, pre.output_dim)
            # The average spans at most about half an epoch, so that a small dataset
            # trains as without it (momentum <= 1 - 2 / steps per epoch).
            steps = -(-num_texts // cfg.batch_size)
            ema = min(cfg.ema_momentum, max(0.0, 1.0 - 2.0 / steps))
            model_lib.compile_branch(rnn, pre.output_dim, cfg.learning_rate, ema)
        init = self._rnn_init
        if cfg.embedding_init == "ppmi":
            embedding = rnn.get_layer("rnn_classifier").get_layer("embedding")
            if "rows" not in init:  # the same word vectors start every round and the refit
                init["rows"] = int(embedding.input_dim)
                # Reuse the distillation batches when they hold exactly texts + unlabelled
                # (word vectors never count the augmented copies).
                tokenised = rnn_ds if teacher is not None and not cfg.distill_augment else None
                init["vectors"] = self._word_vectors(
                    init["rows"], init["train_ds"], tokenised, texts, y, unlabelled
                )
                self._lap("word_vectors")
            if init["vectors"] is not None:
                embedding.embeddings.assign(init["vectors"])
        lm_epochs = self._lm_pretrain_epochs()
        if lm_epochs and not _default_strategy(run.strategy):
            if not self.lm_pretrain_ and cfg.verbose:
                print(
                    "Language-model pretraining skipped: its training loop does not run under "
                    f"{type(run.strategy).__name__}.",
                    file=sys.stderr,
                )
            self.lm_pretrain_ = {"skipped": "not under a tf.distribute strategy"}
        if lm_epochs and "skipped" not in self.lm_pretrain_:
            # the same pretrained encoder starts every round and the refit
            first = init["pretrained"] is None
            init["pretrained"] = self._pretrained_encoder(rnn, rnn_ds, init["pretrained"], run)
            if first:
                self._lap("lm_pretrain")
        trainee = rnn
        if cfg.adversarial_epsilon > 0 and not run.multi_worker:
            from rnn_apps.adversarial import AdversarialTrainer

            embedding = rnn.get_layer("rnn_classifier").get_layer("embedding")
            with run.strategy.scope():
                trainee = AdversarialTrainer(rnn, embedding, cfg.adversarial_epsilon, name=name)
                model_lib.compile_branch(trainee, pre.output_dim, cfg.learning_rate, ema)
        callbacks = _replay(learning_rates)
        if ema > 0 and val_ds is not None:
            from rnn_apps.callbacks import ValidateOnAverage

            callbacks.append(ValidateOnAverage())
        self.train_model(
            trainee,
            rnn_ds,
            val_ds,
            name=name,
            epochs=epochs or cfg.epochs,
            callbacks=callbacks,
            **common,
        )
        if trainee is not rnn:
            # The wrapper's optimizer did the steps: the branch saves it, so that a reloaded
            # model finds the optimizer state it had (and Keras does not warn on loading).
            rnn.optimizer = trainee.optimizer
        self._lap(name)
        return rnn

    def _refit(
        self,
        texts: list[str],
        y: np.ndarray,
        unlabelled: Sequence[str],
        kept_round: int,
        common: dict[str, Any],
    ) -> None:
        """Trains the selected branches again on all the labelled texts (training +
        validation split) for the epochs selected on the validation split, replaying its
        learning rates, and blends them with the selected blend weights (`config.refit`).
        The selected model stays in `selection_model_`; `refit_` records what was done, or
        why it was skipped (multi-worker, a later distillation round kept, not enough time
        left)."""
        cfg, run = self.config, common["run"]
        rnn_name = "rnn" if kept_round == 1 else f"rnn_round{kept_round}"
        plan: dict[str, tuple[int, list[float]]] = {}
        if cfg.ngram_branch:
            plan["ngram"] = _selected_epochs(self.history_["ngram"], cfg.ngram_learning_rate)
        plan[rnn_name] = _selected_epochs(self.history_[rnn_name], cfg.learning_rate)
        seconds = {
            name: self.step_seconds_.get(name, 0.0) / max(len(self.history_[name]["loss"]), 1)
            for name in plan
        }
        estimate = sum(seconds[n] * plan[n][0] * 1.25 for n in plan)
        left = run.minutes_left()
        why = None
        if run.multi_worker:
            why = "multi-worker training"
        elif kept_round > 1:
            why = f"distillation round {kept_round} was kept (the refit repeats round 1 only)"
        elif self.time_budget_exhausted_:
            why = "the time budget ran out before the model selection ended"
        elif left is not None and estimate > 60.0 * left:
            why = f"it needs about {estimate / 60:.1f} min and {left:.1f} min are left"
        if why is not None:
            self.refit_ = {"skipped": why}
            if cfg.verbose:
                print(f"Refit on all labelled texts skipped: {why}.", file=sys.stderr)
            return
        if cfg.verbose:
            epochs = ", ".join(f"{n} {e}" for n, (e, _) in plan.items())
            print(
                f"Refitting on all {len(texts)} labelled texts for the selected epochs "
                f"({epochs}) ...",
                file=sys.stderr,
                flush=True,
            )
        start = time.monotonic()
        all_ds = self._dataset(texts, y, train=True)
        branches = []
        if cfg.ngram_branch:
            epochs, rates = plan["ngram"]
            branches.append(
                self._train_ngram_branch("ngram_refit", all_ds, None, common, epochs, rates)
            )
        epochs, rates = plan[rnn_name]
        teacher = branches[0] if unlabelled else None
        rnn = self._train_rnn_branch(
            "rnn_refit",
            texts,
            y,
            all_ds,
            teacher,
            unlabelled,
            None,
            common,
            seed=cfg.seed + 1,
            epochs=epochs,
            learning_rates=rates,
        )
        if self.time_budget_exhausted_:
            self.refit_ = {"skipped": "the time budget ran out during the refit"}
            return
        model = model_lib.build_sentiment_model([*branches, rnn], self.preprocessor_.output_dim)
        model.get_layer("logits").set_weights(self.model_.get_layer("logits").get_weights())
        self.selection_model_, self.model_ = self.model_, model
        self.refit_ = {
            "num_texts": len(texts),
            "epochs": {name: plan[name][0] for name in plan},
            "seconds": round(time.monotonic() - start, 1),
        }

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
        epochs = self._lm_pretrain_epochs()
        with step(
            f"Pretraining the RNN encoder as a language model ({epochs} "
            "epochs, forward and backward)",
            cfg.verbose,
        ):
            self.lm_pretrain_ = pretrain_encoder(
                rnn,
                batches,
                epochs=epochs,
                num_sampled=cfg.lm_num_sampled,
                learning_rate=cfg.learning_rate,
                seed=cfg.seed,
                # at most half of the time left, the rest is for learning the labels
                deadline=None if run.deadline is None else (time.monotonic() + run.deadline) / 2,
                verbose=cfg.verbose,
            )
        return {name: layer.get_weights() for name, layer in layers.items()}

    def _lm_pretrain_epochs(self) -> int:
        """`config.lm_pretrain_epochs`, or with None 4 when `fit` got unlabelled texts, else 0."""
        epochs = self.config.lm_pretrain_epochs
        if epochs is None:
            return 4 if getattr(self, "_unlabelled", None) else 0
        return int(epochs)

    def _lap(self, name: str) -> None:
        """Records the seconds since the previous step as step `name`."""
        now = time.monotonic()
        self.step_seconds_[name] = round(now - self._clock, 1)
        self._clock = now

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
            # 200 full-batch steps, as one epoch (200 Keras epochs cost seconds of overhead).
            steps = tf.data.Dataset.from_tensors((tuple(z), y)).repeat(200)
            blender.fit(steps, epochs=1, shuffle=False, verbose=0)
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
        self.num_augmented_ = state.get("num_augmented", 0)
        self.distill_rounds_ = state.get("distill_rounds", [])
        self.lm_pretrain_ = state.get("lm_pretrain", {})
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


def _replay(learning_rates: Sequence[float] | None) -> list[Any]:
    """[a callback setting the learning rate of epoch i to `learning_rates[i]`] (the last one
    after them), or [] without rates."""
    if not learning_rates:
        return []
    import keras

    rates = [float(r) for r in learning_rates]
    return [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: rates[min(epoch, len(rates) - 1)])
    ]


def _selected_epochs(
    history: dict[str, list[float]], learning_rate: float
) -> tuple[int, list[float]]:
    """(epochs up to the best validation loss, the learning rate of each of them) of a
    branch's selection run (`EarlyStopping` kept that epoch's weights)."""
    losses = history.get("val_loss") or history["loss"]
    epochs = int(np.argmin(losses)) + 1
    rates = history.get("learning_rate") or [learning_rate]
    return epochs, [float(r) for r in rates[:epochs]]


def _default_strategy(strategy: Any) -> bool:
    """True for TensorFlow's default (one-device) strategy."""
    import tensorflow as tf

    return strategy is tf.distribute.get_strategy()
