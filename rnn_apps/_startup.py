"""Quiet TensorFlow start-up: the lines TensorFlow's C++ runtime prints while it is imported.

Importing TensorFlow on a machine without a GPU prints lines such as `Could not find cuda
drivers`, `failed call to cuInit`, `oneDNN custom operations are on` and `All log messages
before absl::InitializeLog() ...` straight to file descriptor 2, before any Python logging
setting applies. `import rnn_apps` imports TensorFlow with file descriptor 2 sent to a
temporary file and then writes back every line that is not one of those known start-up
notices, so real errors still show.

They are shown as they are when `RNN_APPS_TF_LOGS=1` is set, when `TF_CPP_MIN_LOG_LEVEL` is
0 or 1 (the user asked for TensorFlow's info logs), or when the `rnn-apps` command line runs
with `--verbose`. The command line also sets `TF_CPP_MIN_LOG_LEVEL=2` (unless set) before
TensorFlow is imported, so its runtime info and warning lines stay off without `--verbose`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: TensorFlow / XLA / absl start-up notices (matched anywhere in a line).
_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuda_executor|cuInit|Could not find cuda drivers|"
    r"oneDNN custom operations|TF_ENABLE_ONEDNN_OPTS|Unable to register cu(DNN|FFT|BLAS)|"
    r"Attempting to register factory|TF-TRT Warning|This TensorFlow binary is optimized|"
    r"rebuild TensorFlow with the appropriate compiler flags|computation_placer|"
    r"cuda_(dnn|fft|blas|diagnostics)\.cc|gpu_device\.cc.*Cannot dlopen|cpu_feature_guard"
)


def run_as_cli() -> bool:
    """True when this process is the `rnn-apps` command line."""
    argv0 = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return argv0 == "rnn-apps" or (
        argv0 == "__main__.py" and "rnn_apps" in str(Path(sys.argv[0]).parent)
    )


def show_tf_logs() -> bool:
    """Whether TensorFlow's start-up lines should be shown (see the module docstring)."""
    if os.environ.get("RNN_APPS_TF_LOGS", "").strip() == "1":
        return True
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1"):
        return True
    return run_as_cli() and "--verbose" in sys.argv[1:]


def is_noise(line: str) -> bool:
    """True for a TensorFlow start-up notice that `quiet_tensorflow_startup` drops."""
    return bool(_NOISE.search(line))


@contextlib.contextmanager
def quiet_tensorflow_startup() -> Iterator[None]:
    """Runs the block (the first import of TensorFlow) with TensorFlow's start-up notices
    dropped from file descriptor 2; every other line written there is written back after."""
    if "tensorflow" in sys.modules or show_tf_logs():
        yield
        return
    if run_as_cli():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no file descriptor 2 to redirect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", errors="replace")
            kept = "".join(line for line in text.splitlines(True) if not is_noise(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
