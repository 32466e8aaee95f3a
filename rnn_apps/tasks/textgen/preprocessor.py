"""Text <-> token ids of a language model: tokenization, the vocabulary (a Keras
`StringLookup` that travels with the export) and the inverse mapping ids -> text.

Ids: 0 is padding (the lookup's mask token ""), 1 the OOV token `[UNK]`, 2.. the vocabulary.
Every method that takes tensors is made of TensorFlow ops and Keras layer calls, so the same
`Vocabulary` runs in `tf.data`, in a `tf.function` and inside the exported SavedModel.

Shape legend: B batch (texts), T tokens.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from typing import Any

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


@dataclasses.dataclass
class Vocabulary:
    """The preprocessor of a language model: text -> ids and ids -> text.

    Id 0 = padding, 1 = OOV, 2.. = `tokens`. Adapted on the training text only (`build`).

    Attributes:
        level: `"char"` or `"word"`.
        tokens: The real tokens, in id order (id = index + 2).
        lowercase: Word level lowercasing.
    """

    level: str
    tokens: list[str]
    lowercase: bool = False

    @property
    def size(self) -> int:
        """V: number of ids, padding and OOV included."""
        return len(self.tokens) + 2

    def lookup_layer(self, invert: bool = False) -> Any:
        """A new Keras `StringLookup` mapping tokens to ids (or ids to tokens with `invert`)."""
        import keras

        return keras.layers.StringLookup(
            vocabulary=list(self.tokens),
            mask_token="",
            oov_token=OOV_TOKEN,
            num_oov_indices=1,
            invert=invert,
            name="token_to_id" if not invert else "id_to_token",
        )

    @functools.cached_property
    def lookup(self) -> Any:
        """The `StringLookup` tokens -> ids this vocabulary encodes with (one per object)."""
        return self.lookup_layer()

    @functools.cached_property
    def inverse(self) -> Any:
        """The `StringLookup(invert=True)` ids -> tokens this vocabulary decodes with."""
        return self.lookup_layer(invert=True)

    # ------------------------------------------------------------------ adapt
    @classmethod
    def build(
        cls, text: str, level: str = "char", *, max_vocab: int = 10_000, lowercase: bool = False
    ) -> Vocabulary:
        """Collects the vocabulary of a training text.

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
    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "tokens": list(self.tokens), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        return cls(level=d["level"], tokens=list(d["tokens"]), lowercase=bool(d["lowercase"]))


# =========================================================================== training windows


def windows_dataset(ids: np.ndarray, seq_len: int, batch_size: int, seed: int) -> tuple[Any, int]:
    """Shuffled contiguous windows (x = ids[s:s+T], y = ids[s+1:s+T+1]), a random offset per
    pass, every window from a zero state.

    Args:
        ids: The training text's ids (N,).
        seq_len: T.
        batch_size: B.
        seed: Seed of the offsets and the shuffle.

    Returns:
        `(dataset of ((B, T), (B, T)) batches repeating forever, steps per epoch)`.

    Raises:
        UserInputError: the text is too short for one batch.
    """
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    n = len(ids)
    per_epoch = (n - 1 - (seq_len - 1)) // seq_len
    if per_epoch < batch_size:
        raise UserInputError(
            f"The training text has {n} tokens: too short for batch_size={batch_size} windows "
            f"of seq_len={seq_len}; lower them (or give more text)."
        )
    ids_t = tf.constant(ids, tf.int32)

    def epoch(e):
        off = tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(seed, tf.int64), e]), maxval=seq_len, dtype=tf.int64
        )
        count = (n - 1 - off) // seq_len
        starts = off + tf.range(count) * seq_len
        return tf.data.Dataset.from_tensor_slices(starts).shuffle(
            per_epoch + 1, seed=seed, reshuffle_each_iteration=True
        )

    def window(s):
        s = tf.cast(s, tf.int32)
        return ids_t[s : s + seq_len], ids_t[s + 1 : s + seq_len + 1]

    ds = (
        tf.data.Dataset.range(10**9)
        .flat_map(epoch)
        .map(window, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return ds, per_epoch // batch_size


def stateful_dataset(ids: np.ndarray, seq_len: int, batch_size: int) -> tuple[Any, int]:
    """Truncated-BPTT batches: row b of batch k is window k of contiguous stream b.

    Returns:
        `(dataset of ((B, T), (B, T)) batches repeating forever, steps per epoch)`.

    Raises:
        UserInputError: the text is too short for one window per stream.
    """
    import tensorflow as tf

    from rnn_apps.errors import UserInputError

    stream = (len(ids) - 1) // batch_size
    steps = stream // seq_len
    if steps < 1:
        raise UserInputError(
            f"The training text has {len(ids)} tokens: too short for {batch_size} streams of "
            f"seq_len={seq_len}; lower them (or give more text)."
        )
    x = np.stack([ids[b * stream : b * stream + steps * seq_len] for b in range(batch_size)])
    y = np.stack(
        [ids[b * stream + 1 : b * stream + 1 + steps * seq_len] for b in range(batch_size)]
    )
    # (B, steps * T) -> (steps, B, T)
    x = x.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    y = y.reshape(batch_size, steps, seq_len).transpose(1, 0, 2)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().prefetch(tf.data.AUTOTUNE)
    return ds, steps


def unigram_logits(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Log-probabilities (V,) of the training ids, add-half smoothed; padding gets -1e9.

    The model's prediction for the first token of a text (before any state exists).
    """
    counts = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    counts[PAD_ID] = 0.0
    probs = (counts + 0.5) / (counts.sum() + 0.5 * vocab_size)
    out = np.log(probs)
    out[PAD_ID] = -1e9
    return out.astype(np.float32)
