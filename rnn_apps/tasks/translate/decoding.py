"""Greedy and beam-search decoding, batched, in the graph (`tf.while_loop`).

Written once: `Translator.run` (in process) and the exported SavedModel run these very
functions. Both step the one-step decoder of `rnn_apps.builders.build_encoder_decoder`,
feeding its states back, until every sentence has produced `[end]` or `max_length` tokens.

Scores are log-probabilities of the emitted tokens (`[end]` included) under the model,
length-normalised: `sum log p / length ** length_penalty`. Padding and `[start]` are never
emitted. Beam search with width 1 takes exactly greedy's steps (same scores, same tokens).

Shape legend: B sentences, K beam width, S source tokens, L `max_length`, V vocabulary,
U units.
"""

from __future__ import annotations

import dataclasses
from typing import Any

NEG = -1e9


@dataclasses.dataclass
class Decoder:
    """What decoding needs from a trained model.

    Attributes:
        encoder: `ids (B, S) -> [encoder outputs (B, S, U) if attention, *states]`.
        decoder: `[ids (B, 1), encoder outputs if attention, *states] -> [logits (B, 1, V),
            *states]`.
        attention: Whether the models take/return encoder outputs.
        start_id, end_id: Target ids of `[start]` and `[end]`.
    """

    encoder: Any
    decoder: Any
    attention: bool
    start_id: int
    end_id: int

    def encode(self, source: Any) -> tuple[Any, list[Any]]:
        """(B, S) ids -> (encoder outputs (B, S, U) or None, states [(B, U), ...])."""
        out = self.encoder(source, training=False)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if self.attention:
            import tensorflow as tf

            return tf.identity(out[0]), out[1:]  # identity: drop the Keras mask attribute
        return None, out

    def step(self, tokens: Any, enc_out: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        """(N,) ids -> (log-probabilities (N, V) with padding/[start] forbidden, states)."""
        import tensorflow as tf

        extra = [enc_out] if self.attention else []
        out = self.decoder([tokens[:, None], *extra, *states], training=False)
        logits, new_states = out[0][:, 0, :], list(out[1:])  # (N, V)
        logp = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
        vocab = tf.shape(logp)[1]
        forbid = tf.one_hot(0, vocab, NEG, 0.0) + tf.one_hot(self.start_id, vocab, NEG, 0.0)
        return logp + forbid[None, :], new_states


def _normalise(score: Any, length: Any, length_penalty: Any) -> Any:
    import tensorflow as tf

    length = tf.maximum(tf.cast(length, tf.float32), 1.0)
    return score / tf.pow(length, tf.cast(length_penalty, tf.float32))


def greedy_decode(
    dec: Decoder, source: Any, max_length: Any, length_penalty: Any = 1.0
) -> tuple[Any, Any]:
    """Greedy decoding: (B, S) source ids -> (tokens (B, L) int32, score (B,) float32).

    Tokens after `[end]` are 0.
    """
    import tensorflow as tf

    n = tf.shape(source)[0]
    enc_out, states = dec.encode(source)
    tokens = tf.fill([n], tf.constant(dec.start_id, tf.int32))
    out = tf.zeros([n, max_length], tf.int32)
    finished = tf.zeros([n], tf.bool)
    score = tf.zeros([n], tf.float32)
    length = tf.zeros([n], tf.int32)

    def cond(t, tokens, out, finished, score, length, states):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, out, finished, score, length, states):
        logp, new_states = dec.step(tokens, enc_out, states)  # (B, V)
        nxt = tf.argmax(logp, axis=-1, output_type=tf.int32)  # (B,)
        token_logp = tf.gather(logp, nxt, batch_dims=1)
        nxt = tf.where(finished, 0, nxt)
        score = score + tf.where(finished, 0.0, token_logp)
        length = length + tf.where(finished, 0, 1)
        # a rank-1 index: tf2onnx converts one_hot of vectors only
        out = out + tf.one_hot(t[None], max_length, dtype=tf.int32) * nxt[:, None]
        finished = finished | tf.equal(nxt, dec.end_id)
        return t + 1, nxt, out, finished, score, length, new_states

    _, _, out, _, score, length, _ = tf.while_loop(
        cond, body, [tf.constant(0), tokens, out, finished, score, length, states]
    )
    return out, _normalise(score, length, length_penalty)


