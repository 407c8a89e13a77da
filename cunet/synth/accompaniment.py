"""Bass lines and accompaniment (block chords, strums, arpeggios, pads, stabs, power chords), bar by bar."""

from __future__ import annotations

import numpy as np

from cunet.synth.grid import Grid
from cunet.synth.harmony import Chord
from cunet.synth.notes import Note

BASS_PATTERNS = ("roots", "pulse", "root-fifth", "walking", "syncopated", "octaves")
ROLES = ("block", "strum", "arpeggio", "pad", "stabs", "power")


def _velocity(base: float, energy: float, rng: np.random.Generator) -> int:
    return int(np.clip(base * (0.65 + 0.45 * energy) + rng.normal(0, 5), 1, 127))


def _chord_slots(grid: Grid, chords: list[Chord]) -> list[tuple[int, int, Chord]]:
    """(first step, steps, chord) of each of the bar's chords, which share the bar equally."""
    per = grid.meter.steps_per_bar // len(chords)
    return [(i * per, per, chord) for i, chord in enumerate(chords)]


def bass_bar(
    pattern: str, grid: Grid, bar: int, chords: list[Chord], next_chord: Chord, energy: float, rng: np.random.Generator
) -> list[Note]:
    """One bar of bass following `chords` (pattern one of `BASS_PATTERNS`)."""
    meter = grid.meter
    spb = meter.steps_per_beat
    notes = []
    for first, steps, chord in _chord_slots(grid, chords):
        root = chord.bass_pitch()
        fifth = root + chord.intervals[2]  # the chord's own fifth (diminished, augmented)
        fifth = fifth if fifth < 55 else fifth - 12
        if pattern == "roots":
            hits = [(first, steps, root)]
        elif pattern == "pulse":
            eighth = max(1, spb // 2) if not meter.compound else spb
            hits = [(s, eighth, root) for s in range(first, first + steps, eighth)]
        elif pattern == "root-fifth":
            hits = [(s, spb, root if (s // spb) % 2 == 0 else fifth) for s in range(first, first + steps, spb)]
        elif pattern == "walking":
            approach = next_chord.bass_pitch() + int(rng.choice((-1, 1, 2)))  # chromatic lead-in
            tones = [root, chord.nearest_tone(root + 4), fifth, max(28, approach)]
            hits = [(s, spb, tones[k % 4]) for k, s in enumerate(range(first, first + steps, spb))]
        elif pattern == "octaves":
            half = max(1, spb // 2)
            hits = [(s, half, root + (12 if k % 2 else 0)) for k, s in enumerate(range(first, first + steps, half))]
        else:  # syncopated: a funk figure of roots, octaves and fifths on sixteenths
            hits = [
                (s, 1 + int(rng.integers(2)), int(rng.choice((root, root, root + 12, fifth))))
                for s in range(first, first + steps)
                if s == first or rng.random() < 0.35
            ]
        for step, length, pitch in hits:
            start = grid.time(bar, step) + float(rng.normal(0, 0.004))
            duration = length * grid.step * float(rng.uniform(0.75, 0.95))
            notes.append(Note(max(0.0, start), duration, int(pitch), _velocity(100, energy, rng)))
    return notes


def comp_bar(
    role: str,
    grid: Grid,
    bar: int,
    chords: list[Chord],
    center: int,
    rhythm: list[int],
    energy: float,
    rng: np.random.Generator,
) -> list[Note]:
    """One bar of accompaniment in `role` (one of `ROLES`) around pitch `center`; `rhythm` lists
    the steps of the bar where block chords, strums and stabs hit."""
    notes: list[Note] = []
    for first, steps, chord in _chord_slots(grid, chords):
        onsets = [s for s in rhythm if first <= s < first + steps]
        if role == "pad":
            notes += _chord(grid, bar, first, steps, chord.voicing(center, 4), 0.98, 72, energy, rng)
        elif role == "arpeggio":
            tones = chord.voicing(center, 4)
            order = tones + tones[-2:0:-1]
            rate = max(1, grid.meter.steps_per_beat // 2)
            for k, s in enumerate(range(first, first + steps, rate)):
                notes += _chord(grid, bar, s, rate * 2, [order[k % len(order)]], 0.95, 84, energy, rng)
        elif role == "power":
            root = center - 12 + (chord.root - (center - 12)) % 12
            for s in range(first, first + steps, max(1, grid.meter.steps_per_beat // 2)):
                notes += _chord(grid, bar, s, 2, [root, root + 7, root + 12], 0.85, 100, energy, rng)
        else:
            voicing = chord.voicing(center, 3 if role == "stabs" else 4)
            for i, s in enumerate(onsets):
                end = onsets[i + 1] if i + 1 < len(onsets) else first + steps
                length = 1 if role == "stabs" else end - s
                spread = 0.012 if role == "strum" else 0.0
                order = voicing if (role != "strum" or i % 2 == 0) else voicing[::-1]
                notes += _chord(grid, bar, s, length, order, 0.9, 92, energy, rng, spread)
    return notes


def _chord(
    grid: Grid,
    bar: int,
    step: int,
    steps: int,
    pitches: list[int],
    legato: float,
    base: float,
    energy: float,
    rng: np.random.Generator,
    spread: float = 0.0,
) -> list[Note]:
    start = grid.time(bar, step) + float(rng.normal(0, 0.005))
    duration = steps * grid.step * legato
    velocity = _velocity(base, energy, rng)
    return [Note(max(0.0, start + k * spread), duration, int(p), velocity) for k, p in enumerate(pitches)]


def comp_rhythm(role: str, grid: Grid, rng: np.random.Generator) -> list[int]:
    """The steps of a bar where `role` hits: on beats, off-beats or a syncopated figure."""
    meter = grid.meter
    spb = meter.steps_per_beat
    beats = list(range(0, meter.steps_per_bar, spb))
    if role == "stabs":
        return [b + spb // 2 for b in beats] if rng.random() < 0.5 else [b for b in beats if b]
    figures = [beats, list(range(0, meter.steps_per_bar, max(1, spb // 2)))]
    syncopated = sorted({0, *[s for s in range(meter.steps_per_bar) if rng.random() < 0.25]})
    figures.append(syncopated)
    if role == "strum":
        figures.append([s for s in range(0, meter.steps_per_bar, max(1, spb // 2)) if s % (2 * spb) != spb + spb // 2])
    return figures[rng.integers(len(figures))]
