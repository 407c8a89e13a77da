"""`cunet separate`: separate instruments from song files (any format ffmpeg or libsndfile reads).

`cunet separate song.mp3` writes every instrument of the embedded model to
`separated/song/<instrument>.wav`, on LiteRT when the model has its `.tflite` (no TensorFlow
import: a small, quickly started process), else on TensorFlow.
"""

import sys

HELP = "separate instruments from song files: writes OUT_DIR/<song>/<instrument>.<format>"
DEFAULT_OUT_DIR = "separated"
# the embedded model's instruments, for --help and usage errors without reading the model
# (tests/test_runtimes.py checks them against the model file)
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
        "--instrument", "-i", action="append", metavar="SPEC",
        help="what to separate: a name (vocals), a sum (vocals+drums) or weighted (vocals=0.5); repeatable "
             f"(default: every instrument of the model; embedded model: {', '.join(EMBEDDED_INSTRUMENTS)})",
    )
    parser.add_argument("--residual", action="store_true", help="also write residual.<format>: the song minus the estimates")
    parser.add_argument("--wiener", action="store_true", help="Wiener post-filter across the requested instruments")
    parser.add_argument("--wiener-iterations", type=int, default=1, metavar="N",
                        help="EM steps of the multichannel Wiener filter (default 1; 0: power-ratio masks only)")
    parser.add_argument("--out-dir", "-o", default=DEFAULT_OUT_DIR, help=f"output folder (default {DEFAULT_OUT_DIR}/)")
    options.add_format(parser)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip inputs whose outputs all exist (resume an interrupted batch)")
    parser.add_argument("--overlap", type=float, default=0.25, help="patch overlap fraction (default 0.25)")
    options.add_runtime(parser)
    options.add_audio_backend(parser, "the inputs")
    options.add_backend(parser, "the mask network (jax: the JAX runtime instead of --runtime)")
    parser.add_argument("--block-seconds", type=float, default=5.0, help="seconds per processing block (bounds memory; default 5)")


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
    import soundfile as sf

    from cunet.audio.reading import resolve_backend
    from cunet.errors import CunetError
    from cunet.separation.files import check_inputs, check_out_dir, collect_inputs, output_names, plan_outputs
    from cunet.separation.runtimes import EMBEDDED_MODEL_NOTE
    from cunet.separation.separator import Separator

    one_malloc_arena()
    files = collect_inputs(args.inputs, args.out_dir)
    backend = resolve_backend(args.audio_backend)
    if args.wiener_iterations < 0:
        raise CunetError(f"--wiener-iterations must be >= 0, got {args.wiener_iterations}")
    separator = Separator.load(args.model, runtime=runtime_of(args), overlap=args.overlap,
                               block_seconds=args.block_seconds, wiener_iterations=args.wiener_iterations)
    if args.model is None:
        print(f"cunet separate: note: {EMBEDDED_MODEL_NOTE}", file=sys.stderr)
    instruments = args.instrument or separator.instruments
    names = output_names(separator, instruments, args.residual)
    plan = plan_outputs(files, names, args.out_dir, args.format, args.overwrite, args.skip_existing)
    skipped = [f for f in files if f not in plan]
    files = [f for f in files if f in plan]
    if skipped:
        print(f"skipping {len(skipped)} input(s) already separated in {args.out_dir}")
    check_inputs(files, backend)  # every input is checked before anything is written
    check_out_dir(args.out_dir)

    for f in files:
        written = separator.separate_file(f, args.out_dir, instruments, residual=args.residual, wiener=args.wiener,
                                          fmt=args.format, overwrite=args.overwrite, backend=backend)
        info = sf.info(str(next(iter(written.values()))))
        folder = next(iter(written.values())).parent
        print(f"{f} -> {folder}/ ({', '.join(p.name for p in written.values())}; "
              f"{info.samplerate} Hz, {info.channels} ch, {info.frames / info.samplerate:.1f} s; {separator.runtime})")
    return 0