def beam_search(
    dec: Decoder,
    source: Any,
    beam_width: Any,
    max_length: Any,
    length_penalty: Any = 1.0,
) -> tuple[Any, Any]:
    """Beam search: (B, S) source ids -> (best tokens (B, L) int32, score (B,) float32).

    Keeps the `beam_width` best prefixes by log-probability at every step (a finished beam
    keeps its score); the answer is the finished beam with the best length-normalised score.
    """
    import tensorflow as tf

    k = tf.cast(beam_width, tf.int32)
    n = tf.shape(source)[0]
    enc_out, states = dec.encode(source)
    if enc_out is not None:
        enc_out = tf.repeat(enc_out, k, axis=0)  # (B*K, S, U)
    states = [tf.repeat(s, k, axis=0) for s in states]  # (B*K, U)
    tokens = tf.fill([n * k], tf.constant(dec.start_id, tf.int32))
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG)], 0)[None, :], [n, 1])  # (B, K)
    seqs = tf.zeros([n, k, max_length], tf.int32)
    finished = tf.zeros([n, k], tf.bool)
    length = tf.zeros([n, k], tf.int32)

    def regroup(x, beam):  # (B*K, ...) rows picked by beam (B, K) -> (B*K, ...)
        shape = tf.shape(x)
        grouped = tf.reshape(x, tf.concat([[n, k], shape[1:]], 0))
        out = tf.reshape(tf.gather(grouped, beam, batch_dims=1), shape)
        out.set_shape(x.shape)
        return out

    def cond(t, tokens, scores, seqs, finished, length, states):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, scores, seqs, finished, length, states):
        logp, new_states = dec.step(tokens, enc_out, states)  # (B*K, V)
        vocab = tf.shape(logp)[1]
        logp = tf.reshape(logp, [n, k, vocab])
        done_row = tf.one_hot(dec.end_id, vocab, 0.0, NEG)  # a finished beam only "ends"
        logp = tf.where(finished[:, :, None], done_row[None, None, :], logp)
        cand = tf.reshape(scores[:, :, None] + logp, [n, k * vocab])  # (B, K*V)
        scores, idx = tf.math.top_k(cand, k)  # (B, K)
        beam, tok = idx // vocab, idx % vocab
        was_done = tf.gather(finished, beam, batch_dims=1)
        tok = tf.where(was_done, 0, tok)
        seqs = tf.gather(seqs, beam, batch_dims=1)
        seqs = seqs + tf.one_hot(t, max_length, dtype=tf.int32)[None, None, :] * tok[:, :, None]
        length = tf.gather(length, beam, batch_dims=1) + tf.where(was_done, 0, 1)
        finished = was_done | tf.equal(tok, dec.end_id)
        new_states = [regroup(s, beam) for s in new_states]
        return t + 1, tf.reshape(tok, [-1]), scores, seqs, finished, length, new_states

    _, _, scores, seqs, finished, length, _ = tf.while_loop(
        cond, body, [tf.constant(0), tokens, scores, seqs, finished, length, states]
    )
    normalised = _normalise(scores, length, length_penalty)  # (B, K)
    # Unfinished beams (max_length reached) compete only when no beam finished.
    any_done = tf.reduce_any(finished, axis=1, keepdims=True)
    ranked = tf.where(finished | ~any_done, normalised, NEG)
    best = tf.argmax(ranked, axis=1, output_type=tf.int32)  # (B,)
    return tf.gather(seqs, best, batch_dims=1), tf.gather(normalised, best, batch_dims=1)


def decode(
    dec: Decoder,
    source: Any,
    beam_width: Any,
    max_length: Any,
    length_penalty: float = 1.0,
) -> tuple[Any, Any]:
    """Greedy for `beam_width <= 1`, else beam search; per sentence the better-scoring of
    the beam's answer and greedy's (so beam search never scores below greedy).

    Returns:
        (tokens (B, L) int32, score (B,) float32).
    """
    import tensorflow as tf

    greedy_tokens, greedy_score = greedy_decode(dec, source, max_length, length_penalty)

    def with_beam():
        tokens, score = beam_search(dec, source, beam_width, max_length, length_penalty)
        better = score >= greedy_score
        return (
            tf.where(better[:, None], tokens, greedy_tokens),
            tf.where(better, score, greedy_score),
        )

    return tf.cond(beam_width > 1, with_beam, lambda: (greedy_tokens, greedy_score))
