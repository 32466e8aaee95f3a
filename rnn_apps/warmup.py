"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests` in a SavedModel.

TF Serving replays these requests when it loads a model, before it reports the model
available, so the first real request does not pay for tracing and graph optimisation
(https://www.tensorflow.org/tfx/serving/saved_model_warmup). The file is a TFRecord of
`tensorflow.serving.PredictionLog` protos, each a `PredictLog` holding a `PredictRequest`
(model name, signature name, input tensors). The `tensorflow-serving-api` package that
defines those messages pins its own TensorFlow, so they are written here on the protobuf
wire format directly (field numbers of `tensorflow_serving/apis/{prediction_log,predict,
model}.proto`); the tensors are TensorFlow's own `TensorProto`s.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"

# Field numbers (tensorflow_serving/apis/*.proto).
_PREDICTION_LOG_PREDICT_LOG = 6  # PredictionLog.predict_log
_PREDICT_LOG_REQUEST = 1  # PredictLog.request
_REQUEST_MODEL_SPEC = 1  # PredictRequest.model_spec
_REQUEST_INPUTS = 2  # PredictRequest.inputs (map<string, TensorProto>)
_SPEC_NAME = 1  # ModelSpec.name
_SPEC_SIGNATURE_NAME = 3  # ModelSpec.signature_name
_MAP_KEY, _MAP_VALUE = 1, 2


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def prediction_log(model_name: str, signature_name: str, inputs: Mapping[str, np.ndarray]) -> bytes:
    """One serialized `PredictionLog` with a predict request of `inputs`."""
    import tensorflow as tf

    spec = _field(_SPEC_NAME, model_name.encode()) + _field(
        _SPEC_SIGNATURE_NAME, signature_name.encode()
    )
    request = _field(_REQUEST_MODEL_SPEC, spec)
    for name, value in inputs.items():
        tensor = tf.make_tensor_proto(np.asarray(value)).SerializeToString()
        entry = _field(_MAP_KEY, name.encode()) + _field(_MAP_VALUE, tensor)
        request += _field(_REQUEST_INPUTS, entry)
    return _field(_PREDICTION_LOG_PREDICT_LOG, _field(_PREDICT_LOG_REQUEST, request))


def write_warmup(
    saved_model: str | os.PathLike,
    model_name: str,
    requests: Mapping[str, Mapping[str, np.ndarray]],
) -> Path:
    """Writes `{signature: {input: array}}` as the SavedModel's warm-up requests (one record
    per signature)."""
    import tensorflow as tf

    folder = Path(saved_model) / WARMUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, inputs in requests.items():
            writer.write(prediction_log(model_name, signature, inputs))
    return path


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """`(field number, payload)` of the length-delimited fields of a message."""
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        if key & 7 != 2:
            raise ValueError(f"wire type {key & 7} where only length-delimited fields are used")
        size, i = _read_varint(data, i)
        yield key >> 3, data[i : i + size]
        i += size


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def read_warmup(saved_model: str | os.PathLike) -> list[dict]:
    """The warm-up requests of a SavedModel: `[{"model", "signature", "inputs"}]`."""
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2

    path = Path(saved_model) / WARMUP_DIR / WARMUP_FILE
    out = []
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        (log_field, predict_log), *_ = _fields(record)
        if log_field != _PREDICTION_LOG_PREDICT_LOG:
            raise ValueError(f"not a predict log (field {log_field})")
        request = dict(_fields(predict_log))[_PREDICT_LOG_REQUEST]
        entry: dict = {"inputs": {}}
        for number, payload in _fields(request):
            if number == _REQUEST_MODEL_SPEC:
                spec = dict(_fields(payload))
                entry["model"] = spec[_SPEC_NAME].decode()
                entry["signature"] = spec[_SPEC_SIGNATURE_NAME].decode()
            elif number == _REQUEST_INPUTS:
                kv = dict(_fields(payload))
                tensor = tensor_pb2.TensorProto.FromString(kv[_MAP_VALUE])
                entry["inputs"][kv[_MAP_KEY].decode()] = tf.make_ndarray(tensor)
        out.append(entry)
    return out
