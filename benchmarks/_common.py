"""The benchmark harness: what every script under `benchmarks/` (run as
`python benchmarks/<name>.py`) records and repeats.

- `provenance()`: date, versions, CPU (count, model, flags, load average), git commit.
- `recorded_command(script, argv, ...)`: the command line that reproduces a run, without
  machine paths (a results file or model card never names a folder of this machine).
- `percentile(values, q)`, `latency_summary(times_ms)`: latency figures.
- `run_child(cmd, ...)` / `emit_result(value)`: a child Python process with a timeout that
  reports one JSON value on a `RESULT ` line.
- `write_result(path, data)`: results JSON written atomically (`result_path(name)` is
  `benchmarks/results/<name>.json`).
- `peak_rss_mb()`, `dir_size_mb(path)`.

This module imports neither TensorFlow nor rnn_apps at import time (the serving children of
`throughput.py` must not import rnn_apps).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
#: How a recorded command names the dataset mirror (its documented place beside the checkout).
DATA_MIRROR = "../shared/datasets"
#: What replaces a path outside the repository in a recorded command.
PATH_PLACEHOLDER = "<dir>"
RESULT_PREFIX = "RESULT "


# --------------------------------------------------------------------------- resources


def peak_rss_mb() -> float:
    """Peak resident memory (MB) of this process or of its largest finished child."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(self_kb, child_kb) / 1024.0, 1)


def dir_size_mb(path: Path) -> float:
    """Total size (MB) of the files under `path`."""
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 2)


# --------------------------------------------------------------------------- provenance


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_flags() -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty elsewhere)."""
    for line in _cpuinfo():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model() -> str | None:
    """The CPU's model name (/proc/cpuinfo, else `platform.processor()`), or None."""
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def package_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None."""
    import importlib.metadata as md

    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def git_commit() -> dict[str, Any]:
    """`{"git_commit": HEAD's hash or None, "git_dirty": tracked files changed (or None)}`."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def provenance() -> dict[str, Any]:
    """Date, versions, CPU and git commit of this run (no paths, no host name)."""
    flags = cpu_flags()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "tensorflow": package_version("tensorflow") or package_version("tensorflow-cpu"),
        "keras": package_version("keras"),
        "rnn_apps": package_version("rnn_apps") or package_version("rnn-apps"),
        "numpy": package_version("numpy"),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_avx512_bf16": "avx512_bf16" in flags,
        "cpu_amx_bf16": "amx_bf16" in flags,
        "cpu_avx512f": "avx512f" in flags,
        "cpu_model": cpu_model(),
        **git_commit(),
    }


# --------------------------------------------------------------------------- command


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "~")) or (os.sep in value and Path(value).exists())


