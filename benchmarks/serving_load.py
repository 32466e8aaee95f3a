"""Load benchmark of `rnn-apps serve` on loopback: requests/s and latency percentiles under 1, 8
and 64 concurrent clients, errors, and the server's memory over the run, against calling the
same SavedModel in process (the baseline, in the same run).

For each committed model named (default: the sentiment and forecasting models), the server
runs in a child process (`rnn-apps serve`), clients are threads of this process sending one
example per request with `urllib` (bounded: `--requests` per concurrency level and
`--max-seconds` per level), and the server's resident memory is read from /proc after each
level. Writes `benchmarks/results/serving_load.json`.

    python benchmarks/serving_load.py [--models forecast_etth1 sentiment_imdb] [--requests 2000]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
if str(Path(__file__).resolve().parent) not in sys.path:  # the harness, when imported
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, latency_summary, provenance, recorded_command, result_path, write_result  # noqa: E402,E501


def example(name: str) -> dict[str, Any]:
    """One request body for a committed model."""
    import numpy as np

    if name.startswith("forecast"):
        meta = json.loads((ROOT / "saved_models" / name / "assets" / "metadata.json").read_text())
        lookback, features = int(meta["lookback"]), len(meta["columns"])
        window = np.random.default_rng(0).normal(5, 2, (lookback, features)).round(3)
        return {"instances": [window.tolist()]}
    return {"instances": ["A moving, beautifully acted film with a weak ending."]}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_level(url: str, body: bytes, clients: int, requests: int, max_seconds: float) -> dict:
    """`requests` POSTs from `clients` threads (or until `max_seconds`)."""
    times: list[float] = []
    errors = 0
    deadline = time.monotonic() + max_seconds

    def one(_: int) -> None:
        nonlocal errors
        if time.monotonic() > deadline:
            return
        t0 = time.perf_counter()
        try:
            req = urllib.request.Request(url, data=body, method="POST")
            with urllib.request.urlopen(req, timeout=60) as resp:
                resp.read()
                ok = resp.status == 200
        except Exception:  # noqa: BLE001 - counted
            ok = False
        if ok:
            times.append(1000 * (time.perf_counter() - t0))
        else:
            errors += 1

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    seconds = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": len(times) + errors,
        "errors": errors,
        "requests_per_second": round(len(times) / seconds, 1),
        "latency_ms": latency_summary(times) if times else None,
    }


def in_process(name: str, body: dict, n: int) -> dict:
    """The baseline: the same signature called in this process, one example per call."""
    import numpy as np
    import tensorflow as tf

    fn = tf.saved_model.load(str(ROOT / "saved_models" / name)).signatures["serving_default"]
    key = next(iter(fn.structured_input_signature[1]))
    spec = fn.structured_input_signature[1][key]
    kind = object if spec.dtype == tf.string else None
    x = tf.constant(np.asarray(body["instances"], dtype=kind), dtype=spec.dtype)
    fn(**{key: x})
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(**{key: x})
        times.append(1000 * (time.perf_counter() - t0))
    return {"calls_per_second": round(1000 / (sum(times) / len(times)), 1),
            "latency_ms": latency_summary(times)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["sentiment_imdb", "forecast_etth1"])
    p.add_argument("--clients", nargs="+", type=int, default=[1, 8, 64])
    p.add_argument("--requests", type=int, default=2000, help="per concurrency level")
    p.add_argument("--max-seconds", type=float, default=60.0, help="per concurrency level")
    p.add_argument("--memory-requests", type=int, default=10_000, help="the memory run")
    p.add_argument("--output", default=str(result_path("serving_load")))
    args = p.parse_args(argv)
    result: dict[str, Any] = {
        "benchmark": "serving_load",
        "command": recorded_command(
            "serving_load.py",
            sys.argv[1:] if argv is None else argv,
            data_option=None,
            drop_options=("--output",),
        ),  # fmt: skip
        "versions": provenance(),
        "models": {},
    }
    for name in args.models:
        body = example(name)
        raw = json.dumps(body).encode()
        port = free_port()
        cmd = [sys.executable, "-m", "rnn_apps.cli", "serve", "--model",
               str(ROOT / "saved_models" / name), "--port", str(port)]  # fmt: skip
        proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.2)
            url = f"{base}/v1/models/{name}:predict"
            entry: dict[str, Any] = {"levels": []}
            load_level(url, raw, 4, 50, 30)  # warm-up (XLA compiles per batch size)
            for clients in args.clients:
                print(f"{name}: {clients} clients", flush=True)
                level = load_level(url, raw, clients, args.requests, args.max_seconds)
                level["server_rss_mb"] = round(rss_mb(proc.pid), 1)
                entry["levels"].append(level)
            before = rss_mb(proc.pid)
            mem = load_level(url, raw, 8, args.memory_requests, 10 * args.max_seconds)
            entry["memory"] = {
                "requests": mem["requests"], "errors": mem["errors"],
                "rss_mb_before": round(before, 1), "rss_mb_after": round(rss_mb(proc.pid), 1),
            }  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)
        entry["in_process"] = in_process(name, body, 300)
        result["models"][name] = entry
        write_result(args.output, result)
    for name, entry in result["models"].items():
        for level in entry["levels"]:
            print(f"{name} x{level['clients']}: {level['requests_per_second']} req/s, p50 "
                  f"{level['latency_ms']['p50_ms']} ms, errors {level['errors']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
