"""`rnn-apps serve`: a SavedModel behind TensorFlow Serving's REST API, with request batching.

    rnn-apps serve --model saved_models/forecast_etth1 [--port 8501] [--name NAME]

Endpoints (TF Serving's REST API, so its clients work unchanged):

- `GET /v1/models/<name>`: the model's status (`AVAILABLE`);
- `GET /v1/models/<name>/metadata`: its signatures (inputs and outputs with dtypes and shapes)
  and the rnn_apps metadata;
- `POST /v1/models/<name>:predict` with `{"signature_name": ..., "instances": [...]}` (row
  format: one entry per example, a value or `{input: value}`) or `{"inputs": ...}` (columnar:
  a value or `{input: [values]}`), answered with `{"predictions": [...]}` or `{"outputs": ...}`;
- `GET /healthz`: `{"status": "ok"}` once the model is loaded.

Bad requests get HTTP 400 (404 for another model name) and `{"error": "<one line>"}`, never a
traceback: malformed JSON, unknown signatures or inputs, values of the wrong shape or type, and
the model's own input caps (its in-graph checks). Requests are capped at `max_body_bytes` and
`max_rows` examples.

Batching: rows of concurrent requests to the same signature (with the same values of its
scalar inputs and the same example shape) are run as one batch of at most `max_batch_size`
rows, waiting at most `batch_timeout_ms` for company; one model call runs at a time, in a
worker thread, so the event loop keeps accepting requests.

Built on tornado (the `serve` extra): a long-maintained asynchronous HTTP server that runs in
the process without a separate ASGI/WSGI server, which keeps the command one process and the
batching a plain asyncio queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnn_apps.errors import UserInputError, graph_error

#: Defaults of `rnn-apps serve`.
MAX_BODY_BYTES = 8 << 20
MAX_ROWS = 4096


class RequestError(Exception):
    """A client error: HTTP `status` with a one-line message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(" ".join(str(message).split()))
        self.status = status


@dataclasses.dataclass
class _Signature:
    fn: Any
    inputs: dict[str, Any]  # name -> TensorSpec
    outputs: list[str]

    @property
    def batched(self) -> list[str]:
        return [k for k, s in self.inputs.items() if s.shape.rank and s.shape[0] is None]

    @property
    def scalars(self) -> list[str]:
        return [k for k in self.inputs if k not in self.batched]


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype == object or value.dtype.kind == "S":
        flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                for v in value.reshape(-1)]  # fmt: skip
        return np.array(flat, dtype=object).reshape(value.shape).tolist()
    if value.dtype.kind == "f":  # NaN / inf -> null (JSON has no NaN)
        arr = value.astype(float)
        obj = arr.astype(object)
        obj[~np.isfinite(arr)] = None
        return obj.tolist()
    return value.tolist()


