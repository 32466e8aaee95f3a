"""`TaggingPreprocessor`: tokens -> word and character ids, tags <-> tag ids, as a Keras layer.

Called on tokens (B, T) tf.string, right-padded with "", it returns `{"words": (B, T) int32,
"chars": (B, T, C) int32}`: the id of each word (looked up lower-cased; 0 padding, 1 unknown,
2.. the training words) and the ids of its first C characters (case kept, so the character
encoder sees capitals and suffixes; 0 padding, 1 unknown). The same layer maps sentences in
`tf.data` while training (and in a user's own pipeline: `ds.map(pre)`), in a functional Keras
model and in the exported SavedModel. It owns the tags both ways (`encode_tags`,
`decode_tags`) and splits raw text into tokens in the graph (`split_text`: whitespace,
punctuation and English clitics such as `n't`, `'s`).

Vocabularies are learned by `adapt` on the training sentences only: words seen at least
`min_count` times (at most `max_words`; with counts of untagged training text, its frequent
words after them: `num_tagged_words` says where the tagged ones end), every character seen (at
most `max_chars`), the tag set. `get_config` carries them, so the layer round-trips through its
config.

Input caps: at most `MAX_SENTENCE_TOKENS` tokens per sentence (refused before the graph by the
task), tokens cut at `MAX_TOKEN_BYTES` bytes, `max_word_chars` characters per token for the
character encoder.

Shape legend: B batch (sentences), T tokens, C characters per token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import keras

from rnn_apps.data.conllu import MAX_SENTENCE_TOKENS
from rnn_apps.errors import UserInputError

#: Tokens are cut at this many bytes (UTF-8) before anything else.
MAX_TOKEN_BYTES = 200
UNK = "[UNK]"
__all__ = ["MAX_SENTENCE_TOKENS", "MAX_TOKEN_BYTES", "TaggingPreprocessor", "split_text"]

_CLITICS = r"(?i)(\pL)(n't|'s|'re|'ve|'ll|'d|'m)(\s|$)"
_PUNCT = r"([^\pL\pN\s'])"


def split_text(text: Any) -> Any:
    """(B,) tf.string sentences -> (B, T) tf.string tokens right-padded with "" (T >= 1):
    split at whitespace, punctuation split off, English clitics (`n't`, `'s`, `'re`, `'ve`,
    `'ll`, `'d`, `'m`) split from their word, as UD English tokenises them."""
    import tensorflow as tf

    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    text = tf.strings.regex_replace(text, _CLITICS, r"\1 \2\3")
    text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
    tokens = tf.strings.split(tf.strings.strip(text))  # (B, None)
    dense = tokens.to_tensor(default_value="")
    return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])


@keras.saving.register_keras_serializable(package="rnn_apps")
class TaggingPreprocessor(keras.layers.Layer):
    """Tokens -> `{"words", "chars"}` ids; tags <-> tag ids; text -> tokens.

    Args:
        max_words: Word vocabulary cap (padding and [UNK] included).
        min_count: Fewest occurrences in training for a word to get its own id.
        max_chars: Character vocabulary cap (padding and [UNK] included).
        max_word_chars: C, the characters of a token the character encoder sees (its first).
        words, chars, tags: The learned vocabularies in id order (words and chars without
            padding and [UNK]); None: learn them with `adapt`.
        num_tagged_words: How many of `words` (the first) come from tagged sentences (None:
            all of them).
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        max_words: int = 30_000,
        min_count: int = 1,
        max_chars: int = 300,
        max_word_chars: int = 24,
        *,
        words: Sequence[str] | None = None,
        chars: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        num_tagged_words: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_words = int(max_words)
        self.min_count = int(min_count)
        self.max_chars = int(max_chars)
        self.max_word_chars = int(max_word_chars)
        self.words: list[str] | None = None
        self.chars: list[str] | None = None
        self.tags: list[str] | None = None
        self.num_tagged_words: int | None = None
        if words is not None and chars is not None and tags is not None:
            self._set(list(words), list(chars), list(tags), num_tagged_words)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True

    # ------------------------------------------------------------------ vocabulary
    def adapt(
        self,
        sentences: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]],
        unlabelled_counts: Mapping[str, int] | None = None,
        min_unlabelled_count: int = 5,
    ):
        """Learns the word, character and tag vocabularies from the training sentences (and
        the word counts of untagged training text: its words seen `min_unlabelled_count` times
        or more join the vocabulary after the tagged ones, most frequent first)."""
        if not sentences:
            raise UserInputError("no training sentences to learn the vocabularies from.")
        words = Counter(w.lower() for s in sentences for w in s)
        chars = Counter(c for s in sentences for w in s for c in w)
        cap = max(self.max_words - 2, 0)
        kept = [w for w, n in words.most_common() if n >= self.min_count and w][:cap]
        num_tagged = len(kept)
        if unlabelled_counts:
            seen = set(kept)
            extra = sorted(
                (w for w, n in unlabelled_counts.items()
                 if n >= min_unlabelled_count and w and w not in seen),
                key=lambda w: (-unlabelled_counts[w], w),
            )  # fmt: skip
            kept += extra[: cap - num_tagged]
        tag_set = sorted({t for s in tags for t in s})
        if not tag_set:
            raise UserInputError("the training sentences hold no tags.")
        self._set(
            kept,
            [c for c, _ in chars.most_common(max(self.max_chars - 2, 0))],
            tag_set,
            num_tagged,
        )
        return self

    def _set(
        self, words: list[str], chars: list[str], tags: list[str], num_tagged: int | None = None
    ) -> None:
        import tensorflow as tf

        if "" in tags:
            raise UserInputError("a tag is the empty string; every token needs a tag.")
        self.words, self.chars, self.tags = words, chars, tags
        self.num_tagged_words = len(words) if num_tagged is None else int(num_tagged)
        self.word_lookup = keras.layers.StringLookup(
            vocabulary=words or ["\0"], mask_token="", oov_token=UNK, name="word_lookup"
        )
        self.char_lookup = keras.layers.StringLookup(
            vocabulary=chars or ["\0"], mask_token="", oov_token=UNK, name="char_lookup"
        )
        self._tag_names = tf.constant(tags)
        self._tag_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tags), tf.range(len(tags), dtype=tf.int32)
            ),
            default_value=-1,
        )

    def _check_adapted(self) -> None:
        if self.tags is None:
            raise UserInputError("the preprocessor is not adapted: call adapt() first.")

    @property
    def num_words(self) -> int:
        """Word ids, padding and [UNK] included."""
        self._check_adapted()
        return len(self.words or ["\0"]) + 2

    @property
    def num_chars(self) -> int:
        """Character ids, padding and [UNK] included."""
        self._check_adapted()
        return len(self.chars or ["\0"]) + 2

    @property
    def num_tags(self) -> int:
        self._check_adapted()
        return len(self.tags)

    # ------------------------------------------------------------------ tokens -> ids
    def call(self, tokens: Any) -> dict[str, Any]:
        """(B, T) tf.string tokens ("" = padding) -> `{"words": (B, T), "chars": (B, T, C)}`."""
        import tensorflow as tf

        self._check_adapted()
        tokens = tf.strings.substr(tf.convert_to_tensor(tokens, tf.string), 0, MAX_TOKEN_BYTES)
        tokens = tf.strings.unicode_transcode(
            tokens, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        words = tf.cast(self.word_lookup(tf.strings.lower(tokens, encoding="utf-8")), tf.int32)
        chars = tf.strings.unicode_split(tokens, "UTF-8")  # (B, T, None)
        chars = chars[:, :, : self.max_word_chars]
        char_ids = tf.cast(self.char_lookup(chars), tf.int32).to_tensor(default_value=0)
        shape = tf.shape(tokens)
        char_ids = tf.pad(
            char_ids, [[0, 0], [0, 0], [0, self.max_word_chars - tf.shape(char_ids)[2]]]
        )
        char_ids = tf.reshape(char_ids, [shape[0], shape[1], self.max_word_chars])
        return {"words": words, "chars": char_ids}

    def compute_output_spec(self, tokens: Any) -> dict[str, Any]:
        b, t = tokens.shape[:2]
        return {
            "words": keras.KerasTensor((b, t), dtype="int32"),
            "chars": keras.KerasTensor((b, t, self.max_word_chars), dtype="int32"),
        }

    # ------------------------------------------------------------------ tags
    def encode_tags(self, tags: Any) -> Any:
        """(B, T) tf.string tags ("" on padding) -> (B, T) int32 tag ids (0 on padding; a tag
        unknown to the layer is an in-graph error naming it)."""
        import tensorflow as tf

        self._check_adapted()
        tags = tf.convert_to_tensor(tags, tf.string)
        ids = self._tag_table.lookup(tags)
        unknown = (ids < 0) & tf.not_equal(tags, "")
        message = "tags unknown to the model (not in its training data):"
        check = tf.debugging.Assert(
            ~tf.reduce_any(unknown), [message, tf.boolean_mask(tags, unknown)]
        )
        with tf.control_dependencies([check]):
            return tf.maximum(ids, 0)

    def decode_tags(self, ids: Any, mask: Any) -> Any:
        """(B, T) int tag ids, (B, T) bool mask -> (B, T) tf.string tags ("" on padding)."""
        import tensorflow as tf

        self._check_adapted()
        names = tf.gather(self._tag_names, tf.cast(ids, tf.int32))
        return tf.where(tf.cast(mask, tf.bool), names, "")

    # ------------------------------------------------------------------ state
    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_words": self.max_words,
            "min_count": self.min_count,
            "max_chars": self.max_chars,
            "max_word_chars": self.max_word_chars,
            "words": self.words,
            "chars": self.chars,
            "tags": self.tags,
            "num_tagged_words": self.num_tagged_words,
        }
