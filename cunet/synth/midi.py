"""MIDI files (e.g. the Lakh MIDI set) as songs: parts mapped to stems by GM program and channel 10.

Drums: channel 10 (index 9). Vocals: the part named vocal/voice/lead/melody/singer, else the
melody (the highest-sounding monophonic-ish part among lead-like programs), sung by the voice
or, for GM choir/voice programs, rendered by them; other choir/voice parts join the vocals. Bass: GM programs 32-39 and 43 (contrabass).
Everything else: "other"."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from cunet.errors import CunetError
from cunet.synth.music import BASS_PROGRAMS, VOICE_PROGRAMS
from cunet.synth.notes import Note
from cunet.synth.song import Part, Song

_VOCAL_NAMES = re.compile(r"vocal|voice|vox|lead|melody|singer|sing|lyric", re.IGNORECASE)
_LEAD_PROGRAMS = set(range(0, 8)) | set(range(16, 24)) | set(range(40, 48)) | set(range(56, 88))
_MAX_PARTS = 24


class MidiError(CunetError):
    """A MIDI file that cannot be read or holds nothing to play."""


def read_song(path: str, seconds: float, rng: np.random.Generator, sung_share: float = 0.85) -> Song:
    """The first `seconds` seconds of MIDI file `path` as a Song (its notes shifted so that the
    first note starts at 0.5 s); raises MidiError for a broken or empty file."""
    import mido

    try:
        midi = mido.MidiFile(path, clip=True)
        parts, tempo = _parts(midi)
    except MidiError:
        raise
    except Exception as error:  # mido raises many types (OSError, EOFError, KeyError, ValueError...)
        raise MidiError(f"unreadable MIDI file ({type(error).__name__}: {error})") from None
    if not parts:
        raise MidiError("no notes")
    first = min(n.start for notes in parts.values() for n in notes)
    shift = 0.5 - first
    kept = {
        key: [Note(n.start + shift, n.duration, n.pitch, n.velocity) for n in notes if n.start + shift < seconds]
        for key, notes in parts.items()
    }
    end = max((n.end for notes in kept.values() for n in notes), default=0.0)
    length = min(seconds, end + 1.0)
    song_parts = _assign(kept, rng, sung_share)
    if not song_parts:
        raise MidiError("no notes")
    return Song(length=float(length), parts=tuple(song_parts), tempo=tempo, style="midi", source=str(path))


def _parts(midi) -> tuple[dict, float]:
    """{(track name, channel, program): [Note]} from `midi`, and its first tempo in BPM."""
    import mido

    notes: dict = defaultdict(list)
    names: dict = {}
    tempo = None
    for number, track in enumerate(midi.tracks):
        names[number] = track.name or ""
    programs = defaultdict(int)
    pending: dict = {}
    time = 0.0
    for message in midi:  # merged tracks, delta times in seconds
        time += message.time
        if message.type == "set_tempo" and tempo is None:
            tempo = mido.tempo2bpm(message.tempo)
        elif message.type == "program_change":
            programs[message.channel] = message.program
        elif message.type in ("note_on", "note_off"):
            key = (message.channel, message.note)
            if message.type == "note_on" and message.velocity > 0:
                pending.setdefault(key, []).append((time, message.velocity, programs[message.channel]))
            elif pending.get(key):
                start, velocity, program = pending[key].pop(0)
                if time > start:
                    notes[(message.channel, program)].append(Note(start, time - start, message.note, velocity))
    if len(notes) > _MAX_PARTS:
        notes = dict(sorted(notes.items(), key=lambda item: -len(item[1]))[:_MAX_PARTS])
    labels = _channel_labels(midi)
    return {
        (labels.get(ch, ""), ch, program): sorted(v, key=lambda n: n.start) for (ch, program), v in notes.items()
    }, float(tempo or 120.0)


def _channel_labels(midi) -> dict:
    """Channel -> the name of the (first) track that plays on it."""
    labels = {}
    for track in midi.tracks:
        channels = {m.channel for m in track if hasattr(m, "channel")}
        for channel in channels:
            labels.setdefault(channel, track.name or "")
    return labels


def _melody_score(notes: list[Note]) -> float:
    """How melody-like a part is: high, mostly one note at a time, and long enough."""
    if len(notes) < 8:
        return -1.0
    starts = np.array([n.start for n in notes])
    chords = np.mean(np.diff(starts) < 0.03) if len(starts) > 1 else 0.0
    return float(np.median([n.pitch for n in notes])) * (1 - chords) + min(len(notes), 200) / 20


def _assign(parts: dict, rng: np.random.Generator, sung_share: float) -> list[Part]:
    """Parts with stems: drums (channel 10), bass (programs), vocals (by name, else melody), other."""
    candidates = [key for key in parts if key[1] != 9 and parts[key]]
    named = [key for key in candidates if _VOCAL_NAMES.search(key[0]) or key[2] in VOICE_PROGRAMS]
    if not named:
        leads = [key for key in candidates if key[2] in _LEAD_PROGRAMS and key[2] not in BASS_PROGRAMS]
        best = max(leads, key=lambda key: _melody_score(parts[key]), default=None)
        named = [best] if best is not None and _melody_score(parts[best]) > 0 else []
    vocal = named[0] if named else None
    result = []
    for key, notes in parts.items():
        label, channel, program = key
        if not notes:
            continue
        if channel == 9:
            # a program change on channel 10 picks the kit (GM2); FluidSynth falls back to kit 0
            result.append(Part(label or "drums", "drums", program, tuple(notes), drums=True, role="midi drums"))
        elif key == vocal:
            sung = program not in VOICE_PROGRAMS and rng.random() < sung_share
            if not sung and program not in VOICE_PROGRAMS:  # unsung melodies still sound like voices
                program = int(rng.choice(sorted(VOICE_PROGRAMS)))
            result.append(
                Part(label or "melody", "vocals", 0 if sung else program, tuple(notes), sung=sung, role="lead")
            )
        elif program in VOICE_PROGRAMS:  # choirs and voice pads are voices, as in MUSDB18's vocals
            result.append(Part(label or "voices", "vocals", program, tuple(notes), role="midi voices"))
        elif program in BASS_PROGRAMS:
            result.append(Part(label or "bass", "bass", program, tuple(notes), role="midi bass"))
        else:
            result.append(Part(label or f"program {program}", "other", program, tuple(notes), role="midi"))
    return result
