"""The sung voice: espeak-ng syllables of lyric-like text re-pitched and stretched onto a melody
with the WORLD vocoder (pyworld), with glides, vibrato, breaths and a choice of singers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from cunet.errors import CunetError
from cunet.synth.intonation import Intonation
from cunet.synth.lyrics import lyric_lines
from cunet.synth.notes import Note
from cunet.synth.singing import render_phrase
from cunet.synth.speech import (
    HOP,
    WORLD_RATE,
    analyse,
    require_espeak,
    speak,
)

RELEASE_SECONDS = 0.25  # what `sing` adds after the last note's end
PHRASE_GAP = 0.3  # a longer rest ends a phrase (and leaves room for a breath)
MAX_PHRASE_SECONDS = 20.0
PEAK = 0.5


@dataclass(frozen=True)
class VoiceSpec:
    """A singer. `language` and `variant` pick the espeak-ng voice ("en-us" + "f2" -> "en-us+f2");
    `low`/`high`: comfortable MIDI range (a caller transposes melodies by octaves into it);
    `formant_shift`: spectral-envelope warp (>1 brighter and smaller, <1 darker and larger);
    `tilt_db`: spectral slope added above 1 kHz, in dB per octave (>0 brighter, <0 darker);
    `speed`: espeak-ng words per minute; `breathiness`: 0-1 noise added to the voiced sound;
    `breath_level_db`/`breath_probability`: the audible breath before a phrase; `looseness`:
    standard deviation (s) of syllable onsets around the beat; `melisma_probability`: chance that
    a syllable is carried over 2-3 notes. The other fields are those of `Intonation`."""

    language: str = "en-us"
    variant: str = "m3"
    low: int = 48
    high: int = 69
    formant_shift: float = 1.0
    tilt_db: float = 0.0
    speed: int = 120
    glide_time: float = 0.08
    scoop_probability: float = 0.3
    scoop_cents: float = 80.0
    vibrato_rate: float = 5.5
    vibrato_depth: float = 35.0
    vibrato_delay: float = 0.2
    drift_cents: float = 8.0
    breathiness: float = 0.1
    breath_level_db: float = -24.0
    breath_probability: float = 0.5
    looseness: float = 0.015
    melisma_probability: float = 0.1

    @property
    def espeak_voice(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language

    @property
    def intonation(self) -> Intonation:
        return Intonation(**{f.name: getattr(self, f.name) for f in fields(Intonation)})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> VoiceSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CunetError(f"unknown voice setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return cls(**data)


# (low, high, female) comfortable ranges: bass, baritone, tenor, alto, mezzo-soprano, soprano
_RANGES = (
    (40, 60, False),
    (45, 65, False),
    (48, 69, False),
    (53, 72, True),
    (57, 76, True),
    (60, 79, True),
)
# espeak-ng 1.51 voice variants that sing well (the numbered ones and named ones, by gender)
_FEMALE = "f1 f2 f3 f4 f5 Alicia Andrea Annie aunty belinda linda steph steph2 steph3 anika"
_MALE = (
    "m1 m2 m3 m4 m5 m6 m7 m8 adam Alex Andy benjamin caleb david ed edward john max Michael "
    "paul rob robert klatt klatt2 klatt3 klatt4 norbert victor travis iven shelby zac Lee"
)
_LANGUAGES = (
    "en-us",
    "en-us",
    "en-us",
    "en-gb",
    "en-gb",
    "es",
    "it",
    "de",
    "fr-fr",
    "pt-br",
)


def random_voice(rng: np.random.Generator) -> VoiceSpec:
    """A random singer: range, language, timbre and style drawn from `rng`."""
    low, high, female = _RANGES[rng.integers(len(_RANGES))]
    variants = (_FEMALE if female else _MALE).split()
    variant = variants[rng.integers(len(variants))]
    return VoiceSpec(
        language=str(rng.choice(_LANGUAGES)),
        variant=variant,
        low=int(low),
        high=int(high),
        formant_shift=float(rng.uniform(1.0, 1.14) if female else rng.uniform(0.9, 1.04)),
        tilt_db=float(rng.uniform(-2.5, 2.5)),
        speed=int(rng.integers(100, 150)),
        glide_time=float(rng.uniform(0.04, 0.14)),
        scoop_probability=float(rng.uniform(0.0, 0.6)),
        scoop_cents=float(rng.uniform(40, 150)),
        vibrato_rate=float(rng.uniform(4.5, 6.8)),
        vibrato_depth=float(rng.uniform(0, 70)),
        vibrato_delay=float(rng.uniform(0.1, 0.35)),
        drift_cents=float(rng.uniform(0, 15)),
        breathiness=float(rng.uniform(0.0, 0.5)),
        breath_level_db=float(rng.uniform(-34, -16)),
        breath_probability=float(rng.uniform(0.2, 0.9)),
        looseness=float(rng.uniform(0.0, 0.035)),
        melisma_probability=float(rng.uniform(0.0, 0.25)),
    )


def melody(notes: Sequence[Note]) -> list[Note]:
    """`notes` as one singable line: sorted, the highest of notes starting together, a note cut
    short where the next one starts, fragments under 30 ms and anything before 0 s dropped."""
    audible = (replace(n, start=0.0, duration=n.end) if n.start < 0 else n for n in notes)
    ordered = sorted((n for n in audible if n.duration > 0), key=lambda n: (n.start, -n.pitch))
    line: list[Note] = []
    for note in ordered:
        if line and note.start - line[-1].start < 1e-6:
            continue
        if line and note.start < line[-1].end:
            cut = line[-1]
            line[-1] = Note(cut.start, note.start - cut.start, cut.pitch, cut.velocity)
        line.append(note)
    return [n for n in line if n.duration >= 0.03]


def phrases(line: Sequence[Note]) -> list[list[Note]]:
    """The line split at rests longer than PHRASE_GAP, and before a note that would make a phrase
    longer than MAX_PHRASE_SECONDS (which bounds the memory of one phrase's vocoder frames)."""
    groups: list[list[Note]] = []
    for note in line:
        if (
            groups
            and note.start - groups[-1][-1].end <= PHRASE_GAP
            and note.end - groups[-1][0].start <= MAX_PHRASE_SECONDS
        ):
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


def syllable_units(phrase: Sequence[Note], melisma: float, rng: np.random.Generator) -> list[list[Note]]:
    """The notes of a phrase grouped by syllable: mostly one note each, sometimes 2-3 legato notes."""
    units: list[list[Note]] = []
    i = 0
    while i < len(phrase):
        size = 1
        if rng.random() < melisma:
            size = int(rng.integers(2, 4))
            while size > 1 and (
                i + size > len(phrase)
                or any(phrase[j + 1].start - phrase[j].end > 0.05 for j in range(i, i + size - 1))
            ):
                size -= 1
        units.append(list(phrase[i : i + size]))
        i += size
    return units


def in_range(notes: Sequence[Note], voice: VoiceSpec) -> list[Note]:
    """`notes` moved by whole octaves to fit `voice.low`..`voice.high` best (fewest notes outside,
    then the median nearest the middle of the range)."""
    if not notes:
        return []
    pitches = np.array([n.pitch for n in notes])
    middle = (voice.low + voice.high) / 2

    def misfit(octaves: int) -> tuple[int, float]:
        moved = pitches + 12 * octaves
        outside = int(np.sum((moved < voice.low) | (moved > voice.high)))
        return outside, abs(float(np.median(moved)) - middle)

    best = min(range(-4, 5), key=misfit)
    return [replace(n, pitch=int(np.clip(n.pitch + 12 * best, 0, 127))) for n in notes]


def sing(notes: Sequence[Note], rate: int, voice: VoiceSpec, seed: int) -> np.ndarray:
    """The melody `notes` sung by `voice`: (samples,) float32 at `rate`, ceil(last end * rate)
    + RELEASE_SECONDS long, peak PEAK (silent if there is nothing to sing). Deterministic."""
    require_espeak()
    line = melody(notes)
    end = max((n.end for n in notes), default=0.0)
    length = math.ceil(end * rate) + math.ceil(RELEASE_SECONDS * rate)
    if not line:
        return np.zeros(length, np.float32)
    rng = np.random.default_rng(seed)
    groups = [syllable_units(p, voice.melisma_probability, rng) for p in phrases(line)]
    lines = lyric_lines(rng, voice.language, [len(units) for units in groups])
    distinct = sorted({s for words in lines for s in words})
    spoken = speak(distinct, voice.espeak_voice, voice.speed)
    syllables = {text: analyse(audio) for text, audio in zip(distinct, spoken)}
    world = np.zeros(math.ceil((end + RELEASE_SECONDS) * WORLD_RATE) + HOP)
    previous_end = 0.0
    for units, words in zip(groups, lines):
        first_frame, audio = render_phrase(
            units,
            [syllables[w] for w in words],
            voice,
            units[0][0].start - previous_end,
            rng,
        )
        place = first_frame * HOP
        if place < len(world):
            piece = audio[: len(world) - place]
            world[place : place + len(piece)] += piece
        previous_end = units[-1][-1].end
    return _finish(world, rate, length)


def _finish(world: np.ndarray, rate: int, length: int) -> np.ndarray:
    import soxr

    audio = soxr.resample(world, WORLD_RATE, rate) if rate != WORLD_RATE else world
    audio = np.pad(audio[:length], (0, max(0, length - len(audio))))
    peak = np.max(np.abs(audio))
    if peak > 0:
        audio = audio * (PEAK / peak)
    return audio.astype(np.float32)
