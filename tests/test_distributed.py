"""Multi-worker training: two `rnn-apps sentiment train --strategy multi_worker` processes on
127.0.0.1 (TF_CONFIG) train a small sentiment model and end with identical weights."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from rnn_apps.tasks.sentiment import SentimentClassifier

GOOD = ["good", "great", "wonderful", "fine", "superb"]
BAD = ["bad", "awful", "boring", "dull", "poor"]
FILLER = ["the", "film", "plot", "actor", "was", "a", "movie", "story", "and", "it"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_csv(path) -> None:
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(160):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(FILLER, size=rng.integers(3, 12)))
        words.insert(int(rng.integers(0, len(words) + 1)), rng.choice(GOOD if i % 2 else BAD))
        rows.append(f"{' '.join(words)},{label}")
    path.write_text("\n".join(rows) + "\n")


@pytest.mark.slow
def test_two_workers_train_a_sentiment_model_to_identical_weights(tmp_path):
    data = tmp_path / "reviews.csv"
    _tiny_csv(data)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "max_tokens: 64\nembedding_dim: 8\nunits: 4\nngram_buckets: 256\nbatch_size: 16\n"
        "epochs: 3\nngram_epochs: 2\npatience: 5\nverbose: 0\nlearning_rate: 0.02\n"
        "embedding_dropout: 0.0\nhead_dropout: 0.0\n"
    )
    out = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            CUDA_VISIBLE_DEVICES="",
        )
        cmd = [
            sys.executable, "-m", "rnn_apps.cli", "sentiment", "train", "--data", str(data),
            "--config", str(config), "--strategy", "multi_worker", "--seed", "3",
            "--deterministic", "--output-dir", str(out), "--no-export",
        ]  # fmt: skip
        procs.append(
            subprocess.Popen(
                cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=600)[0])
    finally:
        for proc in procs:
            proc.kill()
    for proc, text in zip(procs, outputs):
        assert proc.returncode == 0, text[-3000:]
    chief = SentimentClassifier.load(out / "pipeline")  # worker 0 writes the run folder
    other = SentimentClassifier.load(
        out.parent / f"{out.name}-worker-1" / "pipeline"
    )  # worker 1 its own
    w0, w1 = chief.model_.get_weights(), other.model_.get_weights()
    assert len(w0) == len(w1) > 0
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    # Both branches trained with validation and learned the task.
    for name in ("ngram", "rnn"):
        losses = chief.history_[name]["loss"]
        assert len(chief.history_[name]["val_loss"]) == len(losses)
        assert losses[-1] < losses[0]
    pred = chief.predict(["a wonderful film", "an awful film"])
    assert list(pred.labels) == ["pos", "neg"]
