"""`SentimentPreprocessor`: raw text -> token ids as a Keras layer, with the way back (token ids
-> text, class ids <-> class names, logits -> probabilities and labels).

Called on texts (B,) tf.string it returns the right-padded token ids (B, T) int32 the
sentiment model takes, so the same layer maps texts inside `tf.data` while training (and in a
user's own pipeline: `ds.map(pre)`), in a functional Keras model, and inside the exported
SavedModel's `serving_default`: all see exactly the same tokens. The vocabulary (a
`TextVectorization` layer) is adapted on the training texts only; `get_config` carries it, so
the layer round-trips through its config; the pipeline's JSON state (`get_state` /
`from_state`) keeps its format.

Input size cap: every text is cut at `MAX_TEXT_BYTES` bytes before any other processing (IMDB's
longest review has about 14 kB), so a huge input costs no more than a long review.

No evidence, no opinion: a text whose standardised form holds no letter and no digit (empty,
blank, punctuation, emoji, bare markup) gets the training class prior (`class_prior`) from
`postprocess`, not whatever the network makes of an empty sequence.

Shape legend: B batch, T tokens, C classes, O output width (1 for two classes, else C).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.layers.text import OOV_ID

#: Input size cap: texts are cut at this many bytes (UTF-8) before anything else.
MAX_TEXT_BYTES = 30_000

# HTML markup (RE2 syntax, matched after lower-casing): script/style elements with their
# content, comments, every other tag, then the common character entities.
_HTML_BLOCKS = r"(?s)<(script|style)\b[^>]*>.*?</(script|style)\s*>|<!--.*?-->"
_HTML_TAG = r"</?[a-z!][^<>]*>"
_HTML_ENTITIES = (
    ("&nbsp;", " "),
    ("&lt;", " "),
    ("&gt;", " "),
    ("&quot;", '"'),
    ("&#39;", "'"),
    ("&apos;", "'"),
    ("&#34;", '"'),
    ("&amp;", "&"),
)


def standardize_text(text: Any) -> Any:
    """Export-safe standardisation: (B,) or () tf.string -> same shape tf.string.

    Cuts the text to `MAX_TEXT_BYTES`, replaces invalid UTF-8 with U+FFFD, lower-cases
    (Unicode-aware), strips HTML markup (`<script>`/`<style>` elements with their content,
    comments, every other tag, and the entities `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`,
    `&nbsp;` ...), splits `!?.,;:()"` off as tokens and turns every other non-letter,
    non-digit character (emoji included) into a space.
    """
    import tensorflow as tf

    text = tf.strings.substr(text, 0, MAX_TEXT_BYTES)  # bytes; may cut a character in two
    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, _HTML_BLOCKS, " ")
    text = tf.strings.regex_replace(text, _HTML_TAG, " ")
    for entity, replacement in _HTML_ENTITIES:
        text = tf.strings.regex_replace(text, entity, replacement, replace_global=True)
    text = tf.strings.regex_replace(text, r"&#?[a-z0-9]{1,8};", " ")  # any other entity
    text = tf.strings.regex_replace(text, r"([!?.,;:()\"])", r" \1 ")
    text = tf.strings.regex_replace(text, r"[^\p{L}\p{N}'!?.,;:()\"]+", " ")
    return text


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return isinstance(value, float) and math.isnan(value)


def check_labels(labels: Sequence[Any], what: str = "labels") -> list[str]:
    """Labels as strings; missing ones (None, NaN) are refused.

    Raises:
        UserInputError: a missing label, naming how many and the first position.
    """
    labels = list(labels)
    missing = [i for i, v in enumerate(labels) if _is_missing(v)]
    if missing:
        raise UserInputError(
            f"{len(missing)} of the {what} are missing (NaN/None), the first at row "
            f"{missing[0]}; drop those rows or fill in their label."
        )
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in labels]


def class_names_of(labels: Sequence[Any], positive_label: str | None = None) -> list[str]:
    """Sorted distinct labels; with two classes the positive one (probability) comes last.

    Raises:
        UserInputError: a missing label, fewer than two classes, or `positive_label` is not
            one of them.
    """
    names = sorted(set(check_labels(labels)))
    if len(names) < 2:
        raise UserInputError(
            f"Need at least two classes to train a classifier, found {names or 'none'}; "
            "check the label column / class subfolders."
        )
    if positive_label is not None:
        if positive_label not in names:
            raise UserInputError(f"positive_label {positive_label!r} is not a class of {names}.")
        if len(names) == 2:
            names = [n for n in names if n != positive_label] + [positive_label]
    return names


def encode_labels(labels: Sequence[Any], class_names: Sequence[str]) -> np.ndarray:
    """Labels -> (N,) int64 class ids in the order of `class_names`.

    Raises:
        UserInputError: a missing label or one that is not a class.
    """
    index = {c: i for i, c in enumerate(class_names)}
    labels = check_labels(labels)
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise UserInputError(
            f"Label(s) {unknown[:5]} are not classes of the model {list(class_names)}."
        )
    return np.array([index[v] for v in labels], dtype=np.int64)


def has_evidence(texts: Any) -> Any:
    """(B,) tf.string -> (B,) bool: does the standardised text hold a letter or a digit?"""
    import tensorflow as tf

    return tf.strings.regex_full_match(standardize_text(texts), r"(?s).*[\p{L}\p{N}].*")


@keras.saving.register_keras_serializable(package="rnn_apps")
class SentimentPreprocessor(keras.layers.Layer):
    """Texts -> right-padded token ids, and the way back; class ids <-> class names.

    A `TextVectorization` layer (whitespace split after `standardize_text`) adapted on the
    training texts only. Every call is graph-traceable (`tf.data`, `tf.function`, export).

    `call(texts)`: (B,) tf.string -> (B, T) int32 right-padded token ids (0 = padding),
    1 <= T <= `max_length`.

    Args:
        max_tokens: Vocabulary size V (padding and [UNK] included).
        max_length: Tokens kept per text (its head).
        class_names: Class names; with two classes the positive one comes last.
        vocabulary: The vocabulary in id order (as `get_vocabulary` gives it); None: learn it
            with `adapt`.
        class_prior: (C,) share of each class among the training labels; None: uniform.
        **kwargs: `keras.layers.Layer` arguments (`name` ...).

    Attributes:
        max_tokens, max_length, class_names: As given.
        class_prior: (C,) share of each class among the training labels (`set_class_prior`);
            the answer to a text without evidence. Uniform until set.
        vectorizer: The `keras.layers.TextVectorization` layer (its lookup table travels
            with the export).
    """

    def __init__(
        self,
        max_tokens: int,
        max_length: int,
        class_names: Sequence[str],
        vocabulary: Sequence[str] | None = None,
        class_prior: Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_tokens = int(max_tokens)
        self.max_length = int(max_length)
        self.class_names = [str(c) for c in class_names]
        n = len(self.class_names)
        self.class_prior = [1.0 / n] * n if class_prior is None else [float(v) for v in class_prior]
        self.vectorizer = keras.layers.TextVectorization(
            max_tokens=self.max_tokens,
            standardize=standardize_text,
            split="whitespace",
            output_mode="int",
            ragged=True,
            name="vectorizer",
        )
        self._has_vocabulary = vocabulary is not None
        if vocabulary is not None:
            vocab = list(vocabulary)
            self.vectorizer.set_vocabulary(vocab[2:] if vocab[:2] == ["", "[UNK]"] else vocab)
        # Strings in, as Keras' own text layers: no conversion or casting of the inputs.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights; the vectorizer holds the vocabulary

    # ------------------------------------------------------------------ vocabulary
    def adapt(self, texts: Sequence[str], batch_size: int = 512) -> SentimentPreprocessor:
        """Learns the vocabulary (the `max_tokens - 2` most frequent tokens) from `texts`."""
        import tensorflow as tf

        self.vectorizer.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(batch_size))
        self._has_vocabulary = True
        return self

    @property
    def vocabulary_size(self) -> int:
        return int(self.vectorizer.vocabulary_size())

    def get_vocabulary(self) -> list[str]:
        """The vocabulary, id order (0 = padding `""`, 1 = `"[UNK]"`)."""
        return list(self.vectorizer.get_vocabulary())

    @property
    def output_dim(self) -> int:
        """O: 1 logit for two classes, else one per class."""
        return 1 if len(self.class_names) == 2 else len(self.class_names)

    # ------------------------------------------------------------------ text -> ids
    def ragged(self, texts: Any) -> Any:
        """(B,) tf.string -> ragged (B, None) int32 token ids, at most `max_length` per row
        and at least one ([UNK]) for an empty text, so every row has a valid step."""
        import tensorflow as tf

        ids = tf.cast(self.vectorizer(texts), tf.int32)[:, : self.max_length]  # (B, None)
        empty = tf.cast(ids.row_lengths() == 0, tf.int64)  # (B,)
        filler = tf.ragged.range(empty) * 0 + OOV_ID  # (B, 0 or 1)
        return tf.concat([ids, tf.cast(filler, tf.int32)], axis=1)

    def call(self, texts: Any) -> Any:
        """(B,) tf.string -> (B, T) int32 right-padded token ids (0 = padding),
        1 <= T <= max_length (an empty batch gives (0, 1))."""
        import tensorflow as tf

        dense = self.ragged(texts).to_tensor(0)  # (B, T)
        missing = tf.maximum(1 - tf.shape(dense)[1], 0)
        return tf.pad(dense, [[0, 0], [0, missing]])

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], None)

    def compute_output_spec(self, texts: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(texts.shape), dtype="int32")

    def dense_and_lengths(self, texts: Any) -> tuple[Any, Any]:
        """(B,) tf.string -> ((B, T) padded ids, (B,) lengths), to unbatch in `tf.data`."""
        ids = self.ragged(texts)
        return ids.to_tensor(0), ids.row_lengths()

    # ------------------------------------------------------------------ ids -> text
    def detokenize(self, ids: Any) -> Any:
        """(B, T) token ids -> (B,) tf.string: the standardised tokens joined by spaces
        (padding dropped, unknown words as `[UNK]`)."""
        import tensorflow as tf

        ids = tf.convert_to_tensor(ids)
        vocab = tf.constant(self.get_vocabulary())
        words = tf.gather(vocab, tf.cast(ids, tf.int32))  # (B, T)
        kept = tf.ragged.boolean_mask(words, ids > 0)
        return tf.strings.reduce_join(kept, axis=-1, separator=" ")

    # ------------------------------------------------------------------ labels
    def encode_labels(self, labels: Sequence[Any]) -> np.ndarray:
        """Labels -> (N,) int64 class ids (see `encode_labels`)."""
        return encode_labels(labels, self.class_names)

    def set_class_prior(self, class_ids: np.ndarray) -> SentimentPreprocessor:
        """Sets `class_prior` from (N,) training class ids (add-one smoothed)."""
        counts = np.bincount(np.asarray(class_ids, np.int64), minlength=len(self.class_names))
        prior = (counts + 1.0) / (counts.sum() + len(self.class_names))
        self.class_prior = [float(v) for v in prior]
        return self

    def prior_logits(self) -> np.ndarray:
        """(O,) logits whose `postprocess` is `class_prior`."""
        prior = np.clip(np.asarray(self.class_prior, np.float64), 1e-6, 1.0)
        if self.output_dim == 1:
            return np.array([np.log(prior[-1] / prior[0])], np.float32)
        return np.log(prior).astype(np.float32)

    def no_evidence_to_prior(self, logits: Any, evidence: Any) -> Any:
        """(B, O) logits, (B,) bool `has_evidence` of their texts -> (B, O) logits, the
        prior's where a text has no letter or digit."""
        import tensorflow as tf

        logits = tf.cast(logits, tf.float32)
        prior = tf.constant(self.prior_logits())[None, :]  # (1, O)
        return tf.where(tf.cast(evidence, tf.bool)[:, None], logits, prior)

    def postprocess(self, logits: Any, evidence: Any = None) -> dict[str, Any]:
        """(B, O) logits -> `probability` float32 (B,) = P(positive class) for two classes,
        else (B, C) softmax; and `label` (B,) tf.string, the predicted class name (threshold
        0.5 / arg max). With `evidence` ((B,) bool, `has_evidence` of the texts, computed once
        per batch by the caller), a text without evidence gets `class_prior`. Used by the
        export and by in-process prediction alike."""
        import tensorflow as tf

        logits = tf.cast(logits, tf.float32)
        if evidence is not None:
            logits = self.no_evidence_to_prior(logits, evidence)
        names = tf.constant(self.class_names)
        if self.output_dim == 1:
            prob = tf.sigmoid(logits[:, 0])  # (B,)
            idx = tf.cast(prob >= 0.5, tf.int32)
        else:
            prob = tf.nn.softmax(logits, axis=-1)  # (B, C)
            idx = tf.argmax(prob, axis=-1, output_type=tf.int32)
        return {"probability": prob, "label": tf.gather(names, idx)}

    # ------------------------------------------------------------------ state
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_tokens": self.max_tokens,
            "max_length": self.max_length,
            "class_names": list(self.class_names),
            "vocabulary": self.get_vocabulary() if self._has_vocabulary else None,
            "class_prior": list(self.class_prior),
        }

    def get_state(self) -> dict[str, Any]:
        """JSON state: `class_names`, `class_prior` and `vocabulary` (`from_state` inverts)."""
        return {
            "class_names": list(self.class_names),
            "class_prior": list(self.class_prior),
            "vocabulary": self.get_vocabulary(),
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], max_tokens: int, max_length: int
    ) -> SentimentPreprocessor:
        """The preprocessor saved by `get_state`."""
        return cls(
            max_tokens,
            max_length,
            state["class_names"],
            vocabulary=state["vocabulary"],
            class_prior=state.get("class_prior"),
        )
