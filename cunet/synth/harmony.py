"""Keys, modes, diatonic chords and chord progressions for procedural songs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
MODE_WEIGHTS = {"major": 0.42, "minor": 0.3, "dorian": 0.1, "mixolydian": 0.1, "harmonic minor": 0.05, "phrygian": 0.03}
# Progressions as 0-based scale degrees, one chord per harmonic step.
_MAJOR_PROGRESSIONS = (
    (0, 4, 5, 3),
    (0, 5, 3, 4),
    (0, 3, 4, 4),
    (5, 3, 0, 4),
    (0, 3, 0, 4),
    (1, 4, 0, 0),
    (0, 2, 3, 4),
    (3, 0, 4, 5),
    (0, 4, 3, 3),
    (0, 5, 1, 4),
    (3, 4, 2, 5),
    (0, 0, 3, 4),
)
_MINOR_PROGRESSIONS = (
    (0, 5, 2, 6),
    (0, 3, 4, 0),
    (0, 6, 5, 6),
    (0, 3, 6, 2),
    (0, 5, 3, 4),
    (5, 6, 0, 0),
    (0, 2, 6, 3),
    (0, 0, 5, 4),
    (3, 0, 6, 4),
    (0, 6, 5, 4),
)


@dataclass(frozen=True)
class Key:
    """A tonic pitch class (0 = C) and a mode (a name of `MODES`)."""

    tonic: int
    mode: str

    @property
    def scale(self) -> tuple[int, ...]:
        return MODES[self.mode]

    @property
    def name(self) -> str:
        return NOTE_NAMES[self.tonic]

    def pitch_classes(self) -> set[int]:
        return {(self.tonic + step) % 12 for step in self.scale}

    def degree_pitch(self, degree: int, octave: int) -> int:
        """MIDI pitch of scale `degree` (any integer; 7 is the tonic an octave up) in `octave`
        (MIDI octave numbering: C4 = 60)."""
        steps, extra = divmod(degree, 7)
        return 12 * (octave + 1 + steps) + self.tonic + self.scale[extra]

    def chord(self, degree: int, sevenths: bool = False) -> Chord:
        """The diatonic triad (or seventh chord) on scale `degree`."""
        stack = (0, 2, 4, 6) if sevenths else (0, 2, 4)
        root = (self.tonic + self.scale[degree % 7]) % 12
        tones = tuple((self.degree_pitch(degree + s, 4) - self.degree_pitch(degree, 4)) for s in stack)
        return Chord(root=root, intervals=tones, degree=degree % 7)


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class and intervals in semitones above it (0 first)."""

    root: int
    intervals: tuple[int, ...]
    degree: int = 0

    @property
    def pitch_classes(self) -> list[int]:
        return [(self.root + i) % 12 for i in self.intervals]

    def bass_pitch(self, low: int = 28, high: int = 52) -> int:
        """The root in the bass register [low, high), nearest to E1-E2."""
        pitch = low + (self.root - low) % 12
        return pitch if pitch < high else pitch - 12

    def voicing(self, center: int, count: int = 4) -> list[int]:
        """`count` chord tones stacked from the lowest chord tone at or above `center` - 6."""
        pitch = center - 6
        while pitch % 12 not in self.pitch_classes:
            pitch += 1
        notes = []
        while len(notes) < count:
            if pitch % 12 in self.pitch_classes:
                notes.append(pitch)
            pitch += 1
        return notes

    def nearest_tone(self, pitch: int) -> int:
        """The chord tone nearest to `pitch`."""
        for distance in range(12):
            for candidate in (pitch - distance, pitch + distance):
                if candidate % 12 in self.pitch_classes:
                    return candidate
        return pitch


def random_key(rng: np.random.Generator) -> Key:
    modes = list(MODE_WEIGHTS)
    weights = np.array([MODE_WEIGHTS[m] for m in modes])
    return Key(tonic=int(rng.integers(12)), mode=modes[rng.choice(len(modes), p=weights / weights.sum())])


def random_progression(rng: np.random.Generator, key: Key, sevenths: bool) -> list[Chord]:
    """A four-chord progression suited to the key's mode, sometimes with seventh chords."""
    minor_like = key.scale[2] == 3
    table = _MINOR_PROGRESSIONS if minor_like else _MAJOR_PROGRESSIONS
    degrees = table[rng.integers(len(table))]
    return [key.chord(d, sevenths=sevenths and rng.random() < 0.6) for d in degrees]
