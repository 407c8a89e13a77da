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
_EXPRESSION_DB = 1.0  # random loudness of each syllable (standard deviation)
_LOWEST_PITCH, _HIGHEST_PITCH = 28, 100  # MIDI: 41 Hz to 2.6 kHz


def _unit_frames(
    units: Sequence[Sequence[Note]],
    syllables: Sequence[Syllable],
    looseness: float,
    rng: np.random.Generator,
):
    """Start, beat and end frame of each syllable: (units,) int arrays. The beat (where the
    vowel starts) is off the written onset by up to 2 * `looseness` seconds; the unvoiced
    consonants before the vowel (at most 120 ms) come before the beat, taken from the rest or
    from the end of the previous syllable (which keeps at least 60% of its length)."""
    starts, beats, ends = [], [], []
    for unit, syllable in zip(units, syllables):
        end = round(unit[-1].end / _DT)
        jitter = float(np.clip(rng.standard_normal(), -2, 2)) * looseness / _DT
        beat = round(unit[0].start / _DT + jitter)
        earliest = 0
        if ends:
            earliest = starts[-1] + (ends[-1] - starts[-1]) * 6 // 10
        start = min(max(beat - min(syllable.voiced_start, 24), earliest), end - 2)
        if ends and start < ends[-1]:
            ends[-1] = start
        starts.append(start)
        beats.append(min(max(beat, start), end - 1))
        ends.append(end)
    return np.array(starts), np.array(beats), np.array(ends)


def _note_frames(units: Sequence[Sequence[Note]], beats: np.ndarray):
    """Onset frame, end frame and pitch of every note: (notes,) arrays, the first note of each
    syllable starting on the syllable's beat."""
    onsets, ends, pitches = [], [], []
    for unit, beat in zip(units, beats):
        for k, note in enumerate(unit):
            onsets.append(int(beat) if k == 0 else max(round(note.start / _DT), onsets[-1] + 1))
            ends.append(max(round(note.end / _DT), onsets[-1] + 1))
            pitches.append(note.pitch)
    return np.array(onsets), np.array(ends), np.array(pitches)


def _breath_frames(rest: float, voice: VoiceSpec, rng: np.random.Generator) -> tuple[int, int]:
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


def _tilt(bins: int, db_per_octave: float) -> np.ndarray:
    """Log power added to each bin: `db_per_octave` above 1 kHz, none below. (bins,)"""
    octaves = np.log2(np.maximum(np.linspace(0, WORLD_RATE / 2, bins), 1000.0) / 1000.0)
    return db_per_octave * octaves / 10 * np.log(10)


def _place_syllable(log_sp, ap, voiced, rows: slice, syllable: Syllable, gain_db: float) -> None:
    positions = stretch_positions(syllable, rows.stop - rows.start)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, syllable.frames - 1)
    weight = (positions - low)[:, None]
    gain = gain_db / 10 * np.log(10)
    log_sp[rows] = syllable.log_sp[low] * (1 - weight) + syllable.log_sp[high] * weight + gain
    ap[rows] = syllable.ap[low] * (1 - weight) + syllable.ap[high] * weight
    nearest = np.rint(positions)
    voiced[rows] = (nearest >= syllable.voiced_start) & (nearest < syllable.voiced_end)


def _place_breath(log_sp, rows: slice, syllables: Sequence[Syllable], level_db: float) -> None:
    """An in-breath over `rows`: noise shaped by the singer's mean vowel envelope tilted up by
    3 dB per octave above 500 Hz, swelling and fading over its length, `level_db` below the
    sung vowels."""
    core = np.mean([s.log_sp[s.sustain_start : s.sustain_end].mean(axis=0) for s in syllables], 0)
    hz = np.linspace(0, WORLD_RATE / 2, log_sp.shape[1])
    tilt = 0.3 * np.log(10) * np.clip(np.log2(np.maximum(hz, 1.0) / 500), -2, 3)
    length = rows.stop - rows.start
    rise_fall = np.sin(np.pi * (np.arange(length) + 0.5) / length)
    log_sp[rows] = core + tilt + level_db / 10 * np.log(10) + 2 * np.log(rise_fall)[:, None]


def _carry_fundamental(log_sp: np.ndarray, f0: np.ndarray) -> np.ndarray:
    """The envelope raised around f0 where f0 lies above the first formant, as trained singers
    move their first formant onto a high fundamental: the fundamental's level is lifted to at
    most 6 dB under the strongest partial below 1.5 kHz. (frames, bins) -> (frames, bins)."""
    bins = log_sp.shape[1]
    bin_hz = WORLD_RATE / 2 / (bins - 1)
    frames = np.flatnonzero(f0 > 0)
    if frames.size == 0:
        return log_sp
    centre = f0[frames] / bin_hz
    index = np.minimum(np.rint(centre).astype(int), bins - 1)
    level = log_sp[frames, index]
    target = log_sp[frames, : int(1500 / bin_hz)].max(axis=1) - 0.6 * np.log(10)
    lift = np.maximum(target - level, 0.0)
    width = np.maximum(centre / 3, 2.0)
    distance = (np.arange(bins)[None, :] - centre[:, None]) / width[:, None]
    log_sp = log_sp.copy()
    log_sp[frames] += lift[:, None] * np.exp(-0.5 * distance**2)
    return log_sp


def render_phrase(units, syllables: Sequence[Syllable], voice: VoiceSpec, rest: float, rng):
    """One phrase at WORLD_RATE: (first frame index, audio), the audio starting at that frame."""
    pyworld = import_pyworld()
    starts, beats, ends = _unit_frames(units, syllables, voice.looseness, rng)
    breath, lead = _breath_frames(rest, voice, rng)
    breath = min(breath, max(0, int(starts[0]) - lead - 2))
    first = max(0, int(starts[0]) - breath - lead - 2)
    total = int(ends[-1]) + _RELEASE_FRAMES - first
    bins = syllables[0].log_sp.shape[1]
    log_sp = np.full((total, bins), _SILENT_LOG_POWER)
    ap = np.ones((total, bins))
    voiced = np.zeros(total, bool)
    for unit, syllable, start, end in zip(units, syllables, starts, ends):
        velocity = max(1.0, float(np.mean([n.velocity for n in unit])))
        gain_db = 20 * np.log10(velocity / 100) + _EXPRESSION_DB * rng.standard_normal()
        _place_syllable(log_sp, ap, voiced, slice(start - first, end - first), syllable, gain_db)
    if breath:
        rows = slice(starts[0] - lead - breath - first, starts[0] - lead - first)
        _place_breath(log_sp, rows, syllables, voice.breath_level_db)
    log_sp = _warp(log_sp, voice.formant_shift) + _tilt(bins, voice.tilt_db)
    ramp = np.clip(np.linspace(0, WORLD_RATE / 2, bins) / 4000, 0.2, 1.0)
    ap = np.clip(ap + (1 - ap) * voice.breathiness * ramp, 0.0, 1.0)
    onsets, note_ends, pitches = _note_frames(units, beats)
    contour = pitch_contour(onsets - first, note_ends - first, pitches, total, _DT, voice.intonation, rng)
    contour = np.clip(contour, _LOWEST_PITCH, _HIGHEST_PITCH)
    f0 = np.where(voiced, 440.0 * 2 ** ((contour - 69) / 12), 0.0)
    log_sp = _carry_fundamental(log_sp, f0)
    sp = np.ascontiguousarray(np.exp(log_sp))
    audio = pyworld.synthesize(f0, sp, np.ascontiguousarray(ap), WORLD_RATE, FRAME_PERIOD_MS)
    return first, audio
