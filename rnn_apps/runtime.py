"""Runs a LiteRT or ONNX export of an rnn_apps task without TensorFlow or rnn_apps.

This file is the device-side code: copy it next to an export (it needs numpy and either
`ai-edge-litert` or `onnxruntime`, nothing else) and call

    model = PortableModel("exported/forecast_litert")
    out = model(window=windows)          # {"forecast": ...}, the same as the SavedModel's
    model.metadata["core"]               # input names, shapes, dtypes; what a client does
    step = PortableModel("exported/textgen_litert", signature="step")  # another signature

An export folder holds `model.tflite` (LiteRT) or `model.onnx` (ONNX) and `metadata.json`
(the task's facts: vocabulary, scaling, class or tag names, the core's inputs and outputs).
A LiteRT core has a fixed batch size (`metadata["core"]["batch_size"]`, 1 by default: the
recurrent loops convert to builtin ops only with static shapes); `PortableModel` feeds larger
batches one slice at a time. Run as a script it verifies an export against expected outputs:

    python runtime.py verify EXPORT_DIR INPUTS.npz EXPECTED.npz [SIGNATURE]  # one JSON line
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

LITERT_FILE = "model.tflite"
ONNX_FILE = "model.onnx"
METADATA_FILE = "metadata.json"


class PortableModel:
    """A LiteRT or ONNX export: `model(**inputs) -> {output name: array}`.

    Args:
        path: The export folder (`model.tflite` or `model.onnx` with `metadata.json`).
        signature: Which signature to run (`metadata["core"]["signatures"]` lists those
            beside `serving_default`; an ONNX core holds each in `<name>.onnx`).
        num_threads: Threads of the runtime (None: its default).

    Raises:
        FileNotFoundError: the folder holds neither model file.
        ImportError: the runtime of its format is not installed (named in the message).
    """

    def __init__(
        self, path: str | Path, signature: str = "serving_default", num_threads: int | None = None
    ) -> None:
        self.path = Path(path)
        self.metadata: dict[str, Any] = json.loads((self.path / METADATA_FILE).read_text())
        core = self.metadata["core"]
        self.batch_size = core.get("batch_size")
        if signature != "serving_default":
            known = sorted(core.get("signatures") or {})
            if signature not in known:
                raise ValueError(f"no signature {signature!r}; the export has {known}")
            core = core["signatures"][signature]
        self.signature = signature
        self.input_names = [spec["name"] for spec in core["inputs"]]
        self.output_names = list(core["outputs"])
        onnx = ONNX_FILE if signature == "serving_default" else f"{signature}.onnx"
        if (self.path / LITERT_FILE).is_file():
            self.format = "litert"
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as err:
                raise ImportError("a LiteRT export needs `pip install ai-edge-litert`") from err
            self._interpreter = Interpreter(
                model_path=str(self.path / LITERT_FILE), num_threads=num_threads
            )
            self._runner = self._interpreter.get_signature_runner(signature)
        elif (self.path / onnx).is_file():
            self.format = "onnx"
            try:
                import onnxruntime as ort
            except ImportError as err:
                raise ImportError("an ONNX export needs `pip install onnxruntime`") from err
            options = ort.SessionOptions()
            if num_threads:
                options.intra_op_num_threads = num_threads
            self._session = ort.InferenceSession(
                str(self.path / onnx), options, providers=["CPUExecutionProvider"]
            )
        else:
            raise FileNotFoundError(f"{self.path} holds neither {LITERT_FILE} nor {ONNX_FILE}")
        # an output named like an input (a step's `state`) is `next_<name>` in an ONNX file
        self._onnx_names = {n: core.get("onnx_outputs", {}).get(n, n) for n in self.output_names}
        self._dtypes = {spec["name"]: spec["dtype"] for spec in core["inputs"]}
        self._shapes = {spec["name"]: spec["shape"] for spec in core["inputs"]}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing input(s) {missing}; the model takes {self.input_names}")
        feed = {n: np.asarray(inputs[n], dtype=self._dtypes[n]) for n in self.input_names}
        for n, value in feed.items():  # zero-pad to a LiteRT core's static shapes
            want = self._shapes[n][1:]
            if value.ndim == len(want) + 1 and None not in want:
                short = [(0, max(w - h, 0)) for h, w in zip(value.shape[1:], want)]
                if any(p for _, p in short):
                    feed[n] = np.pad(value, [(0, 0), *short])
        if self.format == "onnx":
            values = self._session.run([self._onnx_names[n] for n in self.output_names], feed)
            return dict(zip(self.output_names, values))
        rows = len(next(iter(feed.values())))
        step = self.batch_size or rows
        if rows % step:
            raise ValueError(f"the batch ({rows}) must be a multiple of {step}")
        parts = [
            self._runner(**{n: v[i : i + step] for n, v in feed.items()})
            for i in range(0, rows, step)
        ]
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}


def _verify(
    path: str, inputs_file: str, expected_file: str, signature: str = "serving_default"
) -> dict[str, Any]:
    """Runs the export on the inputs, one batch-sized request at a time, and compares."""
    model = PortableModel(path, signature)
    inputs = dict(np.load(inputs_file, allow_pickle=False))
    expected = dict(np.load(expected_file, allow_pickle=False))
    start = time.perf_counter()
    got = model(**inputs)
    seconds = time.perf_counter() - start
    rows = len(next(iter(inputs.values())))
    requests = -(-rows // (model.batch_size or rows))
    one = {n: v[: model.batch_size or 1] for n, v in inputs.items()}
    model(**one)  # warm
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        model(**one)
        times.append(time.perf_counter() - t0)
    diffs = {}
    for name, want in expected.items():
        have = got[name]
        if have.shape != want.shape:
            return {"error": f"{name}: shape {have.shape}, expected {want.shape}"}
        if want.dtype.kind == "f":
            both = np.isfinite(want) & np.isfinite(have)
            same_nan = bool((np.isnan(want) == np.isnan(have)).all())
            diff = float(np.max(np.abs(have - want)[both])) if both.any() else 0.0
            diffs[name] = diff if same_nan else float("inf")
        else:
            diffs[name] = 0.0 if np.array_equal(have, want) else float("inf")
    return {
        "format": model.format,
        "max_abs_diff": diffs,
        "seconds_per_request": seconds / max(requests, 1),
        "latency_ms_median": 1000 * float(np.median(times)),
        "tensorflow_imported": "tensorflow" in sys.modules,
        "rnn_apps_imported": "rnn_apps" in sys.modules,
    }


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6) or sys.argv[1] != "verify":
        sys.exit("usage: python runtime.py verify EXPORT_DIR INPUTS.npz EXPECTED.npz [SIGNATURE]")
    print(json.dumps(_verify(*sys.argv[2:])))
