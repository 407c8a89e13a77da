"""`cunet serve`: the separation studio, a local web page over `cunet separate`'s flow.

`cunet serve` loads the model once (LiteRT when it can), then serves the page and its HTTP API
(docs/serve.md) on http://127.0.0.1:8000/ with Starlette and uvicorn.
"""

import sys

HELP = "the separation studio: a local web page (and HTTP API) to separate songs and remix the stems"
LOCALHOST = "127.0.0.1"


def default_data_dir() -> str:
    import os

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cunet", "serve")


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.add_argument(
        "--host",
        default=LOCALHOST,
        help=f"address to listen on (default {LOCALHOST}: this machine only; there is no authentication)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    options.add_model(parser, help="a trained cunet .keras (or exported .tflite) model (default: the embedded model)")
    parser.add_argument(
        "--max-upload-mb", type=float, default=200, metavar="MB", help="largest upload accepted, in MB (default 200)"
    )
    parser.add_argument(
        "--keep-hours",
        type=float,
        default=24,
        metavar="HOURS",
        help="hours results are kept after a job ends (default 24)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        metavar="DIR",
        help="where uploads and results are kept (default ~/.cache/cunet/serve)",
    )


def needs_tensorflow(args) -> bool:
    """Only a model without its .tflite runs on TensorFlow."""
    from cunet.separation.runtimes import resolve_runtime

    return resolve_runtime(args.model, "auto") == "tensorflow"


def check_arguments(args) -> None:
    from cunet.errors import CunetError

    if not 0 < args.port < 65536:
        raise CunetError(f"--port must be in 1..65535, got {args.port}")
    if not args.max_upload_mb > 0:
        raise CunetError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    if not args.keep_hours > 0:
        raise CunetError(f"--keep-hours must be positive, got {args.keep_hours}")


def check_listening(host: str, port: int) -> None:
    """The address can be listened on (as uvicorn will), or a `CunetError` saying why."""
    import socket

    from cunet.errors import CunetError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise CunetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(args) -> int:
    from pathlib import Path

    import uvicorn

    from cunet.cli.separate import one_malloc_arena
    from cunet.errors import CunetError
    from cunet.separation.runtimes import EMBEDDED_MODEL_NOTE
    from cunet.separation.separator import Separator
    from cunet.serve.app import create_app

    check_arguments(args)
    check_listening(args.host, args.port)
    one_malloc_arena()
    data_dir = args.data_dir or default_data_dir()
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CunetError(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from None
    separator = Separator.load(args.model, runtime="auto")
    local_names = ["127.0.0.1", "localhost"] if args.host == LOCALHOST else None
    app = create_app(separator, data_dir, args.model, args.max_upload_mb, args.keep_hours, allowed_hosts=local_names)
    if args.model is None:
        print(f"cunet serve: note: {EMBEDDED_MODEL_NOTE}", file=sys.stderr)
    if args.host != LOCALHOST:
        print(
            f"cunet serve: warning: listening on {args.host}: anyone who can reach it can use it (no authentication)",
            file=sys.stderr,
        )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"cunet serve: http://{host}:{args.port}/ (model: {app.state.studio.info['model']}, "
        f"runtime: {separator.runtime}; data: {data_dir}; Ctrl+C stops)",
        file=sys.stderr,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
