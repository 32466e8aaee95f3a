"""Text generation: character- and word-level recurrent language models.

Pipeline: a text corpus (tiny Shakespeare or user `.txt` files, split contiguously 90/10) ->
tokens (every Unicode character, or words and punctuation with an OOV token) -> ids through a
Keras `StringLookup` that travels with the model -> a stacked LSTM/GRU from
`rnn_apps.build_stacked_rnn(head="many_to_many")` trained on contiguous windows (optionally
stateful truncated BPTT) -> validation cross-entropy (nats/token, bits/char, perplexity) ->
generation by stateful step-by-step sampling -> a SavedModel with `generate` and `score`
signatures that needs nothing but TensorFlow.

Ids: 0 is padding (the lookup's mask token ""), 1 the OOV token `[UNK]`, 2.. the vocabulary.
Generation never samples 0 or 1.

Generation costs one recurrent step per new token: the prompt runs once through the recurrent
layers (`layer(x, mask=...)`, which returns each row's state at its last valid step), then a
`tf.while_loop` calls each layer's *cell* on one token at a time, carrying the states. The
whole loop is in the graph, so the exported `generate` signature runs it too.

Sampling arguments (Python API and SavedModel alike):
- `max_new_tokens`: <= 0 returns the prompt unchanged; above `MAX_NEW_TOKENS_CAP` (10,000) is
  an error.
- `temperature`: > 0 divides the logits; <= 0 means greedy decoding (argmax); NaN/inf is an
  error.
- `top_k`: 0 = off; k >= 1 keeps the k most likely tokens (k above the vocabulary = off);
  negative is an error.
- `top_p`: nucleus sampling, in (0, 1]; 1.0 = off; outside (0, 1] (or NaN) is an error.
- `seed`: int32; stateless random ops (`tf.random.stateless_categorical` seeded by
  `(seed, step)`), so the same seed, prompts and model give the same text.
- prompt: "" starts from the initial (zero) state, the first token being drawn from the
  training unigram distribution; characters/words never seen in training are kept verbatim in
  the output text and fed to the model as the OOV id.

In the SavedModel, errors are `tf.debugging` assertions whose message names the argument
(InvalidArgumentError); in Python they are `rnn_apps.UserInputError`.

`score(texts)` returns the mean negative log-likelihood in nats per token of each text, the
state carried through the whole text: the first token is scored under the training unigram
distribution (the model's "initial state" prediction), each next token under the LM given
everything before it. An empty text (no tokens) scores NaN. OOV tokens are scored as the OOV
id (char level: the LM never saw one, so they cost many nats - a useful anomaly signal).

Shape legend: B batch (prompts or texts), T time steps (tokens), V vocabulary size (with
padding and OOV), E embedding width, U units.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError

LEVELS = ("char", "word")
CELLS = ("lstm", "gru")
PAD_ID = 0
OOV_ID = 1
OOV_TOKEN = "[UNK]"
NEWLINE_TOKEN = "\u2424"  # word level: "\n" becomes this token (SYMBOL FOR NEWLINE)
MAX_NEW_TOKENS_CAP = 10_000
_NEG = -1e9
_PUNCT_RE = r"([^\pL\pN_\s])"  # RE2: anything that is not a letter, digit, "_" or whitespace


# --------------------------------------------------------------------------- configuration


@dataclasses.dataclass
class TextGenConfig:
    """Configuration of a `TextGenerator` (every field can be set from a CLI `--config` file).

    Attributes:
        level: `"char"` (every Unicode character) or `"word"` (words and punctuation).
        max_vocab: Word level: keep the most frequent `max_vocab` tokens (others -> OOV).
        lowercase: Word level: lowercase before tokenizing.
        cell: `"lstm"` or `"gru"`.
        units: Units per recurrent layer (int, repeated `num_layers` times, or a list).
        num_layers: Number of recurrent layers when `units` is an int.
        embedding_dim: Token embedding width E.
        dropout: Input dropout of every recurrent layer.
        head_dropout: Dropout between the last recurrent layer and the output layer.
        seq_len: Training window length T (truncated-BPTT length).
        batch_size: Windows per batch.
        epochs: Maximum passes over the training text.
        max_minutes: Optional wall-clock training budget; the cosine learning-rate decay then
            follows whichever of steps or time runs out first.
        learning_rate: Peak Adam learning rate.
        min_lr_ratio: Final learning rate as a fraction of the peak (cosine decay).
        warmup_steps: Linear warm-up steps.
        clipnorm: Gradient-norm clipping.
        stateful: Truncated BPTT with stateful layers: the batch holds `batch_size` contiguous
            streams and the state is carried from one window to the next (reset every epoch).
            Without it, windows start at a random offset each epoch, are shuffled, and every
            window starts from a zero state.
        val_chunks: The validation text is scored as this many contiguous chunks, the state
            carried through each chunk.
        seed: Random seed.
    """

    level: str = "char"
    max_vocab: int = 10_000
    lowercase: bool = False
    cell: str = "gru"
    units: int | list[int] = 384
    num_layers: int = 1
    embedding_dim: int = 64
    dropout: float = 0.0
    head_dropout: float = 0.1
    seq_len: int = 100
    batch_size: int = 32
    epochs: int = 10
    max_minutes: float | None = None
    learning_rate: float = 3e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 50
    clipnorm: float = 1.0
    stateful: bool = False
    val_chunks: int = 16
    seed: int = 0

    def validate(self) -> TextGenConfig:
        """Checks every field; raises `UserInputError` naming the bad one."""

        def bad(name: str, allowed: str) -> None:
            raise UserInputError(f"textgen config {name}={getattr(self, name)!r}: {allowed}.")

        if self.level not in LEVELS:
            bad("level", f"expected one of {LEVELS}")
        if self.cell not in CELLS:
            bad("cell", f"expected one of {CELLS}")
        for name in ("max_vocab", "num_layers", "embedding_dim", "seq_len", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                bad(name, "expected a positive integer")
        if self.max_vocab < 2:
            bad("max_vocab", "expected at least 2")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            bad("epochs", "expected a positive integer")
        units = self.units if isinstance(self.units, list) else [self.units]
        if not units or any(isinstance(u, bool) or not isinstance(u, int) or u <= 0 for u in units):
            bad("units", "expected a positive integer or a list of them")
        for name in ("dropout", "head_dropout"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                bad(name, "expected a float in [0, 1)")
        if self.max_minutes is not None and not float(self.max_minutes) > 0:
            bad("max_minutes", "expected a positive number of minutes or None")
        if not float(self.learning_rate) > 0:
            bad("learning_rate", "expected a positive float")
        if not 0.0 <= float(self.min_lr_ratio) <= 1.0:
            bad("min_lr_ratio", "expected a float in [0, 1]")
        if not float(self.clipnorm) > 0:
            bad("clipnorm", "expected a positive float")
        if int(self.warmup_steps) < 0:
            bad("warmup_steps", "expected an integer >= 0")
        if int(self.val_chunks) < 1:
            bad("val_chunks", "expected a positive integer")
        return self

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TextGenConfig:
        """Builds a config from a mapping; unknown keys raise `UserInputError`."""
        from rnn_apps.config import config_from_dict

        return config_from_dict(cls, values, "textgen").validate()


# --------------------------------------------------------------------------- tokenization


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
        A `tf.RaggedTensor` of strings, (B, None).
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
    """Joins word-level tokens (ragged (B, None)) back into text (B,), approximately.

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
    """Token inventory of a language model: id 0 = padding, 1 = OOV, 2.. = `tokens`.

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
        """A Keras `StringLookup` mapping tokens to ids (or ids to tokens with `invert`)."""
        import keras

        return keras.layers.StringLookup(
            vocabulary=list(self.tokens),
            mask_token="",
            oov_token=OOV_TOKEN,
            num_oov_indices=1,
            invert=invert,
            name="token_to_id" if not invert else "id_to_token",
        )

    @classmethod
    def build(
        cls, text: str, level: str = "char", *, max_vocab: int = 10_000, lowercase: bool = False
    ) -> Vocabulary:
        """Collects the vocabulary of a training text.

        Char level: every distinct character, sorted. Word level: the `max_vocab - 2` most
        frequent tokens (ties broken alphabetically), the rest map to OOV.
        """
        if level == "char":
            chars = sorted(set(text) - {""})
            return cls(level="char", tokens=chars)
        toks = tokenize([text], "word", lowercase).flat_values.numpy()
        counts = Counter(t.decode("utf-8") for t in toks)
        counts.pop(OOV_TOKEN, None)
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max(max_vocab - 2, 1)]
        return cls(level="word", tokens=[t for t, _ in best], lowercase=lowercase)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "tokens": list(self.tokens), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        return cls(level=d["level"], tokens=list(d["tokens"]), lowercase=bool(d["lowercase"]))


# --------------------------------------------------------------------------- in-graph LM


class LMGraph:
    """The in-graph parts of a trained LM: encode, run a prompt, step, sample, score.

    Every method is made of TensorFlow ops and Keras layer calls, so it can run inside a
    `tf.function` and be exported. Built from a *stateless* model of `build_stacked_rnn`
    (layers `embedding`, `rnn_1`..`rnn_N`, optional `head_dropout`/`head_hidden`, `output`).
    """

    def __init__(self, model: Any, vocab: Vocabulary, unigram_logits: np.ndarray):
        import keras
        import tensorflow as tf

        self.model = model
        self.vocab = vocab
        self.lookup = vocab.lookup_layer()
        self.inverse = vocab.lookup_layer(invert=True)
        self.embedding = model.get_layer("embedding")
        self.rnns = []
        i = 1
        while True:
            try:
                self.rnns.append(model.get_layer(f"rnn_{i}"))
            except ValueError:
                break
            i += 1
        self.state_counts = [
            2 if isinstance(r.cell, keras.layers.LSTMCell) else 1 for r in self.rnns
        ]
        head_names = ("head_hidden", "head_dropout", "output")
        self.head = [layer for layer in model.layers if layer.name in head_names]
        self.vocab_size = vocab.size
        self.unigram = tf.constant(np.asarray(unigram_logits, np.float32))  # (V,)
        forbid = np.zeros(vocab.size, bool)
        forbid[[PAD_ID, OOV_ID]] = True
        self.forbidden = tf.constant(forbid)  # (V,) never sampled

    # -- encoding
    def encode(self, texts: Any) -> Any:
        """(B,) strings -> ragged (B, None) int32 ids."""
        import tensorflow as tf

        tokens = tokenize(texts, self.vocab.level, self.vocab.lowercase)
        ids = tf.cast(self.lookup(tokens.flat_values), tf.int32)
        return tokens.with_flat_values(ids)

    def _apply_head(self, x: Any) -> Any:
        for layer in self.head:
            x = layer(x, training=False)
        return x

    def _padded(self, ids: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        lengths = tf.cast(ids.row_lengths(), tf.int32)  # (B,)
        dense = ids.to_tensor(default_value=PAD_ID)  # (B, T)
        dense = tf.pad(dense, [[0, 0], [0, 1]])  # (B, T + 1): never zero-length
        return dense, lengths

    def run_prompt(self, ids: Any) -> tuple[list[Any], Any]:
        """Runs right-padded prompts through the recurrent layers once.

        Returns:
            `(states, logits)`: the states at each prompt's last token (zeros for an empty
            prompt), and the next-token logits (B, V) (the unigram logits for an empty prompt).
        """
        import tensorflow as tf

        dense, lengths = self._padded(ids)
        x = self.embedding(dense)  # (B, T) -> (B, T, E)
        mask = tf.not_equal(dense, PAD_ID)
        states: list[Any] = []
        for rnn in self.rnns:
            out = rnn(x, mask=mask, training=False)  # [(B, T, U), *states (B, U)]
            x = out[0]
            states.extend(out[1:])
        h_top = states[-self.state_counts[-1]]  # (B, U): output at the last valid step
        logits = self._apply_head(h_top)  # (B, V)
        logits = tf.where(lengths[:, None] > 0, logits, self.unigram[None, :])
        return states, logits

    def step(self, tokens: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        """One recurrent step: tokens (B,) and states -> next-token logits (B, V), new states."""
        import tensorflow as tf

        x = tf.gather(self.embedding.embeddings, tokens)  # (B,) -> (B, E)
        new_states: list[Any] = []
        j = 0
        for rnn, k in zip(self.rnns, self.state_counts):
            s = states[j : j + k]
            x, s = rnn.cell(x, s, training=False)  # (B, E or U) -> (B, U)
            new_states.extend(s if isinstance(s, (list, tuple)) else [s])
            j += k
        return self._apply_head(x), new_states

    def filter_logits(self, logits: Any, temperature: Any, top_k: Any, top_p: Any) -> Any:
        """Temperature, top-k and top-p (nucleus) filtering; forbidden ids get -1e9.

        (B, V) -> (B, V). top_k <= 0 or >= the number of real tokens is off; top_p >= 1 is off.
        """
        import tensorflow as tf

        logits = tf.where(self.forbidden[None, :], _NEG, logits)
        scaled = logits / tf.maximum(temperature, 1e-6)
        n_real = self.vocab_size - 2
        sorted_desc = tf.sort(scaled, axis=-1, direction="DESCENDING")  # (B, V)
        k = tf.where((top_k <= 0) | (top_k > n_real), n_real, top_k)
        kth = tf.gather(sorted_desc, k - 1, axis=1)[:, None]  # (B, 1)
        probs = tf.nn.softmax(sorted_desc, axis=-1)
        cum_before = tf.cumsum(probs, axis=-1, exclusive=True)
        keep = (cum_before < top_p) | (top_p >= 1.0)
        n_keep = tf.maximum(tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1), 1)  # (B,)
        pth = tf.gather(sorted_desc, n_keep - 1, axis=1, batch_dims=1)[:, None]  # (B, 1)
        threshold = tf.maximum(kth, pth)
        return tf.where(scaled < threshold, _NEG, scaled)

    def check_args(
        self, max_new_tokens: Any, temperature: Any, top_k: Any, top_p: Any
    ) -> list[Any]:
        """In-graph assertions with messages naming the argument."""
        import tensorflow as tf

        return [
            tf.debugging.assert_less_equal(
                max_new_tokens,
                tf.constant(MAX_NEW_TOKENS_CAP, tf.int32),
                message=f"max_new_tokens must be <= {MAX_NEW_TOKENS_CAP}",
            ),
            tf.debugging.assert_greater_equal(
                top_k, tf.constant(0, tf.int32), message="top_k must be >= 0 (0 = off)"
            ),
            tf.debugging.Assert(
                (top_p > 0.0) & (top_p <= 1.0),
                ["top_p must be in (0, 1] (1.0 = off), got", top_p],
            ),
            tf.debugging.Assert(
                tf.math.is_finite(temperature),
                ["temperature must be finite (<= 0 = greedy), got", temperature],
            ),
        ]

    def generate_ids(
        self,
        prompts: Any,
        max_new_tokens: Any,
        temperature: Any,
        top_k: Any,
        top_p: Any,
        seed: Any,
        stop_ids: Sequence[int] = (),
    ) -> tuple[Any, Any]:
        """Samples continuations, one recurrent step per token, in a `tf.while_loop`.

        Args:
            prompts: (B,) strings.
            max_new_tokens, temperature, top_k, top_p, seed: scalars (see the module doc).
            stop_ids: Optional token ids; a row stops once it has produced them in a row.

        Returns:
            `(prompt_ids, new_ids)`: ragged (B, None) prompt ids and (B, N) sampled ids, 0 after
            a row stopped.
        """
        import tensorflow as tf

        with tf.control_dependencies(self.check_args(max_new_tokens, temperature, top_k, top_p)):
            n = tf.maximum(tf.identity(max_new_tokens), 0)
        ids = self.encode(prompts)
        states, logits = self.run_prompt(ids)
        batch = tf.shape(prompts)[0]
        m = len(stop_ids)
        stop = tf.constant(list(stop_ids) or [0], tf.int32)
        window = tf.zeros([batch, max(m, 1)], tf.int32)
        done = tf.zeros([batch], tf.bool)
        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])
        seed = tf.cast(seed, tf.int32)

        def cond(i, logits, window, done, *_):
            return (i < n) & tf.logical_not(tf.reduce_all(done))

        def body(i, logits, window, done, out, *states):
            filtered = self.filter_logits(logits, temperature, top_k, top_p)
            sampled = tf.random.stateless_categorical(
                filtered, 1, seed=tf.stack([seed, i]), dtype=tf.int32
            )[:, 0]  # (B,)
            greedy = tf.argmax(filtered, axis=-1, output_type=tf.int32)
            tok = tf.where(temperature > 0.0, sampled, greedy)
            tok = tf.where(done, PAD_ID, tok)
            out = out.write(i, tok)
            if m:
                window = tf.concat([window[:, 1:], tok[:, None]], axis=1)
                done = done | tf.reduce_all(tf.equal(window, stop[None, :]), axis=1)
            logits, new_states = self.step(tok, list(states))
            return (i + 1, logits, window, done, out, *new_states)

        loop = tf.while_loop(
            cond,
            body,
            (tf.constant(0), logits, window, done, out, *states),
        )
        steps, written = loop[0], loop[4]
        new_ids = tf.cond(
            steps > 0,
            lambda: tf.transpose(written.stack(), [1, 0]),  # (N, B) -> (B, N)
            lambda: tf.zeros([batch, 0], tf.int32),
        )
        return ids, new_ids

    def ids_to_text(self, prompts: Any, new_ids: Any) -> Any:
        """Prompt + decoded continuation, (B,) strings."""
        import tensorflow as tf

        keep = tf.not_equal(new_ids, PAD_ID)
        ragged = tf.ragged.boolean_mask(new_ids, keep)  # (B, None)
        toks = ragged.with_flat_values(self.inverse(tf.cast(ragged.flat_values, tf.int64)))
        if self.vocab.level == "char":
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

    def generate(
        self,
        prompts: Any,
        max_new_tokens: Any,
        temperature: Any,
        top_k: Any,
        top_p: Any,
        seed: Any,
        stop_ids: Sequence[int] = (),
    ) -> Any:
        """(B,) prompts -> (B,) prompt + continuation (see `generate_ids`)."""
        _, new_ids = self.generate_ids(
            prompts, max_new_tokens, temperature, top_k, top_p, seed, stop_ids
        )
        return self.ids_to_text(prompts, new_ids)

    def token_nll(self, ids: Any) -> tuple[Any, Any]:
        """Summed NLL (nats) and token count of each row of ragged ids, state carried.

        Returns:
            `(total (B,), count (B,))`, float32 and int32.
        """
        import tensorflow as tf

        dense, lengths = self._padded(ids)  # (B, T+1)
        logits = self.model(dense, training=False)  # (B, T+1, V)
        logp = tf.nn.log_softmax(logits, axis=-1)
        targets = dense[:, 1:]  # (B, T)
        nll = -tf.gather(logp[:, :-1, :], targets, axis=2, batch_dims=2)  # (B, T)
        valid = tf.not_equal(targets, PAD_ID)
        total = tf.reduce_sum(tf.where(valid, nll, 0.0), axis=1)
        first = -tf.gather(tf.nn.log_softmax(self.unigram), dense[:, 0])  # (B,)
        total += tf.where(lengths > 0, first, 0.0)
        return total, lengths

    def score(self, texts: Any) -> Any:
        """(B,) strings -> (B,) mean NLL in nats per token (NaN for a text without tokens)."""
        import tensorflow as tf

        total, count = self.token_nll(self.encode(texts))
        return tf.where(count > 0, total / tf.cast(tf.maximum(count, 1), tf.float32), np.nan)


# --------------------------------------------------------------------------- data


def _windows_dataset(ids: np.ndarray, seq_len: int, batch_size: int, seed: int) -> tuple[Any, int]:
    """Shuffled contiguous windows (x = ids[s:s+T], y = ids[s+1:s+T+1]), random offset per pass.

    Returns:
        `(dataset repeating forever, steps per epoch)`.
    """
    import tensorflow as tf

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


def _stateful_dataset(ids: np.ndarray, seq_len: int, batch_size: int) -> tuple[Any, int]:
    """Truncated-BPTT batches: row b of batch k is window k of contiguous stream b.

    Returns:
        `(dataset repeating forever, steps per epoch)`.
    """
    import tensorflow as tf

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


# --------------------------------------------------------------------------- metrics


def loss_metrics(nats_per_token: float, chars_per_token: float = 1.0) -> dict[str, float]:
    """nats/token -> also bits/token, bits/char and perplexity."""
    bits = nats_per_token / math.log(2.0)
    return {
        "nats_per_token": float(nats_per_token),
        "bits_per_token": float(bits),
        "bits_per_char": float(bits / chars_per_token),
        "perplexity": float(math.exp(min(nats_per_token, 700.0))),
    }


def plot_learning_curve(history: dict[str, list[float]], path: str | os.PathLike) -> Path:
    """Writes a PNG of training and validation loss (nats/token) per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = history.get("epoch", [])
    ax.plot(epochs, history.get("train_loss", []), "o-", label="train (windows)")
    if any(v is not None for v in history.get("val_loss", [])):
        ax.plot(epochs, history["val_loss"], "s-", label="validation (state carried)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- estimator


class TextGenerator:
    """A recurrent language model: fit on text, score text, generate text, export.

    Example:
        >>> lm = TextGenerator(TextGenConfig(units=256, epochs=2)).fit(train_text, val_text)
        >>> lm.generate("ROMEO:", max_new_tokens=200, temperature=0.8, seed=1)
        >>> lm.export("saved_models/my_lm")

    Learned state (set by `fit` or `load`): `vocab_`, `model_` (stateless Keras model),
    `unigram_logits_`, `history_`, `train_seconds_`.
    """

    def __init__(self, config: TextGenConfig | None = None):
        self.config = config if config is not None else TextGenConfig()

    # -- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise UserInputError("This TextGenerator is not fitted: call fit() or load() first.")

    def _build_model(self, vocab_size: int, stateful: bool) -> Any:
        from rnn_apps import build_stacked_rnn

        c = self.config
        return build_stacked_rnn(
            vocab_size=vocab_size,
            embedding_dim=c.embedding_dim,
            cell=c.cell,
            units=c.units,
            num_layers=None if isinstance(c.units, list) else c.num_layers,
            dropout=c.dropout,
            head="many_to_many",
            head_dropout=c.head_dropout,
            output_dim=vocab_size,
            causal=True,
            stateful=stateful,
            batch_size=c.batch_size if stateful else None,
            name=f"{c.level}_lm",
        )

    def _encode_np(self, text: str) -> np.ndarray:
        import tensorflow as tf

        lookup = self.vocab_.lookup_layer()
        toks = tokenize(tf.constant([text]), self.vocab_.level, self.vocab_.lowercase)
        return np.asarray(lookup(toks.flat_values).numpy(), np.int32)

    def _set_graph(self) -> None:
        import tensorflow as tf

        self._graph = LMGraph(self.model_, self.vocab_, self.unigram_logits_)
        self._generate_fns: dict[tuple[int, ...], Callable] = {}
        self._nll_fn = tf.function(
            lambda ids, lengths: self._graph.token_nll(
                tf.RaggedTensor.from_tensor(ids, lengths=lengths)
            ),
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None], tf.int32),
            ],
        )
        self._score_str_fn = tf.function(
            self._graph.score, input_signature=[tf.TensorSpec([None], tf.string)]
        )

    # -- training
    def fit(
        self,
        train_text: str,
        val_text: str | None = None,
        *,
        verbose: int = 0,
        callbacks: Sequence[Any] = (),
        strategy: Any = None,
    ) -> TextGenerator:
        """Builds the vocabulary from `train_text` and trains the LM.

        Args:
            train_text: Training text.
            val_text: Optional validation text, scored (state carried) after every epoch.
            verbose: Keras verbosity.
            callbacks: Extra Keras callbacks.
            strategy: `"default"` (None), `"mirrored"` (all local GPUs) or a single-machine
                `tf.distribute.Strategy`; the model is built under its scope. Multi-worker
                training is not available for text generation yet (its training loop relies
                on Keras `fit`, which does not run under `MultiWorkerMirroredStrategy` in
                Keras 3); the sentiment and forecasting pipelines support it.

        Returns:
            self.
        """
        import keras

        from rnn_apps import compile_model
        from rnn_apps.training import is_multi_worker, resolve_strategy

        # Refused before a named strategy is created (that would start a cluster server).
        strategy = None if strategy == "multi_worker" else resolve_strategy(strategy)
        if strategy is None or is_multi_worker(strategy):
            raise UserInputError(
                "textgen does not support strategy 'multi_worker' yet (Keras 3's fit does not "
                "run under MultiWorkerMirroredStrategy): use 'default' or 'mirrored'."
            )
        c = self.config.validate()
        if not isinstance(train_text, str) or not train_text:
            raise UserInputError("train_text is empty: give the text to learn from.")
        keras.utils.set_random_seed(c.seed)
        self.vocab_ = Vocabulary.build(
            train_text, c.level, max_vocab=c.max_vocab, lowercase=c.lowercase
        )
        v = self.vocab_.size
        ids = self._encode_np(train_text)
        counts = np.bincount(ids, minlength=v).astype(np.float64)
        counts[[PAD_ID]] = 0.0
        probs = (counts + 0.5) / (counts.sum() + 0.5 * v)
        unigram = np.log(probs)
        unigram[PAD_ID] = _NEG
        self.unigram_logits_ = unigram.astype(np.float32)
        self.chars_per_token_ = len(train_text) / max(len(ids), 1)
        val_ids = self._encode_np(val_text) if val_text else None

        if c.stateful:
            ds, steps = _stateful_dataset(ids, c.seq_len, c.batch_size)
        else:
            ds, steps = _windows_dataset(ids, c.seq_len, c.batch_size, c.seed)
        with strategy.scope():
            train_model = self._build_model(v, stateful=c.stateful)
            compile_model(
                train_model,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                optimizer=keras.optimizers.Adam(learning_rate=c.learning_rate, clipnorm=c.clipnorm),
            )
        eval_model = self._build_model(v, stateful=False) if c.stateful else train_model
        self.model_ = eval_model
        self._set_graph()
        history: dict[str, list[Any]] = {
            "epoch": [],
            "steps": [],
            "train_loss": [],
            "val_loss": [],
            "elapsed_s": [],
            "lr": [],
        }
        _Schedule, _ResetStates, _EpochEnd = _callbacks()
        cbs = [
            _Schedule(c, steps * c.epochs),
            _EpochEnd(self, eval_model, train_model, val_ids, history),
            *callbacks,
        ]
        if c.stateful:
            cbs.insert(0, _ResetStates())
        start = time.perf_counter()
        train_model.fit(ds, epochs=c.epochs, steps_per_epoch=steps, verbose=verbose, callbacks=cbs)
        self.train_seconds_ = time.perf_counter() - start
        if c.stateful:
            eval_model.set_weights(train_model.get_weights())
        self.history_ = history
        self.steps_per_epoch_ = steps
        return self

    # -- evaluation
    def _nll_sum(self, ids: np.ndarray, chunks: int) -> tuple[float, int]:
        """Sum of NLL over contiguous chunks of one id stream (first token of each chunk under
        the unigram)."""
        parts = [p for p in np.array_split(ids, max(1, min(chunks, len(ids)))) if len(p)]
        width = max(len(p) for p in parts)
        dense = np.zeros((len(parts), width), np.int32)
        for i, p in enumerate(parts):
            dense[i, : len(p)] = p
        lengths = np.asarray([len(p) for p in parts], np.int32)
        total, count = self._nll_fn(dense, lengths)
        return float(np.sum(total.numpy())), int(np.sum(count.numpy()))

    def evaluate(self, text: str, *, chunks: int | None = None) -> dict[str, float]:
        """Cross-entropy of `text` under the model, the state carried through each chunk.

        Args:
            text: The text (e.g. the validation split).
            chunks: Score the text as this many contiguous chunks (parallel rows); defaults to
                `config.val_chunks`.

        Returns:
            `nats_per_token`, `bits_per_token`, `bits_per_char`, `perplexity`, `num_tokens`,
            `num_chars`.
        """
        self._check_fitted()
        if not isinstance(text, str) or not text:
            raise UserInputError("evaluate() needs a non-empty text.")
        ids = self._encode_np(text)
        if len(ids) == 0:
            raise UserInputError("The text has no tokens to score.")
        total, count = self._nll_sum(ids, chunks or self.config.val_chunks)
        out = loss_metrics(total / count, len(text) / count)
        out.update({"num_tokens": count, "num_chars": len(text)})
        return out

    def score(self, texts: str | Sequence[str]) -> np.ndarray:
        """Mean NLL (nats per token) of each text, state carried; NaN for an empty text."""
        self._check_fitted()
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts:
            return np.zeros([0], np.float32)
        if not all(isinstance(t, str) for t in texts):
            raise UserInputError("score() takes a string or a list of strings.")
        return self._score_str_fn(np.asarray(texts, dtype=object)).numpy()

    # -- generation
    def _generate_fn(self, stop_ids: tuple[int, ...]) -> Callable:
        import tensorflow as tf

        if stop_ids not in self._generate_fns:
            graph = self._graph
            self._generate_fns[stop_ids] = tf.function(
                lambda p, n, t, k, tp, s: graph.generate(p, n, t, k, tp, s, stop_ids),
                input_signature=generate_signature(),
            )
        return self._generate_fns[stop_ids]

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
        """Samples continuations of one or several prompts.

        Args:
            prompt: A prompt or a list of prompts ("" = start from the initial state).
            max_new_tokens: Tokens to add (<= 0: prompts returned as they are; at most
                `MAX_NEW_TOKENS_CAP`).
            temperature: > 0 scales the logits; <= 0 = greedy.
            top_k: Keep the k most likely tokens (0 = off).
            top_p: Nucleus probability mass in (0, 1] (1.0 = off).
            seed: Seed of the stateless sampler (None = a random one).
            num_samples: Samples per prompt, drawn in one batch.
            stop: Optional stop string: a sample ends right after it first produces it (the
                stop string is kept at the end of the text).

        Returns:
            `len(prompts) * num_samples` texts (prompt + continuation), prompt-major.

        Raises:
            UserInputError: for a bad argument (see the module doc).
        """
        self._check_fitted()
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise UserInputError("prompt must be a string or a non-empty list of strings.")
        max_new_tokens, temperature, top_k, top_p = check_sampling_args(
            max_new_tokens, temperature, top_k, top_p
        )
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise UserInputError(f"num_samples={num_samples!r}: expected a positive integer.")
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise UserInputError(f"seed={seed!r}: expected an integer.")
        seed = int(seed) % (2**31)
        stop_ids: tuple[int, ...] = ()
        if stop is not None:
            if not isinstance(stop, str) or not stop:
                raise UserInputError("stop must be a non-empty string or None.")
            stop_ids = tuple(int(i) for i in self._encode_np(stop))
            if not stop_ids or OOV_ID in stop_ids:
                raise UserInputError(
                    f"stop={stop!r} holds tokens the model never generates (not in its "
                    "vocabulary); it could never match."
                )
        batch = np.asarray([p for p in prompts for _ in range(num_samples)], dtype=object)
        out = self._generate_fn(stop_ids)(
            batch,
            np.int32(max_new_tokens),
            np.float32(temperature),
            np.int32(top_k),
            np.float32(top_p),
            np.int32(seed),
        )
        texts = [t.decode("utf-8") for t in out.numpy()]
        if stop is not None:
            cut = []
            for p, t in zip(batch, texts):
                j = t.find(stop, len(p))
                cut.append(t if j < 0 else t[: j + len(stop)])
            texts = cut
        return texts

    def generate_naive(
        self, prompt: str, max_new_tokens: int, *, temperature: float = 1.0, seed: int = 0
    ) -> str:
        """The seeds' way, for benchmarks only: re-run the model on the whole prefix per token.

        Cost grows with the square of the length; `generate` does the same job with one
        recurrent step per token.
        """
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
        ids = [int(i) for i in self._encode_np(prompt)] if prompt else []
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

    # -- persistence
    def save(self, directory: str | os.PathLike) -> Path:
        """Writes `model-<tag>.keras` and `textgen.json` (config, vocabulary, unigram, history,
        the model's file name); see `rnn_apps.persistence.save_pipeline`."""
        from rnn_apps.persistence import save_pipeline

        self._check_fitted()
        state = {
            "config": dataclasses.asdict(self.config),
            "vocab": self.vocab_.to_dict(),
            "unigram_logits": [float(x) for x in self.unigram_logits_],
            "history": getattr(self, "history_", {}),
            "chars_per_token": getattr(self, "chars_per_token_", 1.0),
            "train_seconds": getattr(self, "train_seconds_", None),
            "steps_per_epoch": getattr(self, "steps_per_epoch_", None),
        }
        return save_pipeline(
            directory,
            write_model=self.model_.save,
            model_file="model.keras",
            state=state,
            state_file="textgen.json",
            ensure_ascii=False,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TextGenerator:
        """Loads what `save` wrote."""
        import keras

        from rnn_apps.persistence import read_pipeline

        state, model_file = read_pipeline(
            directory,
            state_file="textgen.json",
            model_file="model.keras",
            missing=f"{str(Path(directory))!r} is not a saved TextGenerator (no textgen.json); "
            "train one with `rnn-apps textgen train`.",
        )
        self = cls(TextGenConfig(**state["config"]))
        self.vocab_ = Vocabulary.from_dict(state["vocab"])
        self.unigram_logits_ = np.asarray(state["unigram_logits"], np.float32)
        self.history_ = state.get("history", {})
        self.chars_per_token_ = float(state.get("chars_per_token", 1.0))
        self.train_seconds_ = state.get("train_seconds")
        self.steps_per_epoch_ = state.get("steps_per_epoch")
        self.model_ = keras.saving.load_model(model_file, safe_mode=True)
        self._set_graph()
        return self

    # -- export
    def export(
        self,
        path: str | os.PathLike,
        *,
        metadata: dict[str, Any] | None = None,
        sample_prompts: Sequence[str] = ("\n", ""),
        sample_texts: Sequence[str] = ("To be, or not to be", ""),
        verify: bool = True,
    ) -> Any:
        """Writes a SavedModel with the `generate` and `score` signatures (verified).

        Signatures:
            generate(prompt: string [None], max_new_tokens: int32 [], temperature: float32 [],
                top_k: int32 [], top_p: float32 [], seed: int32 []) -> text: string [None]
            score(text: string [None]) -> nll_per_token: float32 [None]

        Returns:
            The `rnn_apps.export.ExportReport`.
        """
        import tensorflow as tf

        from rnn_apps.export import Endpoint, export_saved_model

        self._check_fitted()
        graph = self._graph

        def generate_fn(prompt, max_new_tokens, temperature, top_k, top_p, seed):
            return {"text": graph.generate(prompt, max_new_tokens, temperature, top_k, top_p, seed)}

        def score_fn(text):
            return {"nll_per_token": graph.score(text)}

        meta = {
            "task": "textgen",
            "level": self.vocab_.level,
            "vocab_size": self.vocab_.size,
            "vocabulary": self.vocab_.tokens if self.vocab_.level == "char" else None,
            "lowercase": self.vocab_.lowercase,
            "ids": "0 = padding, 1 = OOV [UNK], 2.. = vocabulary",
            "config": dataclasses.asdict(self.config),
            "max_new_tokens_cap": MAX_NEW_TOKENS_CAP,
            "generate": (
                "prompt + continuation; max_new_tokens <= 0 -> prompt unchanged, > cap -> "
                "error; temperature <= 0 -> greedy; top_k 0 = off, < 0 -> error; top_p in "
                "(0, 1], 1.0 = off; same seed -> same text; empty prompt starts from the "
                "initial state; unknown tokens are fed as OOV"
            ),
            "score": "mean NLL in nats per token, state carried through the text; NaN if empty",
        }
        meta.update(metadata or {})
        samples = {
            "generate": {
                "prompt": np.asarray(list(sample_prompts), dtype=object),
                "max_new_tokens": np.int32(24),
                "temperature": np.float32(0.8),
                "top_k": np.int32(0),
                "top_p": np.float32(0.95),
                "seed": np.int32(1234),
            },
            "score": {"text": np.asarray(list(sample_texts), dtype=object)},
        }
        return export_saved_model(
            path,
            endpoints=[
                Endpoint("generate", generate_fn, generate_signature()),
                Endpoint("score", score_fn, [tf.TensorSpec([None], tf.string, name="text")]),
            ],
            track=[self.model_, graph.lookup, graph.inverse],
            metadata=meta,
            sample_inputs=samples,
            verify=verify,
        )


def generate_signature() -> list[Any]:
    """The `generate` signature's inputs, in order."""
    import tensorflow as tf

    return [
        tf.TensorSpec([None], tf.string, name="prompt"),
        tf.TensorSpec([], tf.int32, name="max_new_tokens"),
        tf.TensorSpec([], tf.float32, name="temperature"),
        tf.TensorSpec([], tf.int32, name="top_k"),
        tf.TensorSpec([], tf.float32, name="top_p"),
        tf.TensorSpec([], tf.int32, name="seed"),
    ]


def check_sampling_args(
    max_new_tokens: Any, temperature: Any, top_k: Any, top_p: Any
) -> tuple[int, float, int, float]:
    """Validates sampling arguments in Python; raises `UserInputError` naming the bad one."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise UserInputError(f"max_new_tokens={max_new_tokens!r}: expected an integer.")
    if max_new_tokens > MAX_NEW_TOKENS_CAP:
        raise UserInputError(
            f"max_new_tokens={max_new_tokens}: at most {MAX_NEW_TOKENS_CAP} per call."
        )
    try:
        temperature = float(temperature)
        top_p = float(top_p)
    except (TypeError, ValueError) as err:
        raise UserInputError(f"temperature and top_p must be numbers ({err}).") from err
    if not math.isfinite(temperature):
        raise UserInputError(f"temperature={temperature!r}: expected a finite number.")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise UserInputError(f"top_k={top_k!r}: expected an integer >= 0 (0 = off).")
    if not 0.0 < top_p <= 1.0:
        raise UserInputError(f"top_p={top_p!r}: expected a float in (0, 1] (1.0 = off).")
    return int(max_new_tokens), temperature, int(min(top_k, 2**31 - 1)), top_p


# --------------------------------------------------------------------------- callbacks


@functools.cache
def _callbacks() -> tuple[type, type, type]:
    """The Keras callbacks of `fit`, defined on first use (keeps `import` of this module light).

    Returns:
        `(_Schedule, _ResetStates, _EpochEnd)`.
    """
    import keras

    class _Schedule(keras.callbacks.Callback):
        """Warm-up then cosine decay, over the planned steps or the time budget (whichever ends
        first); stops training when the time budget is spent."""

        def __init__(self, config: TextGenConfig, total_steps: int):
            super().__init__()
            self.c = config
            self.total = max(total_steps, 1)
            self.budget = None if config.max_minutes is None else 60.0 * float(config.max_minutes)
            self.step = 0
            self.start = 0.0

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self._set(0.0)

        def _set(self, progress: float) -> None:
            c = self.c
            if self.step < c.warmup_steps:
                lr = c.learning_rate * (self.step + 1) / (c.warmup_steps + 1)
            else:
                cos = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
                lr = c.learning_rate * (c.min_lr_ratio + (1.0 - c.min_lr_ratio) * cos)
            self.model.optimizer.learning_rate.assign(lr)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            progress = self.step / self.total
            if self.budget is not None:
                elapsed = time.perf_counter() - self.start
                progress = max(progress, elapsed / self.budget)
                if elapsed >= self.budget:
                    self.model.stop_training = True
            self._set(progress)

    class _ResetStates(keras.callbacks.Callback):
        """Resets stateful recurrent layers at the start of every epoch (truncated BPTT)."""

        def on_epoch_begin(self, epoch, logs=None):
            for layer in self.model.layers:
                if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
                    layer.reset_state()

    class _EpochEnd(keras.callbacks.Callback):
        """Records the learning curve; scores the validation text with the state carried."""

        def __init__(self, owner, eval_model, train_model, val_ids, history):
            super().__init__()
            self.owner, self.eval_model, self.train_model = owner, eval_model, train_model
            self.val_ids, self.history = val_ids, history
            self.start = time.perf_counter()

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val = None
            if self.val_ids is not None and len(self.val_ids):
                if self.eval_model is not self.train_model:
                    self.eval_model.set_weights(self.train_model.get_weights())
                total, count = self.owner._nll_sum(self.val_ids, self.owner.config.val_chunks)
                val = total / count
                logs["val_nats_per_token"] = val
            h = self.history
            h["epoch"].append(epoch + 1)
            h["steps"].append(self.steps)
            h["train_loss"].append(float(logs.get("loss", float("nan"))))
            h["val_loss"].append(val)
            h["elapsed_s"].append(time.perf_counter() - self.start)
            h["lr"].append(float(np.asarray(self.train_model.optimizer.learning_rate)))
            if self.params.get("verbose"):
                print(
                    f"epoch {epoch + 1}: train {h['train_loss'][-1]:.4f} val {val} "
                    f"({h['elapsed_s'][-1]:.0f}s)",
                    flush=True,
                )

    return _Schedule, _ResetStates, _EpochEnd


# --------------------------------------------------------------------------- CLI


def register_cli(subparsers: Any) -> None:
    """Adds `rnn-apps textgen {train,evaluate,predict,export}`."""
    from rnn_apps.cli import add_common_args

    parser = subparsers.add_parser(
        "textgen", help="character/word language models: train, score, generate, export"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")
    verbs.required = True

    p = verbs.add_parser("train", help="train an LM on tiny Shakespeare or your .txt files")
    add_common_args(p)
    p.add_argument(
        "--strategy",
        choices=("default", "mirrored"),
        default="default",
        help="tf.distribute strategy: 'default' (one device) or 'mirrored' (all local GPUs)",
    )
    p.add_argument("--text", default=None, help="a .txt file or folder (default: shakespeare)")
    p.add_argument("--level", choices=LEVELS, default=None)
    p.add_argument("--cell", choices=CELLS, default=None)
    p.add_argument("--units", type=int, default=None)
    p.add_argument("--num-layers", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--seq-len", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--stateful", action="store_true", help="truncated BPTT with stateful layers")
    p.add_argument("--no-export", action="store_true", help="skip writing the SavedModel")
    p.set_defaults(func=_cli_train)

    p = verbs.add_parser("evaluate", help="nats/token, bits/char, perplexity of a text")
    add_common_args(p)
    p.add_argument("--model", required=True, help="a SavedModel exported by textgen")
    p.add_argument("--text", default=None, help="a .txt file (default: shakespeare val split)")
    p.set_defaults(func=_cli_evaluate)

    p = verbs.add_parser("predict", help="generate text from an exported SavedModel")
    add_common_args(p)
    p.add_argument("--model", required=True, help="a SavedModel exported by textgen")
    p.add_argument("--prompt", action="append", default=None, help="repeatable; default ''")
    p.add_argument("--max-new-tokens", type=int, default=200)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--stop", default=None, help="cut each sample after this string")
    p.set_defaults(func=_cli_predict)

    p = verbs.add_parser("export", help="export a model saved by `train` to a SavedModel")
    add_common_args(p)
    p.add_argument("--model", required=True, help="folder written by `textgen train`")
    p.set_defaults(func=_cli_export)


def _cli_config(args: argparse.Namespace) -> TextGenConfig:
    from rnn_apps.cli import load_config_file

    values = load_config_file(getattr(args, "config", None))
    cfg = TextGenConfig.from_dict(values)
    for opt, field in (
        ("level", "level"),
        ("cell", "cell"),
        ("units", "units"),
        ("num_layers", "num_layers"),
        ("epochs", "epochs"),
        ("max_minutes", "max_minutes"),
        ("seq_len", "seq_len"),
        ("batch_size", "batch_size"),
        ("seed", "seed"),
    ):
        value = getattr(args, opt, None)
        if value is not None:
            setattr(cfg, field, value)
    if getattr(args, "stateful", False):
        cfg.stateful = True
    return cfg.validate()


def _cli_train(args: argparse.Namespace) -> int:
    from rnn_apps.data.shakespeare import load_corpus

    cfg = _cli_config(args)
    out = Path(args.output_dir or "textgen_run")
    corpus = load_corpus(args.text, data_dir=args.data_dir)
    lm = TextGenerator(cfg).fit(corpus.train, corpus.val or None, verbose=1, strategy=args.strategy)
    lm.save(out / "model")
    report: dict[str, Any] = {"train_seconds": lm.train_seconds_, "source": corpus.source}
    if corpus.val:
        report["val"] = lm.evaluate(corpus.val)
    plot_learning_curve(lm.history_, out / "learning_curve.png")
    if not args.no_export:
        lm.export(out / "saved_model", metadata={"val": report.get("val")})
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


def _load_signatures(path: str) -> Any:
    import tensorflow as tf

    if not (Path(path) / "saved_model.pb").is_file():
        raise UserInputError(f"--model {path!r} is not a SavedModel folder.")
    return tf.saved_model.load(path)


def _cli_evaluate(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from rnn_apps.data.shakespeare import load_corpus, read_text_source

    loaded = _load_signatures(args.model)
    if args.text:
        text = read_text_source(args.text)
    else:
        text = load_corpus(None, data_dir=args.data_dir).val
    out = loaded.signatures["score"](text=tf.constant([text]))["nll_per_token"].numpy()[0]
    print(json.dumps(loss_metrics(float(out)), indent=2))
    return 0


def _cli_predict(args: argparse.Namespace) -> int:
    import tensorflow as tf

    prompts = args.prompt or [""]
    n, temp, k, p = check_sampling_args(
        args.max_new_tokens, args.temperature, args.top_k, args.top_p
    )
    if args.num_samples < 1:
        raise UserInputError("--num-samples must be >= 1.")
    loaded = _load_signatures(args.model)
    batch = [q for q in prompts for _ in range(args.num_samples)]
    seed = args.seed if args.seed is not None else int(np.random.randint(0, 2**31 - 1))
    out = loaded.signatures["generate"](
        prompt=tf.constant(batch),
        max_new_tokens=tf.constant(n, tf.int32),
        temperature=tf.constant(temp, tf.float32),
        top_k=tf.constant(k, tf.int32),
        top_p=tf.constant(p, tf.float32),
        seed=tf.constant(seed % 2**31, tf.int32),
    )["text"].numpy()
    for q, t in zip(batch, out):
        t = t.decode("utf-8")
        if args.stop:
            j = t.find(args.stop, len(q))
            t = t if j < 0 else t[: j + len(args.stop)]
        print(t)
        print("-" * 40)
    return 0


def _cli_export(args: argparse.Namespace) -> int:
    lm = TextGenerator.load(args.model)
    out = Path(args.output_dir or Path(args.model).parent / "saved_model")
    report = lm.export(out)
    print(report.summary)
    return 0
