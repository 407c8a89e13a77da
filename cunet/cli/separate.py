"""`cunet separate`: separate instruments from song files (any format ffmpeg or libsndfile reads)."""

from pathlib import Path

HELP = "separate instruments from song files: writes OUT_DIR/<song>/<instrument>.<format>"


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of audio files")
    options.add_model(parser)
    options.add_instrument(parser)
    parser.add_argument("--residual", action="store_true", help="also write residual.<format>: the song minus the estimates")
    parser.add_argument("--wiener", action="store_true", help="Wiener post-filter across the requested instruments")
    parser.add_argument("--wiener-iterations", type=int, default=1, metavar="N",
                        help="EM steps of the multichannel Wiener filter (default 1; 0: power-ratio masks only)")
    parser.add_argument("--out-dir", "-o", required=True, help="output folder")
    options.add_format(parser)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip inputs whose outputs all exist (resume an interrupted batch)")
    parser.add_argument("--overlap", type=float, default=0.25, help="patch overlap fraction (default 0.25)")
    options.add_audio_backend(parser, "the inputs")
    parser.add_argument("--block-seconds", type=float, default=10.0, help="seconds per processing block (bounds memory)")


def collect_inputs(inputs, out_dir=None) -> list:
    """Expand INPUT arguments (files or folders) into audio files; raises `CunetError`.

    Audio found in folders under `out_dir` (earlier results) is not taken as input.
    """
    from pathlib import Path

    from cunet.audio.formats import is_audio_file
    from cunet.errors import CunetError

    skip = Path(out_dir).resolve() if out_dir is not None else None
    files = []
    for text in inputs:
        path = Path(text)
        if not path.exists():
            raise CunetError(f"input not found: {path}")
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if is_audio_file(p) and not (skip and p.resolve().is_relative_to(skip))
            )
            if not found:
                raise CunetError(f"no audio files in folder {path}")
            files.extend(found)
        else:
            files.append(path)
    return files


def plan_outputs(files, names, out_dir, fmt, overwrite, skip_existing=False) -> dict:
    """{input file: {name: output path}}; refuses collisions, inputs as outputs and existing files.

    With `skip_existing`, inputs whose outputs all exist are left out of the plan.
    """
    from pathlib import Path

    from cunet.audio.formats import input_name
    from cunet.errors import CunetError

    out_dir = Path(out_dir)
    inputs = {f.resolve() for f in files}
    plan, seen = {}, {}
    for f in files:
        folder = input_name(f)
        if folder in seen and seen[folder] != f.resolve():
            raise CunetError(f"two inputs would write to the same folder {out_dir / folder}: {seen[folder]} and {f}")
        seen[folder] = f.resolve()
        plan[f] = {name: out_dir / folder / f"{name}.{fmt}" for name in names}
    if skip_existing:
        plan = {f: outputs for f, outputs in plan.items() if not all(p.exists() for p in outputs.values())}
    for outputs in plan.values():
        for path in outputs.values():
            if path.resolve() in inputs:
                raise CunetError(f"output {path} is one of the inputs; choose another --out-dir")
            if path.exists() and not overwrite:
                raise CunetError(f"output exists: {path} (use --overwrite to replace it)")
    return plan


def _check_out_dir(out_dir) -> None:
    import os
    import tempfile
    from pathlib import Path

    from cunet.errors import CunetError

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cunet-write-test-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CunetError(f"cannot write to output folder {out_dir}: {exc.strerror or exc}") from None


def _check_finite_file(path, source) -> None:
    """Float files can hold NaN/Inf: scan them before anything is written."""
    import numpy as np

    from cunet.audio.formats import AudioError
    from cunet.audio.reading import SoundFileSource

    if isinstance(source, SoundFileSource) and source.file.subtype not in ("FLOAT", "DOUBLE"):
        return  # integer PCM and lossy codecs read by libsndfile cannot hold NaN or Inf
    step = 1 << 20
    for start in range(0, source.frames, step):
        if not np.all(np.isfinite(source.read(start, min(start + step, source.frames)))):
            raise AudioError(f"{path}: audio contains NaN or Inf samples")


def run(args) -> int:
    from cunet.audio.reading import open_audio, probe_audio, resolve_backend
    from cunet.errors import CunetError
    from cunet.separation.separator import RESIDUAL, Separator

    files = collect_inputs(args.inputs, args.out_dir)
    backend = resolve_backend(args.audio_backend)
    if args.wiener_iterations < 0:
        raise CunetError(f"--wiener-iterations must be >= 0, got {args.wiener_iterations}")
    separator = Separator.load(
        args.model, overlap=args.overlap, block_seconds=args.block_seconds, wiener_iterations=args.wiener_iterations
    )
    specs = separator.parse_instruments(args.instrument)
    names = [s.text for s in specs] + ([RESIDUAL] if args.residual else [])
    plan = plan_outputs(files, names, args.out_dir, args.format, args.overwrite, args.skip_existing)
    skipped = [f for f in files if f not in plan]
    files = [f for f in files if f in plan]
    if skipped:
        print(f"skipping {len(skipped)} input(s) already separated in {args.out_dir}")
    for f in files:  # every input is checked before anything is written
        probe_audio(f)
        with open_audio(f, backend) as source:
            _check_finite_file(f, source)
    _check_out_dir(args.out_dir)

    for f in files:
        source = separate_file(
            separator, f, plan[f], args.instrument, args.residual, args.wiener, args.format, backend=backend
        )
        folder = next(iter(plan[f].values())).parent
        names = ", ".join(p.name for p in plan[f].values())
        print(f"{f} -> {folder}/ ({names}; {source.rate} Hz, {source.channels} ch, {source.seconds:.1f} s)")
    return 0


def separate_file(
    separator, path, outputs, instruments, residual=False, wiener=False, fmt="wav", progress=True, backend="soundfile"
):
    """Decode `path`, separate block by block and write {name: output path} atomically.

    Returns the `AudioSource` that was read (rate, channels, frames). Memory stays bounded by
    the separator's block size whatever the file's length.
    """
    import sys
    from contextlib import ExitStack

    from tqdm import tqdm

    from cunet.audio.reading import open_audio
    from cunet.audio.writing import AudioWriter
    from cunet.errors import CunetError

    with open_audio(path, backend) as source, ExitStack() as stack:
        writers = {
            name: stack.enter_context(AudioWriter(out, source.rate, source.channels, fmt))
            for name, out in outputs.items()
        }
        bar = stack.enter_context(
            tqdm(total=source.frames, unit="sample", unit_scale=True, desc=Path(path).name,
                 file=sys.stderr, disable=None if progress else True, leave=False)
        )
        written = 0
        for _, blocks in separator.iter_separate(source, instruments, residual, wiener):
            for name, block in blocks.items():
                writers[name].write(block)
            count = len(next(iter(blocks.values())))
            written += count
            bar.update(count)
        if written != source.frames:
            raise CunetError(f"{path}: internal error: wrote {written} of {source.frames} samples")
    return source
