"""NumPy reference implementations of the recurrent cells, written from the textbook equations.

They use the weight layout of the Keras layers, so `layer.get_weights()` can be passed straight
in, and they are checked against Keras in the tests. Read them to learn what an RNN computes;
use the Keras layers to train.

Shape legend: B batch, T time steps, F input features, U units.

Keras weight layouts:
- SimpleRNN: kernel W (F, U), recurrent_kernel R (U, U), bias b (U,).
- LSTM: W (F, 4U), R (U, 4U), b (4U,), gate blocks in the order input i, forget f,
  candidate g, output o.
- GRU (`reset_after=True`, the Keras default): W (F, 3U), R (U, 3U), b (2, 3U) = (input bias,
  recurrent bias), blocks in the order update z, reset r, candidate n.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, numerically stable for large |x|."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def simple_rnn_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    h0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Elman RNN: h_t = tanh(x_t W + h_{t-1} R + b).

    Args:
        x: Inputs (B, T, F).
        kernel: W (F, U).
        recurrent_kernel: R (U, U).
        bias: b (U,).
        h0: Initial state (B, U); zeros by default.

    Returns:
        `(outputs (B, T, U), final state (B, U))`.
    """
    batch, steps, _ = x.shape
    h = np.zeros((batch, kernel.shape[1])) if h0 is None else h0
    outputs = []
    for t in range(steps):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent_kernel + bias)  # (B, U)
        outputs.append(h)
    return np.stack(outputs, axis=1), h


