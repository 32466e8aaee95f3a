"""Kill-and-resume and determinism of `rnn-apps sentiment train`, in subprocesses.

Layout: `DIR/backup/rnn` (the RNN branch's `BackupAndRestore`) while training runs,
`DIR/pipeline/pipeline.json` once it has completed.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from rnn_apps.testing import run_kill_and_resume_test

WORDS_POS = ["great", "wonderful", "superb", "moving", "brilliant"]
WORDS_NEG = ["awful", "boring", "dreadful", "weak", "tedious"]
FILLER = ["the", "film", "plot", "actor", "scene", "was", "and", "a", "it", "story"]


def _write_csv(path, n, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = list(rng.choice(FILLER, size=rng.integers(20, 60)))
        cue = WORDS_POS if positive else WORDS_NEG
        for _ in range(3):
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(cue)))
        rows.append({"text": " ".join(words), "label": "pos" if positive else "neg"})
    pd.DataFrame(rows).to_csv(path, index=False)


def _command(data, out, config, *extra):
    return [
        sys.executable,
        "-m",
        "rnn_apps.cli",
        "sentiment",
        "train",
        "--data",
        str(data),
        "--output-dir",
        str(out),
        "--config",
        str(config),
        "--no-export",
        *extra,
    ]


def _env():
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")


def _weights(run_dir):
    from rnn_apps.tasks.sentiment import SentimentClassifier

    return SentimentClassifier.load(run_dir).model_.get_weights()


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_resumes_and_completes(tmp_path):
    data = tmp_path / "reviews.csv"
    _write_csv(data, 6000)
    config = tmp_path / "config.yaml"
    config.write_text(
        "ngram_branch: false\nepochs: 4\npatience: 10\nunits: 8\nembedding_dim: 8\n"
        "lm_pretrain_epochs: 0\nrefit: false\n"
        "sequence_length: 64\nbatch_size: 16\nmax_tokens: 200\nverbose: 0\n"
    )
    out = tmp_path / "run"
    state = run_kill_and_resume_test(_command(data, out, config, "--seed", "1"), out, "rnn")
    # Resumed: the second run trained only the epochs after the last backup.
    assert 1 <= state["epochs"]["rnn"] < 4
    assert len(state["history"]["rnn"]["loss"]) == state["epochs"]["rnn"]


@pytest.mark.slow
def test_seed_and_determinism_give_bitwise_identical_weights(tmp_path):
    data = tmp_path / "reviews.csv"
    _write_csv(data, 400)
    config = tmp_path / "config.yaml"
    config.write_text(
        "epochs: 2\nngram_epochs: 2\nunits: 4\nembedding_dim: 4\nsequence_length: 32\n"
        "batch_size: 32\nmax_tokens: 100\nngram_buckets: 1024\nverbose: 0\n"
    )
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = subprocess.run(
            _command(data, out, config, "--seed", "7", "--deterministic"),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(_weights(out))
    assert len(runs[0]) == len(runs[1])
    for a, b in zip(*runs):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
