"""In-graph generation and scoring of a trained language model (`LMGraph`).

Generation costs one recurrent step per new token: the prompt runs once through the recurrent
layers (`layer(x, mask=...)`, which returns each row's state at its last valid step), then a
`tf.while_loop` calls each layer's *cell* on one token at a time, carrying the states. The
whole loop is in the graph, so the exported `generate` signature runs it too, and
`TextGenerator.generate` runs the very same function in process (`Task.run`). By default the
loop after the prompt is one XLA-compiled function (`LMGraph(jit_compile=True)`, kept in the
export): about 3x the characters per second of the plain loop for one prompt on a CPU
(`benchmarks/throughput.py`).

Sampling arguments (Python API and SavedModel alike):
- prompts: (B,) strings, B at most `MAX_GENERATE_BATCH`, each at most `MAX_PROMPT_CHARS`
  characters; an empty batch returns an empty batch; "" starts from the initial (zero)
  state, the first token being drawn from the training unigram distribution;
  characters/words never seen in training are kept verbatim in the output text and fed to
  the model as the OOV id.
- `max_new_tokens`: <= 0 returns the prompt unchanged; above `MAX_NEW_TOKENS_CAP` is an error.
- `temperature`: > 0 divides the logits; <= 0 means greedy decoding (argmax); NaN/inf is an
  error.
- `top_k`: 0 = off; k >= 1 keeps the k most likely tokens (k above the vocabulary = off);
  negative is an error.
- `top_p`: nucleus sampling, in (0, 1]; 1.0 = off; outside (0, 1] (or NaN) is an error.
- `seed`: int32; stateless random ops (`tf.random.stateless_categorical` seeded by
  `(seed, step)`), so the same seed, prompts and model give the same text.

`score(texts)` returns the mean negative log-likelihood in nats per token of each text (each
at most `MAX_SCORE_CHARS` characters, texts x longest text at most `MAX_SCORE_BATCH_TOKENS`
tokens), the state carried through the whole text: the first
token is scored under the training unigram distribution (the model's "initial state"
prediction), each next token under the LM given everything before it. An empty text scores
NaN. OOV tokens are scored as the OOV id (char level: the LM never saw one, so they cost many
nats - a useful anomaly signal).

In the graph, errors are `tf.debugging` assertions whose message names the argument
(InvalidArgumentError); in Python (`rnn_apps.tasks.textgen.inference`) they are
`rnn_apps.UserInputError`, raised before the graph runs.

Shape legend: B batch (prompts or texts), T time steps (tokens), N new tokens, V vocabulary
size (with padding and OOV), E embedding width, U units.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnn_apps.tasks.textgen.model import lm_parts
from rnn_apps.tasks.textgen.preprocessor import OOV_ID, PAD_ID, Vocabulary

#: Most new tokens one `generate` call may ask for.
MAX_NEW_TOKENS_CAP = 10_000
#: Most characters of one prompt (the prompt runs through the model in one pass).
MAX_PROMPT_CHARS = 10_000
#: Most characters of one text given to `score` (`evaluate` scores a text of any length in
#: chunks).
MAX_SCORE_CHARS = 100_000
#: Most prompts in one call of the `generate` signature (the Python API sends chunks).
MAX_GENERATE_BATCH = 256
#: Most token cells in one call of the `score` signature: texts x tokens of the longest text
#: (memory grows with this x V; the Python API sends batches below it).
MAX_SCORE_BATCH_TOKENS = 400_000
#: The smallest output buffer of the XLA sampling loop; buffers are powers of two from here
#: to `MAX_NEW_TOKENS_CAP`, so memory follows `max_new_tokens` and XLA compiles a few sizes.
_MIN_BUFFER = 32
#: The sampling arguments of the `serving_default` signature, which takes only `prompt`
#: (the defaults of `TextGenerator.generate`, with a fixed seed: the same prompt gives the
#: same text; `generate` takes every argument).
SERVING_DEFAULTS = {
    "max_new_tokens": 200,
    "temperature": 1.0,
    "top_k": 0,
    "top_p": 1.0,
    "seed": 0,
}
_NEG = -1e9


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


def streaming_signatures() -> dict[str, list[Any]]:
    """The `initial_state` and `step` signatures' inputs."""
    import tensorflow as tf

    return {
        "initial_state": [tf.TensorSpec([None], tf.string, name="prompt")],
        "step": [
            tf.TensorSpec([None], tf.int32, name="token"),
            # the width is checked in the graph, with a message (`LMGraph.stream_step`)
            tf.TensorSpec([None, None], tf.float32, name="state"),
        ],
    }


def score_signature() -> list[Any]:
    """The `score` signature's inputs."""
    import tensorflow as tf

    return [tf.TensorSpec([None], tf.string, name="text")]


