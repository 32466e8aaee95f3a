"""`TextGenPreprocessor` (also `Vocabulary`): text <-> token ids of a language model, as a
Keras layer: tokenization, the vocabulary (Keras `StringLookup`s that travel with the export)
and the inverse mapping ids -> text.

Called on texts (B,) tf.string it returns right-padded token ids (B, T) int32 (`encode` gives
them ragged), so the same layer runs in `tf.data` (and in a user's own pipeline:
`ds.map(pre)`), in a functional Keras model, in a `tf.function` and inside the exported
SavedModel. `get_config` carries the vocabulary, so the layer round-trips through its config;
the pipeline's JSON state (`to_dict` / `from_dict`) keeps its format.

Ids: 0 is padding (the lookup's mask token ""), 1 the OOV token `[UNK]`, 2.. the vocabulary.

Shape legend: B batch (texts), T tokens.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import keras
import numpy as np

PAD_ID = 0
OOV_ID = 1
OOV_TOKEN = "[UNK]"
NEWLINE_TOKEN = "\u2424"  # word level: "\n" becomes this token (SYMBOL FOR NEWLINE)
_PUNCT_RE = r"([^\pL\pN_\s])"  # RE2: anything that is not a letter, digit, "_" or whitespace


def tokenize(texts: Any, level: str, lowercase: bool = False) -> Any:
    """Splits strings into tokens, in the graph.

    Char level: every Unicode character (invalid UTF-8 bytes become U+FFFD). Word level: runs
    of letters/digits/underscore, every other non-space character on its own, and each newline
    as the token `NEWLINE_TOKEN`.

    Args:
        texts: `tf.string` tensor (B,).
        level: `"char"` or `"word"`.
        lowercase: Word level only.

    Returns:
        A `tf.RaggedTensor` of strings, (B,) -> (B, None).
    """
    import tensorflow as tf

    texts = tf.convert_to_tensor(texts, tf.string)
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    t = tf.strings.regex_replace(texts, _PUNCT_RE, r" \1 ")
    t = tf.strings.regex_replace(t, "\n", f" {NEWLINE_TOKEN} ")
    return tf.strings.split(t)


def detokenize_words(tokens: Any) -> Any:
    """Joins word-level tokens back into text, approximately: ragged (B, None) -> (B,).

    Tokens are joined by spaces, `NEWLINE_TOKEN` becomes a newline, and no space is left before
    `. , ; : ! ? ) ] }` or around an apostrophe.
    """
    import tensorflow as tf

    s = tf.strings.reduce_join(tokens, separator=" ", axis=-1)
    s = tf.strings.regex_replace(s, f" ?{NEWLINE_TOKEN} ?", "\n")
    s = tf.strings.regex_replace(s, r" ([.,;:!?)\]}])", r"\1")
    s = tf.strings.regex_replace(s, r" ?' ?", "'")
    s = tf.strings.regex_replace(s, r"([(\[{]) ", r"\1")
    return s


class _BuildOrAdapt:
    """`TextGenPreprocessor.build(text, ...)` on the class: the vocabulary of a training text
    (`from_text`, the name callers know); `layer.build(input_shape)` on an instance: Keras'
    own `Layer.build`."""

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return owner.from_text
        return keras.layers.Layer.build.__get__(obj, owner)


@keras.saving.register_keras_serializable(package="rnn_apps")
class TextGenPreprocessor(keras.layers.Layer):
    """The preprocessor of a language model: text -> ids and ids -> text.

    Id 0 = padding, 1 = OOV, 2.. = `tokens`. Adapted on the training text only (`build` /
    `from_text`).

    `call(texts)`: (B,) tf.string -> (B, T) int32 right-padded token ids (0 = padding).

    Args:
        level: `"char"` or `"word"`.
        tokens: The real tokens, in id order (id = index + 2).
        lowercase: Word level lowercasing.
        **kwargs: `keras.layers.Layer` arguments (`name` ...).

    Attributes:
        level, tokens, lowercase: As given.
        lookup: The `StringLookup` tokens -> ids this vocabulary encodes with.
        inverse: The `StringLookup(invert=True)` ids -> tokens it decodes with.
    """

    build = _BuildOrAdapt()

    def __init__(
        self, level: str, tokens: list[str], lowercase: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.level = level
        self.tokens = list(tokens)
        self.lowercase = bool(lowercase)
        self.lookup = self.lookup_layer()
        self.inverse = self.lookup_layer(invert=True)
        # Strings in, as Keras' own text layers: no conversion or casting of the inputs.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights; the lookups hold the vocabulary

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(level={self.level!r}, size={self.size}, "
            f"lowercase={self.lowercase})"
        )

    @property
    def size(self) -> int:
        """V: number of ids, padding and OOV included."""
        return len(self.tokens) + 2

    def lookup_layer(self, invert: bool = False) -> Any:
        """A new Keras `StringLookup` mapping tokens to ids (or ids to tokens with `invert`)."""
        return keras.layers.StringLookup(
            vocabulary=list(self.tokens),
            mask_token="",
            oov_token=OOV_TOKEN,
            num_oov_indices=1,
            invert=invert,
            name="token_to_id" if not invert else "id_to_token",
        )

    # ------------------------------------------------------------------ adapt
    @classmethod
    def from_text(
        cls, text: str, level: str = "char", *, max_vocab: int = 10_000, lowercase: bool = False
    ) -> TextGenPreprocessor:
        """Collects the vocabulary of a training text (also `TextGenPreprocessor.build`).

        Char level: every distinct character, sorted. Word level: the `max_vocab - 2` most
        frequent tokens (ties broken alphabetically), the rest map to OOV.
        """
        if level == "char":
            return cls(level="char", tokens=sorted(set(text) - {""}))
        toks = tokenize([text], "word", lowercase).flat_values.numpy()
        counts = Counter(t.decode("utf-8") for t in toks)
        counts.pop(OOV_TOKEN, None)
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(max_vocab - 2, 1)]
        return cls(level="word", tokens=[t for t, _ in best], lowercase=lowercase)

    # ------------------------------------------------------------------ text -> ids
    def call(self, texts: Any) -> Any:
        """(B,) tf.string -> (B, T) int32 right-padded token ids (`encode`, padded with 0)."""
        return self.encode(texts).to_tensor(PAD_ID)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], None)

    def compute_output_spec(self, texts: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(texts.shape), dtype="int32")

    def encode(self, texts: Any) -> Any:
        """Texts to ids, in the graph: (B,) strings -> ragged (B, None) int32."""
        import tensorflow as tf

        tokens = tokenize(texts, self.level, self.lowercase)
        ids = tf.cast(self.lookup(tokens.flat_values), tf.int32)
        return tokens.with_flat_values(ids)

    def encode_text(self, text: str) -> np.ndarray:
        """One text to its ids (T,) as NumPy (training data)."""
        import tensorflow as tf

        return np.asarray(self.encode(tf.constant([text])).flat_values.numpy(), np.int32)

    # ------------------------------------------------------------------ ids -> text
    def decode(self, prompts: Any, new_ids: Any) -> Any:
        """Prompt + decoded continuation, in the graph: (B,) strings, (B, N) ids -> (B,).

        Padding ids (0, written after a row stopped) are dropped. Word level joins tokens with
        `detokenize_words` and puts a space between prompt and continuation unless the prompt
        ends in whitespace or the continuation starts with punctuation or a newline.
        """
        import tensorflow as tf

        keep = tf.not_equal(new_ids, PAD_ID)
        ragged = tf.ragged.boolean_mask(new_ids, keep)  # (B, None)
        toks = ragged.with_flat_values(self.inverse(tf.cast(ragged.flat_values, tf.int64)))
        if self.level == "char":
            return tf.strings.join([prompts, tf.strings.reduce_join(toks, axis=-1)])
        cont = detokenize_words(toks)
        no_space = (
            tf.equal(prompts, "")
            | tf.strings.regex_full_match(prompts, r"(?s).*\s")
            | tf.strings.regex_full_match(cont, r"(?s)[.,;:!?)\]}'\n].*")
            | tf.equal(cont, "")
        )
        sep = tf.where(no_space, "", " ")
        return tf.strings.join([prompts, sep, cont])

    # ------------------------------------------------------------------ state
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "tokens": list(self.tokens), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextGenPreprocessor:
        return cls(level=d["level"], tokens=list(d["tokens"]), lowercase=bool(d["lowercase"]))


#: The name the text generator's code and users know this preprocessor by.
Vocabulary = TextGenPreprocessor
