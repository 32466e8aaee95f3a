"""English -> French on Tatoeba: the attention RNN vs two baselines at equal CPU time.

    python benchmarks/translate_fra_eng.py [--minutes-per-model 15] [--data-dir DIR]
        [--max-test 1000] [--export-dir saved_models/translate_en_fr]

Models, each trained with the same wall-clock budget (`--minutes-per-model`) on the same
90/5/5 split by source sentence (seed 0), scored with greedy and beam decoding (BLEU and chrF
by sacreBLEU, every reference of each test sentence):

- `attention_rnn`: `Translator` with its defaults (bidirectional GRU encoder bridged into the
  decoder, Bahdanau attention, label smoothing);
- `no_attention`: the tutorials' plain encoder-decoder (unidirectional LSTM, the encoder's
  final state as the only link, no attention), same vocabulary and training;
- `transformer`: a small Transformer (`keras.layers.MultiHeadAttention`, 2 + 2 layers) of
  about the same parameter count (d_model 192), same tokens, decoded by the same greedy/beam
  code, with the same moving average of the weights as the RNN (kept if it validates better).

The attention model is exported (verified SavedModel + MODEL_CARD.md) to `--export-dir`, and
its SavedModel's sentences per second measured. Results: benchmarks/results/translate_fra_eng.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ROOT,
    dir_size_mb,
    peak_rss_mb,
    provenance,
    recorded_command,
    result_path,
    write_result,
)

sys.path.insert(0, str(ROOT))
RESULTS = result_path("translate_fra_eng")
#: Path options of the command line, as the recorded command shows a path outside the checkout.
PATH_OPTIONS = {"--export-dir": "<dir>", "--output": "<file>"}


# ----------------------------------------------------------------------------- transformer
def build_transformer(
    src_vocab: int,
    tgt_vocab: int,
    *,
    d_model: int = 192,
    heads: int = 4,
    ff: int = 512,
    layers: int = 2,
    max_len: int = 64,
    dropout: float = 0.1,
) -> tuple[Any, Any, Any]:
    """(training model [src (B, S), tgt_in (B, T)] -> logits (B, T, V), encoder src ->
    (B, S, D), decoder [enc (B, S, D), src (B, S), tgt (B, T)] -> logits (B, T, V))."""
    import keras
    from keras import ops

    class PositionalEmbedding(keras.layers.Layer):
        def __init__(self, vocab: int, **kw):
            super().__init__(**kw)
            self.tok = keras.layers.Embedding(vocab, d_model)
            self.pos = keras.layers.Embedding(max_len, d_model)

        def call(self, ids):
            positions = ops.arange(ops.shape(ids)[1])
            return self.tok(ids) * (d_model**0.5) + self.pos(positions)[None]

    def pad_mask(ids):  # (B, S) -> (B, 1, S) bool
        return keras.layers.Lambda(lambda t: ops.expand_dims(ops.not_equal(t, 0), 1))(ids)

    def ffn(x):
        h = keras.layers.Dense(ff, activation="relu")(x)
        return keras.layers.Dense(d_model)(keras.layers.Dropout(dropout)(h))

    src = keras.Input((None,), dtype="int32", name="source")
    x = keras.layers.Dropout(dropout)(PositionalEmbedding(src_vocab)(src))
    smask = pad_mask(src)
    for _ in range(layers):
        a = keras.layers.MultiHeadAttention(heads, d_model // heads, dropout=dropout)(
            x, x, attention_mask=smask
        )
        x = keras.layers.LayerNormalization()(x + a)
        x = keras.layers.LayerNormalization()(x + ffn(x))
    encoder = keras.Model(src, x, name="transformer_encoder")

    enc = keras.Input((None, d_model), name="encoder_outputs")
    src2 = keras.Input((None,), dtype="int32", name="source_ids")
    tgt = keras.Input((None,), dtype="int32", name="target_in")
    y = keras.layers.Dropout(dropout)(PositionalEmbedding(tgt_vocab)(tgt))
    cmask = pad_mask(src2)
    for _ in range(layers):
        a = keras.layers.MultiHeadAttention(heads, d_model // heads, dropout=dropout)(
            y, y, use_causal_mask=True
        )
        y = keras.layers.LayerNormalization()(y + a)
        c = keras.layers.MultiHeadAttention(heads, d_model // heads, dropout=dropout)(
            y, enc, attention_mask=cmask
        )
        y = keras.layers.LayerNormalization()(y + c)
        y = keras.layers.LayerNormalization()(y + ffn(y))
    logits = keras.layers.Dense(tgt_vocab)(y)
    decoder = keras.Model([enc, src2, tgt], logits, name="transformer_decoder")
    s, t = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    training = keras.Model([s, t], decoder([encoder(s), s, t]), name="transformer")
    return training, encoder, decoder


class TransformerRunner:
    """The `run("translate", ...)`/`metadata` API over a Transformer, decoded by the same
    `rnn_apps.tasks.translate.decoding` code (the growing prefix is the decoder "state")."""

    def __init__(self, encoder: Any, decoder: Any, pre: Any, config: Any, lmax: int) -> None:
        import tensorflow as tf

        from rnn_apps.tasks.translate.decoding import Decoder, decode

        self.metadata = {"config": config.to_dict()}

        def enc_fn(source, training=False):
            n = tf.shape(source)[0]
            out = encoder(source, training=False)
            return [out, source, tf.zeros([n, lmax], tf.int32), tf.zeros([n], tf.int32)]

        def dec_fn(inputs, training=False):
            tok, enc, src, buf, pos = inputs
            buf = buf + tf.one_hot(pos, lmax, dtype=tf.int32) * tok  # write the input token
            logits = decoder([enc, src, buf], training=False)  # (N, Lmax, V)
            return [tf.gather(logits, pos, batch_dims=1)[:, None, :], src, buf, pos + 1]

        dec = Decoder(enc_fn, dec_fn, True, pre.start_id, pre.end_id)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.string),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.int32),
            ]
        )
        def translate(text, beam_width, max_length):
            m = tf.clip_by_value(max_length, 1, lmax - 1)
            tokens, score = decode(dec, pre.encode_source(text), beam_width, m)
            blank = pre.is_blank(text)
            return {
                "translation": tf.where(blank, "", pre.detokenize(tokens)),
                "score": tf.where(blank, 0.0, score),
            }

        self._fn = translate

    def run(self, signature: str, **inputs: Any) -> dict[str, np.ndarray]:
        import tensorflow as tf

        out = self._fn(
            tf.constant(inputs["text"], tf.string),
            tf.constant(inputs["beam_width"], tf.int32),
            tf.constant(inputs["max_length"], tf.int32),
        )
        return {k: np.asarray(v.numpy()) for k, v in out.items()}


def train_transformer(attn: Any, splits: Any, minutes: float, cfg: Any) -> tuple[Any, dict]:
    """Trains the Transformer on the attention model's tokens for `minutes`."""
    import keras

    from rnn_apps.tasks.translate import as_pairs
    from rnn_apps.tasks.translate.model import (
        masked_token_accuracy,
        masked_token_loss,
        translation_optimizer,
    )
    from rnn_apps.training import keep_better_average

    pre = attn.preprocessor_
    lmax = cfg.max_decode_length + 1
    keras.utils.set_random_seed(cfg.seed)
    training, encoder, decoder = build_transformer(
        pre.source_vocabulary_size,
        pre.target_vocabulary_size,
        max_len=max(lmax, cfg.max_tokens + 2),
    )
    training.compile(
        optimizer=translation_optimizer(cfg, learning_rate=5e-4),
        loss=masked_token_loss(cfg.label_smoothing),
        metrics=[masked_token_accuracy],
    )
    train_ds = attn._dataset(*as_pairs(splits.train), train=True)
    val_ds = attn._dataset(*as_pairs(splits.validation), train=False)
    deadline = time.monotonic() + 60 * minutes

    class Budget(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() >= deadline:
                self.model.stop_training = True

    start = time.monotonic()
    hist = training.fit(
        train_ds,
        validation_data=val_ds,
        epochs=cfg.epochs,
        verbose=2,
        callbacks=[
            keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True),
            Budget(),
        ],
    ).history
    average = keep_better_average(training, val_ds)  # the same weight averaging as the RNN
    runner = TransformerRunner(encoder, decoder, pre, cfg, lmax)
    info = {
        "train_seconds": round(time.monotonic() - start, 1),
        "params": int(training.count_params()),
        "epochs": len(hist.get("loss", [])),
        "history": {k: [float(x) for x in v] for k, v in hist.items()},
        "weight_average": average,
    }
    return runner, info


