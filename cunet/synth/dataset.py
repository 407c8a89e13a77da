"""The rendered data set on disk: the train/test plan, and track folders written whole or not at all.

Layout (MUSDB18-HQ): `<root>/<split>/<track>/{mixture,vocals,drums,bass,other}.wav` plus the
track's `track.json`. A track is rendered into `<root>/<split>/.<track>.partial-XXXX` and renamed
into place when complete, so a folder named after a track is always a finished track; partial
folders left by an interrupted run are swept by the next."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cunet.errors import CunetError
from cunet.musdb import STEMS
from cunet.synth.tracks import TrackSpec, render_track, track_json
from cunet.synth.wavfile import write_pcm16_wav

PARTIAL = ".partial-"
DEFAULT_TRACKS = 10


def track_count(tracks: int | None, hours: float | None, seconds: float) -> int:
    """Tracks to render: `tracks`, or enough `seconds`-long songs for `hours` hours, else
    `DEFAULT_TRACKS`."""
    if tracks is not None:
        return tracks
    if hours is not None:
        return max(1, math.ceil(hours * 3600 / seconds))
    return DEFAULT_TRACKS


def plan(
    seed: int,
    count: int,
    test_fraction: float,
    seconds: float,
    train_soundfonts: Sequence[Path],
    all_soundfonts: Sequence[Path],
    midi_files: Sequence[Path] = (),
    sung_share: float = 0.85,
) -> list[TrackSpec]:
    """The specs of `count` tracks: round(count * test_fraction) in test (rendered with every
    SoundFont), the rest in train (with `train_soundfonts`). With `midi_files` the tracks are
    that many files in a seeded order (fewer if there are fewer files)."""
    sources: list[Path | None] = [None] * count
    if midi_files:
        order = np.random.default_rng(np.random.SeedSequence([seed, 2**20])).permutation(len(midi_files))
        sources = [midi_files[i] for i in order[:count]]
    tests = int(round(len(sources) * test_fraction))
    specs = []
    for split, members in (("test", sources[:tests]), ("train", sources[tests:])):
        fonts = tuple(str(p) for p in (all_soundfonts if split == "test" else train_soundfonts))
        for index, midi in enumerate(members):
            specs.append(
                TrackSpec(
                    name=track_name(seed, split, index, midi),
                    split=split,
                    seed=seed,
                    index=index,
                    seconds=seconds,
                    soundfonts=fonts,
                    midi=str(midi) if midi else None,
                    sung_share=sung_share,
                )
            )
    return specs


def track_name(seed: int, split: str, index: int, midi: Path | None) -> str:
    name = f"synth-s{seed}-{'test-' if split == 'test' else ''}{index:05d}"
    if midi is not None:
        name += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", midi.stem)[:48]
    return name


def sweep_partials(root: Path, specs: Sequence[TrackSpec]) -> int:
    """Remove the partial folders an interrupted run left for the tracks of `specs` (only theirs:
    another run may be writing other tracks into the same root); how many were removed."""
    removed = 0
    for spec in specs:
        for partial in (root / spec.split).glob(f".{spec.name}{PARTIAL}*"):
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
                removed += 1
    return removed


def finished(root: Path, spec: TrackSpec) -> bool:
    """Whether `spec`'s track is already in `root` (rendered from the same spec), never re-rendered."""
    folder = root / spec.split / spec.name
    if not folder.exists():
        return False
    try:
        recorded = json.loads((folder / "track.json").read_text())["spec"]
    except (OSError, ValueError, KeyError):
        raise CunetError(
            f"{folder} exists but is not a track rendered by cunet synth: remove it or use another folder"
        ) from None
    if recorded.get("version") != spec.version:
        raise CunetError(
            f"{folder} was rendered by another version of cunet synth (spec version "
            f"{recorded.get('version')}, this one renders {spec.version}): use another folder"
        )
    if TrackSpec.from_dict(recorded) != spec:
        raise CunetError(f"{folder} was rendered with other options (see its track.json): use another folder")
    return True


def write_track(root: Path, spec: TrackSpec) -> str:
    """Render `spec` into `root/<split>/<name>` unless it is there; returns "written" or "exists"."""
    if finished(root, spec):
        return "exists"
    split_dir = root / spec.split
    split_dir.mkdir(parents=True, exist_ok=True)
    rendered = render_track(spec)
    partial = Path(tempfile.mkdtemp(prefix=f".{spec.name}{PARTIAL}", dir=split_dir))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o777 & ~umask)
        rate, stems = rendered.info["rate"], rendered.stems
        for stem in STEMS:
            write_pcm16_wav(partial / f"{stem}.wav", stems[stem], rate)
        write_pcm16_wav(partial / "mixture.wav", [stems[stem] for stem in STEMS], rate)  # their exact sum
        (partial / "track.json").write_text(track_json(rendered))
        os.rename(partial, split_dir / spec.name)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return "written"
