"""One worker of the multi-worker test: trains a small model and saves its weights.

Run by tests/test_distributed.py as two processes with TF_CONFIG naming both on 127.0.0.1.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnn_apps import build_bidirectional  # noqa: E402
from rnn_apps.training import distributed_fit, get_strategy, set_seed  # noqa: E402


def main(out_path: str) -> None:
    set_seed(0)
    strategy = get_strategy("multi_worker")
    rng = np.random.default_rng(0)
    # A tiny sentiment-like task: the label says whether token 3 ("good") appears.
    x = rng.integers(1, 12, size=(256, 12)).astype("int32")
    x[rng.random(x.shape) < 0.3] = 0  # padding inside: exercised by the mask
    x = np.sort(x, axis=1)[:, ::-1].copy()  # right-padded
    y = (x == 3).any(axis=1).astype("float32")[:, None]
    global_batch = 32
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch, drop_remainder=True)
    with strategy.scope():
        model = build_bidirectional(vocab_size=12, embedding_dim=4, units=4, pooling="mean")
        optimizer = keras.optimizers.Adam(1e-2, clipnorm=1.0)
    history = distributed_fit(
        model,
        data,
        loss=keras.losses.BinaryCrossentropy(from_logits=True, reduction="none"),
        optimizer=optimizer,
        epochs=3,
        strategy=strategy,
        global_batch_size=global_batch,
    )
    np.savez(out_path, *model.get_weights(), loss=np.asarray(history["loss"]))
    print("replicas", strategy.num_replicas_in_sync)


if __name__ == "__main__":
    main(sys.argv[1])