# ----------------------------------------------------------------------------- main
def sentences_per_second(model: Any, texts: list[str], beam_width: int) -> float:
    from rnn_apps.tasks.translate import translate_texts

    translate_texts(model, texts[:8], beam_width=beam_width)  # warm-up (tracing)
    start = time.monotonic()
    translate_texts(model, texts, beam_width=beam_width)
    return round(len(texts) / max(time.monotonic() - start, 1e-9), 1)


def write_model_card(export_dir: Path, r: dict) -> None:
    att = r["models"]["attention_rnn"]
    cfg = r["config"]["attention_rnn"]
    lines = [
        "# translate_en_fr: English -> French, attention GRU encoder-decoder",
        "",
        "Trained by `benchmarks/translate_fra_eng.py` on the Tatoeba English-French pairs "
        "(the `fra-eng` file of the TensorFlow tutorials), split 90/5/5 by source sentence.",
        "",
        "## Model",
        f"- bidirectional {cfg['cell'].upper()} encoder ({cfg['units']} units per direction), "
        f"decoder initial state bridged from both directions, {cfg['attention']} attention",
        f"- vocabularies: {att['source_vocabulary_size']} source / "
        f"{att['target_vocabulary_size']} target tokens; {att['params']:,} parameters",
        f"- training: {att['epochs']} epochs, {r['train_seconds']['attention_rnn']:.0f} s on "
        "a 2-core CPU",
        "",
        "## Quality (test split, all references, sacreBLEU)",
        f"Test sentences: {r['num_test_sentences']}.",
        "",
        "| model | BLEU greedy | BLEU beam | chrF greedy | chrF beam |",
        "|---|---|---|---|---|",
    ]
    for name in r["bleu"]:
        b, c = r["bleu"][name], r["chrf"][name]
        lines.append(
            f"| {name} | {b['greedy']:.1f} | {b['beam']:.1f} | {c['greedy']:.1f} | "
            f"{c['beam']:.1f} |"
        )
    sps = r["sentences_per_second"]
    lines += [
        "",
        f"SavedModel speed (CPU): {sps['greedy']} sentences/s greedy, {sps['beam']} "
        f"sentences/s beam (width {cfg['beam_width']}).",
        "",
        f"Reproduce (about 50 minutes on 2 CPU cores): `{r.get('command', '')}`",
        "",
        "## Use",
        "```",
        'rnn-apps translate predict --model saved_models/translate_en_fr "I am cold."',
        "```",
        "Signature `translate`: `text` tf.string [None], `beam_width` int32 [], `max_length` "
        "int32 [] -> `translation` tf.string [None], `score` float32 [None] (length-normalised "
        "log-probability); `serving_default`: `text` only. Runs with TensorFlow alone.",
        "",
        "## Limits",
        f"- input cut at {cfg['max_tokens']} tokens; output lower-case vocabulary, re-cased "
        "(sentence start, names seen in training); unknown words come out as `[UNK]`;",
        "- Tatoeba sentences are short and simple; expect much worse output on long or "
        "domain-specific text.",
    ]
    (export_dir / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("RNN_APPS_DATA_DIR"))
    p.add_argument("--minutes-per-model", type=float, default=15.0)
    p.add_argument("--max-test", type=int, default=1000, help="test sentences scored (0 = all)")
    p.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export-dir", default=str(ROOT / "saved_models" / "translate_en_fr"))
    p.add_argument("--no-export", action="store_true")
    p.add_argument("--output", default=str(RESULTS))
    p.add_argument(
        "--config",
        default=None,
        help="experiment: JSON of TranslateConfig options for the attention RNN",
    )
    p.add_argument(
        "--only",
        action="store_true",
        help="experiment: train and score the attention RNN alone (no baselines, no export)",
    )
    args = p.parse_args()

    from rnn_apps.data.fra_eng import load_fra_eng, split_pairs
    from rnn_apps.tasks.translate import TranslateConfig, Translator, as_pairs, evaluate_pairs

    pairs = load_fra_eng(args.data_dir)
    splits = split_pairs(pairs, seed=args.seed)
    test_src, test_tgt = as_pairs(splits.test)
    cap = args.max_test or None
    base = TranslateConfig(seed=args.seed, max_train_minutes=args.minutes_per_model, verbose=2)
    if args.epochs:
        base = base.replace(epochs=args.epochs)
    configs = {
        "attention_rnn": base.replace(**json.loads(args.config)) if args.config else base,
        "no_attention": base.replace(attention=None, bidirectional=False, cell="lstm"),
    }
    if args.only:
        del configs["no_attention"]
    result: dict[str, Any] = {
        # before the model card, which shows it
        "command": recorded_command(
            "translate_fra_eng.py", sys.argv[1:], path_options=PATH_OPTIONS
        ),
        "provenance": provenance(),
        "data": f"Tatoeba fra-eng (en->fr), split 90/5/5 by source sentence, seed {args.seed}",
        "minutes_per_model": args.minutes_per_model,
        "bleu": {},
        "chrf": {},
        "train_seconds": {},
        "config": {},
        "models": {},
    }
    trained: dict[str, Any] = {}
    for name, cfg in configs.items():
        print(f"== {name}", flush=True)
        tr = Translator(cfg).fit(splits.train, splits.validation)
        trained[name] = tr
        ev = evaluate_pairs(tr, test_src, test_tgt, max_sentences=cap)
        result["bleu"][name], result["chrf"][name] = ev["bleu"], ev["chrf"]
        result["num_test_sentences"] = ev["num_test_sentences"]
        result["train_seconds"][name] = round(tr.train_seconds_, 1)
        result["config"][name] = cfg.to_dict()
        result["models"][name] = {
            "params": int(tr.model_.count_params()),
            "epochs": tr.epochs_,
            "source_vocabulary_size": tr.preprocessor_.source_vocabulary_size,
            "target_vocabulary_size": tr.preprocessor_.target_vocabulary_size,
            "examples": ev["examples"],
            "history": tr.history_.get("seq2seq", {}),
            "weight_average": tr.weight_average_,
        }
        print(name, ev["bleu"], ev["chrf"], flush=True)
    if args.only:
        write_result(args.output, result, ensure_ascii=True)
        print(f"wrote {Path(args.output).name}: BLEU {result['bleu']}")
        return 0

    print("== transformer", flush=True)
    runner, info = train_transformer(trained["attention_rnn"], splits, args.minutes_per_model, base)
    ev = evaluate_pairs(runner, test_src, test_tgt, max_sentences=cap)
    result["bleu"]["transformer"], result["chrf"]["transformer"] = ev["bleu"], ev["chrf"]
    result["train_seconds"]["transformer"] = info["train_seconds"]
    result["config"]["transformer"] = {
        "d_model": 192,
        "heads": 4,
        "ff": 512,
        "layers": "2 + 2",
        "dropout": 0.1,
        "learning_rate": 5e-4,
        "ema_momentum": base.ema_momentum,
        "tokens": "the attention_rnn preprocessor",
    }
    result["models"]["transformer"] = {**info, "examples": ev["examples"]}
    print("transformer", ev["bleu"], ev["chrf"], flush=True)

    attn = trained["attention_rnn"]
    export_dir = Path(args.export_dir)
    if args.no_export:
        import tempfile

        export_dir = Path(tempfile.mkdtemp()) / "translate_en_fr"
    attn.export(export_dir)
    from rnn_apps.tasks.base import SavedModelPredictor

    served = SavedModelPredictor(export_dir)
    texts = list(dict.fromkeys(test_src))[:200]
    result["sentences_per_second"] = {
        "greedy": sentences_per_second(served, texts, 1),
        "beam": sentences_per_second(served, texts, attn.config.beam_width),
    }
    result["saved_model_mb"] = dir_size_mb(export_dir)
    result["peak_rss_mb"] = peak_rss_mb()
    if not args.no_export:
        write_model_card(export_dir, result)
    write_result(args.output, result, ensure_ascii=True)
    print(f"wrote {Path(args.output).name}: BLEU {result['bleu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
