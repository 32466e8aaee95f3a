"""Export core: SavedModels with named signatures, metadata, and verification.

Every pipeline exports through `export_saved_model`:

1. a `keras.export.ExportArchive` tracks the model(s) and the preprocessing layers (lookup
   tables and vocabularies travel with the graph) and gets one endpoint per signature;
2. `metadata.json` (task, package/TF/Keras versions, signature specs, vocabulary or scaling
   facts, metrics) is written among the SavedModel's assets;
3. the SavedModel is written to a temporary folder next to the destination, verified, and only
   then renamed into place, so a crash never leaves a half-written model where a good one was;
4. verification loads it in a fresh `python -I` subprocess that never imports rnn_apps, runs
   every signature on sample inputs, compares with the in-process results, and refuses graphs
   that hold device-specific ops (`CudnnRNN*`), which would not serve on a CPU.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import inspect
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

METADATA_FILENAME = "metadata.json"
DEVICE_SPECIFIC_OP_PREFIXES = ("CudnnRNN",)

_DT_NAMES = {
    1: "DT_FLOAT",
    2: "DT_DOUBLE",
    3: "DT_INT32",
    4: "DT_UINT8",
    6: "DT_INT8",
    7: "DT_STRING",
    9: "DT_INT64",
    10: "DT_BOOL",
    19: "DT_HALF",
}


def assert_batch_at_most(inputs: Any, cap: int, noun: str) -> Any:
    """The in-graph check of a signature's batch cap: an op that fails with
    InvalidArgumentError "at most `cap` `noun` per call; split the batch" when `inputs`
    (B, ...) holds more than `cap` rows (run it before the work, in `control_dependencies`)."""
    import tensorflow as tf

    return tf.debugging.assert_less_equal(
        tf.shape(inputs)[0],
        tf.constant(cap, tf.int32),
        message=f"at most {cap} {noun} per call; split the batch",
    )


def xla_on_padded_shapes(
    fn: Callable[[Any], Any], length_buckets: Sequence[int], max_batch: int = 32
) -> Callable[[Any], Any]:
    """Wraps a model call on token ids so that small batches (single requests) run
    XLA-compiled on a few padded shapes; larger batches run `fn` as it is.

    For B <= `max_batch`, `tokens` (B, T), right-padded with 0, are padded with 0 to
    (B', T'): T' the smallest of `length_buckets` >= T (T itself above the largest) and B' the
    next power of two. `fn` runs on them as `tf.function(jit_compile=True)` (kept in
    SavedModels; XLA ships with TensorFlow for CPU and GPU), one fused program instead of an
    op-by-op loop over time steps, and every output is cut back to its first B rows. XLA
    compiles once per padded shape (about a second on a CPU, at its first request). Large
    batches amortise the per-step overhead anyway, and would pay a compile per shape.

    Args:
        fn: (B, T) int token ids -> a nest of (B, ...) tensors; rows must be independent and
            invariant to extra 0 padding on the right (masking).
        length_buckets: Padded lengths T'.
        max_batch: Largest batch that takes the XLA path.

    Returns:
        A function of (B, T) tokens with `fn`'s outputs, traceable inside `tf.function`.
    """
    import tensorflow as tf

    lengths = tf.constant(sorted({int(b) for b in length_buckets}), tf.int32)
    sizes = tf.constant([2**k for k in range(32) if 2 ** (k - 1) < max_batch], tf.int32)
    compiled = tf.function(fn, jit_compile=True)

    def smallest_at_least(candidates, n):
        fits = tf.boolean_mask(candidates, candidates >= n)
        return tf.cond(tf.size(fits) > 0, lambda: tf.reduce_min(fits), lambda: n)

    def xla(tokens):
        shape = tf.shape(tokens)  # (B, T)
        b, t = shape[0], shape[1]
        b_pad = smallest_at_least(sizes, tf.maximum(b, 1))
        padded = tf.pad(tokens, [[0, b_pad - b], [0, smallest_at_least(lengths, t) - t]])
        return tf.nest.map_structure(lambda x: x[:b], compiled(padded))  # (B', T') -> (B, ...)

    def run(tokens):
        small = tf.shape(tokens)[0] <= max_batch
        return tf.cond(small, lambda: xla(tokens), lambda: fn(tokens))

    return run


class ExportVerificationError(RuntimeError):
    """The written SavedModel does not reproduce the in-process results, or is not portable."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One signature of an exported SavedModel.

    Attributes:
        name: Signature name (`"serving_default"`, `"generate"`, `"score"` ...).
        fn: Function of the signature's inputs (positional, in `input_signature` order) that
            returns a dict of named output tensors.
        input_signature: One `tf.TensorSpec` per input; its `name` becomes the input's name.
    """

    name: str
    fn: Callable[..., Mapping[str, Any]]
    input_signature: Sequence[Any]


def named_parameters(fn: Callable[..., Any], input_signature: Sequence[Any]) -> Callable:
    """`fn` (inputs positional, in `input_signature` order) with one named parameter per
    input, named as its spec: a caller that binds the inputs by name (Keras' `TFSMLayer`,
    `restored.<endpoint>(x, state=...)`) then reaches a function written over `*args`."""
    names = [s.name for s in input_signature]

    @functools.wraps(fn)
    def named(*args: Any, **kwargs: Any) -> Any:
        given = {**dict(zip(names, args)), **kwargs}
        return fn(*[given[n] for n in names])

    named.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    )
    return named


@dataclasses.dataclass
class ExportReport:
    """What `export_saved_model` wrote and checked."""

    path: Path
    metadata: dict[str, Any]
    verified: bool
    max_abs_diff: dict[str, float]
    summary: str


def _spec_json(spec: Any) -> dict[str, Any]:
    shape = None if spec.shape.rank is None else [d for d in spec.shape.as_list()]
    return {"name": spec.name, "dtype": spec.dtype.name, "shape": shape}


def _run_endpoint_in_process(endpoint: Endpoint, inputs: Mapping[str, np.ndarray]):
    import tensorflow as tf

    args = []
    for spec in endpoint.input_signature:
        if spec.name not in inputs:
            raise ValueError(
                f"sample_inputs for endpoint {endpoint.name!r} lack input {spec.name!r}; "
                f"give one array per input ({[s.name for s in endpoint.input_signature]})."
            )
        args.append(tf.constant(inputs[spec.name], dtype=spec.dtype))
    outputs = tf.function(endpoint.fn, input_signature=list(endpoint.input_signature))(*args)
    return {k: np.asarray(v.numpy()) for k, v in outputs.items()}


def _resources_to_track(obj: Any) -> list[Any]:
    """What to `ExportArchive.track` for `obj`: a TF trackable as is; for a Keras layer or
    model, the TF resources (lookup tables) held by it and its sublayers, not its variables."""
    import keras
    import tensorflow as tf

    from rnn_apps._compat import flatten_layers

    if not isinstance(obj, keras.layers.Layer):
        return [obj]
    found: dict[int, Any] = {}
    for layer in flatten_layers(obj):
        for value in vars(layer).values():
            if isinstance(value, tf.saved_model.experimental.TrackableResource):
                found.setdefault(id(value), value)
    return list(found.values())


def export_saved_model(
    path: str | os.PathLike,
    *,
    endpoints: Sequence[Endpoint],
    track: Sequence[Any],
    metadata: Mapping[str, Any] | None = None,
    sample_inputs: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    verify: bool = True,
    overwrite: bool = True,
    atol: float = 1e-5,
    verbose: bool = False,
) -> ExportReport:
    """Writes a SavedModel with named signatures and `assets/metadata.json` (and, from the
    sample inputs, TF Serving warm-up requests in `assets.extra/`), then verifies it.

    Args:
        path: Destination folder.
        endpoints: The signatures; the first is also `serving_default` unless one is named so.
        track: Keras models and layers (and TF trackables) the endpoint functions use. TF
            trackables (e.g. `tf.lookup` tables built outside Keras) are tracked as given. Of
            Keras layers and models, the TF resources they hold (the tables of `TextVectorization`
            and `StringLookup` layers) are tracked; their variables reach the SavedModel through
            the endpoints that use them. (`ExportArchive.track(model)` would store every
            variable a second time, doubling the export: keras-team/keras#23553.)
        metadata: Task facts to record (task name, vocabulary or scaling facts, metrics ...).
            Package/TF/Keras versions, creation time and the signature specs are added.
        sample_inputs: `{endpoint name: {input name: array}}` to verify with (and to write
            as warm-up requests); endpoints without samples are only checked for loadability.
        verify: Run `verify_saved_model` before moving the export into place.
        overwrite: Replace an existing export at `path` (atomically); if False, an existing
            folder raises `FileExistsError`.
        atol: Tolerance for float outputs in verification.
        verbose: Print the signature summary (as `saved_model_cli show --all`) when done.

    Returns:
        An `ExportReport` with the path, the metadata, the verification diffs and the
        signature summary.

    Raises:
        ValueError: no endpoints, duplicate names, or bad sample inputs.
        FileExistsError: `path` exists and `overwrite` is False.
        ExportVerificationError: the written model does not reproduce the in-process results
            or holds device-specific ops. Nothing at `path` is touched in that case.
    """
    import keras
    import tensorflow as tf

    from rnn_apps import __version__

    path = Path(path).absolute()  # the verifier runs in another working directory
    if not endpoints:
        raise ValueError("endpoints is empty: give at least one Endpoint to export.")
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise ValueError(f"endpoint names must be unique, got {names}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    _check_export_dest(path)
    sample_inputs = dict(sample_inputs or {})
    unknown = set(sample_inputs) - set(names)
    if unknown:
        raise ValueError(f"sample_inputs name unknown endpoints {sorted(unknown)}; have {names}.")

    from rnn_apps.reporting import to_jsonable

    meta = dict(to_jsonable(dict(metadata or {})))
    meta.update(
        {
            "rnn_apps_version": __version__,
            "tensorflow_version": tf.__version__,
            "keras_version": keras.__version__,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "signatures": {
                e.name: {"inputs": [_spec_json(s) for s in e.input_signature]} for e in endpoints
            },
        }
    )

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        staging = tmp / "model"
        meta_src = tmp / METADATA_FILENAME
        expected = {
            e.name: _run_endpoint_in_process(e, sample_inputs[e.name])
            for e in endpoints
            if e.name in sample_inputs
        }
        for e in endpoints:
            if e.name in expected:
                meta["signatures"][e.name]["outputs"] = {
                    k: {
                        "dtype": "string" if v.dtype.kind in "OSU" else str(v.dtype),
                        "example_shape": list(v.shape),
                    }
                    for k, v in expected[e.name].items()
                }
        meta_src.write_text(json.dumps(meta, indent=2, sort_keys=True))

        archive = keras.export.ExportArchive()
        for obj in track:
            for item in _resources_to_track(obj):
                archive.track(item)
        archive.track(tf.saved_model.Asset(str(meta_src)))
        for e in endpoints:
            archive.add_endpoint(
                name=e.name,
                fn=named_parameters(e.fn, e.input_signature),
                input_signature=list(e.input_signature),
            )
        write_archive(archive, staging)
        # The Asset copies the file under its own name; make sure it is there.
        assets = staging / "assets"
        assets.mkdir(exist_ok=True)
        if not (assets / METADATA_FILENAME).is_file():
            shutil.copy(meta_src, assets / METADATA_FILENAME)

        if sample_inputs:  # TF Serving replays these on load (rnn_apps.warmup)
            from rnn_apps.warmup import write_warmup

            write_warmup(staging, path.name, sample_inputs)
        diffs: dict[str, float] = {}
        if verify:
            diffs = verify_saved_model(staging, sample_inputs, expected=expected, atol=atol)
        _atomic_replace(staging, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = ExportReport(
        path=path,
        metadata=meta,
        verified=verify,
        max_abs_diff=diffs,
        summary=signature_summary(path),
    )
    if verbose:
        print(f"Exported SavedModel to {path} (verified in a clean process: {verify})")
        print(report.summary)
    return report


def write_archive(archive: Any, path: str | os.PathLike) -> None:
    """`archive.write_out(path)` without TensorFlow's "Assets written to: <temporary path>"."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        archive.write_out(str(path), verbose=False)
    finally:
        logger.setLevel(level)


def _check_export_dest(path: Path, marker: Sequence[str] = ("saved_model.pb",)) -> None:
    """Refuses a destination that is a file, below a file, or a folder holding anything but
    an export (a `marker` file; replacing it would lose the user's files)."""
    from rnn_apps.errors import UserInputError
    from rnn_apps.persistence import check_output_path

    check_output_path(path, "The export folder")
    if path.is_dir() and any(path.iterdir()) and not any((path / m).is_file() for m in marker):
        raise UserInputError(
            f"The export folder {str(path)!r} holds files that are not an export of this "
            "format; an export replaces the whole folder, so give a new or empty folder."
        )


def _atomic_replace(src: Path, dst: Path) -> None:
    """Moves `src` to `dst`; an existing `dst` is kept until the new one is in place."""
    backup = None
    if dst.exists():
        backup = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(dst, backup)
    try:
        os.replace(src, dst)
    except OSError:
        if backup is not None:
            os.replace(backup, dst)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Returns the `metadata.json` of an exported SavedModel."""
    meta = Path(path) / "assets" / METADATA_FILENAME
    if not meta.is_file():
        raise FileNotFoundError(f"{meta} not found: {path} was not written by rnn_apps.export.")
    return json.loads(meta.read_text())


def _saved_model_proto(path: Path):
    from tensorflow.core.protobuf import saved_model_pb2

    pb = path / "saved_model.pb"
    if not pb.is_file():
        raise FileNotFoundError(f"{pb} not found: {path} is not a SavedModel folder.")
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString(pb.read_bytes())
    return sm


def device_specific_ops(path: str | os.PathLike) -> list[str]:
    """Lists the ops in a SavedModel's graph (functions included) that only run on a GPU."""
    sm = _saved_model_proto(Path(path))
    found = set()
    for mg in sm.meta_graphs:
        nodes = list(mg.graph_def.node)
        for fn in mg.graph_def.library.function:
            nodes.extend(fn.node_def)
        for node in nodes:
            if node.op.startswith(DEVICE_SPECIFIC_OP_PREFIXES):
                found.add(node.op)
    return sorted(found)


def signature_summary(path: str | os.PathLike) -> str:
    """Describes every signature as `saved_model_cli show --all` does."""
    sm = _saved_model_proto(Path(path))
    lines = []
    for mg in sm.meta_graphs:
        lines.append(
            f"MetaGraphDef with tag-set: '{', '.join(mg.meta_info_def.tags)}' "
            "contains the following SignatureDefs:"
        )
        for key in sorted(mg.signature_def):
            if key.startswith("__"):
                continue
            sig = mg.signature_def[key]
            lines.append("")
            lines.append(f"signature_def['{key}']:")
            for title, tensors in (("input", sig.inputs), ("output", sig.outputs)):
                lines.append(
                    f"  The given SavedModel SignatureDef contains the following {title}(s):"
                )
                for name in sorted(tensors):
                    info = tensors[name]
                    if info.tensor_shape.unknown_rank:
                        shape = "unknown_rank"
                    else:
                        dims = [str(d.size) for d in info.tensor_shape.dim]
                        shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
                    lines.append(f"    {title}s['{name}'] tensor_info:")
                    lines.append(f"        dtype: {_DT_NAMES.get(info.dtype, info.dtype)}")
                    lines.append(f"        shape: {shape}")
                    lines.append(f"        name: {info.name}")
            lines.append(f"  Method name is: {sig.method_name}")
    return "\n".join(lines)


_VERIFY_SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
path, inputs_file, out_file = sys.argv[1:4]
loaded = tf.saved_model.load(path)
samples = np.load(inputs_file, allow_pickle=False)
requests = json.loads(str(samples["__index__"]))
results = {"signatures": sorted(loaded.signatures.keys())}
arrays = {}
for sig_name, input_names in requests.items():
    fn = loaded.signatures[sig_name]
    feed = {}
    for name in input_names:
        spec = fn.structured_input_signature[1][name]
        feed[name] = tf.constant(samples[sig_name + "/" + name], dtype=spec.dtype)
    out = fn(**feed)
    for key, value in out.items():
        value = value.numpy()
        if value.dtype.kind == "O":
            value = value.astype(np.bytes_)
        arrays[sig_name + "/" + key] = value
np.savez(out_file, **arrays)
results["rnn_apps_imported"] = any(m.split(".")[0] == "rnn_apps" for m in sys.modules)
print(json.dumps(results))
"""


def _as_storable(arr: np.ndarray) -> np.ndarray:
    """Object arrays of str/bytes (what TF returns for tf.string) -> fixed-width bytes."""
    if arr.dtype.kind != "O":
        return arr
    flat = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in arr.ravel()]
    return np.asarray(flat, dtype=np.bytes_).reshape(arr.shape)


def verify_saved_model(
    path: str | os.PathLike,
    sample_inputs: Mapping[str, Mapping[str, np.ndarray]],
    *,
    expected: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    atol: float = 1e-5,
    timeout: float = 600.0,
) -> dict[str, float]:
    """Loads a SavedModel in a clean subprocess (no rnn_apps) and checks its outputs.

    Args:
        path: The SavedModel folder.
        sample_inputs: `{signature: {input name: array}}` to run.
        expected: `{signature: {output name: array}}`; when given, every output must match
            (floats within `atol`, everything else exactly).
        atol: Float tolerance.
        timeout: Seconds before the subprocess is abandoned.

    Returns:
        The largest absolute float difference per signature (0.0 for exact outputs).

    Raises:
        ExportVerificationError: device-specific ops, a load or run failure, a missing
            signature or output, or a mismatch.
    """
    path = Path(path).absolute()  # the checker runs with cwd = a temporary folder
    bad_ops = device_specific_ops(path)
    if bad_ops:
        raise ExportVerificationError(
            f"The SavedModel at {path} holds device-specific ops {bad_ops}: it would not serve "
            "on a CPU. Export on a CPU (CUDA_VISIBLE_DEVICES='') or build the recurrent layers "
            "with use_cudnn=False."
        )
    with tempfile.TemporaryDirectory() as tmp:
        arrays: dict[str, np.ndarray] = {}
        index = {}
        for sig, feed in sample_inputs.items():
            index[sig] = list(feed)
            for name, value in feed.items():
                arr = np.asarray(value)
                arr = _as_storable(arr)
                arrays[f"{sig}/{name}"] = arr
        arrays["__index__"] = np.asarray(json.dumps(index))
        inputs_file = Path(tmp) / "inputs.npz"
        out_file = Path(tmp) / "outputs.npz"
        np.savez(inputs_file, **arrays)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["CUDA_VISIBLE_DEVICES"] = env.get("RNN_APPS_VERIFY_DEVICES", "")
        proc = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                _VERIFY_SCRIPT,
                str(path),
                str(inputs_file),
                str(out_file),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=tmp,
        )
        if proc.returncode != 0:
            lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            errors = [ln for ln in lines if "Error" in ln or "error" in ln] or lines or ["?"]
            raise ExportVerificationError(
                f"Loading or running {path} in a clean process failed: {errors[-1][:400]}"
            )
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        if report["rnn_apps_imported"]:
            raise ExportVerificationError("The clean process imported rnn_apps; it must not.")
        got = dict(np.load(out_file, allow_pickle=False))
    diffs: dict[str, float] = {}
    for sig in sample_inputs:
        if sig not in report["signatures"]:
            raise ExportVerificationError(
                f"Signature {sig!r} missing from {path}; it has {report['signatures']}."
            )
        diffs[sig] = 0.0
        for key, want in (expected or {}).get(sig, {}).items():
            name = f"{sig}/{key}"
            if name not in got:
                raise ExportVerificationError(f"Signature {sig!r} has no output {key!r}.")
            have = got[name]
            want = _as_storable(np.asarray(want))
            if have.shape != want.shape:
                raise ExportVerificationError(
                    f"{sig}/{key}: shape {have.shape} after reload, {want.shape} in process."
                )
            if want.dtype.kind == "f":
                diff = float(np.max(np.abs(have - want))) if want.size else 0.0
                if not np.allclose(have, want, atol=atol, rtol=0, equal_nan=True):
                    raise ExportVerificationError(
                        f"{sig}/{key}: reloaded outputs differ by up to {diff:.3g} (> {atol})."
                    )
                diffs[sig] = max(diffs[sig], diff)
            elif not np.array_equal(have, want):
                raise ExportVerificationError(
                    f"{sig}/{key}: reloaded outputs differ from the in-process ones."
                )
    return diffs
