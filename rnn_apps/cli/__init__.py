"""The `rnn-apps` command line: `rnn-apps <task> <verb> [options]`.

One parser, one set of verbs (`rnn_apps.cli.verbs`: `train`, `evaluate`, `predict`,
`export`), and a thin hook file per task (`rnn_apps/cli/<task>.py`, a `TaskCLI` subclass).
Every verb takes the common options of `add_common_args`.

Bad input (`rnn_apps.UserInputError`, a missing file ...) ends with one line on stderr and exit
status 2, never a Python traceback; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from rnn_apps.cli.options import add_common_args, load_config_file, worker_output_dir

__all__ = ["add_common_args", "build_parser", "load_config_file", "main", "worker_output_dir"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available task registered."""
    from rnn_apps import __version__

    parser = argparse.ArgumentParser(
        prog="rnn-apps",
        description=(
            "Train, evaluate, run and export recurrent models. Results go to stdout (one JSON "
            "document with --json); progress and notes go to stderr."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rnn_apps {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up and runtime logs"
    )
    sub = parser.add_subparsers(dest="task", metavar="<task>")
    show = sub.add_parser(
        "show",
        help="describe an exported SavedModel (signatures as saved_model_cli, metadata)",
        description="Print the signatures of a SavedModel as `saved_model_cli show --all` "
        "does, followed by its rnn_apps metadata.",
    )
    show.add_argument("path", help="SavedModel folder")
    show.set_defaults(func=_show)
    serve = sub.add_parser(
        "serve",
        help="serve a SavedModel over HTTP with TF Serving's REST API (needs the serve extra)",
        description="Serve a SavedModel over HTTP: GET /v1/models/NAME, GET "
        "/v1/models/NAME/metadata, POST /v1/models/NAME:predict (TF Serving's REST API), GET "
        "/healthz. Concurrent requests are batched. Install with `pip install rnn_apps[serve]`.",
    )
    serve.add_argument("--model", required=True, help="a SavedModel folder")
    serve.add_argument("--name", default=None, help="model name in URLs (default: the folder)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--max-batch-size", type=int, default=64, help="rows per model call")
    serve.add_argument(
        "--batch-timeout-ms", type=float, default=2.0, help="how long a batch waits for rows"
    )
    serve.add_argument("--max-body-mb", type=float, default=8.0, help="largest request body")
    serve.set_defaults(func=_serve)
    from rnn_apps.cli.verbs import registered_clis

    for cli in registered_clis():
        cli.register(sub)
    return parser


def _show(args: argparse.Namespace) -> int:
    import json

    from rnn_apps.export import read_metadata, signature_summary

    path = Path(args.path)
    if not (path / "saved_model.pb").is_file():
        raise FileNotFoundError(f"{path} is not a SavedModel folder (no saved_model.pb).")
    out = getattr(args, "stdout", sys.stdout)
    print(signature_summary(path), file=out)
    try:
        meta = read_metadata(path)
    except FileNotFoundError:
        return 0
    print("\nmetadata.json:", file=out)
    print(json.dumps({k: v for k, v in meta.items() if k != "signatures"}, indent=2), file=out)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from rnn_apps.errors import UserInputError

    try:
        from rnn_apps.serving import ModelServer, serve
    except ImportError as err:  # pragma: no cover - tornado missing
        raise UserInputError(
            f"rnn-apps serve needs the serve extra ({err}): pip install 'rnn_apps[serve]'."
        ) from None
    if args.max_batch_size < 1 or args.batch_timeout_ms < 0 or args.max_body_mb <= 0:
        raise UserInputError(
            "--max-batch-size must be >= 1, --batch-timeout-ms >= 0 and --max-body-mb > 0."
        )
    server = ModelServer(
        args.model, name=args.name, max_batch_size=args.max_batch_size,
        batch_timeout_ms=args.batch_timeout_ms, max_body_bytes=int(args.max_body_mb * 2**20),
    )  # fmt: skip
    print(
        f"serving {server.name!r} ({', '.join(sorted(server.signatures))}) on "
        f"http://{args.host}:{args.port}/v1/models/{server.name}",
        file=sys.stderr,
        flush=True,
    )
    serve(server, host=args.host, port=args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rnn-apps` console script.

    What a verb prints as its result goes to stdout; everything else written while it runs
    (Keras progress, notes, warnings) goes to stderr, so `rnn-apps ... --json > out.json`
    holds one JSON document.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from rnn_apps.errors import UserInputError

    args.stdout = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if getattr(args, "deterministic", False):
                from rnn_apps.training import set_seed

                set_seed(getattr(args, "seed", None), deterministic=True)
            return int(func(args) or 0)
    except KeyboardInterrupt:
        print("rnn-apps: interrupted", file=sys.stderr)
        return 130
    except (UserInputError, FileNotFoundError, PermissionError, RuntimeError, ValueError) as err:
        if args.debug:
            raise
        message = " ".join(str(err).split())  # one line, whatever the exception held
        print(f"rnn-apps: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
