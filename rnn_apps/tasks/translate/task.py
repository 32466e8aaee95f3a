"""`Translator`: sentence -> translation, an attention encoder-decoder on the `Task` base.

`translate(text) = detokenize(decode(model, encode_source(text)))`, one graph in process
(`Task.run`) and in the export:

1. `TranslatePreprocessor.encode_source` (adapted on the training pairs only): standardise,
   look up, cut at `max_tokens` -> (B, S) ids;
2. `decoding.decode`: the encoder, then greedy or beam search over the one-step decoder
   (`tf.while_loop`) -> (B, L) ids, (B,) length-normalised log-probabilities;
3. `TranslatePreprocessor.detokenize` -> (B,) clean sentences; blank inputs -> "".

Export: `translate`: `text` tf.string [None], `beam_width` int32 [], `max_length` int32 []
-> `translation` tf.string [None], `score` float32 [None]; `serving_default`: `text` only,
the configured `beam_width` and `max_decode_length`. Both refuse more than
`MAX_TRANSLATE_BATCH` sentences, a `beam_width` outside 1..`MAX_BEAM_WIDTH` and a
`max_length` outside 1..`MAX_DECODE_CAP` (InvalidArgumentError naming the argument).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.translate import model as model_lib
from rnn_apps.tasks.translate.config import MAX_DECODE_CAP, TranslateConfig
from rnn_apps.tasks.translate.decoding import Decoder, decode, greedy_decode
from rnn_apps.tasks.translate.metrics import evaluate_pairs, translate_texts
from rnn_apps.tasks.translate.preprocessor import MAX_TEXT_BYTES, TranslatePreprocessor

#: Sentences the export is verified with (blank, punctuation, unknown words, emoji, bad
#: bytes, a very long sentence).
SAMPLE_TEXTS = [
    b"I am cold.",
    b"",
    b"   ",
    b"Where is the zzqxwv?",
    "Tom is happy \U0001f600".encode(),
    b"\xff\xfe bad \xc3\x28 bytes",
    b"very " * 80 + b"long.",
]
MAX_BEAM_WIDTH = 16
#: Most sentences in one call of an exported signature (memory grows with sentences x beam
#: width x source tokens x units; `translate_texts` sends batches of 64).
MAX_TRANSLATE_BATCH = 256


def as_pairs(data: Any, direction: str = "en-fr") -> tuple[list[str], list[str]]:
    """Training pairs -> (sources, targets).

    Accepts a DataFrame with `source`/`target` columns (`split_pairs`), one with
    `english`/`french` columns (oriented by `direction`), or a sequence of
    `(source, target)` tuples.
    """
    if isinstance(data, pd.DataFrame):
        if {"source", "target"} <= set(data.columns):
            return data["source"].astype(str).tolist(), data["target"].astype(str).tolist()
        if {"english", "french"} <= set(data.columns):
            src, tgt = ("english", "french") if direction == "en-fr" else ("french", "english")
            return data[src].astype(str).tolist(), data[tgt].astype(str).tolist()
        raise UserInputError(
            f"The pairs DataFrame needs source/target or english/french columns, has "
            f"{list(data.columns)}."
        )
    try:
        pairs = [(str(s), str(t)) for s, t in data]
    except (TypeError, ValueError) as err:
        raise UserInputError(
            "Pairs must be a DataFrame or a sequence of (source, target) tuples."
        ) from err
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _dense_and_lengths(source: Any, target: Any) -> tuple[Any, Any, Any, Any]:
    """Ragged (B, None) pairs -> padded ids and row lengths (tf.data cannot unbatch ragged
    rows into plain tensors)."""
    import tensorflow as tf

    return (
        source.to_tensor(),
        tf.cast(source.row_lengths(), tf.int32),
        target.to_tensor(),
        tf.cast(target.row_lengths(), tf.int32),
    )


class Translator(Task):
    """English <-> French translator, trained with `fit`, exported with `export`.

    Learned state after `fit` or `load`: `preprocessor_`, `model_` (the teacher-forcing
    training model), `encoder_` and `decoder_` (its inference parts), `history_`,
    `epochs_`, `train_seconds_`, `weight_average_` (validation loss of the raw and the
    averaged weights and which was kept; None without `ema_momentum`),
    `word_vector_coverage_` (with `word_vectors`: the share of the source vocabulary found).

    Example:
        >>> splits = split_pairs(load_fra_eng())
        >>> tr = Translator(TranslateConfig(epochs=10)).fit(splits.train, splits.validation)
        >>> tr.translate(["I am cold."])              # ['J'ai froid.']
        >>> tr.evaluate(splits.test)["bleu"]
        >>> tr.export("exported/translate_en_fr")
    """

    task_name: ClassVar[str] = "translate"
    #: 2: the signatures refuse more than MAX_TRANSLATE_BATCH sentences and a beam_width or
    #: max_length out of range (contract 1 clipped them silently).
    contract_version: ClassVar[int] = 2
    config_class: ClassVar[type[TranslateConfig]] = TranslateConfig
    model_file: ClassVar[str] = "model.weights.h5"
    config: TranslateConfig

    # ------------------------------------------------------------------ input data
    def raw_from_examples(
        self, examples: Any, source_column: str | None = None, target_column: str | None = None
    ) -> pd.DataFrame:
        """Pairs (`source`/`target` DataFrame) of the features `source_column` and
        `target_column`; by default `source`/`target`, else the languages of `direction`
        (ted_hrlr_translate-style `{language: text}` features: `en`, `fr`), else `x`/`y`."""
        from rnn_apps.data.tfds import text_pairs

        languages = (self.config.source_language, self.config.target_language)
        return text_pairs(examples, source_column, target_column, languages)

    # ------------------------------------------------------------------ fit
    def _fit(self, train: Any, validation: Any, run: FitRun) -> None:
        from rnn_apps.data.fra_eng import split_pairs
        from rnn_apps.progress import step

        cfg = self.config
        sources, targets = as_pairs(train, cfg.direction)
        if validation is None:
            frame = pd.DataFrame({"source": sources, "target": targets})
            vf = cfg.validation_fraction
            parts = split_pairs(
                frame,
                source_column="source",
                target_column="target",
                fractions=(1.0 - vf, vf, 0.0),
                seed=cfg.seed,
            )
            sources, targets = as_pairs(parts.train)
            val_sources, val_targets = as_pairs(parts.validation)
        else:
            val_sources, val_targets = as_pairs(validation, cfg.direction)
        if not sources or not val_sources:
            raise UserInputError("Need training and validation pairs (got an empty split).")
        pre = TranslatePreprocessor(
            cfg.source_vocab_size, cfg.target_vocab_size, cfg.max_tokens, cfg.target_language
        )
        with step(f"Adapting the vocabularies on {len(sources)} training pairs", cfg.verbose):
            pre.adapt(sources, targets)
        self.preprocessor_ = pre
        train_ds = self._dataset(sources, targets, train=True)
        val_ds = self._dataset(val_sources, val_targets, train=False)
        with run.strategy.scope():
            parts_ = model_lib.build_translation_model(
                cfg, pre.source_vocabulary_size, pre.target_vocabulary_size
            )
            model_lib.compile_translation_model(parts_.training_model, cfg)
        self.model_, self.encoder_, self.decoder_ = parts_
        self.word_vector_coverage_ = None
        if cfg.word_vectors:
            vocabulary = pre.source_vectorizer.get_vocabulary()
            self.word_vector_coverage_ = model_lib.set_source_word_vectors(
                self.model_, cfg, vocabulary
            )
        self.time_budget_exhausted_ = False
        self.train_model(
            self.model_,
            train_ds,
            val_ds,
            run=run,
            name="seq2seq",
            epochs=cfg.epochs,
        )
        from rnn_apps.training import keep_better_average

        self.weight_average_ = keep_better_average(self.model_, val_ds)
        self.epochs_ = len(self.history_.get("seq2seq", {}).get("loss", []))

    def _dataset(self, sources: Sequence[str], targets: Sequence[str], *, train: bool) -> Any:
        """tf.data of ((source ids (B, S), decoder input ids (B, T)), target ids (B, T)),
        bucketed by length; pairs with a side longer than `max_tokens` (+2 on the target
        for [start]/[end]) are dropped."""
        import tensorflow as tf

        cfg, pre = self.config, self.preprocessor_
        cap = cfg.max_tokens
        ds = (
            tf.data.Dataset.from_tensor_slices((list(sources), list(targets)))
            .batch(1024)
            .map(lambda s, t: _dense_and_lengths(pre.source_ragged(s), pre.target_ragged(t)))
            .unbatch()
            .map(lambda s, ns, t, nt: (s[:ns], t[:nt]))  # (S_max,) -> (n,)
            .filter(lambda s, t: (tf.size(s) <= cap) & (tf.size(s) > 0) & (tf.size(t) <= cap + 2))
            .cache()
        )
        if train:
            ds = ds.shuffle(len(sources), seed=cfg.seed, reshuffle_each_iteration=True)
        bounds = [b for b in (6, 8, 10, 12, 14, 17, 20, 25) if b < cap + 2]
        ds = ds.bucket_by_sequence_length(
            lambda s, t: tf.shape(t)[0],
            bucket_boundaries=bounds,
            bucket_batch_sizes=[cfg.batch_size] * (len(bounds) + 1),
            padded_shapes=([None], [None]),
        )
        ds = ds.map(lambda s, t: ((s, t[:, :-1]), t[:, 1:]))
        return ds.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ inference graph
    def _decoder(self) -> Decoder:
        pre = self.preprocessor_
        return Decoder(
            self.encoder_,
            self.decoder_,
            self.config.attention is not None,
            pre.start_id,
            pre.end_id,
        )

    def _translate_fn(self, text: Any, beam_width: Any, max_length: Any) -> dict[str, Any]:
        """(B,) tf.string, () int32, () int32 -> {translation (B,), score (B,)}."""
        import tensorflow as tf

        from rnn_apps.export import assert_batch_at_most

        pre = self.preprocessor_
        k, m = tf.cast(beam_width, tf.int32), tf.cast(max_length, tf.int32)
        checks = [
            assert_batch_at_most(text, MAX_TRANSLATE_BATCH, "sentences"),
            tf.debugging.Assert(
                (k >= 1) & (k <= MAX_BEAM_WIDTH),
                [f"beam_width must be 1 (greedy) to {MAX_BEAM_WIDTH}, got", k],
            ),
            tf.debugging.Assert(
                (m >= 1) & (m <= MAX_DECODE_CAP),
                [f"max_length must be 1 to {MAX_DECODE_CAP} tokens, got", m],
            ),
        ]
        with tf.control_dependencies(checks):
            text = tf.identity(text)
        source = pre.encode_source(text)  # (B, S)
        tokens, score = decode(self._decoder(), source, k, m, self.config.length_penalty)
        blank = pre.is_blank(text)  # (B,)
        translation = tf.where(blank, tf.constant(""), pre.detokenize(tokens))
        score = tf.where(blank, tf.zeros_like(score), score)
        return {"translation": translation, "score": score}

    def greedy_ids(self, text: Any) -> np.ndarray:
        """(B,) texts -> (B, L) greedy target ids (in process; for plots and tests)."""
        import tensorflow as tf

        self._check_fitted()
        source = self.preprocessor_.encode_source(tf.constant(text))
        tokens, _ = greedy_decode(self._decoder(), source, self.config.max_decode_length)
        return np.asarray(tokens)

    # ------------------------------------------------------------------ Task hooks
    def endpoints(self) -> list[Any]:
        """`translate` (text, beam_width, max_length) and `serving_default` (text)."""
        import tensorflow as tf

        from rnn_apps.export import Endpoint

        cfg = self.config

        def serving_default(text):
            return self._translate_fn(text, cfg.beam_width, cfg.max_decode_length)

        return [
            Endpoint(
                "serving_default",
                serving_default,
                [tf.TensorSpec([None], tf.string, name="text")],
            ),
            Endpoint(
                "translate",
                self._translate_fn,
                [
                    tf.TensorSpec([None], tf.string, name="text"),
                    tf.TensorSpec([], tf.int32, name="beam_width"),
                    tf.TensorSpec([], tf.int32, name="max_length"),
                ],
            ),
        ]

    def core(self) -> Any:
        """`source` (B, S) int32 ids (0 = padding) -> `tokens` (B, max_decode_length) int32
        greedy target ids (0 after `[end]`) and `score` (B,): the translation graph between
        the string steps, with greedy decoding (the SavedModel's default is a beam of
        `beam_width`), for LiteRT and ONNX."""
        import tensorflow as tf

        from rnn_apps.portable import Core

        self._check_fitted()
        pre, cfg = self.preprocessor_, self.config

        def fn(source: Any) -> dict[str, Any]:
            tokens, score = greedy_decode(
                self._decoder(), source, cfg.max_decode_length, cfg.length_penalty
            )
            return {"tokens": tokens, "score": score}

        source = pre.encode_source(tf.constant(np.array(SAMPLE_TEXTS, dtype=object)))
        state = pre.get_state()
        return Core(
            fn=fn,
            input_signature=[tf.TensorSpec([None, None], tf.int32, name="source")],
            sample_inputs={"source": np.asarray(source, "int32")},
            track=[self.encoder_, self.decoder_],
            litert_shapes={"source": [cfg.max_tokens]},
            metadata={
                "source_vocabulary": state["source_vocabulary"],
                "target_vocabulary": state["target_vocabulary"],
            },
            client="source: the sentence standardised as rnn_apps.layers.translate_preprocessor "
            "documents (lower-case, punctuation split off), each token's index in "
            f"`source_vocabulary` (1 = [UNK]), zero-padded (LiteRT: to {cfg.max_tokens} "
            "tokens); tokens: indices into `target_vocabulary` up to [end], to join with "
            "spaces and detokenise.",
        )

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        text = np.array(SAMPLE_TEXTS, dtype=object)
        return {
            "serving_default": {"text": text},
            "translate": {
                "text": text,
                "beam_width": np.array(3, np.int32),
                "max_length": np.array(12, np.int32),
            },
        }

    def export_metadata(self) -> dict[str, Any]:
        pre, cfg = self.preprocessor_, self.config
        return {
            "config": cfg.to_dict(),
            "direction": cfg.direction,
            "source_vocabulary_size": pre.source_vocabulary_size,
            "target_vocabulary_size": pre.target_vocabulary_size,
            "max_tokens": cfg.max_tokens,
            "max_text_bytes": MAX_TEXT_BYTES,
            "max_beam_width": MAX_BEAM_WIDTH,
            "max_batch_sentences": MAX_TRANSLATE_BATCH,
            "max_decode_length_cap": MAX_DECODE_CAP,
            "inputs": f"text: at most {MAX_TRANSLATE_BATCH} sentences (UTF-8; invalid bytes "
            f"replaced; cut at {MAX_TEXT_BYTES} bytes and {cfg.max_tokens} tokens); beam_width "
            f"(1 = greedy, <= {MAX_BEAM_WIDTH}); max_length: output tokens (<= "
            f"{MAX_DECODE_CAP}); other values are refused",
            "outputs": "translation: the sentence ('' for blank input); score: "
            "log-probability / length ** length_penalty",
        }

    def get_state(self) -> dict[str, Any]:
        return {
            **self.preprocessor_.get_state(),
            "epochs": getattr(self, "epochs_", 0),
            "weight_average": getattr(self, "weight_average_", None),
            "word_vector_coverage": getattr(self, "word_vector_coverage_", None),
        }

    def set_state(self, state: Any, model_file: Path) -> None:
        cfg = self.config
        pre = TranslatePreprocessor.from_state(state, cfg)
        parts = model_lib.build_translation_model(
            cfg, pre.source_vocabulary_size, pre.target_vocabulary_size
        )
        parts.training_model.load_weights(model_file)
        self.preprocessor_ = pre
        self.model_, self.encoder_, self.decoder_ = parts
        self.epochs_ = state.get("epochs", 0)
        self.weight_average_ = state.get("weight_average")
        self.word_vector_coverage_ = state.get("word_vector_coverage")

    def _write_model(self, path: Path) -> None:
        self.model_.save_weights(path)

    # ------------------------------------------------------------------ user API
    def translate(
        self,
        texts: Sequence[Any] | str,
        *,
        beam_width: int | None = None,
        max_length: int | None = None,
    ) -> list[str]:
        """Sentences -> translations (the export's `translate` graph)."""
        self._check_fitted()
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        out = translate_texts(self, texts, beam_width=beam_width, max_length=max_length)
        return list(out["translation"])

    def evaluate(
        self, test: Any, *, max_sentences: int | None = 1000, data_options: Any = None
    ) -> dict[str, Any]:
        """BLEU/chrF, greedy and beam, against all references of each test source sentence
        (`test`: pairs as `fit` takes them, a `tf.data.Dataset` or a TFDS name: its `test`
        split unless `data_options` names another; see `Task.raw_data`)."""
        self._check_fitted()
        test = self.raw_data(test, **dict(data_options or {}))
        sources, targets = as_pairs(test, self.config.direction)
        return evaluate_pairs(self, sources, targets, max_sentences=max_sentences)
