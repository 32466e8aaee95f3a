"""The translation model: `rnn_apps.builders.build_encoder_decoder` on token ids, with a
masked, optionally label-smoothed token cross-entropy.

Shape legend: B batch, S source tokens, T target tokens, V target vocabulary, U units.
"""

from __future__ import annotations

from typing import Any

from rnn_apps.builders import EncoderDecoder, build_encoder_decoder, compile_model


def build_translation_model(
    config: Any, source_vocab_size: int, target_vocab_size: int
) -> EncoderDecoder:
    """The encoder-decoder of `config` (a `TranslateConfig`).

    Returns:
        `EncoderDecoder(training_model, encoder_model, decoder_model)`:
        `[source ids (B, S), decoder input ids (B, T)] -> logits (B, T, V)` (teacher forcing),
        the encoder (`-> [encoder outputs (B, S, U) with attention, *states (B, U)]`) and the
        one-step decoder (`[ids (B, 1), encoder outputs, *states] -> [logits (B, 1, V),
        *states]`), sharing their layers.
    """
    return build_encoder_decoder(
        source_vocab_size=int(source_vocab_size),
        target_vocab_size=int(target_vocab_size),
        embedding_dim=config.embedding_dim,
        cell=config.cell,
        units=config.units,
        dropout=config.dropout,
        attention=config.attention,
        bidirectional=config.bidirectional,
        name="translator",
    )


def set_source_word_vectors(model: Any, config: Any, vocabulary: list[str]) -> float:
    """Starts the encoder's embedding (layer `encoder_embedding` of `model`) from the
    pretrained vectors of `config.word_vectors` for the source `vocabulary` (id order);
    returns the share of the vocabulary found there.

    Raises:
        UserInputError: the file cannot be read, or its width is not `embedding_dim`.
    """
    from rnn_apps.embeddings import pretrained_embedding

    embedding = model.get_layer("encoder_embedding")
    matrix, coverage = pretrained_embedding(
        config.word_vectors, vocabulary, int(embedding.input_dim), config.embedding_dim,
        seed=config.seed,
    )  # fmt: skip
    embedding.embeddings.assign(matrix)
    return coverage


def masked_token_loss(label_smoothing: float = 0.0):
    """Cross-entropy of (B, T) target ids (0 = padding, ignored) against (B, T, V) logits,
    per token (B, T), 0 on padding (Keras averages over the real tokens with the mask the
    decoder propagates to the logits); with `label_smoothing` e, the target distribution is
    `(1 - e) * one_hot + e / V`."""
    import tensorflow as tf

    eps = float(label_smoothing)

    def loss(y_true, y_pred):
        y_true = tf.cast(y_true, tf.int32)  # (B, T)
        logp = tf.nn.log_softmax(tf.cast(y_pred, tf.float32), axis=-1)  # (B, T, V)
        nll = -tf.gather(logp, y_true, batch_dims=2)  # (B, T)
        if eps > 0:
            nll = (1.0 - eps) * nll - eps * tf.reduce_mean(logp, axis=-1)
        return nll * tf.cast(y_true > 0, tf.float32)  # (B, T)

    loss.__name__ = "masked_token_loss"
    return loss


def masked_token_accuracy(y_true, y_pred):
    """Per-token hits (B, T) (0 on padding; Keras averages them over the real tokens)."""
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.int32)
    hit = tf.cast(tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), y_true), tf.float32)
    return hit * tf.cast(y_true > 0, tf.float32)  # (B, T)


masked_token_accuracy.__name__ = "accuracy"


def translation_optimizer(config: Any, learning_rate: float | None = None) -> Any:
    """Adam with gradient-norm clipping 1.0 at `learning_rate` (default the config's), keeping
    a moving average of the weights when `config.ema_momentum` > 0 (what
    `rnn_apps.training.keep_better_average` compares after `fit`)."""
    import keras

    ema = float(config.ema_momentum)
    return keras.optimizers.Adam(
        config.learning_rate if learning_rate is None else learning_rate,
        clipnorm=1.0,
        use_ema=ema > 0,
        ema_momentum=ema or 0.99,
    )


def compile_translation_model(model: Any, config: Any) -> Any:
    """`translation_optimizer` on the masked token loss, token accuracy metric."""
    return compile_model(
        model,
        loss=masked_token_loss(config.label_smoothing),
        optimizer=translation_optimizer(config),
        metrics=[masked_token_accuracy],
    )