def lstm_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSTM (Hochreiter & Schmidhuber 1997, with forget gate):

        i = σ(x W_i + h R_i + b_i)      f = σ(x W_f + h R_f + b_f)
        g = tanh(x W_g + h R_g + b_g)   o = σ(x W_o + h R_o + b_o)
        c' = f ⊙ c + i ⊙ g              h' = o ⊙ tanh(c')

    Args:
        x: Inputs (B, T, F).
        kernel: W (F, 4U), blocks i, f, g, o.
        recurrent_kernel: R (U, 4U).
        bias: b (4U,).
        h0: Initial hidden state (B, U); zeros by default.
        c0: Initial cell state (B, U); zeros by default.

    Returns:
        `(outputs (B, T, U), final h (B, U), final c (B, U))`.
    """
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units)) if h0 is None else h0
    c = np.zeros((batch, units)) if c0 is None else c0
    outputs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias  # (B, 4U)
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def gru_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    h0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """GRU (Cho et al. 2014) in the "reset after" form used by Keras and cuDNN:

        z = σ(x W_z + b_z + h R_z + b'_z)      r = σ(x W_r + b_r + h R_r + b'_r)
        n = tanh(x W_n + b_n + r ⊙ (h R_n + b'_n))
        h' = z ⊙ h + (1 - z) ⊙ n

    Args:
        x: Inputs (B, T, F).
        kernel: W (F, 3U), blocks z, r, n.
        recurrent_kernel: R (U, 3U).
        bias: (2, 3U): input bias b and recurrent bias b'.
        h0: Initial state (B, U); zeros by default.

    Returns:
        `(outputs (B, T, U), final state (B, U))`.
    """
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    b_in, b_rec = bias[0], bias[1]
    h = np.zeros((batch, units)) if h0 is None else h0
    outputs = []
    for t in range(steps):
        xz, xr, xn = np.split(x[:, t] @ kernel + b_in, 3, axis=-1)  # (B, U) each
        hz, hr, hn = np.split(h @ recurrent_kernel + b_rec, 3, axis=-1)
        z = sigmoid(xz + hz)
        r = sigmoid(xr + hr)
        n = np.tanh(xn + r * hn)
        h = z * h + (1.0 - z) * n
        outputs.append(h)
    return np.stack(outputs, axis=1), h


class SimpleRNNGradients(NamedTuple):
    """Gradients of a loss with respect to a SimpleRNN's parameters, inputs and initial state."""

    kernel: np.ndarray  # (F, U)
    recurrent_kernel: np.ndarray  # (U, U)
    bias: np.ndarray  # (U,)
    inputs: np.ndarray  # (B, T, F)
    h0: np.ndarray  # (B, U)


def simple_rnn_backward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    d_outputs: np.ndarray,
    h0: np.ndarray | None = None,
) -> SimpleRNNGradients:
    """Backpropagation through time for `simple_rnn_forward`.

    Given dL/dh_t for every step (the upstream gradient of the outputs), walk the sequence
    backwards. With a_t = x_t W + h_{t-1} R + b and h_t = tanh(a_t):

        δ_t   = (dL/dh_t + δ_{t+1} R^T) ⊙ (1 - h_t²)      (gradient w.r.t. a_t)
        dW   += x_t^T δ_t      dR += h_{t-1}^T δ_t      db += Σ_batch δ_t
        dx_t  = δ_t W^T        dh_0 = δ_1 R^T

    where the recurrent term `δ_{t+1} R^T` carries the gradient from later steps back through
    h_t. Truncating that recursion after k steps is truncated BPTT.

    Args:
        x: Inputs (B, T, F).
        kernel: W (F, U).
        recurrent_kernel: R (U, U).
        bias: b (U,).
        d_outputs: dL/dh_t (B, T, U); for a loss on the last output only, zeros except t = T.
        h0: Initial state (B, U); zeros by default.

    Returns:
        `SimpleRNNGradients(kernel, recurrent_kernel, bias, inputs, h0)`.
    """
    batch, steps, _ = x.shape
    units = kernel.shape[1]
    h_prev0 = np.zeros((batch, units)) if h0 is None else h0
    outputs, _ = simple_rnn_forward(x, kernel, recurrent_kernel, bias, h_prev0)
    d_kernel = np.zeros_like(kernel, dtype=np.float64)
    d_rec = np.zeros_like(recurrent_kernel, dtype=np.float64)
    d_bias = np.zeros_like(bias, dtype=np.float64)
    d_x = np.zeros_like(x, dtype=np.float64)
    d_h_next = np.zeros((batch, units))  # gradient flowing into h_t from step t + 1
    for t in reversed(range(steps)):
        h_t = outputs[:, t]
        h_prev = outputs[:, t - 1] if t > 0 else h_prev0
        delta = (d_outputs[:, t] + d_h_next) * (1.0 - h_t**2)  # (B, U)
        d_kernel += x[:, t].T @ delta
        d_rec += h_prev.T @ delta
        d_bias += delta.sum(axis=0)
        d_x[:, t] = delta @ kernel.T
        d_h_next = delta @ recurrent_kernel.T
    return SimpleRNNGradients(d_kernel, d_rec, d_bias, d_x, d_h_next)


# --------------------------------------------------------------------------- linear-chain CRF
def crf_log_likelihood(
    potentials: np.ndarray,
    tags: np.ndarray,
    transitions: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> float:
    """log p(tags | potentials) of one sentence under a linear-chain CRF (forward algorithm).

    Args:
        potentials: (T, K) per-token tag scores, T >= 1.
        tags: (T,) gold tags.
        transitions: (K, K), `transitions[i, j]` the score of tag j after tag i.
        start, end: (K,) scores of the first and the last tag.
    """
    potentials = np.asarray(potentials, np.float64)
    tags = np.asarray(tags, int)
    score = start[tags[0]] + potentials[np.arange(len(tags)), tags].sum() + end[tags[-1]]
    score += sum(transitions[a, b] for a, b in zip(tags[:-1], tags[1:]))
    alpha = start + potentials[0]  # (K,): log-sum of the scores of every prefix ending in k
    for emit in potentials[1:]:
        cand = alpha[:, None] + transitions  # (K prev, K next)
        top = cand.max(axis=0)
        alpha = top + np.log(np.exp(cand - top).sum(axis=0)) + emit
    final = alpha + end
    log_z = final.max() + np.log(np.exp(final - final.max()).sum())
    return float(score - log_z)


def viterbi_decode(
    potentials: np.ndarray, transitions: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, float]:
    """The best tag sequence (T,) of one sentence and its score (see `crf_log_likelihood`)."""
    potentials = np.asarray(potentials, np.float64)
    delta = start + potentials[0]
    backs = []
    for emit in potentials[1:]:
        cand = delta[:, None] + transitions  # (K prev, K next)
        backs.append(cand.argmax(axis=0))
        delta = cand.max(axis=0) + emit
    final = delta + end
    best = [int(final.argmax())]
    for back in reversed(backs):
        best.append(int(back[best[-1]]))
    return np.asarray(best[::-1]), float(final.max())
