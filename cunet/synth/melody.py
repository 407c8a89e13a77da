"""Lead melodies: phrases of a repeated rhythmic motif over the chords, with rests between phrases."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cunet.synth.grid import Grid
from cunet.synth.harmony import Chord, Key
from cunet.synth.notes import Note

ChordAt = Callable[[int, int], Chord]  # (bar, step in bar) -> the chord sounding there


def motif_rhythm(rng: np.random.Generator, steps: int, steps_per_beat: int, density: float) -> list[tuple[int, int]]:
    """(onset step, length in steps) of the notes of a phrase of `steps` steps, ending with a rest
    of at least one beat; `density` in [0, 1] sets how many onsets on off-beat steps."""
    rhythm: list[tuple[int, int]] = []
    usable = steps - steps_per_beat * (1 + int(rng.integers(2)))
    step = int(rng.integers(0, 2)) * (steps_per_beat // 2 or 1)
    while step < usable:
        on_beat = step % steps_per_beat == 0
        if on_beat or rng.random() < density:
            choices = (1, 2, 2, 3, 4, 4, 6, 8) if steps_per_beat == 4 else (1, 2, 3, 3, 6)
            length = int(choices[rng.integers(len(choices))])
            length = max(1, min(length, usable - step))
            rhythm.append((step, length))
            step += length
        else:
            step += 1
    return rhythm or [(0, steps_per_beat * 2)]


def phrase_pitches(
    rng: np.random.Generator,
    rhythm: Sequence[tuple[int, int]],
    chords: Sequence[Chord],
    key: Key,
    low: int,
    high: int,
    steps_per_beat: int,
) -> list[int]:
    """A pitch per note of `rhythm` (`chords[i]` sounds under note i): chord tones on beats,
    mostly stepwise motion in the scale between them, within [low, high]."""
    scale = sorted(key.pitch_classes())
    pitch = chords[0].nearest_tone(int(rng.integers(low + 3, high - 3)))
    pitches = []
    for (onset, _), chord in zip(rhythm, chords, strict=True):
        if onset % steps_per_beat == 0 and rng.random() < 0.7:
            target = pitch + int(rng.choice((-4, -2, 0, 2, 4, 5, -5, 7)))
            pitch = chord.nearest_tone(target)
        else:
            move = int(rng.choice((-2, -1, -1, 1, 1, 2, 0, 3, -3)))
            pitch = _scale_step(pitch, move, scale)
        while pitch > high:
            pitch -= 12
        while pitch < low:
            pitch += 12
        pitches.append(pitch)
    return pitches


def _scale_step(pitch: int, steps: int, scale: Sequence[int]) -> int:
    direction = 1 if steps > 0 else -1
    for _ in range(abs(steps)):
        pitch += direction
        while pitch % 12 not in scale:
            pitch += direction
    return pitch


def melody(
    rng: np.random.Generator,
    grid: Grid,
    key: Key,
    chord_at: ChordAt,
    first_bar: int,
    bars: int,
    register: tuple[int, int],
    energy: float,
    phrase_bars: int,
    density: float,
) -> list[Note]:
    """A melody over `bars` bars from `first_bar`: phrases of `phrase_bars` bars; the section's
    motif repeats (an answering phrase varies its last notes), each phrase ending in a rest."""
    meter = grid.meter
    steps = phrase_bars * meter.steps_per_bar
    rhythm = motif_rhythm(rng, steps, meter.steps_per_beat, density)
    notes = []
    for phrase_start in range(first_bar, first_bar + bars, phrase_bars):
        if phrase_start + phrase_bars > first_bar + bars:
            break
        chords = [chord_at(phrase_start + on // meter.steps_per_bar, on % meter.steps_per_bar) for on, _ in rhythm]
        pitches = phrase_pitches(rng, rhythm, chords, key, register[0], register[1], meter.steps_per_beat)
        for (onset, length), pitch in zip(rhythm, pitches, strict=True):
            start = grid.time(phrase_start, onset) + float(rng.normal(0.0, 0.006))
            duration = length * grid.step * float(rng.uniform(0.8, 0.97))
            velocity = int(np.clip(70 + 40 * energy + rng.normal(0, 6), 30, 127))
            notes.append(Note(max(0.0, start), duration, pitch, velocity))
        if rng.random() < 0.3:  # a new motif now and then, as verses develop
            rhythm = motif_rhythm(rng, steps, meter.steps_per_beat, density)
    return notes


def harmony_line(notes: Sequence[Note], key: Key, rng: np.random.Generator, share: float) -> list[Note]:
    """A harmony a diatonic third above the lead on a `share` of its phrases (split at rests)."""
    scale = sorted(key.pitch_classes())
    phrases: list[list[Note]] = []
    for note in notes:
        if not phrases or note.start - phrases[-1][-1].end > 0.25:
            phrases.append([])
        phrases[-1].append(note)
    harmony = []
    for phrase in phrases:
        if rng.random() < share:
            harmony.extend(
                Note(n.start, n.duration, _scale_step(n.pitch, 2, scale), max(1, n.velocity - 12)) for n in phrase
            )
    return harmony
