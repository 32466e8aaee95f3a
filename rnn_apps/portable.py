"""LiteRT and ONNX exports of a task's tensor-only core, verified like the SavedModel.

A task's `core()` is the part of its serving graph that takes and returns numeric tensors
(token ids in, probabilities out; windows in real units in, forecasts out): what a phone, a
browser or an ONNX runtime can run. The string handling around it (tokenising, looking up
words, naming classes and tags) stays with the client, which reads what it needs from the
export's `metadata.json`. `export_core` converts the core:

- **LiteRT** with builtin ops only (`TFLiteConverter.from_saved_model` of the core written
  with `keras.export.ExportArchive`, as `keras.Model.export(format="litert")` does, but
  without select TF ops: the interpreter of `ai-edge-litert` has none). The recurrent
  layers' loops become builtin `WHILE` subgraphs, which needs static shapes: the batch is
  fixed (`batch_size`, default 1, one request at a time). `quantize=True` applies
  dynamic-range int8 quantisation (weights int8, activations float).
- **ONNX** with tf2onnx (its `--saved-model` conversion, opset `ONNX_OPSET`), dynamic batch.

Each export is run in a clean process by `rnn_apps/runtime.py` (numpy and the runtime only,
no TensorFlow) on the task's sample inputs and compared with the core run in process.

Layout: `DIR/model.tflite` or `DIR/model.onnx`, and `DIR/metadata.json` (the task's metadata
plus `core`: inputs, outputs, batch size, what the client does, and the verification).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError
from rnn_apps.runtime import LITERT_FILE, METADATA_FILE, ONNX_FILE

FORMATS = ("saved_model", "litert", "onnx")
ONNX_OPSET = 17
#: Largest |LiteRT or ONNX - in process| accepted for a float export (float32 kernels differ
#: in summation order; a recurrent loop accumulates it). Quantised exports report theirs.
ATOL = 1e-3


@dataclasses.dataclass
class Core:
    """The tensor-only part of a task's serving graph.

    Attributes:
        fn: Tensors (positional, in `input_signature` order) -> dict of named tensors (no
            asserts, no strings).
        input_signature: One `tf.TensorSpec` per input, batch dimension None, named.
        sample_inputs: Inputs to verify with, `{name: array}` (a few rows).
        track: Keras models and layers whose variables `fn` uses.
        client: What the client does around the core (before and after), for
            `metadata.json` and README.
        litert_shapes: Per input, the static shape (without the batch) LiteRT needs where
            the signature has other dynamic dimensions (e.g. a sentence length: a recurrent
            loop over a dynamic batch x length does not lower to builtin ops); the client pads
            its inputs with zeros to it (0 must mean padding).
        metadata: Facts only a client of the core needs (vocabularies the SavedModel keeps
            in its graph), added to `metadata.json`.
        signatures: More signatures beside `serving_default` (e.g. a recurrent `step`),
            `{name: CoreSignature}`: in the same model for LiteRT, one `<name>.onnx` each for
            ONNX.
    """

    fn: Callable[..., dict[str, Any]]
    input_signature: Sequence[Any]
    sample_inputs: Mapping[str, np.ndarray]
    track: Sequence[Any]
    client: str
    litert_shapes: Mapping[str, Sequence[int]] | None = None
    metadata: Mapping[str, Any] | None = None
    signatures: Mapping[str, CoreSignature] | None = None

    def all_signatures(self) -> dict[str, CoreSignature]:
        """`serving_default` (fn, input_signature, sample_inputs), then `signatures`."""
        main = CoreSignature(self.fn, self.input_signature, self.sample_inputs)
        return {"serving_default": main, **dict(self.signatures or {})}


@dataclasses.dataclass
class CoreSignature:
    """One signature of a core: `fn` over tensors (positional, in `input_signature` order,
    batch dimension None) -> dict of tensors, and inputs to verify it with."""

    fn: Callable[..., dict[str, Any]]
    input_signature: Sequence[Any]
    sample_inputs: Mapping[str, np.ndarray]


@dataclasses.dataclass
class PortableReport:
    """What `export_core` wrote and measured."""

    path: Path
    format: str
    quantized: bool
    size_mb: float
    max_abs_diff: dict[str, float]
    latency_ms_median: float
    metadata: dict[str, Any]


@contextlib.contextmanager
def _inference_cells(objs: Sequence[Any]):
    """Recurrent cells traced without their dropout rates (restored after). A Keras cell
    draws its dropout mask from a seed generator whether or not it is training, and that
    int64 state read inside a decoding loop is what tf2onnx cannot freeze; at inference the
    mask is never applied, so the traced function computes the same outputs."""
    from rnn_apps._compat import flatten_layers

    saved = []
    for obj in objs:
        for layer in flatten_layers(obj):
            if hasattr(layer, "get_dropout_mask"):
                for attr in ("dropout", "recurrent_dropout"):
                    if getattr(layer, attr, 0) > 0:
                        saved.append((layer, attr, getattr(layer, attr)))
                        setattr(layer, attr, 0.0)
    try:
        yield
    finally:
        for layer, attr, value in saved:
            setattr(layer, attr, value)


def _specs(
    core: Core, batch: int | None, static: bool = False, signature: str = "serving_default"
) -> list[Any]:
    """A signature's input specs with the given batch dimension (and, `static`, the
    `litert_shapes`)."""
    import tensorflow as tf

    fixed = dict(core.litert_shapes or {}) if static else {}
    return [
        tf.TensorSpec([batch, *fixed.get(s.name, s.shape[1:])], s.dtype, name=s.name)
        for s in core.all_signatures()[signature].input_signature
    ]


def onnx_file(signature: str) -> str:
    """The file of an ONNX core's signature (`model.onnx` for `serving_default`)."""
    return ONNX_FILE if signature == "serving_default" else f"{signature}.onnx"


