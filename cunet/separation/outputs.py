"""Where separated stems go: the file-name template and the plan of a batch's outputs.

A template such as `{track}/{stem}.{ext}` (the default: a folder per input, a file per
stem) places each stem under the output folder. The plan maps every input to the outputs
still to write, and refuses before anything is written: two outputs on one path, an input
as an output, an existing file (unless replacing it is asked for, or skipping it), and a
file another running cunet process is writing. Temporary files left by killed runs are swept.
"""

from __future__ import annotations

import os
import string
from collections.abc import Sequence
from pathlib import Path, PurePath

from cunet.audio.formats import input_name
from cunet.errors import CunetError
from cunet.fileio import live_partials, sweep_partials

DEFAULT_FILENAME = "{track}/{stem}.{ext}"
# the template's fields: the input's name without its suffix (song for song.mp3), that
# suffix (mp3), the stem's name as requested (vocals, vocals+drums, residual), the format
FILENAME_FIELDS = ("track", "trackext", "stem", "ext")


def check_filename(template: str) -> str:
    """`template` if it is a valid output file-name template, else a `CunetError` naming the problem."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as exc:
        raise CunetError(f"bad --filename template {template!r}: {exc}") from None
    for name, spec, conversion in fields:
        if name not in FILENAME_FIELDS:
            raise CunetError(
                f"unknown field {{{name}}} in --filename {template!r} "
                f"(fields: {', '.join('{' + f + '}' for f in FILENAME_FIELDS)})"
            )
        if spec or conversion:
            raise CunetError(f"--filename {template!r}: fields take no format spec or conversion")
    if "stem" not in [name for name, _, _ in fields]:
        raise CunetError(f"--filename {template!r} must contain {{stem}}: every stem needs its own file")
    sample = PurePath(template.format(track="t", trackext="wav", stem="s", ext="wav"))
    if sample.is_absolute() or ".." in sample.parts or not sample.name:
        raise CunetError(f"--filename {template!r} must be a relative path inside the output folder")
    return template


def output_path(out_dir: Path, template: str, source: Path, stem: str, ext: str) -> Path:
    """Where `stem` of the input `source` goes; refuses a path outside `out_dir`."""
    rendered = template.format(track=input_name(source), trackext=source.suffix.lstrip("."), stem=stem, ext=ext)
    path = Path(out_dir) / rendered
    if ".." in PurePath(rendered).parts or not path.resolve().is_relative_to(Path(out_dir).resolve()):
        raise CunetError(f"--filename {template!r} puts {source}'s {stem} outside {out_dir}: {path}")
    return path


def check_out_dir(out_dir) -> None:
    """`out_dir`, or the folder it would be created in, is a folder this process may write
    in, or a `CunetError`. Nothing is created: folders appear with the first output."""
    out_dir = Path(out_dir)
    existing = out_dir
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise CunetError(f"cannot write to output folder {out_dir}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        cause = "read-only file system" if os.statvfs(existing).f_flag & os.ST_RDONLY else "permission denied"
        raise CunetError(f"cannot write to output folder {out_dir}: {cause} ({existing})")


def plan_outputs(
    files: Sequence[Path],
    names: Sequence[str],
    out_dir,
    template: str,
    ext: str,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> dict:
    """{input: {name: output path}} of the outputs to write; raises `CunetError`.

    With `skip_existing`, outputs that exist are left out (an input whose outputs all exist
    maps to {}); with `overwrite`, they are replaced. Temporary files of planned outputs left
    by processes that no longer run are removed.
    """
    out_dir, inputs = Path(out_dir), {Path(f).resolve(): f for f in files}
    plan, owner = {}, {}
    for f in files:
        plan[f] = {}
        for name in names:
            path = output_path(out_dir, template, Path(f), name, ext)
            key = path.resolve()
            if key in owner:
                raise CunetError(
                    f"two outputs would be the same file {path}: {owner[key]} and {f} {name} "
                    "(use another --filename, or separate the inputs into different --out-dir)"
                )
            owner[key] = f"{f} {name}"
            if key in inputs:
                raise CunetError(f"output {path} is one of the inputs; choose another --out-dir")
            plan[f][name] = path
    return {f: _claimable(outputs, overwrite, skip_existing) for f, outputs in plan.items()}


def _claimable(outputs: dict, overwrite: bool, skip_existing: bool) -> dict:
    """The outputs to write, after the existing ones and those other runs write are looked at."""
    left = {}
    for name, path in outputs.items():
        try:
            sweep_partials(path)
            busy, exists = live_partials(path), path.exists()
        except OSError as exc:
            raise CunetError(f"cannot check output {exc.filename or path}: {exc.strerror or exc}") from None
        if busy and not overwrite:
            raise CunetError(
                f"output {path} is being written by another cunet process (pid {busy[0]}); "
                "wait for it, or use --overwrite"
            )
        if exists and not overwrite:
            if skip_existing:
                continue
            raise CunetError(f"output exists: {path} (use --overwrite to replace it, or --skip-existing)")
        left[name] = path
    return left
