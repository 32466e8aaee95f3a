"""Adversarial training on the embeddings (`rnn_apps.adversarial`)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from rnn_apps.adversarial import AdversarialTrainer, embedding_perturbation


def tiny_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(30, 4, mask_zero=True, name="embedding")(tokens)
    x = keras.layers.GRU(3)(x)
    return keras.Model(tokens, keras.layers.Dense(1)(x))


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(16, 6)).astype("int32")
    x[:, 4:] = 0  # right padding; ids 20..29 never occur
    return x, (x[:, 0] > 10).astype("float32")


def compile_sgd(model: keras.Model, lr: float) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return model


def test_perturbation_has_the_promised_size_and_raises_the_loss():
    model, (x, y) = tiny_model(), data()
    table = model.get_layer("embedding").embeddings
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grad = tf.convert_to_tensor(tape.gradient(loss, table))
    delta = embedding_perturbation(table, grad, 0.5).numpy()
    used = np.unique(x[x > 0])
    assert np.all(delta[np.setdiff1d(np.arange(30), used)] == 0)  # only the batch's words move
    rms = np.sqrt(np.mean(np.sum(table.numpy() ** 2, axis=1)))
    np.testing.assert_allclose(np.linalg.norm(delta), 0.5 * rms * np.sqrt(len(used)), rtol=1e-5)
    table.assign_add(delta)
    assert float(loss_fn(y, model(x))) > float(loss)


def test_with_epsilon_zero_a_step_is_two_plain_steps_and_trains_the_wrapped_model(tmp_path):
    x, y = data()
    plain = compile_sgd(tiny_model(), 0.2)
    plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    inner = tiny_model()
    trainer = compile_sgd(AdversarialTrainer(inner, inner.get_layer("embedding"), 0.0), 0.1)
    hist = trainer.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    assert len(hist["loss"]) == 3 and hist["loss"][-1] < hist["loss"][0]
    for a, b in zip(plain.weights, inner.weights):  # the wrapped model holds the weights
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    # With epsilon > 0 the steps differ; the wrapped model saves and loads on its own.
    adv_inner = tiny_model()
    adv = compile_sgd(AdversarialTrainer(adv_inner, adv_inner.get_layer("embedding"), 1.0), 0.1)
    adv.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert not np.allclose(adv_inner.weights[0].numpy(), inner.weights[0].numpy())
    adv_inner.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(again.predict(x, verbose=0), adv_inner.predict(x, verbose=0))


def test_resumes_with_backup_and_restore(tmp_path):
    # The sentiment pipeline trains under BackupAndRestore whenever a work_dir is given.
    x, y = data()
    inner = tiny_model()
    trainer = compile_sgd(AdversarialTrainer(inner, inner.get_layer("embedding"), 0.5), 0.1)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    trainer.fit(x, y, batch_size=8, epochs=2, callbacks=[backup], verbose=0)
    after_two = [w.numpy() for w in inner.weights]
    again_inner = tiny_model(seed=1)
    again = compile_sgd(
        AdversarialTrainer(again_inner, again_inner.get_layer("embedding"), 0.5), 0.1
    )
    hist = again.fit(x, y, batch_size=8, epochs=2, callbacks=[backup], verbose=0).history
    assert not hist.get("loss")  # both epochs were done: nothing to redo
    for a, b in zip(after_two, again_inner.weights):
        np.testing.assert_allclose(a, b.numpy())
