import numpy as np
import pytest

from rnn_apps.embeddings import ppmi_svd_embeddings


def _two_topics(n: int = 400):
    rng = np.random.default_rng(0)
    return [rng.integers(2, 10, 30) if i % 2 else rng.integers(10, 18, 30) for i in range(n)]


def test_ppmi_vectors_group_words_that_share_contexts():
    vectors = ppmi_svd_embeddings(_two_topics(), vocab_size=20, dim=4, scale=0.05)
    assert vectors.shape == (20, 4) and vectors.dtype == np.float32
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
    sim = unit @ unit.T
    assert sim[2, 3] > 0.8  # same topic
    assert abs(sim[2, 12]) < 0.2  # other topic
    np.testing.assert_array_equal(vectors[0], 0.0)  # padding
    np.testing.assert_array_equal(vectors[19], 0.0)  # never seen
    np.testing.assert_allclose(np.linalg.norm(vectors[2]), 0.05 * 2.0, rtol=1e-5)


def test_ppmi_is_deterministic_and_checks_its_arguments():
    a = ppmi_svd_embeddings(_two_topics(), vocab_size=20, dim=3, seed=1)
    b = ppmi_svd_embeddings(_two_topics(), vocab_size=20, dim=3, seed=1)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="dim must be in"):
        ppmi_svd_embeddings(_two_topics(), vocab_size=20, dim=20)
    with pytest.raises(ValueError, match="two tokens"):
        ppmi_svd_embeddings([np.array([3])], vocab_size=20, dim=2)
