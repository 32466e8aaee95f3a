"""`TranslatePreprocessor`: sentences -> token ids and token ids -> clean sentences, for both
sides of a translator, as a Keras layer.

Called on source sentences (B,) tf.string it returns the source ids (B, S) int32 the encoder
takes, so the same layer maps sentences inside `tf.data` while training (and in a user's own
pipeline: `ds.map(pre)`), in a functional Keras model and inside the exported SavedModel: all
see exactly the same tokens. It owns the inverse mapping too (`detokenize`: ids -> a
detokenised, true-cased sentence). `get_config` carries both vocabularies and the true-casing
table, so the layer round-trips through its config; the pipeline's JSON state (`get_state` /
`from_state`) keeps its format.

Standardisation (`standardize`, in the graph, both sides):

1. input size cap: the text is cut at `MAX_TEXT_BYTES` bytes; invalid UTF-8 -> U+FFFD;
2. lower-case (Unicode-aware);
3. NFC for the common composed forms: a Latin base letter followed by a combining grave,
   acute, circumflex, diaeresis or cedilla (U+0300/0301/0302/0308/0327) becomes the composed
   letter (`"e\\u0301"` -> `"é"`). Core TensorFlow has no NFC op, so this is a regex table;
   other decomposed sequences (rare in typed text) stay as they are and may map to [UNK].
   `rnn_apps.data.fra_eng` NFC-normalises the training data fully in Python;
4. the French spacing characters (U+202F narrow no-break space, U+00A0 no-break space) and
   every other Unicode space -> a plain space; typographic apostrophes -> `'`, French and
   curly quotes -> `"`;
5. punctuation `. , ? ! ; : " ( ) [ ] ¿ ¡ …` and the apostrophe split off as tokens.

Tokens are then looked up (`TextVectorization`, whitespace split) in the source or target
vocabulary, adapted on the training pairs only; the target side is wrapped in
`[start] ... [end]`. `max_tokens` caps the tokens per sentence.

Shape legend: B batch, S source tokens, T target tokens.
"""

from __future__ import annotations

import collections
import unicodedata
from collections.abc import Sequence
from typing import Any

import keras

from rnn_apps.errors import UserInputError

#: Input size cap: texts are cut at this many bytes (UTF-8) before anything else.
MAX_TEXT_BYTES = 2000
START, END, UNK = "[start]", "[end]", "[UNK]"
_MARKS = ("\u0300", "\u0301", "\u0302", "\u0308", "\u0327")
_PUNCT = r"([.,?!;:\"()\[\]¿¡…'])"
_SPACES = r"[\s\x{00A0}\x{202F}\x{2007}\x{2009}\x{200A}\x{3000}]+"


def _composition_table() -> list[tuple[str, str]]:
    """`(base + combining mark, composed letter)` for lower-case Latin letters."""
    table = []
    for base in "aceinouy":
        for mark in _MARKS:
            composed = unicodedata.normalize("NFC", base + mark)
            if len(composed) == 1:
                table.append((base + mark, composed))
    return table


_COMPOSE = _composition_table()


