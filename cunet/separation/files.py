"""Separation of audio files: inputs found, outputs planned and checked, results streamed to disk.

Every input is checked (decodable, finite) and every output planned (no collisions, no input
overwritten, no existing file replaced unless asked) before anything is written; outputs are
written block by block, atomically (`cunet.audio.writing.AudioWriter`), so memory stays bounded
by the separator's block size whatever the file's length.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np

from cunet.audio.formats import AudioError, input_name, is_audio_file, output_format
from cunet.audio.reading import AudioSource, SoundFileSource, open_audio, probe_audio, resolve_backend
from cunet.audio.writing import AudioWriter
from cunet.errors import CunetError
from cunet.separation.instruments import RESIDUAL


def collect_inputs(inputs, out_dir=None) -> list[Path]:
    """Expand INPUT arguments (files or folders) into audio files; raises `CunetError`.

    Audio found in folders under `out_dir` (earlier results) is not taken as input.
    """
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


def output_names(separator, instruments: Sequence[str], residual: bool = False) -> list[str]:
    """The outputs a separation writes: the specs as written, then "residual" if asked for."""
    return [s.text for s in separator.parse_instruments(instruments)] + ([RESIDUAL] if residual else [])


def plan_outputs(files, names, out_dir, fmt, overwrite, skip_existing=False) -> dict:
    """{input file: {name: output path}}; refuses collisions, inputs as outputs and existing files.

    With `skip_existing`, inputs whose outputs all exist are left out of the plan.
    """
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


def check_inputs(files, backend: str = "soundfile") -> None:
    """Every input decodable and free of NaN/Inf, or an `AudioError` naming it."""
    for path in files:
        probe_audio(path)
        with open_audio(path, backend) as source:
            _check_finite(path, source)


def _check_finite(path, source: AudioSource) -> None:
    """Float files can hold NaN/Inf: scan them before anything is written."""
    if isinstance(source, SoundFileSource) and source.file.subtype not in ("FLOAT", "DOUBLE"):
        return  # integer PCM and lossy codecs read by libsndfile cannot hold NaN or Inf
    step = 1 << 20
    for start in range(0, source.frames, step):
        if not np.all(np.isfinite(source.read(start, min(start + step, source.frames)))):
            raise AudioError(f"{path}: audio contains NaN or Inf samples")


def check_out_dir(out_dir) -> None:
    """Create `out_dir` and make sure files can be written in it, or a `CunetError`."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cunet-write-test-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CunetError(f"cannot write to output folder {out_dir}: {exc.strerror or exc}") from None


def stream_to_files(separator, path, outputs: dict, instruments, residual=False, wiener=False, fmt="wav",
                    progress=True, backend="soundfile") -> AudioSource:
    """Decode `path`, separate block by block and write {name: output path} atomically.

    No checks: callers plan and check first. Returns the `AudioSource` that was read.
    """
    from tqdm import tqdm

    with open_audio(path, backend) as source, ExitStack() as stack:
        writers = {
            name: stack.enter_context(AudioWriter(out, source.rate, source.channels, fmt))
            for name, out in outputs.items()
        }
        report = callable(progress)
        bar = stack.enter_context(
            tqdm(total=source.frames, unit="sample", unit_scale=True, desc=Path(path).name,
                 file=sys.stderr, disable=True if report or not progress else None, leave=False)
        )
        written = 0
        for _, blocks in separator.iter_separate(source, instruments, residual, wiener):
            for name, block in blocks.items():
                writers[name].write(block)
            count = len(next(iter(blocks.values())))
            written += count
            bar.update(count)
            if report:
                progress(written / source.frames)
        if written != source.frames:
            raise CunetError(f"{path}: internal error: wrote {written} of {source.frames} samples")
    return source


def separate_file(separator, path, out_dir, instruments: Optional[Sequence[str]] = None, residual: bool = False,
                  wiener: bool = False, fmt: str = "wav", overwrite: bool = False, backend: str = "auto",
                  progress: Union[bool, Callable[[float], None]] = True) -> dict:
    """Separate one audio file into `out_dir/<song>/<name>.<fmt>`, as `cunet separate` does.

    `instruments` None: every instrument the model separates. The input is checked and the
    outputs planned before anything is written; existing outputs are refused unless
    `overwrite`. `progress`: True/False (a tqdm bar on stderr) or a callable
    `progress(done_fraction)` called as blocks are written. Returns {name: written path}.
    """
    path = Path(path)
    if not path.is_file():
        raise CunetError(f"input not found: {path}" if not path.exists() else f"input is not a file: {path}")
    output_format(fmt)
    backend = resolve_backend(backend)
    wanted = separator.instruments if instruments is None else instruments
    outputs = plan_outputs([path], output_names(separator, wanted, residual), out_dir, fmt, overwrite)[path]
    check_inputs([path], backend)
    check_out_dir(out_dir)
    stream_to_files(separator, path, outputs, wanted, residual, wiener, fmt, progress, backend)
    return outputs
