"""`Tagger`: one tag per token (part of speech, named entities), a bidirectional RNN with a
character encoder and a CRF or softmax output, on the `Task` base.

`tag(tokens) = decode_tags(head(core(preprocessor(tokens))))`, one graph in process
(`Task.run`) and in the export:

1. `TaggingPreprocessor` (adapted on the training sentences only): tokens -> word and
   character ids;
2. the core (`model.build_tagger_core`): ids -> tag scores (B, T, K);
3. the head: Viterbi decoding of the `CRF` (or the argmax), then tag ids -> tag names.

`fit(train, validation, unlabelled=texts)` also learns from untagged text: its frequent words
join the vocabulary and the word embedding starts from PPMI + SVD vectors of the tagged and
untagged text (`unlabelled`).

Export: `tag`: `tokens` tf.string [None, None] (right-padded with "") -> `tags` tf.string
[None, None] ("" on padding), `scores` float32 [None, None] (the softmax probability of each
chosen tag under the token's scores), `lengths` int32 [None]; `tag_text` (also
`serving_default`): `text` tf.string [None], split in the graph (`split_text`) -> the same
plus `tokens`. Both refuse more than `MAX_TAG_BATCH` sentences and more than
`MAX_SENTENCE_TOKENS` tokens per sentence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rnn_apps.data.conllu import MAX_SENTENCE_TOKENS, is_bio_tagset
from rnn_apps.errors import UserInputError
from rnn_apps.tasks.base import FitRun, Task
from rnn_apps.tasks.tagging.config import TaggingConfig
from rnn_apps.tasks.tagging.inference import (
    MAX_TAG_BATCH,
    as_sentences,
    evaluate_sentences,
    tag_sentences,
    tag_texts,
)
from rnn_apps.tasks.tagging.unlabelled import (
    MIN_UNLABELLED_COUNT,
    split_unlabelled,
    unlabelled_counts,
    unlabelled_vectors,
)

_BUCKETS = [8, 16, 24, 32, 48, 64, 128]


#: Tokens per sentence of the LiteRT core (its recurrent loops need a static length).
LITERT_TOKENS = 128


class Tagger(Task):
    """Sequence tagger: fit on tagged sentences, tag tokens or raw text, export.

    Example:
        >>> tagger = Tagger(TaggingConfig(epochs=10)).fit("en_ewt-ud-train.conllu",
        ...                                                 "en_ewt-ud-dev.conllu")
        >>> tagger.tag([["I", "saw", "her", "duck", "."]])
        >>> tagger.evaluate("en_ewt-ud-test.conllu")["accuracy"]

    Learned state (set by `fit` or `load`): `preprocessor_` (`TaggingPreprocessor`), `model_`
    (`TaggerModel`: the core and its head), `embedding_dim_` (the word embedding's width),
    `word_vector_coverage_` (share of the vocabulary found in `word_vectors`), `unlabelled_`
    (what the untagged texts gave: texts, tokens, words, seconds), `history_`.
    """

    task_name: ClassVar[str] = "tag"
    fit_param_names: ClassVar[tuple[str, ...]] = ("unlabelled",)
    config_class: ClassVar[type[TaggingConfig]] = TaggingConfig
    model_file: ClassVar[str] = "model.weights.h5"
    config: TaggingConfig

    # ------------------------------------------------------------------ fit
    def _fit(self, train: Any, validation: Any, run: FitRun, unlabelled: Any = None) -> None:
        """Adapts the preprocessor, builds and trains the model; `unlabelled` (untagged texts
        or token lists) extends the vocabulary and starts the word embedding (see
        `tagging.unlabelled`)."""
        import time

        import keras

        from rnn_apps.layers.tagging_preprocessor import TaggingPreprocessor

        c = self.config
        tokens, tags = as_sentences(train, c.column)
        if validation is None:
            rng = np.random.default_rng(c.seed)
            order = rng.permutation(len(tokens))
            n_val = int(round(c.validation_fraction * len(tokens)))
            val_idx, train_idx = order[:n_val], order[n_val:]
            val_tokens, val_tags = [tokens[i] for i in val_idx], [tags[i] for i in val_idx]
            tokens, tags = [tokens[i] for i in train_idx], [tags[i] for i in train_idx]
        else:
            val_tokens, val_tags = as_sentences(validation, c.column)
        if not tokens:
            raise UserInputError("no training sentences.")
        if unlabelled is not None and c.word_vectors:
            raise UserInputError(
                "give word_vectors or unlabelled texts, not both: each sets the word embedding."
            )
        start = time.monotonic()
        extra = counts = None
        self.unlabelled_ = {}
        if unlabelled is not None:
            extra = split_unlabelled(unlabelled)
            counts = unlabelled_counts(extra)
        self.preprocessor_ = TaggingPreprocessor(
            max_words=c.max_words, min_count=c.min_count, max_word_chars=c.max_word_chars
        ).adapt(tokens, tags, counts, MIN_UNLABELLED_COUNT)
        unknown = sorted({t for s in val_tags for t in s} - set(self.preprocessor_.tags))
        if unknown:
            raise UserInputError(
                f"validation tags not in the training data: {unknown[:5]}; every tag must occur "
                "in training."
            )
        vectors = None
        self.word_vector_coverage_ = None
        if c.word_vectors:
            from rnn_apps.embeddings import load_word_vectors

            wv = load_word_vectors(c.word_vectors, ["", "[UNK]", *self.preprocessor_.words])
            vectors, self.word_vector_coverage_ = wv.matrix, wv.coverage
        elif extra is not None:
            pre = self.preprocessor_
            vectors = unlabelled_vectors(pre.words, tokens, extra, c.embedding_dim, c.seed)
            self.unlabelled_ = {
                "texts": len(extra),
                "tokens": sum(len(s) for s in extra),
                "words_added": len(pre.words) - pre.num_tagged_words,
                "seconds": round(time.monotonic() - start, 1),
            }
        self.embedding_dim_ = c.embedding_dim if vectors is None else int(vectors.shape[1])
        with run.strategy.scope():
            self.model_ = self._build(vectors)
            self.model_.compile(optimizer=keras.optimizers.Adam(c.learning_rate))
        train_ds = self._dataset(tokens, tags, train=True)
        val_ds = self._dataset(val_tokens, val_tags, train=False) if val_tokens else None
        self.train_model(self.model_, train_ds, val_ds, run=run, name="tagger", epochs=c.epochs)

    def _build(self, vectors: np.ndarray | None = None) -> Any:
        from rnn_apps.layers.crf import bio_constraints
        from rnn_apps.tasks.tagging.model import TaggerModel, build_tagger_core

        c, pre = self.config, self.preprocessor_
        core = build_tagger_core(
            num_words=pre.num_words, num_chars=pre.num_chars, num_tags=pre.num_tags,
            max_word_chars=c.max_word_chars, embedding_dim=self.embedding_dim_,
            char_embedding_dim=c.char_embedding_dim, char_units=c.char_units,
            char_encoder=c.char_encoder, cell=c.cell, units=c.units, num_layers=c.num_layers,
            dropout=c.dropout, recurrent_dropout=c.recurrent_dropout,
            word_dropout=c.word_dropout, word_vectors=vectors,
        )  # fmt: skip
        allowed = start = None
        if is_bio_tagset(pre.tags):
            allowed, start = bio_constraints(pre.tags)
        model = TaggerModel(core, head=c.head, allowed=allowed, allowed_start=start)
        model(pre(np.array([["a"]], dtype=object)))  # build
        return model

    def _dataset(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], *, train: bool
    ):
        """Sentences -> batches `({"words", "chars"}, tag ids with -1 on padding)`, bucketed
        by length (shuffled when `train`)."""
        import tensorflow as tf

        lengths = [len(s) for s in tokens]
        flat_tokens = tf.constant([t for s in tokens for t in s] or [""], tf.string)
        flat_tags = tf.constant([t for s in tags for t in s] or [""], tf.string)
        splits = tf.constant(np.concatenate([[0], np.cumsum(lengths)]), tf.int64)
        ds = tf.data.Dataset.range(len(lengths))
        if train:
            ds = ds.shuffle(len(lengths), seed=self.config.seed, reshuffle_each_iteration=True)

        def sentence(i):  # () -> ((n,) tokens, (n,) tags)
            lo, hi = splits[i], splits[i + 1]
            return flat_tokens[lo:hi], flat_tags[lo:hi]

        ds = ds.map(sentence)
        b = self.config.batch_size
        ds = ds.bucket_by_sequence_length(
            lambda t, _: tf.shape(t)[0],
            bucket_boundaries=_BUCKETS,
            bucket_batch_sizes=[b] * (len(_BUCKETS) + 1),
            padding_values=("", ""),
        )
        pre = self.preprocessor_

        def encode(t, g):
            x = pre(t)
            return x, tf.where(x["words"] > 0, pre.encode_tags(g), -1)

        return ds.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ inference
    def _tag_fn(self, tokens: Any) -> dict[str, Any]:
        """(B, T) tf.string tokens -> {tags (B, T), scores (B, T), lengths (B,)}."""
        import tensorflow as tf

        from rnn_apps.export import assert_batch_at_most

        checks = [
            assert_batch_at_most(tokens, MAX_TAG_BATCH, "sentences"),
            tf.debugging.assert_less_equal(
                tf.shape(tokens)[1], MAX_SENTENCE_TOKENS,
                message=f"at most {MAX_SENTENCE_TOKENS} tokens per sentence; split it",
            ),
        ]  # fmt: skip
        with tf.control_dependencies(checks):
            width = tf.shape(tokens)[1]
            padded = tf.pad(tokens, [[0, 0], [0, tf.maximum(1 - width, 0)]])  # T >= 1
        x = self.preprocessor_(padded)
        ids, prob, mask = self._decode(x)
        tags = self.preprocessor_.decode_tags(ids, mask)
        return {
            "tags": tags[:, :width],
            "scores": prob[:, :width],
            "lengths": tf.reduce_sum(tf.cast(mask, tf.int32), axis=1),
        }

    def _decode(self, x: Mapping[str, Any]) -> tuple[Any, Any, Any]:
        """`{"words" (B, T), "chars" (B, T, C)}` ids -> tag ids (B, T) int32 (0 on padding),
        the probability of each chosen tag under the token's softmax (B, T) (0 on padding)
        and the mask (B, T): the CRF's Viterbi path, or the softmax head's arg max."""
        import tensorflow as tf

        mask = x["words"] > 0
        scores = self.model_.core(x, training=False)  # (B, T, K)
        if self.model_.crf is not None:
            ids = self.model_.crf.decode(scores, mask)[0]
        else:
            ids = tf.where(mask, tf.argmax(scores, axis=-1, output_type=tf.int32), 0)
        prob = tf.gather(tf.nn.softmax(scores), ids, batch_dims=2)  # (B, T)
        return tf.cast(ids, tf.int32), tf.where(mask, prob, 0.0), mask

    def endpoints(self) -> list[Any]:
        """`tag_text` (text; also `serving_default`) and `tag` (tokens)."""
        import tensorflow as tf

        from rnn_apps.export import Endpoint
        from rnn_apps.layers.tagging_preprocessor import split_text

        def tag_text(text):
            tokens = split_text(text)
            return {"tokens": tokens, **self._tag_fn(tokens)}

        return [
            Endpoint("tag_text", tag_text, [tf.TensorSpec([None], tf.string, name="text")]),
            Endpoint("tag", self._tag_fn, [tf.TensorSpec([None, None], tf.string, name="tokens")]),
        ]

    def core(self) -> Any:
        """`words` (B, T) int32 and `chars` (B, T, C) int32 ids (0 = padding) -> `tag_ids`
        (B, T) int32 (0 on padding) and `scores` (B, T): the tagging graph between the string
        lookups, for LiteRT and ONNX."""
        import tensorflow as tf

        from rnn_apps.portable import Core

        self._check_fitted()
        pre = self.preprocessor_

        def fn(words: Any, chars: Any) -> dict[str, Any]:
            ids, prob, _ = self._decode({"words": words, "chars": chars})
            return {"tag_ids": ids, "scores": prob}

        tokens = self.sample_inputs()["tag"]["tokens"]
        x = pre(tf.constant(tokens.astype(str)))
        return Core(
            fn=fn,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32, name="words"),
                tf.TensorSpec([None, None, pre.max_word_chars], tf.int32, name="chars"),
            ],
            sample_inputs={k: np.asarray(v) for k, v in x.items()},
            track=[self.model_],
            litert_shapes={
                "words": [LITERT_TOKENS],
                "chars": [LITERT_TOKENS, pre.max_word_chars],
            },  # fmt: skip
            client="words: each token lowercased, its index in metadata `words` + 2 (1 = "
            "unknown, 0 = padding); chars: its first "
            f"{pre.max_word_chars} characters, each its index in metadata `chars` + 2 (1 = "
            "unknown, 0 = padding); a LiteRT core takes sentences zero-padded to "
            f"{LITERT_TOKENS} tokens (split longer ones); tag_ids: indices into metadata `tags`.",
        )

    def sample_inputs(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            "tag_text": {"text": np.array(["I don't know, Tom's dog.", ""], dtype=object)},
            "tag": {
                "tokens": np.array([["The", "zzqxwv", "runs", "."], ["Hi", "", "", ""]], object)
            },
        }

    def export_metadata(self) -> dict[str, Any]:
        self._check_fitted()
        pre = self.preprocessor_
        return {
            "column": self.config.column,
            "tags": list(pre.tags),
            "words": list(pre.words or []),
            "chars": list(pre.chars or []),
            "num_tagged_words": pre.num_tagged_words,
            "max_batch_sentences": MAX_TAG_BATCH,
            "max_sentence_tokens": MAX_SENTENCE_TOKENS,
            "inputs": "tokens: sentences right-padded with '' (at most max_batch_sentences, "
            "each at most max_sentence_tokens tokens); text: raw sentences, split at spaces, "
            "punctuation and English clitics",
            "outputs": "tags ('' on padding); scores: the probability of each chosen tag under "
            "the token's softmax; lengths: tokens per sentence; tokens (tag_text)",
        }

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Token lists -> tag lists."""
        self._check_fitted()
        return tag_sentences(self, sentences)[0]

    def tag_text(self, texts: Sequence[str]) -> list[list[tuple[str, str]]]:
        """Raw sentences -> `[(token, tag), ...]` per sentence (split as the export does)."""
        self._check_fitted()
        return tag_texts(self, texts)

    def evaluate(self, data: Any, *, output_dir: str | os.PathLike | None = None) -> dict[str, Any]:
        """Token accuracy, unseen-word accuracy, per-tag scores (and entity spans for BIO tags)
        on tagged `data` (see `inference.as_sentences`); with `output_dir`, a confusion-matrix
        plot there."""
        self._check_fitted()
        return evaluate_sentences(self, data, output_dir=output_dir)

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        pre = self.preprocessor_
        return {
            "words": list(pre.words or []),
            "chars": list(pre.chars or []),
            "tags": list(pre.tags),
            "num_tagged_words": pre.num_tagged_words,
            "embedding_dim": self.embedding_dim_,
            "word_vector_coverage": self.word_vector_coverage_,
            "unlabelled": self.unlabelled_,
        }

    def set_state(self, state: Mapping[str, Any], model_file: Path) -> None:
        from rnn_apps.layers.tagging_preprocessor import TaggingPreprocessor

        c = self.config
        self.preprocessor_ = TaggingPreprocessor(
            max_words=c.max_words, min_count=c.min_count, max_word_chars=c.max_word_chars,
            words=state["words"], chars=state["chars"], tags=state["tags"],
            num_tagged_words=state.get("num_tagged_words"),
        )  # fmt: skip
        self.embedding_dim_ = int(state["embedding_dim"])
        self.word_vector_coverage_ = state.get("word_vector_coverage")
        self.unlabelled_ = state.get("unlabelled", {})
        self.model_ = self._build()
        self.model_.load_weights(model_file)

    def _write_model(self, path: Path) -> None:
        self.model_.save_weights(path)