def _pad_to(feed: Mapping[str, np.ndarray], shapes: Mapping[str, Sequence[int]]) -> dict:
    """Inputs zero-padded (at the end of each dimension) to `shapes` (without the batch)."""
    out = {}
    for name, value in feed.items():
        value = np.asarray(value)
        if name in shapes:
            want = list(shapes[name])
            if any(h > w for h, w in zip(value.shape[1:], want)):
                raise UserInputError(f"{name} has shape {value.shape}, longer than {want}.")
            pad = [(0, 0)] + [(0, w - h) for h, w in zip(value.shape[1:], want)]
            value = np.pad(value, pad)
        out[name] = value
    return out


def _write_core(core: Core, batch: int | None, out: Path, static: bool = False) -> None:
    """The core as a SavedModel (signature `serving_default`, the given batch dimension),
    written with `keras.export.ExportArchive`: what both converters read."""
    import keras

    from rnn_apps.export import write_archive

    archive = keras.export.ExportArchive()
    for obj in core.track:
        archive.track(obj)
    for name, sig in core.all_signatures().items():
        specs = _specs(core, batch, static, name)
        archive.add_endpoint(name, sig.fn, input_signature=specs)
    write_archive(archive, out)


def _litert_bytes(core: Core, batch_size: int, quantize: bool, work: Path) -> bytes:
    import tensorflow as tf

    _write_core(core, batch_size, work / "core", static=True)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(work / "core"), signature_keys=list(core.all_signatures())
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.experimental_enable_resource_variables = True
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def onnx_output_names(signature: CoreSignature, outputs: Sequence[str]) -> dict[str, str]:
    """`{output: its name in the ONNX file}`: an output named like an input (a step's
    `state` in and out) is `next_<name>` there, as one ONNX graph cannot hold two values of
    one name (tf2onnx drops the input)."""
    inputs = {s.name for s in signature.input_signature}
    return {k: f"next_{k}" if k in inputs else k for k in outputs}


def _onnx_named(sig: CoreSignature) -> CoreSignature:
    """The signature with its outputs renamed by `onnx_output_names`."""

    def fn(*args: Any) -> dict[str, Any]:
        out = sig.fn(*args)
        names = onnx_output_names(sig, list(out))
        return {names[k]: v for k, v in out.items()}

    return dataclasses.replace(sig, fn=fn)