def standardize(text: Any, *, lower: bool = True) -> Any:
    """(B,) or () tf.string -> same shape tf.string: the steps of the module docstring,
    tokens separated by single spaces, no leading/trailing space."""
    import tensorflow as tf

    text = tf.strings.substr(text, 0, MAX_TEXT_BYTES)
    text = tf.strings.unicode_transcode(
        text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    if lower:
        text = tf.strings.lower(text, encoding="utf-8")
    for decomposed, composed in _COMPOSE:
        text = tf.strings.regex_replace(text, decomposed, composed)
    text = tf.strings.regex_replace(text, "[’‘`´]", "'")
    text = tf.strings.regex_replace(text, "[«»“”„]", '"')
    text = tf.strings.regex_replace(text, _PUNCT, r" \1 ")
    text = tf.strings.regex_replace(text, _SPACES, " ")
    return tf.strings.strip(text)


# Detokenisation rules (RE2, applied in order to the space-joined tokens).
_JOIN_COMMON = ((r" ?' ?", "'"), (r"([(\[¿¡]) ", r"\1"), (r" ([)\]])", r"\1"))
_JOIN = {
    "en": _JOIN_COMMON + ((r" ([.,?!;:%…])", r"\1"),),
    # French: no space before . , … ; one (plain) space before ? ! ; : as the data writes.
    "fr": _JOIN_COMMON + ((r" ([.,…])", r"\1"),),
}


@keras.saving.register_keras_serializable(package="rnn_apps")
class TranslatePreprocessor(keras.layers.Layer):
    """Source sentences -> ids, target sentences -> `[start] ... [end]` ids, ids -> text.

    `call(text)`: (B,) tf.string source sentences -> (B, S) int32 right-padded source ids
    (`encode_source`).

    Args:
        source_vocab_size: Source vocabulary cap (padding and [UNK] included).
        target_vocab_size: Target vocabulary cap.
        max_tokens: Tokens kept per sentence (its head); source ids are cut there.
        target_language: `"en"` or `"fr"`: the detokenisation rules of the output.
        source_vocabulary, target_vocabulary: The vocabularies in id order (as `get_state`
            gives them); None: learn them with `adapt`.
        truecase: The true-casing table (see below).
        **kwargs: `keras.layers.Layer` arguments (`name` ...).

    Attributes:
        source_vocab_size, target_vocab_size, max_tokens, target_language: As given.
        source_vectorizer, target_vectorizer: The `TextVectorization` layers.
        truecase: `{lower-case token: cased form}` learned from the training targets
            (`"tom"` -> `"Tom"`); applied by `detokenize`, which also capitalises the first
            letter of the sentence.
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        max_tokens: int,
        target_language: str,
        *,
        source_vocabulary: Sequence[str] | None = None,
        target_vocabulary: Sequence[str] | None = None,
        truecase: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.max_tokens = int(max_tokens)
        self.target_language = target_language
        self.source_vectorizer = keras.layers.TextVectorization(
            max_tokens=self.source_vocab_size,
            standardize=None,
            split="whitespace",
            ragged=True,
            name="source_vectorizer",
        )
        self.target_vectorizer = keras.layers.TextVectorization(
            max_tokens=self.target_vocab_size,
            standardize=None,
            split="whitespace",
            ragged=True,
            name="target_vectorizer",
        )
        self.truecase: dict[str, str] = dict(truecase or {})
        self._table = None
        self._target_vocab = None
        if source_vocabulary is not None and target_vocabulary is not None:
            self.source_vectorizer.set_vocabulary(_strip_reserved(source_vocabulary))
            self.target_vectorizer.set_vocabulary(_strip_reserved(target_vocabulary))
            self._finish()
        # Strings in, as Keras' own text layers: no conversion or casting of the inputs.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.supports_jit = False
        self.built = True  # no weights; the vectorizers and the table hold the state

    # ------------------------------------------------------------------ vocabulary
    def adapt(self, sources: Sequence[str], targets: Sequence[str]) -> TranslatePreprocessor:
        """Learns both vocabularies (most frequent tokens) and the true-casing table from the
        training pairs only."""
        import tensorflow as tf

        src = tf.data.Dataset.from_tensor_slices(list(sources)).batch(1024).map(standardize)
        tgt = tf.data.Dataset.from_tensor_slices(list(targets)).batch(1024).map(self._wrap)
        self.source_vectorizer.adapt(src)
        self.target_vectorizer.adapt(tgt)
        self.truecase = _learn_truecase(targets)
        self._finish()
        return self

    def _finish(self) -> None:
        import tensorflow as tf

        vocab = self.target_vectorizer.get_vocabulary()
        for token in (START, END):
            if token not in vocab:
                raise UserInputError(
                    f"target_vocab_size={self.target_vocab_size} leaves no room for {token}; "
                    "raise it."
                )
        self._target_vocab = tf.constant(vocab)
        self._start_id, self._end_id = vocab.index(START), vocab.index(END)
        self._sizes = (int(self.source_vectorizer.vocabulary_size()), len(vocab))
        keys = [START, *self.truecase]  # never empty
        values = [START, *self.truecase.values()]
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values)),
            default_value="",
        )

    @staticmethod
    def _wrap(text: Any) -> Any:
        import tensorflow as tf

        return tf.strings.join([START, standardize(text), END], separator=" ")

    @property
    def start_id(self) -> int:
        return self._start_id

    @property
    def end_id(self) -> int:
        return self._end_id

    @property
    def source_vocabulary_size(self) -> int:
        return self._sizes[0]

    @property
    def target_vocabulary_size(self) -> int:
        return self._sizes[1]

    def trackables(self) -> list[Any]:
        """The lookup tables the export must carry (`Task.track` finds them in the layer
        itself; kept for callers that list them)."""
        return [self.source_vectorizer, self.target_vectorizer, self._table]

    # ------------------------------------------------------------------ text -> ids
    def call(self, text: Any) -> Any:
        """(B,) tf.string source sentences -> (B, S) int32 source ids (`encode_source`)."""
        return self.encode_source(text)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (input_shape[0], None)

    def compute_output_spec(self, text: Any) -> Any:
        return keras.KerasTensor(self.compute_output_shape(text.shape), dtype="int32")

    def encode_source(self, text: Any) -> Any:
        """(B,) tf.string -> (B, S) int32 right-padded ids (S >= 1; an empty text is a row
        of padding), each sentence cut at `max_tokens`."""
        import tensorflow as tf

        ids = tf.cast(self.source_vectorizer(standardize(text)), tf.int32)[:, : self.max_tokens]
        dense = ids.to_tensor(default_value=0)
        return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])

    def source_ragged(self, text: Any) -> Any:
        """(B,) tf.string -> ragged (B, None) int32 source ids (uncut)."""
        import tensorflow as tf

        return tf.cast(self.source_vectorizer(standardize(text)), tf.int32)

    def target_ragged(self, text: Any) -> Any:
        """(B,) tf.string -> ragged (B, None) int32 `[start] ... [end]` ids (uncut)."""
        import tensorflow as tf

        return tf.cast(self.target_vectorizer(self._wrap(text)), tf.int32)

    def is_blank(self, text: Any) -> Any:
        """(B,) tf.string -> (B,) bool: nothing left after standardisation."""
        import tensorflow as tf

        return tf.equal(tf.strings.length(standardize(text)), 0)

    # ------------------------------------------------------------------ ids -> text
    def detokenize(self, ids: Any) -> Any:
        """(B, T) int target ids -> (B,) tf.string clean sentences.

        Stops at the first `[end]`; drops padding and `[start]`; true-cases known tokens,
        capitalises the first letter, and joins tokens by the target language's spacing
        rules (English: no space before `. , ? ! ; :`; French: a space before `? ! ; :`).
        [UNK] tokens are kept as `[UNK]`.
        """
        import tensorflow as tf

        ids = tf.cast(ids, tf.int32)
        before_end = tf.equal(tf.cumsum(tf.cast(tf.equal(ids, self.end_id), tf.int32), axis=1), 0)
        keep = before_end & (ids > 0) & tf.not_equal(ids, self.start_id)
        tokens = tf.ragged.boolean_mask(tf.gather(self._target_vocab, ids), keep)  # (B, None)
        cased = self._table.lookup(tokens.flat_values)
        flat = tf.where(tf.equal(cased, ""), tokens.flat_values, cased)
        tokens = tokens.with_flat_values(flat)
        text = tf.strings.reduce_join(tokens, axis=1, separator=" ")  # (B,)
        for pattern, rewrite in _JOIN.get(self.target_language, _JOIN_COMMON):
            text = tf.strings.regex_replace(text, pattern, rewrite)
        n = tf.strings.length(text, unit="UTF8_CHAR")
        one = tf.minimum(tf.ones_like(n), n)  # 0 for an empty text
        first = tf.strings.substr(text, tf.zeros_like(n), one, unit="UTF8_CHAR")
        rest = tf.strings.substr(text, one, n, unit="UTF8_CHAR")
        return tf.strings.join([tf.strings.upper(first, encoding="utf-8"), rest])

    # ------------------------------------------------------------------ state
    def get_config(self) -> dict[str, Any]:
        adapted = self._table is not None
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "max_tokens": self.max_tokens,
            "target_language": self.target_language,
            **(self.get_state() if adapted else {}),
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "source_vocabulary": list(self.source_vectorizer.get_vocabulary()),
            "target_vocabulary": list(self.target_vectorizer.get_vocabulary()),
            "truecase": dict(self.truecase),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], config: Any) -> TranslatePreprocessor:
        return cls(
            config.source_vocab_size,
            config.target_vocab_size,
            config.max_tokens,
            config.target_language,
            source_vocabulary=state["source_vocabulary"],
            target_vocabulary=state["target_vocabulary"],
            truecase=state.get("truecase", {}),
        )


def _strip_reserved(vocab: Sequence[str]) -> list[str]:
    vocab = list(vocab)
    return vocab[2:] if vocab[:2] == ["", UNK] else vocab


def _learn_truecase(targets: Sequence[str], min_count: int = 2) -> dict[str, str]:
    """`{lower-case token: cased form}` for tokens whose most frequent form inside sentences
    (not sentence-initial) is not lower-case (names: `"tom"` -> `"Tom"`)."""
    import tensorflow as tf

    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    ds = tf.data.Dataset.from_tensor_slices(list(targets)).batch(2048)
    for batch in ds.map(lambda t: standardize(t, lower=False)):
        for line in batch.numpy():
            for token in line.decode("utf-8").split(" ")[1:]:
                if token:
                    counts[token.lower()][token] += 1
    out = {}
    for low, forms in counts.items():
        form, n = forms.most_common(1)[0]
        if form != low and n >= min_count:
            out[low] = form
    return out
