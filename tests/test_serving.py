"""`rnn-apps serve` (`rnn_apps.serving`) started on 127.0.0.1 and called with a real HTTP client
(urllib), on the committed forecasting and translation SavedModels."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tornado")

from rnn_apps.serving import ModelServer, make_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Running:
    """A server on a free port of 127.0.0.1, in a thread with its own event loop."""

    def __init__(self, server: ModelServer) -> None:
        import tornado.httpserver
        import tornado.netutil

        self.server = server
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                http = tornado.httpserver.HTTPServer(
                    make_app(server), max_body_size=server.max_body_bytes + 1024
                )
                http.add_sockets(sockets)
                self.stop = asyncio.Event()
                ready.set()
                await self.stop.wait()
                http.stop()

            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(main())

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(30)

    def call(self, path: str, body: object = None, raw: bytes | None = None):
        url = f"http://127.0.0.1:{self.port}{path}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


@pytest.fixture(scope="module")
def forecast():
    running = Running(ModelServer(ROOT / "saved_models" / "forecast_etth1", batch_timeout_ms=20))
    yield running
    running.close()


def _window(seed: int) -> list:
    return np.random.default_rng(seed).normal(5, 2, (720, 7)).round(3).tolist()


def test_status_metadata_and_health(forecast):
    assert forecast.call("/healthz") == (200, {"status": "ok", "model": "forecast_etth1"})
    code, doc = forecast.call("/v1/models/forecast_etth1")
    assert code == 200 and doc["model_version_status"][0]["state"] == "AVAILABLE"
    code, doc = forecast.call("/v1/models/forecast_etth1/metadata")
    sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["window"]["dtype"] == "DT_FLOAT"
    dims = [d["size"] for d in sig["inputs"]["window"]["tensor_shape"]["dim"]]
    assert dims == ["-1", "720", "7"]
    assert doc["metadata"]["rnn_apps"]["task"] == "forecast"
    assert forecast.call("/v1/models/other")[0] == 404


def test_predict_rows_and_columns_equal_the_savedmodel_in_process(forecast):
    import tensorflow as tf

    windows = [_window(1), _window(2)]
    code, doc = forecast.call("/v1/models/forecast_etth1:predict", {"instances": windows})
    assert code == 200 and np.shape(doc["predictions"]) == (2, 96, 7)
    fn = tf.saved_model.load(str(ROOT / "saved_models" / "forecast_etth1")).signatures[
        "serving_default"
    ]
    here = fn(window=tf.constant(windows, tf.float32))["forecast"].numpy()
    np.testing.assert_allclose(doc["predictions"], here, atol=1e-4)
    code, doc = forecast.call(
        "/v1/models/forecast_etth1:predict", {"inputs": {"window": windows[:1]}}
    )
    assert code == 200 and np.shape(doc["outputs"]) == (1, 96, 7)


@pytest.mark.parametrize(
    "body, match",
    [
        (b"{not json", "not JSON"),
        ({"rows": []}, '"instances"'),
        ({"instances": [[[1.0] * 7] * 95]}, r"shape \[1, 95, 7\] where the signature takes"),
        ({"instances": [{"x": 1}]}, r"takes \['window'\]"),
        ({"signature_name": "nope", "instances": [_window(0)]}, "no signature 'nope'"),
        ({"instances": [[["a"] * 7] * 720]}, "expected float32"),
        ({"instances": [np.full((720, 7), 1e30).tolist()]}, "too large to forecast from"),
    ],
)
def test_bad_requests_get_400_and_one_line(forecast, body, match):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    code, doc = forecast.call("/v1/models/forecast_etth1:predict", raw=raw)
    assert code == 400 and "\n" not in doc["error"], doc
    assert __import__("re").search(match, doc["error"]), doc


def test_concurrent_clients_are_batched(forecast):
    server = forecast.server
    calls, requests = server.model_calls, server.requests
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(
                lambda i: forecast.call(
                    "/v1/models/forecast_etth1:predict", {"instances": [_window(i)]}
                ),
                range(32),
            )
        )
    assert all(code == 200 for code, _ in results)
    alone = forecast.call("/v1/models/forecast_etth1:predict", {"instances": [_window(5)]})[1]
    np.testing.assert_allclose(results[5][1]["predictions"], alone["predictions"], atol=1e-5)
    assert server.requests - requests == 33
    assert server.model_calls - calls < 32  # rows of concurrent requests shared model calls


def test_strings_and_scalar_inputs_of_the_translation_model():
    running = Running(ModelServer(ROOT / "saved_models" / "translate_en_fr", name="tr"))
    try:
        inputs = {"text": ["I am cold.", ""], "beam_width": 2, "max_length": 20}
        body = {"signature_name": "translate", "inputs": inputs}
        code, doc = running.call("/v1/models/tr:predict", body)
        assert code == 200 and doc["outputs"]["translation"][1] == ""
        assert isinstance(doc["outputs"]["translation"][0], str)
        body["inputs"]["beam_width"] = 500
        code, doc = running.call("/v1/models/tr:predict", body)
        assert code == 400 and "beam_width" in doc["error"], doc
        code, doc = running.call("/v1/models/tr:predict", {"instances": ["Go away!"]})
        assert code == 200 and len(doc["predictions"]) == 1
        too_big = json.dumps({"instances": ["a" * (running.server.max_body_bytes + 10)]})
        code, doc = running.call("/v1/models/tr:predict", raw=too_big.encode())
        assert code == 413 and "request body over" in doc["error"]
    finally:
        running.close()


def test_serve_command_help_and_a_folder_that_is_not_a_savedmodel(tmp_path, capsys):
    from rnn_apps.cli import main

    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0 and "/v1/models/NAME:predict" in capsys.readouterr().out
    assert main(["serve", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a SavedModel folder" in err and err.count("\n") == 1