def _write_onnx(core: Core, out: Path, work: Path) -> None:  # out: the folder
    """tf2onnx's documented path: its command line on the core's SavedModel (which turns
    the values a function captures into constants, as `from_function` does not), one file
    per signature."""
    import importlib.util

    if importlib.util.find_spec("tf2onnx") is None:
        raise UserInputError(
            "ONNX export needs tf2onnx and onnxruntime: pip install 'rnn_apps[export]'."
        )
    sigs = {k: _onnx_named(v) for k, v in core.all_signatures().items()}
    main = sigs.pop("serving_default")
    named = dataclasses.replace(core, fn=main.fn, signatures=sigs)
    _write_core(named, None, work / "core")
    for name in core.all_signatures():
        target = out / onnx_file(name)
        proc = subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(work / "core"),
             "--signature_def", name, "--opset", str(ONNX_OPSET), "--output", str(target)],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
        if proc.returncode != 0 or not target.is_file():
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            errors = [ln for ln in lines if "Error" in ln or "error" in ln] or lines or ["?"]
            raise RuntimeError(errors[-1])


def _first_error(err: Exception) -> str:
    """The converter's first `error:` line (its messages run to pages)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln] or lines or [type(err).__name__]
    text = errors[0]
    return text[text.rindex("error:") + len("error:") :].strip() if "error:" in text else text


def export_core(
    core: Core,
    path: str | os.PathLike,
    *,
    format: str,
    metadata: Mapping[str, Any],
    quantize: bool = False,
    batch_size: int = 1,
    verify: bool = True,
) -> PortableReport:
    """Converts `core` to LiteRT or ONNX at `path` (a folder, replaced atomically), with
    `metadata.json`, verified in a clean process.

    Args:
        core: The task's `Core`.
        path: Destination folder.
        format: `"litert"` or `"onnx"`.
        metadata: The task's export metadata (vocabulary, scaling, names ...).
        quantize: Dynamic-range int8 quantisation (LiteRT only).
        batch_size: LiteRT's fixed batch (the rows of one request).
        verify: Run the export in a clean process and compare with the core in process
            (within `ATOL` unless quantised).

    Raises:
        UserInputError: an unknown format, `quantize` with ONNX, a missing runtime, a core
            the converter cannot convert (its first error line), or a verification mismatch.
    """
    import tensorflow as tf

    from rnn_apps.export import _atomic_replace, _check_export_dest
    from rnn_apps.reporting import to_jsonable

    if format not in ("litert", "onnx"):
        raise UserInputError(f"format must be one of {FORMATS}, got {format!r}.")
    if quantize and format != "litert":
        raise UserInputError("quantize applies to LiteRT exports; drop it for ONNX.")
    if batch_size < 1:
        raise UserInputError(f"batch_size must be >= 1, got {batch_size}.")
    path = Path(path).absolute()
    _check_export_dest(path, marker=(LITERT_FILE, ONNX_FILE))
    sigs = core.all_signatures()

    def no_dropout(fn: Callable[..., Any]) -> Callable[..., Any]:
        def traced(*args: Any) -> dict[str, Any]:
            with _inference_cells(core.track):
                return fn(*args)

        return traced

    core = dataclasses.replace(
        core,
        fn=no_dropout(core.fn),
        signatures={
            k: dataclasses.replace(v, fn=no_dropout(v.fn))
            for k, v in sigs.items() if k != "serving_default"
        },
    )  # fmt: skip
    feeds, expected = {}, {}
    rows = 0
    for name, sig in core.all_signatures().items():
        feed = {s.name: np.asarray(sig.sample_inputs[s.name]) for s in sig.input_signature}
        rows = len(next(iter(feed.values())))
        rows -= rows % batch_size
        if rows == 0:
            raise UserInputError(
                f"the sample inputs of {name} have fewer rows than batch_size={batch_size}."
            )
        feed = {k: v[:rows] for k, v in feed.items()}
        if format == "litert" and core.litert_shapes:
            feed = _pad_to(feed, core.litert_shapes)
        fn = tf.function(sig.fn, input_signature=_specs(core, None, signature=name))
        args = [tf.constant(feed[s.name]) for s in sig.input_signature]
        feeds[name] = feed
        expected[name] = {k: np.asarray(v) for k, v in fn(*args).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        staging = tmp / "export"
        staging.mkdir()
        try:
            if format == "litert":
                blob = _litert_bytes(core, batch_size, quantize, tmp)
                (staging / LITERT_FILE).write_bytes(blob)
            else:
                _write_onnx(core, staging, tmp)
        except UserInputError:
            raise
        except Exception as err:  # the converter's own exception types vary by version
            if os.environ.get("RNN_APPS_DEBUG_EXPORT"):
                raise
            raise UserInputError(
                f"the {metadata.get('task', 'task')} core does not convert to {format}: "
                f"{_first_error(err)[:300]}"
            ) from None

        def described(name: str) -> dict[str, Any]:
            return {
                "inputs": [
                    {"name": s.name, "shape": [None if d is None else int(d) for d in s.shape],
                     "dtype": s.dtype.name}
                    for s in _specs(core, None, format == "litert", name)
                ],
                "outputs": sorted(expected[name]),
                **({"onnx_outputs": onnx_output_names(
                    core.all_signatures()[name], sorted(expected[name]))}
                   if format == "onnx" else {}),
            }  # fmt: skip

        meta = dict(to_jsonable({**dict(metadata), **dict(core.metadata or {})}))
        meta["format"] = format
        meta["core"] = {
            **described("serving_default"),
            "signatures": {k: described(k) for k in expected if k != "serving_default"},
            "batch_size": batch_size if format == "litert" else None,
            "quantized": bool(quantize),
            "client": core.client,
        }
        (staging / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        result: dict[str, Any] = {"max_abs_diff": {}, "latency_ms_median": float("nan")}
        if verify:
            for name in expected:
                one = _verify(staging, feeds[name], expected[name], name)
                prefix = "" if name == "serving_default" else f"{name}/"
                result["max_abs_diff"].update(
                    {prefix + k: v for k, v in one["max_abs_diff"].items()}
                )
                if name == "serving_default":
                    result["latency_ms_median"] = one["latency_ms_median"]
            worst = max(result["max_abs_diff"].values(), default=0.0)
            if not quantize and not worst <= ATOL:
                raise UserInputError(
                    f"the {format} export differs from the model in process by up to "
                    f"{worst:.3g} (> {ATOL}); see {result['max_abs_diff']}."
                )
            meta["core"]["verification"] = {
                "max_abs_diff": result["max_abs_diff"],
                "rows": rows,
                "runtime": "ai-edge-litert" if format == "litert" else "onnxruntime",
            }
            (staging / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        _atomic_replace(staging, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(f.stat().st_size for f in path.iterdir() if f.name != METADATA_FILE)
    return PortableReport(
        path=path,
        format=format,
        quantized=bool(quantize),
        size_mb=round(size / 2**20, 3),
        max_abs_diff=result["max_abs_diff"],
        latency_ms_median=result["latency_ms_median"],
        metadata=meta,
    )


def _verify(
    folder: Path,
    feed: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    signature: str = "serving_default",
) -> dict[str, Any]:
    """Runs `rnn_apps/runtime.py verify` in a clean process (no TensorFlow, no rnn_apps)."""
    import rnn_apps.runtime as runtime

    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "inputs.npz", **feed)
        np.savez(Path(tmp) / "expected.npz", **expected)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run(
            [sys.executable, "-I", runtime.__file__, "verify", str(folder),
             str(Path(tmp) / "inputs.npz"), str(Path(tmp) / "expected.npz"), signature],
            capture_output=True, text=True, timeout=600, env=env, cwd=tmp,
        )  # fmt: skip
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or ["?"]
        raise UserInputError(f"running the export in a clean process failed: {lines[-1][:300]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if "error" in report:
        raise UserInputError(f"the export's outputs do not match: {report['error']}")
    if report["tensorflow_imported"] or report["rnn_apps_imported"]:
        raise UserInputError("the export's runtime check imported TensorFlow or rnn_apps.")
    return report
