"""`TextGenerator`: character- and word-level recurrent language models on the `Task` base.

Pipeline: a text corpus (tiny Shakespeare or user `.txt` files, split contiguously 90/10) ->
tokens (every Unicode character, or words and punctuation with an OOV token) -> ids through
the `Vocabulary`'s Keras `StringLookup`, which travels with the export -> a stacked LSTM/GRU
(`model.build_lm`) trained on contiguous windows (optionally stateful truncated BPTT) with a
warm-up + cosine schedule -> validation cross-entropy (nats/token, bits/char, perplexity) ->
generation by step-by-step sampling in the graph (`sampling.LMGraph`) -> a SavedModel with
`generate` and `score` signatures that needs nothing but TensorFlow; or (`export(format=
"litert" | "onnx")`) the one-pass `core()`, ids (B, T) -> next-token `logits` (B, V), for a
client that samples itself.

Inference is written once (`inference`): `generate`, `score` and `evaluate` run the export's
own signature functions in process (`Task.run`), so a `SavedModelPredictor` of the export
gives the same results through the same code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.textgen import inference
from rnn_apps.tasks.textgen.config import TextGenConfig
from rnn_apps.tasks.textgen.preprocessor import (
    NEWLINE_TOKEN,
    OOV_ID,
    PAD_ID,
    Vocabulary,
    stateful_dataset,
    unigram_logits,
    windows_dataset,
)
from rnn_apps.tasks.textgen.sampling import (
    MAX_GENERATE_BATCH,
    MAX_NEW_TOKENS_CAP,
    MAX_PROMPT_CHARS,
    MAX_SCORE_BATCH_TOKENS,
    MAX_SCORE_CHARS,
    SERVING_DEFAULTS,
    LMGraph,
    generate_signature,
    score_signature,
    streaming_signatures,
)


class TextGenerator(Task):
    """A recurrent language model: fit on text, score text, generate text, export.

    Example:
        >>> lm = TextGenerator(TextGenConfig(units=256, epochs=2)).fit(train_text, val_text)
        >>> lm.generate("ROMEO:", max_new_tokens=200, temperature=0.8, seed=1)
        >>> lm.export("saved_models/my_lm")

    With a validation text, `fit` keeps the weights of the epoch with the best validation
    loss. Learned state (set by `fit` or `load`): `vocab_` (the preprocessor), `model_`
    (stateless Keras model), `unigram_logits_`, `chars_per_token_`, `steps_per_epoch_`, `steps_run_`
    (optimizer steps, a resumed run's included), `history_`
    (`{"lm": {"loss", "val_loss", "lr": [per epoch]}}`), `train_seconds_`.
    """

    task_name: ClassVar[str] = "textgen"
    #: 2: `generate` refuses more than MAX_GENERATE_BATCH prompts and sizes its buffer by
    #: `max_new_tokens`; `score` refuses more than MAX_SCORE_BATCH_TOKENS token cells.
    contract_version: ClassVar[int] = 2
    config_class: ClassVar[type[TextGenConfig]] = TextGenConfig
    config: TextGenConfig

    _sample_prompts: Sequence[str] = ("\n", "")
    _sample_texts: Sequence[str] = ("To be, or not to be", "")

    # ------------------------------------------------------------------ fit hooks
    def _check_strategy(self, strategy: Any) -> Any:
        from rnn_apps.training import is_multi_worker

        if strategy == "multi_worker" or (
            not isinstance(strategy, str) and strategy is not None and is_multi_worker(strategy)
        ):
            raise UserInputError(
                "textgen does not support strategy 'multi_worker' yet (its schedule and "
                "validation callbacks need Keras fit): use 'default' or 'mirrored'."
            )
        return strategy

    def _fit(self, train: Any, validation: Any, run: FitRun) -> None:
        import keras

        from rnn_apps.tasks.textgen.callbacks import (
            EpochValidation,
            ResetStates,
            WarmupCosineSchedule,
        )
        from rnn_apps.tasks.textgen.model import build_lm, compile_lm

        c = self.config
        if not isinstance(train, str) or not train:
            raise UserInputError("The training text is empty: give the text to learn from.")
        if validation is not None and not isinstance(validation, str):
            raise UserInputError("The validation text must be a string (or None).")
        self.vocab_ = Vocabulary.build(train, c.level, max_vocab=c.max_vocab, lowercase=c.lowercase)
        v = self.vocab_.size
        ids = self.vocab_.encode_text(train)
        self.unigram_logits_ = unigram_logits(ids, v)
        self.chars_per_token_ = len(train) / max(len(ids), 1)
        if c.stateful:
            ds, steps = stateful_dataset(ids, c.seq_len, c.batch_size)
        else:
            ds, steps = windows_dataset(ids, c.seq_len, c.batch_size, c.seed)
        self.steps_per_epoch_ = steps
        with run.strategy.scope():
            train_model = compile_lm(build_lm(c, v, stateful=c.stateful), c)
        eval_model = build_lm(c, v) if c.stateful else train_model
        self.model_ = eval_model
        self._set_graph()
        callbacks: list[Any] = [
            WarmupCosineSchedule(c, steps * c.epochs, run.deadline),
            EpochValidation(self, eval_model, validation or None),
        ]
        if validation:  # keep the best validation epoch (never stops early: the schedule
            # runs to its end); after EpochValidation, which writes `val_loss`
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=c.epochs, restore_best_weights=True
                )
            )
        if c.stateful:
            callbacks.insert(0, ResetStates())
        self.train_model(
            train_model,
            ds,
            None,
            run=run,
            name="lm",
            epochs=c.epochs,
            reduce_lr_on_plateau=False,
            callbacks=callbacks,
            steps_per_epoch=steps,
            shuffle=False,  # the dataset shuffles its windows itself
        )
        self.steps_run_ = int(train_model.optimizer.iterations.numpy())
        if c.stateful:
            eval_model.set_weights(train_model.get_weights())

    def _set_graph(self) -> None:
        self._graph = LMGraph(self.model_, self.vocab_, self.unigram_logits_)
        self._signature_fns = {}

    # ------------------------------------------------------------------ export hooks
    def endpoints(self) -> list[Any]:
        """`generate`, `score`, `serving_default` (`prompt` only, the `SERVING_DEFAULTS`),
        and the streaming pair `initial_state` (prompt -> state, logits) and `step` (token,
        state -> logits, state); see `sampling` for the contract."""
        from rnn_apps.export import Endpoint

        graph = self._graph

        def generate_fn(prompt, max_new_tokens, temperature, top_k, top_p, seed):
            return {"text": graph.generate(prompt, max_new_tokens, temperature, top_k, top_p, seed)}

        def score_fn(text):
            return graph.score(text)

        d = SERVING_DEFAULTS

        def serving_default_fn(prompt):
            return generate_fn(
                prompt, d["max_new_tokens"], d["temperature"], d["top_k"], d["top_p"], d["seed"]
            )

        streaming = streaming_signatures()
        return [
            Endpoint("generate", generate_fn, generate_signature()),
            Endpoint("score", score_fn, score_signature()),
            Endpoint("serving_default", serving_default_fn, generate_signature()[:1]),
            Endpoint("initial_state", graph.initial_state, streaming["initial_state"]),
            Endpoint("step", graph.stream_step, streaming["step"]),
        ]

    def core(self) -> Any:
        """One forward pass, for LiteRT and ONNX: `token_ids` (B, T) int32, right-padded with
        0 -> `logits` (B, V) float32, the next token's logits after each row's last id (the
        training unigram logits for a row of padding alone: the first token of a text), as
        `generate` samples from after a prompt (`LMGraph.run_prompt`, on dense ids). The
        sampling (temperature, top-k, top-p, never ids 0 and 1) stays with the client, which
        appends the drawn id and calls again. Its `step` signature streams instead (O(1) per
        token): `token` (B,) int32, `state` (B, S) -> `logits` (B, V), `state` (B, S), from
        a zero state and the metadata's `unigram_logits` for an empty text."""
        import tensorflow as tf

        from rnn_apps.portable import Core, CoreSignature

        self._check_fitted()
        graph = self._graph

        def fn(token_ids: Any) -> dict[str, Any]:
            logits = graph.run_dense(token_ids)[1]  # (B, T) -> (B, V)
            return {"logits": tf.cast(logits, tf.float32)}

        texts = [*self._sample_texts, *self._sample_prompts]
        ids = self.vocab_(tf.constant(texts)).numpy().astype("int32")  # (B, T), 0-padded
        ids = np.pad(ids, [(0, 0), (0, max(1 - ids.shape[1], 0))])
        level = (
            "every Unicode character (invalid UTF-8 -> U+FFFD)"
            if self.vocab_.level == "char"
            else "runs of letters, digits and _, every other non-space character alone, "
            f"each newline as the token {NEWLINE_TOKEN}"
            + (", lower-cased" if self.vocab_.lowercase else "")
        )
        prompts = np.asarray(list(self._sample_prompts), dtype=object)
        start = graph.initial_state(tf.constant(prompts))  # realistic states to step from
        step = CoreSignature(
            fn=lambda token, state: graph.stream_step(token, state, checks=False),
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="token"),
                tf.TensorSpec([None, sum(graph.state_sizes)], tf.float32, name="state"),
            ],
            sample_inputs={
                "token": np.asarray(start["logits"]).argmax(axis=1).astype("int32"),
                "state": np.asarray(start["state"]),
            },
        )
        return Core(
            fn=fn,
            input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")],
            sample_inputs={"token_ids": ids},
            track=[self.model_],
            signatures={"step": step},
            metadata={
                "state_sizes": graph.state_sizes,
                "unigram_logits": np.asarray(self.unigram_logits_, "float32").tolist(),
            },
            client=f"token_ids: the text's tokens ({level}), each id = 2 + its index in "
            "metadata vocabulary (1 = [UNK] if absent), right-padded with 0 (the whole text "
            f"so far, or its last {self.config.seq_len} ids, the training window, to bound "
            "the cost per token); logits: (B, vocab_size) of the next token, from which the "
            "client samples (temperature, top-k, top-p; never ids 0 and 1), appends the id "
            "and calls again; ids -> text through metadata vocabulary. Streaming: signature "
            "`step` (token, state -> logits, state), starting from a zero state (width "
            "sum(state_sizes)) and `unigram_logits`, one call per token.",
        )

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            "generate": {
                "prompt": np.asarray(list(self._sample_prompts), dtype=object),
                "max_new_tokens": np.int32(24),
                "temperature": np.float32(0.8),
                "top_k": np.int32(0),
                "top_p": np.float32(0.95),
                "seed": np.int32(1234),
            },
            "score": {"text": np.asarray(list(self._sample_texts), dtype=object)},
            "serving_default": {"prompt": np.asarray(list(self._sample_prompts), dtype=object)},
            "initial_state": {"prompt": np.asarray(list(self._sample_prompts), dtype=object)},
            "step": {
                "token": np.full(len(self._sample_prompts), 2, np.int32),
                "state": np.zeros(
                    (len(self._sample_prompts), sum(self._graph.state_sizes)), np.float32
                ),
            },
        }

    def export_metadata(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "level": self.vocab_.level,
            "vocab_size": self.vocab_.size,
            "vocabulary": list(self.vocab_.tokens),
            "lowercase": self.vocab_.lowercase,
            "ids": "0 = padding, 1 = OOV [UNK], 2.. = vocabulary",
            "state_sizes": self._graph.state_sizes,
            "streaming": "initial_state(prompt) -> state, logits; then step(token, state) -> "
            "logits, state for each token the client draws (never ids 0 and 1): O(1) state "
            "per stream, the same logits as the whole text run at once",
            "val_chunks": self.config.val_chunks,
            "max_new_tokens_cap": MAX_NEW_TOKENS_CAP,
            "max_prompt_chars": MAX_PROMPT_CHARS,
            "max_score_chars": MAX_SCORE_CHARS,
            "max_generate_batch": MAX_GENERATE_BATCH,
            "max_score_batch_tokens": MAX_SCORE_BATCH_TOKENS,
            "generate": (
                "prompt + continuation; at most max_generate_batch prompts of at most "
                "max_prompt_chars characters (an empty batch returns an empty batch); "
                "max_new_tokens <= 0 -> prompt unchanged, "
                "> cap -> error; temperature <= 0 -> greedy; top_k 0 = off, < 0 -> error; "
                "top_p in (0, 1], 1.0 = off; same seed -> same text; empty prompt starts from "
                "the initial state; unknown tokens are fed as OOV"
            ),
            "serving_defaults": dict(SERVING_DEFAULTS),
            "serving_default": "generate with only prompt, the other arguments serving_defaults",
            "score": (
                "nll_per_token: mean NLL in nats per token, state carried through the text "
                "(NaN if it has no tokens); num_tokens; texts of at most max_score_chars "
                "characters, texts x tokens of the longest at most max_score_batch_tokens"
            ),
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab_.to_dict(),
            "unigram_logits": [float(x) for x in self.unigram_logits_],
            "chars_per_token": float(self.chars_per_token_),
            "steps_per_epoch": getattr(self, "steps_per_epoch_", None),
            "steps_run": getattr(self, "steps_run_", None),
        }

    def set_state(self, state: Mapping[str, Any], model_file: Path) -> None:
        super().set_state(state, model_file)
        self.vocab_ = Vocabulary.from_dict(state["vocab"])
        self.unigram_logits_ = np.asarray(state["unigram_logits"], np.float32)
        self.chars_per_token_ = float(state.get("chars_per_token", 1.0))
        self.steps_per_epoch_ = state.get("steps_per_epoch")
        self.steps_run_ = state.get("steps_run")
        self._set_graph()

    def export(
        self,
        path: str | os.PathLike,
        *,
        metadata: Mapping[str, Any] | None = None,
        verify: bool = True,
        sample_prompts: Sequence[str] | None = None,
        sample_texts: Sequence[str] | None = None,
        format: str = "saved_model",
        quantize: bool = False,
        batch_size: int = 1,
    ) -> Any:
        """Writes a verified SavedModel with the `generate` and `score` signatures, or the
        one-pass `core()` as LiteRT or ONNX (`format`, `quantize`, `batch_size`: see
        `Task.export`).

        Signatures:
            generate(prompt: string [None], max_new_tokens: int32 [], temperature: float32 [],
                top_k: int32 [], top_p: float32 [], seed: int32 []) -> text: string [None]
                at most `MAX_GENERATE_BATCH` prompts, each at most `MAX_PROMPT_CHARS`
                characters.
            serving_default(prompt: string [None]) -> text: string [None]; `generate` with
                `SERVING_DEFAULTS` (200 new tokens, temperature 1, seed 0).
            score(text: string [None]) -> nll_per_token: float32 [None], num_tokens: int32
                [None]; each text at most `MAX_SCORE_CHARS` characters, texts x tokens of the
                longest at most `MAX_SCORE_BATCH_TOKENS`.

        Args:
            path: Destination folder.
            metadata: Extra facts for `metadata.json`.
            verify: Verify in a clean process before moving into place.
            sample_prompts, sample_texts: Inputs to verify `generate` / `score` with (and
                the core, their ids).
            format: `"saved_model"`, `"litert"` or `"onnx"`.
            quantize: Dynamic-range int8 weights (LiteRT).
            batch_size: LiteRT's fixed batch.

        Returns:
            The `rnn_apps.export.ExportReport` (`PortableReport` for LiteRT and ONNX).
        """
        if sample_prompts is not None:
            self._sample_prompts = tuple(sample_prompts)
        if sample_texts is not None:
            self._sample_texts = tuple(sample_texts)
        return super().export(
            path, metadata=metadata, verify=verify, format=format, quantize=quantize,
            batch_size=batch_size,
        )  # fmt: skip

    # ------------------------------------------------------------------ input data
    def raw_from_examples(self, examples: Any, text_column: str | None = None) -> str:
        """One text: feature `text_column` (default `text`, else `x`) of every example, in
        order (tiny Shakespeare holds its whole text in one example)."""
        from rnn_apps.data.tfds import joined_text

        return joined_text(examples, text_column)

    # ------------------------------------------------------------------ public API
    def evaluate(
        self, text: str | Any, *, chunks: int | None = None, data_options: Any = None
    ) -> dict[str, float]:
        """Cross-entropy of `text` under the model, the state carried through each chunk.

        Args:
            text: The text (e.g. the validation split), any length; or a `tf.data.Dataset` /
                TFDS name (`"tfds:tiny_shakespeare"`: its `test` split unless `data_options`
                names another), see `Task.raw_data`.
            chunks: Score the text as this many contiguous chunks (parallel rows); defaults to
                `config.val_chunks` (more when a chunk would exceed `MAX_SCORE_CHARS`).
            data_options: How a dataset or TFDS name is read (`data_dir`, `split`, ...).

        Returns:
            `nats_per_token`, `bits_per_token`, `bits_per_char`, `perplexity`, `num_tokens`,
            `num_chars`.
        """
        self._check_fitted()
        text = self.raw_data(text, **dict(data_options or {}))
        return inference.evaluate_text(self, text, chunks=chunks or self.config.val_chunks)

    def score(self, texts: str | Sequence[str]) -> np.ndarray:
        """Mean NLL (nats per token) of each text (B,), the state carried; NaN for an empty
        text; [] -> an empty array.

        Raises:
            UserInputError: a text over `MAX_SCORE_CHARS` characters (use `evaluate`), or not
                a string / 1-D list of strings.
        """
        self._check_fitted()
        return inference.score_texts(self, texts)[0]

    def generate(
        self,
        prompt: str | Sequence[str] = "",
        *,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        num_samples: int = 1,
        stop: str | None = None,
    ) -> list[str]:
        """Samples continuations of one or several prompts (see
        `rnn_apps.tasks.textgen.inference.generate_texts` for the arguments and caps).

        Returns:
            `len(prompts) * num_samples` texts (prompt + continuation), prompt-major.

        Raises:
            UserInputError: for a bad argument, a prompt over `MAX_PROMPT_CHARS` characters, or
                a prompt array that is not 1-D.
        """
        self._check_fitted()
        return inference.generate_texts(
            self,
            prompt,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            num_samples=num_samples,
            stop=stop,
        )

    def generate_naive(
        self, prompt: str, max_new_tokens: int, *, temperature: float = 1.0, seed: int = 0
    ) -> str:
        """The seeds' way, for the benchmark only: re-run the model on the whole prefix per
        token (cost grows with the square of the length; `generate` does the same job with one
        recurrent step per token)."""
        import tensorflow as tf

        self._check_fitted()
        fn = getattr(self, "_last_logits_fn", None)
        if fn is None:
            model = self.model_
            fn = tf.function(
                lambda x: model(x, training=False)[:, -1, :],
                input_signature=[tf.TensorSpec([1, None], tf.int32)],
            )
            self._last_logits_fn = fn
        rng = np.random.default_rng(seed)
        ids = [int(i) for i in self.vocab_.encode_text(prompt)] if prompt else []
        new: list[int] = []
        forbid = np.zeros(self.vocab_.size, bool)
        forbid[[PAD_ID, OOV_ID]] = True
        for _ in range(max_new_tokens):
            if ids:
                logits = fn(np.asarray([ids], np.int32)).numpy()[0].astype(np.float64)
            else:
                logits = self.unigram_logits_.astype(np.float64)
            logits = np.where(forbid, -np.inf, logits / max(temperature, 1e-6))
            p = np.exp(logits - logits.max())
            tok = int(rng.choice(len(p), p=p / p.sum()))
            ids.append(tok)
            new.append(tok)
        toks = [self.vocab_.tokens[i - 2] for i in new]
        if self.vocab_.level == "char":
            return prompt + "".join(toks)
        return prompt + " " + " ".join(toks)


def plot_learning_curve(history: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """PNG of training (windows) and validation (state carried) cross-entropy per epoch.

    Args:
        history: `TextGenerator.history_` (`{"lm": {"loss": [...], "val_loss": [...]}}`) or
            one Keras history.
        path: Where to write the PNG.
    """
    from rnn_apps import reporting

    histories = {"lm": history} if "loss" in history else dict(history)
    return reporting.plot_learning_curves(
        histories, path, metrics=("loss",), title="cross-entropy (nats/token)"
    )
