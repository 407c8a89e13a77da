"""Separation of audio files: one flow from a command's inputs to the written stems.

`separate_files` is what `cunet separate` and `Separator.separate_file` (hence `cunet serve`)
run: the inputs collected, the instrument specs parsed once, the outputs planned
(`cunet.separation.outputs`), every input probed once and checked, all before anything is
written; then each input is streamed block by block into its outputs (`_separate_input`), so
memory stays bounded by the separator's block size whatever the file's length.

Outputs are written atomically (`cunet.audio.writing.AudioWriter`) and published without
replacing a file that appeared meanwhile (unless `overwrite`); separated audio that is not
finite is an error, never a file; an input's folders are created with its first output and
removed again when it fails. OS errors (disk full, permission denied, read-only) become one
`CunetError` naming the path and the cause.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cunet.audio.formats import AudioError, OutputFormat, check_writable, is_audio_file
from cunet.audio.reading import (
    SoundFileSource,
    open_audio,
    probe_audio,
    resolve_backend,
)
from cunet.audio.writing import AudioWriter
from cunet.errors import CunetError
from cunet.fileio import make_folders, remove_empty_folders
from cunet.separation.instruments import RESIDUAL
from cunet.separation.outputs import DEFAULT_FILENAME, check_filename, check_out_dir, plan_outputs

Progress = bool | Callable[[float], None]


@dataclass
class CheckedInput:
    """An input ready to separate: `probe` (rate, channels, frames or None: ffmpeg decodes it)
    and `outputs` {name: path} still to write."""

    path: Path
    probe: tuple
    outputs: dict


def separate_files(
    separator,
    inputs: Sequence,
    out_dir,
    instruments: Sequence[str] | None = None,
    residual: bool = False,
    wiener: bool = False,
    output: OutputFormat | None = None,
    filename: str = DEFAULT_FILENAME,
    overwrite: bool = False,
    skip_existing: bool = False,
    backend: str = "auto",
    progress: Progress = True,
    on_file: Callable[[Path, dict], None] | None = None,
) -> dict:
    """Separate audio files (or folders of them) into `out_dir`, as `cunet separate` does.

    `instruments` None: every instrument of the model; `output` how stems are written (wav
    32-bit float by default); `filename` where (`cunet.separation.outputs`); `progress`
    True/False (a tqdm bar on stderr) or `progress(done_fraction)` called as blocks are
    written; `on_file(input, {name: path})` after each input ({} for one whose outputs all
    exist, with `skip_existing`). Returns {input: {name: written path}}.
    """
    output = output or OutputFormat()
    check_filename(filename)
    backend = resolve_backend(backend)
    files = collect_inputs(inputs, out_dir)
    specs = separator.parse_instruments(separator.instruments if instruments is None else instruments)
    names = [s.text for s in specs] + ([RESIDUAL] if residual else [])
    plan = plan_outputs(files, names, out_dir, filename, output.name, overwrite, skip_existing)
    checked = [check_input(f, plan[f], backend, output) if plan[f] else None for f in files]
    check_out_dir(out_dir)
    written = {}
    for f, item in zip(files, checked):
        written[f] = (
            {}
            if item is None
            else _separate_input(separator, item, specs, residual, wiener, output, overwrite, backend, progress)
        )
        if on_file is not None:
            on_file(f, written[f])
    return written


def separate_file(
    separator,
    path,
    out_dir,
    instruments: Sequence[str] | None = None,
    residual: bool = False,
    wiener: bool = False,
    fmt: str = "wav",
    overwrite: bool = False,
    backend: str = "auto",
    progress: Progress = True,
    **options,
) -> dict:
    """One file through `separate_files`; `options`: its `filename`, `skip_existing`, and
    `wav_bits`/`bitrate` of the output format. Returns {name: written path}."""
    path = Path(path)
    try:
        if not path.is_file():
            raise CunetError(f"input not found: {path}" if not path.exists() else f"input is not a file: {path}")
    except OSError as exc:
        raise CunetError(f"cannot read input {path}: {exc.strerror or exc}") from None
    output = OutputFormat(fmt, options.pop("wav_bits", 32), options.pop("bitrate", None))
    return separate_files(
        separator,
        [path],
        out_dir,
        instruments,
        residual,
        wiener,
        output,
        overwrite=overwrite,
        backend=backend,
        progress=progress,
        **options,
    )[path]


def collect_inputs(inputs, out_dir=None) -> list[Path]:
    """Expand INPUT arguments (files or folders) into audio files; raises `CunetError`.

    Audio found in folders under `out_dir` (earlier results) is not taken as input.
    """
    skip = Path(out_dir).resolve() if out_dir is not None else None
    files = []
    for text in inputs:
        path = Path(text)
        try:
            if not path.exists():
                raise CunetError(f"input not found: {path}")
            found = (
                [path]
                if not path.is_dir()
                else sorted(
                    p for p in path.rglob("*") if is_audio_file(p) and not (skip and p.resolve().is_relative_to(skip))
                )
            )
        except OSError as exc:
            raise CunetError(f"cannot read input {exc.filename or path}: {exc.strerror or exc}") from None
        if not found:
            raise CunetError(f"no audio files in folder {path}")
        files.extend(found)
    return files


def check_input(path: Path, outputs: dict, backend: str, output: OutputFormat) -> CheckedInput:
    """Probe `path` (decodable, not truncated, not empty), check the output format holds it,
    and scan float files for NaN/Inf; raises `AudioError` naming it. Inputs that ffmpeg
    decodes are checked for NaN/Inf as they are decoded (nothing of theirs is then written)."""
    probe = probe_audio(path)
    check_writable(output.name, path, probe[0], probe[1])
    if probe[2] is not None and backend == "soundfile":
        with open_audio(path, backend, probe=probe) as source:
            _check_finite(path, source)
    return CheckedInput(Path(path), probe, outputs)


def _check_finite(path, source: SoundFileSource) -> None:
    """Float files can hold NaN/Inf: scan them before anything is written."""
    if source.file.subtype not in ("FLOAT", "DOUBLE"):
        return  # integer PCM and lossy codecs read by libsndfile cannot hold NaN or Inf
    step = 1 << 20
    for start in range(0, source.frames, step):
        if not np.all(np.isfinite(source.read(start, min(start + step, source.frames)))):
            raise AudioError(f"{path}: audio contains NaN or Inf samples")


def _separate_input(
    separator,
    item: CheckedInput,
    specs,
    residual: bool,
    wiener: bool,
    output: OutputFormat,
    overwrite: bool,
    backend: str,
    progress: Progress,
) -> dict:
    """Stream one checked input into its outputs; on failure nothing of it is left (no
    partial file, no folder it created); errors become one `CunetError` line."""
    created = []
    try:
        for folder in sorted({p.parent for p in item.outputs.values()}):
            created += make_folders(folder)
        stream_to_files(
            separator,
            item.path,
            item.outputs,
            specs,
            residual,
            wiener,
            output,
            progress,
            backend,
            replace=overwrite,
            probe=item.probe,
        )
    except BaseException as exc:
        remove_empty_folders(created)
        if isinstance(exc, FileExistsError):
            raise CunetError(
                f"output exists: {exc.filename} (another run wrote it meanwhile; use --overwrite to replace it)"
            ) from None
        if isinstance(exc, OSError):
            raise CunetError(f"cannot write {exc.filename or item.path}: {exc.strerror or exc}") from None
        if isinstance(exc, CunetError) and str(item.path) not in str(exc):
            raise CunetError(f"{item.path}: {exc}") from None
        raise
    return item.outputs


def stream_to_files(
    separator,
    path,
    outputs: dict,
    instruments,
    residual=False,
    wiener=False,
    fmt: str | OutputFormat = "wav",
    progress: Progress = True,
    backend="soundfile",
    replace: bool = True,
    probe: tuple | None = None,
):
    """Decode `path`, separate `instruments` block by block and write the {name: output path}
    asked for atomically (other names are computed, e.g. for the residual, not written).

    No checks of the plan: callers plan and check first. Returns the `AudioSource` read.
    """
    from tqdm import tqdm

    output = fmt if isinstance(fmt, OutputFormat) else OutputFormat(fmt)
    with open_audio(path, backend, probe=probe) as source, ExitStack() as stack:
        writers = {
            name: stack.enter_context(
                AudioWriter(
                    out,
                    source.rate,
                    source.channels,
                    output.name,
                    replace=replace,
                    wav_bits=output.wav_bits,
                    bitrate=output.bitrate,
                )
            )
            for name, out in outputs.items()
        }
        report = callable(progress)
        bar = stack.enter_context(
            tqdm(
                total=source.frames,
                unit="sample",
                unit_scale=True,
                desc=Path(path).name,
                file=sys.stderr,
                disable=True if report or not progress else None,
                leave=False,
            )
        )
        written = 0
        for _, blocks in separator.iter_separate(source, instruments, residual, wiener):
            for name, writer in writers.items():
                if not np.all(np.isfinite(blocks[name])):
                    raise CunetError(
                        f"{path}: the {separator.runtime} runtime produced NaN or Inf samples "
                        f"for {name!r}; nothing was written for this input"
                    )
                writer.write(blocks[name])
            count = len(next(iter(blocks.values())))
            written += count
            bar.update(count)
            if report:
                progress(written / source.frames)
        if written != source.frames:
            raise CunetError(f"{path}: internal error: wrote {written} of {source.frames} samples")
    return source
