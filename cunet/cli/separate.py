"""`cunet separate`: separate instruments from song files (any format ffmpeg or libsndfile reads).

`cunet separate song.mp3` writes every instrument of the embedded model to
`separated/song/<instrument>.wav`, on LiteRT when the model has its `.tflite` (no TensorFlow
import: a small, quickly started process), else on TensorFlow.
"""

import sys

HELP = "separate instruments from song files: writes OUT_DIR/<song>/<instrument>.<format>"
DEFAULT_OUT_DIR = "separated"
OVERLAP = (0.0, 0.9)  # --overlap; a patch shares at most this fraction with the next
BLOCK_SECONDS = (0.1, 3600.0)  # --block-seconds
# the embedded model's instruments, for --help and usage errors without reading the model
# (tests/separation/test_runtimes.py checks them against the model file)
EMBEDDED_INSTRUMENTS = ("bass", "drums", "other", "vocals")
USAGE = (
    "%(prog)s [options] INPUT [INPUT ...]\n"
    f"       instruments (-i) of the embedded model: {', '.join(EMBEDDED_INSTRUMENTS)} (default: all); "
    "another model's: cunet info --model PATH"
)


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.usage = USAGE
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of audio files")
    options.add_model(parser, help="a trained cunet .keras (or exported .tflite) model (default: the embedded model)")
    parser.add_argument(
        "--instrument",
        "-i",
        action="append",
        metavar="SPEC",
        help="what to separate: a name (vocals), a sum (vocals+drums) or weighted (vocals=0.5, weights 0 to 10); "
        f"repeatable (default: every instrument of the model; embedded model: {', '.join(EMBEDDED_INSTRUMENTS)})",
    )
    parser.add_argument(
        "--residual", action="store_true", help="also write residual.<format>: the song minus the estimates"
    )
    parser.add_argument("--wiener", action="store_true", help="Wiener post-filter across the requested instruments")
    parser.add_argument(
        "--wiener-iterations",
        type=int,
        default=1,
        metavar="N",
        help="EM steps of the multichannel Wiener filter, 0 to 100 (default 1; 0: power-ratio masks only)",
    )
    parser.add_argument("--out-dir", "-o", default=DEFAULT_OUT_DIR, help=f"output folder (default {DEFAULT_OUT_DIR}/)")
    parser.add_argument(
        "--filename",
        default="{track}/{stem}.{ext}",
        metavar="TEMPLATE",
        help="where each stem goes under OUT_DIR, from the fields {track} (input name without "
        "suffix), {trackext}, {stem} and {ext} (default {track}/{stem}.{ext})",
    )
    options.add_format(parser)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument(
        "--skip-existing",
        action="store_true",
        help="write only the outputs that do not exist yet (resume an interrupted batch)",
    )
    parser.add_argument(
        "--overlap",
        type=float,
        default=0.25,
        help=f"patch overlap fraction, {OVERLAP[0]:g} to {OVERLAP[1]:g} (default 0.25)",
    )
    options.add_runtime(parser)
    options.add_audio_backend(parser, "the inputs")
    options.add_backend(parser, "the mask network (jax: the JAX runtime instead of --runtime)")
    parser.add_argument(
        "--block-seconds",
        type=float,
        default=5.0,
        help=f"seconds per processing block, {BLOCK_SECONDS[0]:g} to {BLOCK_SECONDS[1]:g} (bounds memory; default 5)",
    )


def check_numbers(args) -> None:
    """Every number option finite and in its documented range, or a `CunetError` naming it."""
    import math

    from cunet.errors import CunetError
    from cunet.separation.separator import MAX_WIENER_ITERATIONS

    for option, value, (low, high) in (
        ("--overlap", args.overlap, OVERLAP),
        ("--block-seconds", args.block_seconds, BLOCK_SECONDS),
        ("--wiener-iterations", args.wiener_iterations, (0, MAX_WIENER_ITERATIONS)),
    ):
        if not (math.isfinite(value) and low <= value <= high):
            raise CunetError(f"{option} must be {low:g} to {high:g}, got {value}")


def runtime_of(args) -> str:
    """The runtime the options ask for, resolved (`cunet.separation.runtimes.resolve_runtime`)."""
    from cunet.separation.runtimes import resolve_runtime

    return resolve_runtime(args.model, "jax" if args.backend == "jax" else args.runtime)


def needs_tensorflow(args) -> bool:
    """Only the TensorFlow runtime needs TensorFlow imported before `run`."""
    return runtime_of(args) == "tensorflow"


def one_malloc_arena() -> None:
    """glibc only: every thread allocates from one heap (M_ARENA_MAX 1). With a heap per
    thread, block-sized arrays freed by the model and spectral threads stay in four heaps
    (peak RSS of a 3-minute song, every instrument, LiteRT: 546 MB); mmapping every array of
    1 MiB or more instead bounds that (431 MB) but zero-fills fresh pages for each (a third of
    the process's time in the kernel). One heap keeps both low: 341 MB, 0.4 s kernel time
    (docs/BENCHMARKS.md)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def run(args) -> int:
    from cunet.audio.formats import OutputFormat
    from cunet.separation.files import separate_files
    from cunet.separation.outputs import check_filename
    from cunet.separation.runtimes import EMBEDDED_MODEL_NOTE
    from cunet.separation.separator import Separator

    one_malloc_arena()
    check_numbers(args)
    output = OutputFormat(args.format, args.wav_bits, args.bitrate)
    check_filename(args.filename)
    separator = Separator.load(
        args.model,
        runtime=runtime_of(args),
        overlap=args.overlap,
        block_seconds=args.block_seconds,
        wiener_iterations=args.wiener_iterations,
    )
    if args.model is None:
        print(f"cunet separate: note: {EMBEDDED_MODEL_NOTE}", file=sys.stderr)

    def report(path, written: dict) -> None:
        if not written:
            print(f"skipping {path}: already separated in {args.out_dir}")
            return
        print(f"{path} -> {', '.join(str(p) for p in written.values())} ({separator.runtime})")

    separate_files(
        separator,
        args.inputs,
        args.out_dir,
        args.instrument,
        residual=args.residual,
        wiener=args.wiener,
        output=output,
        filename=args.filename,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        backend=args.audio_backend,
        on_file=report,
    )
    return 0
