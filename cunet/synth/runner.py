"""`cunet synth` end to end: check the tools, plan the tracks, render them in parallel, resume."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from cunet.errors import CunetError
from cunet.parallel import default_jobs, parallel_map
from cunet.synth.dataset import finished, plan, sweep_partials, track_count, write_track
from cunet.synth.midi import MidiError
from cunet.synth.render import import_fluidsynth
from cunet.synth.soundfonts import held_out, resolve_soundfonts
from cunet.synth.speech import import_pyworld, require_espeak
from cunet.synth.tracks import TrackSpec

MIDI_SUFFIXES = (".mid", ".midi")
MAX_SECONDS = 600.0
_WORKER_BYTES = 1 << 30  # a worker's peak memory with every default SoundFont loaded


def _check_options(tracks, hours, seconds, test_fraction, sung_share) -> None:
    if hours is not None and hours <= 0:
        raise CunetError("--hours must be positive")
    if not 1.0 <= seconds <= MAX_SECONDS:  # a worker holds about 3 MB per second of song
        raise CunetError(f"--seconds must be between 1 and {MAX_SECONDS:g}")
    if not 0.0 <= test_fraction <= 1.0:
        raise CunetError("--test-fraction must be between 0 and 1")
    if not 0.0 <= sung_share <= 1.0:
        raise CunetError("--sung-share must be between 0 and 1")


def midi_files(folder: str) -> list[Path]:
    root = Path(folder).absolute()  # track.json records where the file is, wherever it is read
    if not root.is_dir():
        raise CunetError(f"--midi {folder} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    if not files:
        raise CunetError(f"--midi {folder} holds no .mid or .midi files")
    return files


def render_one(task: tuple) -> tuple[str, str]:
    """Worker task: (root, spec) -> (status, message); a MIDI file that cannot be read is skipped."""
    root, spec = task
    try:
        return write_track(root, spec), ""
    except MidiError as error:
        return "skipped", str(error)


def render_dataset(
    out: Path,
    tracks: int | None,
    hours: float | None,
    seconds: float,
    seed: int,
    test_fraction: float,
    soundfonts: Sequence[str] | None,
    exclude: Sequence[str] | None,
    midi: str | None,
    sung_share: float,
    jobs: int | None,
    progress: bool,
) -> str:
    """Render the planned tracks missing from `out`; returns a one-line summary."""
    from tqdm import tqdm

    _check_options(tracks, hours, seconds, test_fraction, sung_share)
    import_fluidsynth()
    if sung_share > 0:
        require_espeak()
        import_pyworld()
    fonts = resolve_soundfonts(soundfonts)
    train_fonts = held_out(fonts, exclude)
    count = track_count(tracks, hours, seconds)
    specs = plan(seed, count, test_fraction, seconds, train_fonts, fonts, midi_files(midi) if midi else (), sung_share)
    if out.exists() and not out.is_dir():
        raise CunetError(f"OUT {out} is a file, not a folder")
    swept = sweep_partials(out, specs)
    todo = [spec for spec in specs if not finished(out, spec)]
    counts = {"written": 0, "exists": len(specs) - len(todo), "skipped": 0}
    bar = tqdm(total=len(specs), initial=counts["exists"], desc="rendering songs", unit="song", disable=not progress)
    try:
        tasks = [(out, spec) for spec in todo]
        with contextlib.closing(parallel_map(render_one, tasks, jobs or default_jobs(_WORKER_BYTES))) as results:
            for index, (status, message) in results:
                counts[status] += 1
                if status == "skipped":
                    bar.write(f"skipped {todo[index].midi}: {message}", file=sys.stderr)
                bar.update()
    finally:
        bar.close()
    return (
        f"{out}: {counts['written']} songs written, {counts['exists']} already there, "
        f"{counts['skipped']} MIDI files skipped" + (f", {swept} partial folders swept" if swept else "")
    )


def from_json(path: Path, out: Path) -> tuple[Path, str]:
    """Render the track described by a track.json again into `out` (its split and name); returns
    its folder and "written", or "exists" where it is already there."""
    try:
        data = json.loads(path.read_text())
        spec = TrackSpec.from_dict(data["spec"] if "spec" in data else data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CunetError(f"{path} is not a track.json of cunet synth ({error})") from None
    import_fluidsynth()
    for font in spec.soundfonts:
        resolve_soundfonts([font])
    status = write_track(out, spec)
    return out / spec.split / spec.name, status