def _scrub_path(value: str, placeholder: str) -> str:
    """`value` relative to the repository when it lies inside it, else `placeholder`."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    path = Path(os.path.normpath(path))
    if path == ROOT or path.is_relative_to(ROOT):
        rel = path.relative_to(ROOT).as_posix()
        return "." if rel == "." else rel
    return placeholder


def recorded_command(
    script: str,
    argv: Sequence[str],
    *,
    path_options: Mapping[str, str] | Sequence[str] = (),
    data_option: str | None = "--data-dir",
    drop_options: Sequence[str] = (),
) -> str:
    """`python benchmarks/<script> <argv>` as a results file records it: no machine paths.

    Args:
        script: The script's file name (`"throughput.py"`).
        argv: Its arguments (`sys.argv[1:]`).
        path_options: Options whose value is a path (`--opt value` or `--opt=value`): a
            path inside the repository is kept relative to it (`saved_models/x`), any other
            becomes the option's placeholder (a mapping option -> placeholder; for a
            sequence, `<dir>`).
        data_option: The dataset-mirror option: its value is recorded as
            `../shared/datasets` (the mirror's documented place), and the option is added
            when the run took the mirror from `RNN_APPS_DATA_DIR`. None: no such option.
        drop_options: Options taking a value that the recorded command leaves out (they
            take their defaults when it is run again: `--deadline`, a scratch folder).

    Any other argument that is an absolute path (or `~/...`, or an existing relative path
    outside the repository) is scrubbed the same way, with `<dir>`. The other arguments are
    shell-quoted when needed.
    """
    placeholders = (
        dict(path_options)
        if isinstance(path_options, Mapping)
        else dict.fromkeys(path_options, PATH_PLACEHOLDER)
    )
    words = ["python", f"benchmarks/{script}"]
    if data_option and not any(a.split("=", 1)[0] == data_option for a in argv):
        words += [data_option, DATA_MIRROR]

    def value_of(option: str | None, value: str) -> str:
        if option is not None and option == data_option:
            return DATA_MIRROR
        if option in placeholders:
            return _scrub_path(value, placeholders[option])
        if _looks_like_path(value):
            return _scrub_path(value, PATH_PLACEHOLDER)
        return shlex.quote(value)

    pending: str | None = None  # an option waiting for its separate value
    skip = False  # the separate value of a dropped option
    for arg in argv:
        if skip:
            skip = False
        elif pending is not None:
            words.append(value_of(pending, arg))
            pending = None
        elif arg.split("=", 1)[0] in drop_options:
            skip = "=" not in arg
        elif arg.startswith("--") and "=" in arg:
            option, value = arg.split("=", 1)
            words.append(f"{option}={value_of(option, value)}")
        elif arg.startswith("--"):
            words.append(arg)
            if arg == data_option or arg in placeholders:
                pending = arg
        else:
            words.append(value_of(None, arg))
    return " ".join(words)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0-100) of `values` (rounded rank, no interpolation)."""
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def latency_summary(times_ms: Sequence[float], digits: int = 3) -> dict[str, float]:
    """`{"p50_ms", "p99_ms", "mean_ms"}` of latencies in milliseconds."""
    return {
        "p50_ms": round(percentile(times_ms, 50), digits),
        "p99_ms": round(percentile(times_ms, 99), digits),
        "mean_ms": round(sum(times_ms) / len(times_ms), digits),
    }


# --------------------------------------------------------------------------- child processes


def emit_result(value: Any) -> None:
    """Prints `value` as the `RESULT <json>` line `run_child` reads (in the child)."""
    print(RESULT_PREFIX + json.dumps(value), flush=True)


def run_child(
    cmd: Sequence[str],
    *,
    stdin: str | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | str = ROOT,
) -> dict[str, Any]:
    """Runs `cmd` and returns the JSON of its last `RESULT ` line (see `emit_result`).

    Without one (non-zero exit, no such line) or past `timeout` seconds (the child is killed),
    returns `{"error": ...}` with the end of its output instead.
    """
    try:
        proc = subprocess.run(
            list(cmd),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=None if env is None else dict(env),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        out = err.stderr or err.stdout or b""
        text = out.decode("utf-8", "replace") if isinstance(out, bytes) else out
        tail = " | ".join(text.strip().splitlines()[-2:])
        return {"error": f"timed out after {timeout:g} s: {tail}"[-600:]}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)[-600:]}
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


# --------------------------------------------------------------------------- results


def result_path(name: str) -> Path:
    """`benchmarks/results/<name>.json`."""
    return RESULTS_DIR / f"{name}.json"


def write_result(path: str | os.PathLike, data: Any, *, ensure_ascii: bool = False) -> Path:
    """Writes `data` as indented JSON through a temporary file and a rename (never half a
    file, even when the run is killed). NumPy values, paths and dataclasses become plain JSON
    (`rnn_apps.reporting.to_jsonable`; NaN -> null)."""
    from rnn_apps.reporting import to_jsonable

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(to_jsonable(data), indent=2, ensure_ascii=ensure_ascii) + "\n")
    os.replace(tmp, path)
    return path


def relative_to_root(path: str | os.PathLike) -> str:
    """`path` relative to the repository when inside it, else its name (for messages)."""
    p = Path(path).resolve()
    return p.relative_to(ROOT).as_posix() if p.is_relative_to(ROOT) else p.name