def _assert_max_chars(texts: Any, cap: int, what: str) -> Any:
    import tensorflow as tf

    return tf.debugging.assert_less_equal(
        tf.strings.length(texts, unit="UTF8_CHAR"),
        tf.constant(cap, tf.int32),
        message=f"each {what} must be at most {cap} characters",
    )


def _buffer_size(n: Any) -> Any:
    """The output buffer's rows for `n` new tokens: the power of two in
    [`_MIN_BUFFER`, `MAX_NEW_TOKENS_CAP`] at or above `n` (at most `MAX_NEW_TOKENS_CAP`)."""
    import tensorflow as tf

    size = tf.constant(_MIN_BUFFER, tf.int32)
    size = tf.while_loop(lambda s: s < n, lambda s: s * 2, [size])[0]
    return tf.minimum(size, MAX_NEW_TOKENS_CAP)


class LMGraph:
    """The in-graph parts of a trained LM: run a prompt, step, sample, score.

    Every method is made of TensorFlow ops and Keras layer calls, so it can run inside a
    `tf.function` and be exported. Built from a *stateless* model of `build_lm`.

    Args:
        model: The stateless LM, ids (B, T) -> logits (B, T, V).
        vocab: Its `Vocabulary` (text <-> ids).
        unigram_logits: (V,) log-probabilities of the first token of a text.
        jit_compile: Run the sampling loop (every step after the prompt) as one XLA-compiled
            function (`tf.function(jit_compile=True)`, kept in the export). The plain
            `tf.while_loop` pays the graph executor's per-op overhead at every step, which
            dominates for one prompt (about 3x slower on a 2-core CPU, see
            `benchmarks/throughput.py`). XLA compiles once per batch size (in a server:
            the first request of each new batch size is slower). Sampled texts differ between
            the two settings for the same seed (XLA's categorical sampler draws differently);
            each is reproducible. Greedy decoding gives the same ids.
    """

    def __init__(
        self,
        model: Any,
        vocab: Vocabulary,
        unigram_logits: np.ndarray,
        *,
        jit_compile: bool = True,
    ) -> None:
        import tensorflow as tf

        self.model = model
        self.jit_compile = jit_compile
        self._xla_loop = tf.function(self._sample_loop, jit_compile=True)
        self.vocab = vocab
        _ = vocab.lookup, vocab.inverse  # build the lookup tables now, outside any tf.function
        self.embedding, self.rnns, self.state_counts, self.head = lm_parts(model)
        self.vocab_size = vocab.size
        self.unigram = tf.constant(np.asarray(unigram_logits, np.float32))  # (V,)
        forbid = np.zeros(vocab.size, bool)
        forbid[[PAD_ID, OOV_ID]] = True
        self.forbidden = tf.constant(forbid)  # (V,) never sampled

    # ------------------------------------------------------------------ model pieces
    def _apply_head(self, x: Any) -> Any:
        for layer in self.head:
            x = layer(x, training=False)
        return x

    @staticmethod
    def _padded(ids: Any) -> tuple[Any, Any]:
        """Ragged (B, None) -> dense (B, T + 1) right-padded (never zero-length), lengths (B,)."""
        import tensorflow as tf

        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=PAD_ID)
        dense = tf.pad(dense, [[0, 0], [0, 1]])
        return dense, lengths

    def run_prompt(self, ids: Any) -> tuple[list[Any], Any]:
        """Runs right-padded prompts through the recurrent layers once.

        Args:
            ids: Ragged (B, None) prompt ids.

        Returns:
            `(states, logits)`: the states at each prompt's last token (zeros for an empty
            prompt), and the next-token logits (B, V) (the unigram logits for an empty prompt).
        """
        return self.run_dense(self._padded(ids)[0])

    def run_dense(self, dense: Any) -> tuple[list[Any], Any]:
        """`run_prompt` on dense ids (B, T) right-padded with 0."""
        import tensorflow as tf

        x = self.embedding(dense)  # (B, T) -> (B, T, E)
        mask = tf.not_equal(dense, PAD_ID)
        states: list[Any] = []
        for rnn in self.rnns:
            out = rnn(x, mask=mask, training=False)  # [(B, T, U), *states (B, U)]
            x = out[0]
            states.extend(out[1:])
        h_top = states[-self.state_counts[-1]]  # (B, U): output at the last valid step
        logits = self._apply_head(h_top)  # (B, V)
        started = tf.reduce_any(mask, axis=1, keepdims=True)  # (B, 1)
        return states, tf.where(started, logits, tf.cast(self.unigram, logits.dtype)[None, :])

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

    # ------------------------------------------------------------------ streaming
    @property
    def state_sizes(self) -> list[int]:
        """Widths of the recurrent states, in `run_prompt` / `step` order."""
        sizes: list[int] = []
        for rnn in self.rnns:
            size = rnn.cell.state_size
            sizes.extend(size if isinstance(size, (list, tuple)) else [size])
        return [int(n) for n in sizes]

    def initial_state(self, prompts: Any) -> dict[str, Any]:
        """The `initial_state` signature: (B,) prompts ("" for none) -> `state` (B, S), the
        recurrent states after each prompt side by side, and `logits` (B, V) of the next
        token: a stream starts here and goes on with `stream_step`, O(1) memory per stream."""
        import tensorflow as tf

        from rnn_apps.export import assert_batch_at_most

        checks = [
            assert_batch_at_most(prompts, MAX_GENERATE_BATCH, "prompts"),
            _assert_max_chars(prompts, MAX_PROMPT_CHARS, "prompt"),
        ]
        with tf.control_dependencies(checks):
            prompts = tf.identity(prompts)
        states, logits = self.run_prompt(self.vocab.encode(prompts))
        state = tf.concat([tf.cast(s, tf.float32) for s in states], axis=1)  # (B, S)
        return {"state": state, "logits": tf.cast(logits, tf.float32)}

    def stream_step(self, token: Any, state: Any, checks: bool = True) -> dict[str, Any]:
        """The `step` signature: `token` (B,) int32 ids (what the client drew from the last
        logits) and `state` (B, S) -> the next `logits` (B, V) and the new `state` (B, S)
        (`checks=False`: without the input checks, for LiteRT and ONNX)."""
        import tensorflow as tf

        from rnn_apps.export import assert_batch_at_most

        width = sum(self.state_sizes)
        asserts = [
            assert_batch_at_most(token, MAX_GENERATE_BATCH, "tokens"),
            tf.debugging.assert_equal(
                tf.shape(state), tf.stack([tf.shape(token)[0], width]),
                message=f"state must have shape [batch, {width}] (what initial_state or the "
                "last step returned, one row per token)",
            ),
            tf.debugging.Assert(
                tf.reduce_all((token >= 0) & (token < self.vocab_size)),
                [f"token ids must be in [0, {self.vocab_size})"],
            ),
        ]  # fmt: skip
        with tf.control_dependencies(asserts if checks else []):
            token, state = tf.identity(token), tf.identity(state)
        states = tf.split(tf.ensure_shape(state, [None, width]), self.state_sizes, axis=1)
        dtype = self.embedding.compute_dtype
        logits, new_states = self.step(token, [tf.cast(s, dtype) for s in states])
        state = tf.concat([tf.cast(s, tf.float32) for s in new_states], axis=1)
        return {"logits": tf.cast(logits, tf.float32), "state": state}

    # ------------------------------------------------------------------ sampling
    def filter_logits(self, logits: Any, temperature: Any, top_k: Any, top_p: Any) -> Any:
        """Temperature, top-k and top-p (nucleus) filtering; forbidden ids get -1e9.

        (B, V) -> (B, V). top_k <= 0 or above the number of real tokens is off; top_p >= 1 is
        off.
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

    @staticmethod
    def check_args(
        prompts: Any, max_new_tokens: Any, temperature: Any, top_k: Any, top_p: Any
    ) -> list[Any]:
        """In-graph assertions with messages naming the argument."""
        import tensorflow as tf

        from rnn_apps.export import assert_batch_at_most

        return [
            assert_batch_at_most(prompts, MAX_GENERATE_BATCH, "prompts"),
            _assert_max_chars(prompts, MAX_PROMPT_CHARS, "prompt"),
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
    ) -> Any:
        """Samples continuations, one recurrent step per token, in a `tf.while_loop`.

        Args:
            prompts: (B,) strings.
            max_new_tokens, temperature, top_k, top_p, seed: scalars (see the module doc).

        Returns:
            (B, N) sampled ids.
        """
        import tensorflow as tf

        checks = self.check_args(prompts, max_new_tokens, temperature, top_k, top_p)
        with tf.control_dependencies(checks):
            n = tf.maximum(tf.identity(max_new_tokens), 0)
            prompts = tf.identity(prompts)
        batch = tf.shape(prompts)[0]
        n = tf.where(batch > 0, n, 0)  # an empty batch: nothing to run
        states, logits = self.run_prompt(self.vocab.encode(prompts))
        seed = tf.cast(seed, tf.int32)
        if self.jit_compile:
            sampling = (tf.cast(temperature, tf.float32), tf.cast(top_k, tf.int32))
            sampling += (tf.cast(top_p, tf.float32), seed)
            buf = tf.zeros([_buffer_size(n), batch], tf.int32)  # (N', B), N <= N' < 2N
            return tf.cond(  # XLA cannot compile a zero-size batch
                batch > 0,
                lambda: tf.transpose(self._xla_loop(logits, n, buf, *sampling, *states)[:n]),
                lambda: tf.zeros([batch, 0], tf.int32),
            )  # (N', B) -> (B, N)
        out = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])

        def cond(i, logits, out, *states):
            return i < n

        def body(i, logits, out, *states):
            tok = self._next_token(logits, i, temperature, top_k, top_p, seed)
            out = out.write(i, tok)
            logits, new_states = self.step(tok, list(states))
            return (i + 1, logits, out, *new_states)

        loop = tf.while_loop(cond, body, (tf.constant(0), logits, out, *states))
        steps, written = loop[0], loop[2]
        return tf.cond(
            steps > 0,
            lambda: tf.transpose(written.stack(), [1, 0]),  # (N, B) -> (B, N)
            lambda: tf.zeros([batch, 0], tf.int32),
        )

    def _next_token(
        self, logits: Any, i: Any, temperature: Any, top_k: Any, top_p: Any, seed: Any
    ) -> Any:
        """Step `i`'s token (B,) from its logits (B, V): sampled (seeded by `(seed, i)`) or
        greedy when `temperature <= 0`."""
        import tensorflow as tf

        filtered = self.filter_logits(logits, temperature, top_k, top_p)
        sampled = tf.random.stateless_categorical(
            filtered, 1, seed=tf.stack([seed, i]), dtype=tf.int32
        )[:, 0]  # (B,)
        greedy = tf.argmax(filtered, axis=-1, output_type=tf.int32)
        return tf.where(temperature > 0.0, sampled, greedy)

    def _sample_loop(
        self,
        logits: Any,
        n: Any,
        buf: Any,
        temperature: Any,
        top_k: Any,
        top_p: Any,
        seed: Any,
        *states: Any,
    ) -> Any:
        """The sampling loop writing into a given output buffer, XLA-compilable (static
        shapes for a given batch and buffer size): logits (B, V), buffer (N', B), states ->
        ids (N', B), of which the first `n` rows are written."""
        import tensorflow as tf

        def cond(i, logits, buf, *states):
            return i < n

        def body(i, logits, buf, *states):
            tok = self._next_token(logits, i, temperature, top_k, top_p, seed)
            buf = tf.tensor_scatter_nd_update(buf, tf.reshape(i, [1, 1]), tok[None, :])
            logits, new_states = self.step(tok, list(states))
            return (i + 1, logits, buf, *new_states)

        return tf.while_loop(cond, body, (tf.constant(0), logits, buf, *states))[2]

    def generate(self, prompts: Any, *sampling: Any) -> Any:
        """(B,) prompts -> (B,) prompt + continuation; `sampling` = max_new_tokens,
        temperature, top_k, top_p, seed (see `generate_ids`)."""
        return self.vocab.decode(prompts, self.generate_ids(prompts, *sampling))

    # ------------------------------------------------------------------ scoring
    def token_nll(self, ids: Any) -> tuple[Any, Any]:
        """Summed NLL (nats) and token count of each row of ragged ids, state carried.

        Args:
            ids: Ragged (B, None) ids.

        Returns:
            `(total (B,), count (B,))`, float32 and int32.
        """
        import tensorflow as tf

        dense, lengths = self._padded(ids)  # (B, T + 1)
        logits = self.model(dense, training=False)  # (B, T + 1, V)
        targets = dense[:, 1:]  # (B, T)
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=logits[:, :-1, :]
        )  # (B, T)
        valid = tf.not_equal(targets, PAD_ID)
        total = tf.reduce_sum(tf.where(valid, nll, 0.0), axis=1)
        first = -tf.gather(tf.nn.log_softmax(self.unigram), dense[:, 0])  # (B,)
        total += tf.where(lengths > 0, first, 0.0)
        return total, lengths

    def score(self, texts: Any) -> dict[str, Any]:
        """(B,) strings -> `nll_per_token` (B,) mean NLL in nats per token (NaN for a text
        without tokens) and `num_tokens` (B,)."""
        import tensorflow as tf

        with tf.control_dependencies([_assert_max_chars(texts, MAX_SCORE_CHARS, "text")]):
            ids = self.vocab.encode(tf.identity(texts))
        longest = tf.reduce_max(tf.concat([ids.row_lengths(), [0]], 0))
        cells = tf.cast(tf.shape(texts)[0], tf.int64) * longest
        with tf.control_dependencies(
            [
                tf.debugging.assert_less_equal(
                    cells,
                    tf.constant(MAX_SCORE_BATCH_TOKENS, tf.int64),
                    message=f"texts x tokens of the longest text must be at most "
                    f"{MAX_SCORE_BATCH_TOKENS}; split the batch",
                )
            ]
        ):
            ids = ids.with_values(tf.identity(ids.values))
        total, count = self.token_nll(ids)
        nll = tf.where(count > 0, total / tf.cast(tf.maximum(count, 1), tf.float32), np.nan)
        return {"nll_per_token": nll, "num_tokens": count}
