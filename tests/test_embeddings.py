import numpy as np
import pytest

from rnn_apps.embeddings import load_word_vectors, ppmi_svd_embeddings
from rnn_apps.errors import UserInputError


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


def _vectors_file(tmp_path, lines, name="vec.txt"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_word_vectors_glove_and_word2vec_formats(tmp_path):
    vocab = ["", "[UNK]", "the", "Paris", "café", "zzqx"]
    glove = _vectors_file(
        tmp_path,
        ["the 1 0 0", "paris 0 1 0", "Paris 0 2 0", "café 0 0 1", "unused 9 9 9"],
    )
    wv = load_word_vectors(glove, vocab)
    assert wv.matrix.shape == (6, 3) and wv.matrix.dtype == np.float32
    np.testing.assert_array_equal(wv.matrix[[2, 3, 4]], [[1, 0, 0], [0, 2, 0], [0, 0, 1]])
    assert not wv.matrix[0].any()  # padding
    assert wv.found.tolist() == [False, False, True, True, True, False]
    assert (wv.exact, wv.lowercase) == (3, 0) and wv.coverage == 0.75
    # A word2vec / fastText header is skipped; the lowercased entry is the fallback.
    vec = _vectors_file(tmp_path, ["2 3", "paris 0 1 0", "the 1 0 0"], name="v.vec")
    wv = load_word_vectors(vec, vocab)
    np.testing.assert_array_equal(wv.matrix[3], [0, 1, 0])
    assert (wv.exact, wv.lowercase) == (1, 1)
    assert not load_word_vectors(vec, vocab, lowercase_fallback=False).found[3]
    # Rows without a vector are random but repeatable.
    again = load_word_vectors(vec, vocab)
    np.testing.assert_array_equal(wv.matrix[5], again.matrix[5])


@pytest.mark.parametrize(
    "lines, match",
    [
        (["the 1 0", "a 1 0 0"], r"vec.txt:2: 3 values where the file's first vector has 2"),
        (["the 1 x"], r"vec.txt:1: a value is not a number"),
        (["the 1 nan"], r"vec.txt:1: a value is not finite"),
        (["other 1 2"], r"holds no vector of a word of the vocabulary"),
    ],
)
def test_load_word_vectors_errors_name_the_line(tmp_path, lines, match):
    with pytest.raises(UserInputError, match=match):
        load_word_vectors(_vectors_file(tmp_path, lines), ["", "[UNK]", "the", "a"])


def test_load_word_vectors_refuses_missing_and_binary_files(tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        load_word_vectors(tmp_path / "none.txt", ["", "[UNK]", "a"])
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(b"the \xff\xfe\x00\x01\n")
    with pytest.raises(UserInputError, match="binary word2vec files: convert"):
        load_word_vectors(binary, ["", "[UNK]", "the"])
