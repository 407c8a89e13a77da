"""Shared pieces of the `cunet synth` tests: the SoundFonts they render with, skips, MIDI files."""

import importlib.util
import shutil
from pathlib import Path

import pytest

FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
TIM_GM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def _fluidsynth_missing() -> str:
    if importlib.util.find_spec("fluidsynth") is None:
        return "pyfluidsynth is not installed (pip install 'cunet[synth]')"
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return "the FluidSynth library is missing (sudo apt-get install fluidsynth)"
    for font in (FLUID_R3, TIM_GM):
        if not font.exists():
            return f"{font} is missing (sudo apt-get install fluid-soundfont-gm timgm6mb-soundfont)"
    if shutil.which("espeak-ng") is None:
        return "espeak-ng is not installed (sudo apt-get install espeak-ng)"
    return ""


needs_synth = pytest.mark.skipif(bool(_fluidsynth_missing()), reason=_fluidsynth_missing() or "ok")


def write_midi(path: Path, melody_name: str = "Lead Vocal") -> Path:
    """A two-bar MIDI song: a named melody (flute), a bass, a piano and drums on channel 10."""
    import mido

    song = mido.MidiFile(ticks_per_beat=480)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)))
    song.tracks.append(meta)

    def track(name, channel, program, notes):
        events = mido.MidiTrack()
        events.append(mido.MetaMessage("track_name", name=name))
        events.append(mido.Message("program_change", channel=channel, program=program, time=0))
        now = 0
        for start, length, pitch in notes:
            events.append(mido.Message("note_on", channel=channel, note=pitch, velocity=90, time=start - now))
            events.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=length))
            now = start + length
        song.tracks.append(events)

    track(melody_name, 0, 73, [(i * 240, 200, 60 + (i * 2) % 12) for i in range(14)])
    track("Bass", 1, 33, [(i * 480, 440, 36 + (i % 4) * 5) for i in range(8)])
    track("Piano", 2, 0, [(i * 960, 900, 64) for i in range(4)])
    track("Drums", 9, 0, [(i * 240, 100, 36 if i % 4 == 0 else 42) for i in range(16)])
    song.save(path)
    return path
