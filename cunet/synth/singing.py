"""One sung phrase: spoken syllables placed on their notes, re-pitched and synthesized with WORLD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cunet.synth.intonation import pitch_contour
from cunet.synth.notes import Note
from cunet.synth.speech import (
    FRAME_PERIOD_MS,
    WORLD_RATE,
    Syllable,
    import_pyworld,
    stretch_positions,
)

if TYPE_CHECKING:
    from cunet.synth.voice import VoiceSpec

_DT = FRAME_PERIOD_MS / 1000
_SILENT_LOG_POWER = -36.0
_RELEASE_FRAMES = round(0.1 / _DT)


def _unit_frames(
    units: Sequence[Sequence[Note]], looseness: float, rng: np.random.Generator
):
    """Start and end frame of each syllable: (units,) int arrays, the starts off the beat by up
    to 2 * `looseness` seconds but never before the previous syllable's end."""
    starts, ends = [], []
    for unit in units:
        end = round(unit[-1].end / _DT)
        jitter = float(np.clip(rng.standard_normal(), -2, 2)) * looseness / _DT
        start = round(unit[0].start / _DT + jitter)
        start = min(max(start, ends[-1] if ends else 0), end - 2)
        starts.append(start)
        ends.append(end)
    return np.array(starts), np.array(ends)


def _note_frames(units: Sequence[Sequence[Note]], starts: np.ndarray):
    """Onset frame, end frame and pitch of every note: (notes,) arrays, the first note of each
    syllable starting with the syllable."""
    onsets, ends, pitches = [], [], []
    for unit, start in zip(units, starts):
        for k, note in enumerate(unit):
            onsets.append(
                int(start) if k == 0 else max(round(note.start / _DT), onsets[-1] + 1)
            )
            ends.append(max(round(note.end / _DT), onsets[-1] + 1))
            pitches.append(note.pitch)
    return np.array(onsets), np.array(ends), np.array(pitches)


def _breath_frames(
    rest: float, voice: VoiceSpec, rng: np.random.Generator
) -> tuple[int, int]:
    """(length, lead) in frames of the breath taken in a rest of `rest` seconds before a phrase
    (length 0: no breath), ending `lead` frames before the first syllable."""
    room = rest - 0.1
    if room < 0.15 or rng.random() >= voice.breath_probability:
        return 0, 0
    length = rng.uniform(0.15, min(0.4, room))
    return round(length / _DT), round(rng.uniform(0.02, 0.08) / _DT)


def _warp(log_sp: np.ndarray, factor: float) -> np.ndarray:
    """The spectral envelope with its formants moved by `factor` along frequency: (frames, bins)."""
    bins = log_sp.shape[1]
    source = np.minimum(np.arange(bins) / factor, bins - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bins - 1)
    weight = source - low
    return log_sp[:, low] * (1 - weight) + log_sp[:, high] * weight


def _place_syllable(
    log_sp, ap, voiced, rows: slice, syllable: Syllable, velocity: float
) -> None:
    positions = stretch_positions(syllable, rows.stop - rows.start)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, syllable.frames - 1)
    weight = (positions - low)[:, None]
    gain = 2 * np.log(max(velocity, 1.0) / 100)
    log_sp[rows] = (
        syllable.log_sp[low] * (1 - weight) + syllable.log_sp[high] * weight + gain
    )
    ap[rows] = syllable.ap[low] * (1 - weight) + syllable.ap[high] * weight
    nearest = np.rint(positions)
    voiced[rows] = (nearest >= syllable.voiced_start) & (nearest < syllable.voiced_end)


def render_phrase(
    units, syllables: Sequence[Syllable], voice: VoiceSpec, rest: float, rng
):
    """One phrase at WORLD_RATE: (first frame index, audio), the audio starting at that frame."""
    pyworld = import_pyworld()
    starts, ends = _unit_frames(units, voice.looseness, rng)
    breath, lead = _breath_frames(rest, voice, rng)
    breath = min(breath, max(0, int(starts[0]) - lead - 2))
    first = max(0, int(starts[0]) - breath - lead - 2)
    total = int(ends[-1]) + _RELEASE_FRAMES - first
    bins = syllables[0].log_sp.shape[1]
    log_sp = np.full((total, bins), _SILENT_LOG_POWER)
    ap = np.ones((total, bins))
    voiced = np.zeros(total, bool)
    for unit, syllable, start, end in zip(units, syllables, starts, ends):
        velocity = float(np.mean([n.velocity for n in unit]))
        _place_syllable(
            log_sp, ap, voiced, slice(start - first, end - first), syllable, velocity
        )
    if breath:
        core = np.mean(
            [s.log_sp[s.voiced_start : s.voiced_end].mean(axis=0) for s in syllables],
            axis=0,
        )
        rise_fall = np.sin(np.pi * (np.arange(breath) + 0.5) / breath)
        level = voice.breath_level_db / 10 * np.log(10) + 2 * np.log(rise_fall)[:, None]
        rows = slice(
            int(starts[0]) - lead - breath - first, int(starts[0]) - lead - first
        )
        log_sp[rows] = core + level[: rows.stop - rows.start]
    log_sp = _warp(log_sp, voice.formant_shift)
    ramp = np.clip(np.linspace(0, WORLD_RATE / 2, bins) / 4000, 0.2, 1.0)
    ap = np.clip(ap + (1 - ap) * voice.breathiness * ramp, 0.0, 1.0)
    onsets, note_ends, pitches = _note_frames(units, starts)
    contour = pitch_contour(
        onsets - first, note_ends - first, pitches, total, _DT, voice.intonation, rng
    )
    f0 = np.where(voiced, 440.0 * 2 ** ((contour - 69) / 12), 0.0)
    sp = np.ascontiguousarray(np.exp(log_sp))
    audio = pyworld.synthesize(
        f0, sp, np.ascontiguousarray(ap), WORLD_RATE, FRAME_PERIOD_MS
    )
    return first, audio
