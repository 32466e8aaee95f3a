import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_apps import build_stacked_rnn
from rnn_apps.export import (
    Endpoint,
    ExportVerificationError,
    device_specific_ops,
    export_saved_model,
    read_metadata,
    signature_summary,
    verify_saved_model,
)
from rnn_apps.testing import run_export_roundtrip_test

TEXTS = ["a good film", "a bad film", "good good", "bad awful film"]


@pytest.fixture(scope="module")
def sentiment_parts():
    keras.utils.set_random_seed(0)
    vec = keras.layers.TextVectorization(max_tokens=20, name="vectorizer")
    vec.adapt(TEXTS)
    model = build_stacked_rnn(
        vocab_size=vec.vocabulary_size(), units=3, embedding_dim=2, output_activation="sigmoid"
    )
    labels = tf.constant(["negative", "positive"])

    def serve(text):
        prob = tf.reshape(model(vec(text)), [-1])  # (B,) strings -> (B, T) ids -> (B,)
        return {"probability": prob, "label": tf.gather(labels, tf.cast(prob > 0.5, tf.int32))}

    def score(text, threshold):
        prob = tf.reshape(model(vec(text)), [-1])
        return {"above": tf.cast(prob > threshold, tf.int32)}

    endpoints = [
        Endpoint("serving_default", serve, [tf.TensorSpec([None], tf.string, name="text")]),
        Endpoint(
            "score",
            score,
            [
                tf.TensorSpec([None], tf.string, name="text"),
                tf.TensorSpec([], tf.float32, name="threshold"),
            ],
        ),
    ]
    return model, vec, endpoints, serve


@pytest.fixture(scope="module")
def exported(sentiment_parts, tmp_path_factory):
    model, vec, endpoints, _ = sentiment_parts
    path = tmp_path_factory.mktemp("export") / "model"
    samples = {
        "serving_default": {"text": np.array(["good film", "", "unknown words only"])},
        "score": {"text": np.array(["good"]), "threshold": np.float32(0.5)},
    }
    report = export_saved_model(
        path,
        endpoints=endpoints,
        track=[model, vec],
        metadata={"task": "sentiment", "vocabulary_size": vec.vocabulary_size()},
        sample_inputs=samples,
    )
    return path, report


def test_export_writes_signatures_metadata_and_verifies(exported, sentiment_parts):
    path, report = exported
    assert report.verified and set(report.max_abs_diff) == {"serving_default", "score"}
    meta = read_metadata(path)
    assert meta["task"] == "sentiment"
    assert meta["rnn_apps_version"]
    assert meta["signatures"]["serving_default"]["inputs"] == [
        {"name": "text", "dtype": "string", "shape": [None]}
    ]
    assert json.loads((path / "assets" / "metadata.json").read_text()) == meta
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) >= {"serving_default", "score"}
    out = loaded.signatures["serving_default"](text=tf.constant(TEXTS))
    _, _, _, serve = sentiment_parts
    np.testing.assert_allclose(
        out["probability"], serve(tf.constant(TEXTS))["probability"], atol=1e-6
    )
    assert out["label"].dtype == tf.string


def test_signature_summary_reads_like_saved_model_cli(exported):
    path, report = exported
    text = signature_summary(path)
    assert text == report.summary
    assert "signature_def['serving_default']:" in text
    assert "inputs['text'] tensor_info:" in text
    assert "dtype: DT_STRING" in text
    assert "outputs['probability'] tensor_info:" in text
    assert "shape: (-1,)" in text
    assert "Method name is: tensorflow/serving/predict" in text


def test_roundtrip_helper_detects_mismatch(exported):
    path, _ = exported
    loaded = tf.saved_model.load(str(path))
    good = loaded.signatures["serving_default"](text=tf.constant(["good film"]))
    run_export_roundtrip_test(
        path,
        "serving_default",
        {"text": np.array(["good film"])},
        {"probability": good["probability"].numpy()},
    )
    with pytest.raises(ExportVerificationError, match="differ"):
        run_export_roundtrip_test(
            path,
            "serving_default",
            {"text": np.array(["good film"])},
            {"probability": good["probability"].numpy() + 0.1},
        )


def test_failed_export_leaves_previous_model_untouched(exported, sentiment_parts):
    path, _ = exported
    before = (path / "saved_model.pb").read_bytes()
    model, vec, endpoints, _ = sentiment_parts
    with pytest.raises(ValueError, match="lack input 'text'"):
        export_saved_model(
            path,
            endpoints=endpoints,
            track=[model, vec],
            sample_inputs={"serving_default": {"txt": np.array(["x"])}},
        )
    assert (path / "saved_model.pb").read_bytes() == before
    leftovers = [p for p in os.listdir(path.parent) if ".tmp-" in p or ".old-" in p]
    assert leftovers == []
    with pytest.raises(FileExistsError):
        export_saved_model(path, endpoints=endpoints, track=[model, vec], overwrite=False)


def test_device_specific_ops_are_refused(tmp_path):
    class Gpu(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2, 3], tf.float32)])
        def run(self, x):
            h = tf.zeros([1, 2, 4])
            params = tf.zeros([100])
            out = tf.raw_ops.CudnnRNN(input=x, input_h=h, input_c=h, params=params)
            return {"y": out[0]}

    module = Gpu()
    path = tmp_path / "gpu"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.run})
    assert device_specific_ops(path) == ["CudnnRNN"]
    with pytest.raises(ExportVerificationError, match="CudnnRNN.*CPU"):
        verify_saved_model(path, {})


def test_export_argument_errors(sentiment_parts, tmp_path):
    model, vec, endpoints, _ = sentiment_parts
    with pytest.raises(ValueError, match="endpoints is empty"):
        export_saved_model(tmp_path / "m", endpoints=[], track=[model])
    with pytest.raises(ValueError, match="unknown endpoints"):
        export_saved_model(
            tmp_path / "m", endpoints=endpoints, track=[model, vec], sample_inputs={"nope": {}}
        )
    with pytest.raises(FileNotFoundError, match="not written by rnn_apps"):
        read_metadata(tmp_path)


def test_export_stores_every_variable_once(sentiment_parts, exported):
    """Tracking a Keras model in an ExportArchive stores each variable twice
    (keras-team/keras#23553); the export must hold exactly the model's parameters."""
    model = sentiment_parts[0]
    path, _ = exported
    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    float_values = sum(
        int(np.prod(shape))
        for name, shape in reader.get_variable_to_shape_map().items()
        if name.endswith("VARIABLE_VALUE") and reader.get_variable_to_dtype_map()[name].is_floating
    )
    assert float_values == model.count_params()


def test_export_writes_tf_serving_warmup_requests_that_replay(exported):
    from rnn_apps.warmup import WARMUP_DIR, WARMUP_FILE, read_warmup

    path, _ = exported
    assert (path / WARMUP_DIR / WARMUP_FILE).stat().st_size > 0
    requests = read_warmup(path)
    assert [(r["model"], r["signature"]) for r in requests] == [
        ("model", "serving_default"), ("model", "score"),
    ]  # fmt: skip
    assert requests[0]["inputs"]["text"].tolist() == [b"good film", b"", b"unknown words only"]
    assert requests[1]["inputs"]["threshold"] == np.float32(0.5)
    loaded = tf.saved_model.load(str(path))
    for r in requests:  # what TF Serving does on load: every request runs
        out = loaded.signatures[r["signature"]](
            **{k: tf.constant(v) for k, v in r["inputs"].items()}
        )
        assert all(np.size(v) for v in out.values())
