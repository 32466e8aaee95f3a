"""Adversarial training on word embeddings (Miyato et al. 2017, "Adversarial Training Methods
for Semi-Supervised Text Classification").

`AdversarialTrainer` wraps a Keras model that embeds token ids with an `Embedding` layer and
trains it on `loss(x) + weight * loss(x with the embeddings moved against the model)`: each
step first takes the gradient of the loss with respect to the embedding table, moves the rows
of the words in the batch by `epsilon` (relative to the table's root-mean-square row norm) in
the direction that raises the loss most, takes the loss and gradients there, puts the rows
back and applies the sum of both gradients. Miyato et al. perturb the embedded sequence
position by position; perturbing the table rows of the batch's words is the same step for a
word that occurs once and shares one perturbation between a word's occurrences otherwise,
and needs no change to the model's graph.

The wrapper shares the model's variables and is used only to train it: `fit`, callbacks
(`EarlyStopping`, `BackupAndRestore`, the optimizer's moving average) act on those variables,
and the model itself is what is saved and exported. Each step costs about two steps of
plain training.
"""

from __future__ import annotations

from typing import Any

import keras


def embedding_perturbation(table: Any, grad: Any, epsilon: float) -> Any:
    """The adversarial move of an embedding table: `grad` scaled to the norm
    `epsilon * rms * sqrt(k)`, where rms is the root-mean-square row norm of `table` and k the
    number of rows with a nonzero gradient (the batch's words): on average `epsilon * rms` per
    word.

    Shapes: table (V, E), grad (V, E) dense -> (V, E), zero on the rows without gradient.
    """
    import tensorflow as tf

    grad = tf.convert_to_tensor(grad)
    rows = tf.math.count_nonzero(tf.reduce_any(tf.not_equal(grad, 0.0), axis=1))
    rms = tf.sqrt(tf.reduce_mean(tf.reduce_sum(tf.square(table), axis=1)))
    size = epsilon * rms * tf.sqrt(tf.cast(rows, grad.dtype))
    return size * grad / (tf.norm(grad) + 1e-12)


class AdversarialTrainer(keras.Model):
    """Trains `model` with adversarial perturbations of `embedding`'s table.

    Shapes: as `model` (e.g. (B, T) token ids -> (B, O) logits).

    Args:
        model: The model to train (its variables are updated in place).
        embedding: The `keras.layers.Embedding` inside `model` whose rows are perturbed.
        epsilon: Size of the perturbation of the batch's rows, relative to the root-mean-square
            row norm of the table (the norm of the whole perturbation is `epsilon * rms *
            sqrt(rows in the batch)`).
        weight: Weight of the adversarial loss.
    """

    def __init__(
        self, model: Any, embedding: Any, epsilon: float, weight: float = 1.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.inner = model
        self.embedding = embedding
        self.epsilon = float(epsilon)
        self.weight = float(weight)
        # Its variables are the (built) model's, so the wrapper is built too: callbacks such as
        # `BackupAndRestore` refuse an unbuilt model.
        self.built = bool(getattr(model, "built", False))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.inner(inputs, training=training)

    def train_step(self, data: Any) -> Any:
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        table = self.embedding.embeddings
        variables = self.trainable_weights
        index = next(i for i, v in enumerate(variables) if v is table)

        def loss_and_gradients(track: bool) -> tuple[Any, Any, list[Any]]:
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self._compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
                )
                if track:
                    self._loss_tracker.update_state(loss, sample_weight=tf.shape(y_pred)[0])
            grads = tape.gradient(loss, variables)
            return loss, y_pred, [tf.convert_to_tensor(g) for g in grads]

        _, y_pred, grads = loss_and_gradients(True)
        delta = embedding_perturbation(table, grads[index], self.epsilon)
        table.assign_add(delta)
        _, _, adv_grads = loss_and_gradients(False)
        table.assign_sub(delta)
        total = [a + self.weight * b for a, b in zip(grads, adv_grads)]
        self.optimizer.apply_gradients(zip(total, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