class ModelServer:
    """One SavedModel served over HTTP (see the module docstring).

    Args:
        path: The SavedModel folder.
        name: The model name in URLs (default: the folder's name, as TF Serving's
            `--model_name`).
        max_batch_size: Most rows of one model call.
        batch_timeout_ms: How long a batch waits for more rows.
        max_body_bytes: Largest request body.
        max_rows: Most examples of one request.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        max_batch_size: int = 64,
        batch_timeout_ms: float = 2.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_rows: int = MAX_ROWS,
    ) -> None:
        import tensorflow as tf

        path = Path(path)
        if not (path / "saved_model.pb").is_file():
            raise UserInputError(f"{path} is not a SavedModel folder (no saved_model.pb).")
        self.path, self.name = path, name or path.resolve().name
        self.max_batch_size, self.batch_timeout = int(max_batch_size), batch_timeout_ms / 1000
        self.max_body_bytes, self.max_rows = int(max_body_bytes), int(max_rows)
        self.model = tf.saved_model.load(str(path))
        self.signatures: dict[str, _Signature] = {}
        for key, fn in self.model.signatures.items():
            specs = fn.structured_input_signature[1]
            self.signatures[key] = _Signature(fn, dict(specs), sorted(fn.structured_outputs))
        try:
            from rnn_apps.export import read_metadata

            self.metadata = read_metadata(path)
        except (FileNotFoundError, ValueError):
            self.metadata = {}
        self.model_calls = 0
        self.requests = 0
        self._queue: asyncio.Queue | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    # ------------------------------------------------------------------ documents
    def status(self) -> dict[str, Any]:
        ok = {"error_code": "OK", "error_message": ""}
        return {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": ok}]}

    def describe(self) -> dict[str, Any]:
        from tensorflow.core.framework import types_pb2

        def tensor(spec: Any) -> dict[str, Any]:
            dims = [{"size": str(-1 if d is None else d)} for d in spec.shape.as_list()]
            dtype = types_pb2.DataType.Name(spec.dtype.as_datatype_enum)  # DT_FLOAT ...
            return {"dtype": dtype, "tensor_shape": {"dim": dims}}

        sigs = {}
        for key, sig in self.signatures.items():
            outs = sig.fn.structured_outputs
            sigs[key] = {
                "inputs": {k: {"name": k, **tensor(s)} for k, s in sig.inputs.items()},
                "outputs": {k: {"name": k, **tensor(outs[k])} for k in sig.outputs},
                "method_name": "tensorflow/serving/predict",
            }
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": "1"},
            "metadata": {"signature_def": {"signature_def": sigs}, "rnn_apps": self.metadata},
        }

    # ------------------------------------------------------------------ requests
    def parse(self, body: bytes) -> tuple[str, dict[str, np.ndarray], bool]:
        """Request body -> (signature, {input: array}, row format)."""
        if len(body) > self.max_body_bytes:
            raise RequestError(f"request body over {self.max_body_bytes} bytes; split it", 413)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise RequestError(f"the body is not JSON: {err}") from None
        if not isinstance(doc, dict) or ("instances" in doc) == ("inputs" in doc):
            raise RequestError('give a JSON object with "instances" (rows) or "inputs" (columns)')
        name = doc.get("signature_name") or "serving_default"
        if name not in self.signatures:
            raise RequestError(
                f"no signature {name!r}; the model has {', '.join(sorted(self.signatures))}"
            )
        sig = self.signatures[name]
        rows = "instances" in doc
        if rows:
            instances = doc["instances"]
            if not isinstance(instances, list) or not instances:
                raise RequestError('"instances" must be a non-empty list')
            if len(instances) > self.max_rows:
                raise RequestError(f"{len(instances)} instances; at most {self.max_rows}")
            if len(sig.inputs) == 1 and not isinstance(instances[0], dict):
                columns = {next(iter(sig.inputs)): instances}
            else:
                if not all(isinstance(i, dict) for i in instances):
                    raise RequestError(
                        f"signature {name!r} takes {sorted(sig.inputs)}: give each instance as "
                        "an object of them"
                    )
                keys = set(instances[0])
                if any(set(i) != keys for i in instances):
                    raise RequestError("every instance must name the same inputs")
                columns = {k: [i[k] for i in instances] for k in keys}
        else:
            inputs = doc["inputs"]
            if isinstance(inputs, dict):
                columns = inputs
            elif len(sig.inputs) == 1:
                columns = {next(iter(sig.inputs)): inputs}
            else:
                raise RequestError(f"signature {name!r} takes {sorted(sig.inputs)}: name them")
        return name, self._arrays(name, sig, columns, rows), rows

    def _arrays(self, name: str, sig: _Signature, columns: dict, rows: bool) -> dict:
        missing = sorted(set(sig.inputs) - set(columns))
        unknown = sorted(set(columns) - set(sig.inputs))
        if missing or unknown:
            raise RequestError(
                f"signature {name!r} takes {sorted(sig.inputs)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
            )
        arrays = {}
        for key, spec in sig.inputs.items():
            value = columns[key]
            if rows and key in sig.scalars:
                if any(v != value[0] for v in value):
                    raise RequestError(f"input {key!r} is one value per request: give it once")
                value = value[0]
            try:
                kind = object if spec.dtype.name == "string" else spec.dtype.as_numpy_dtype
                arr = np.asarray(value, dtype=kind)
            except (TypeError, ValueError):
                raise RequestError(f"input {key!r}: expected {spec.dtype.name} values") from None
            if not spec.shape.is_compatible_with(arr.shape):
                raise RequestError(
                    f"input {key!r}: shape {list(arr.shape)} where the signature takes "
                    f"{[-1 if d is None else d for d in spec.shape.as_list()]}"
                )
            if kind is object and not all(isinstance(v, str) for v in arr.reshape(-1)):
                raise RequestError(f"input {key!r}: expected strings")
            if kind is not object and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise RequestError(f"input {key!r}: values must be finite numbers")
            arrays[key] = arr
        counts = {len(arrays[k]) for k in sig.batched}
        if len(counts) > 1:
            raise RequestError("the batched inputs have different numbers of examples")
        if counts and counts.pop() > self.max_rows:
            raise RequestError(f"more than {self.max_rows} examples; split the request")
        return arrays

    def run(self, name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call (in the worker thread)."""
        import tensorflow as tf

        sig = self.signatures[name]
        self.model_calls += 1
        args = {k: tf.constant(v, dtype=sig.inputs[k].dtype) for k, v in arrays.items()}
        try:
            out = sig.fn(**args)
        except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as err:
            raise RequestError(graph_error(err)) from None
        return {k: np.asarray(v.numpy()) for k, v in out.items()}

    # ------------------------------------------------------------------ batching
    async def predict(self, body: bytes) -> dict[str, Any]:
        """A request body -> the response document (raises `RequestError`)."""
        self.requests += 1
        name, arrays, rows = self.parse(body)
        sig = self.signatures[name]
        if sig.batched:
            out = await self._batched(name, sig, arrays)
        else:
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(self._executor, self.run, name, arrays)
        cols = {k: _jsonable(v) for k, v in out.items()}
        single = next(iter(cols.values())) if len(cols) == 1 else None
        if not rows:
            return {"outputs": cols if single is None else single}
        if single is not None:
            return {"predictions": single}
        n = len(next(iter(out.values()))) if out else 0
        return {"predictions": [{k: cols[k][i] for k in cols} for i in range(n)]}

    async def _batched(self, name: str, sig: _Signature, arrays: dict) -> dict[str, np.ndarray]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._batch_loop())
        n = len(arrays[sig.batched[0]])
        key = (
            name,
            json.dumps({k: np.asarray(arrays[k]).tolist() for k in sig.scalars}),
            tuple(np.shape(arrays[k])[1:] for k in sig.batched),
        )
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((key, arrays, n, future))
        return await future

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            pending = [first]
            deadline = time.monotonic() + self.batch_timeout
            while sum(p[2] for p in pending) < self.max_batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    pending.append(await asyncio.wait_for(self._queue.get(), left))
                except asyncio.TimeoutError:
                    break
            groups: dict[Any, list] = {}
            for item in pending:
                groups.setdefault(item[0], []).append(item)
            for key, items in groups.items():
                await self._run_group(loop, key[0], items)

    async def _run_group(self, loop: Any, name: str, items: list) -> None:
        sig = self.signatures[name]
        chunks: list[list] = [[]]
        for item in items:  # at most max_batch_size rows per call (a big request alone)
            if chunks[-1] and sum(i[2] for i in chunks[-1]) + item[2] > self.max_batch_size:
                chunks.append([])
            chunks[-1].append(item)
        for chunk in chunks:
            arrays = {
                k: (
                    np.concatenate([i[1][k] for i in chunk]) if k in sig.batched else chunk[0][1][k]
                )
                for k in sig.inputs
            }
            try:
                out = await loop.run_in_executor(self._executor, self.run, name, arrays)
            except Exception as err:  # noqa: BLE001 - every waiting request gets the error
                if len(chunk) > 1 and isinstance(err, RequestError):
                    for item in chunk:  # find whose rows failed: run each alone
                        await self._run_group(loop, name, [item])
                    continue
                for item in chunk:
                    if not item[3].done():
                        item[3].set_exception(err)
                continue
            start = 0
            for item in chunk:
                n = item[2]
                item[3].set_result({k: v[start : start + n] for k, v in out.items()})
                start += n


def make_app(server: ModelServer) -> Any:
    """The tornado application of `server`."""
    import tornado.web

    class Base(tornado.web.RequestHandler):
        def write_json(self, status: int, doc: Any) -> None:
            self.set_status(status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(doc, allow_nan=False, default=str))

        def check_name(self, name: str) -> None:
            if name != server.name:
                raise RequestError(f"no model {name!r}; this server has {server.name!r}", 404)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            reason = self._reason or "error"
            self.write_json(status_code, {"error": reason})

    class Document(Base):  # GET of one of the server's documents
        def initialize(self, document: Any) -> None:
            self.document = document

        def get(self, name: str) -> None:
            try:
                self.check_name(name)
            except RequestError as err:
                return self.write_json(err.status, {"error": str(err)})
            self.write_json(200, self.document())

    class Predict(Base):
        async def post(self, name: str) -> None:
            try:
                self.check_name(name)
                doc = await server.predict(self.request.body)
            except RequestError as err:
                return self.write_json(err.status, {"error": str(err)})
            except Exception as err:  # noqa: BLE001 - one line, never a traceback
                return self.write_json(500, {"error": " ".join(str(err).split())[:500]})
            try:
                self.write_json(200, doc)
            except ValueError as err:
                self.write_json(500, {"error": f"the output is not JSON: {err}"})

    class Health(Base):
        def get(self) -> None:
            self.write_json(200, {"status": "ok", "model": server.name})

    return tornado.web.Application(
        [
            (r"/v1/models/([^/:]+)", Document, {"document": server.status}),
            (r"/v1/models/([^/:]+)/metadata", Document, {"document": server.describe}),
            (r"/v1/models/([^/:]+):predict", Predict),
            (r"/v1/models/([^/:]+)/versions/1:predict", Predict),
            (r"/healthz", Health),
        ]
    )


def serve(server: ModelServer, *, host: str = "127.0.0.1", port: int = 8501) -> None:
    """Serves until interrupted."""
    import tornado.httpserver
    import tornado.ioloop

    http = tornado.httpserver.HTTPServer(
        make_app(server), max_body_size=server.max_body_bytes + 1024
    )
    http.listen(port, address=host)
    tornado.ioloop.IOLoop.current().start()
