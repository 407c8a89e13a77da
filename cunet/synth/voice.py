"""The sung voice: espeak-ng syllables of lyric-like text re-pitched and stretched onto a melody
with the WORLD vocoder (pyworld), with glides, vibrato, breaths and a choice of singers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from cunet.errors import CunetError
from cunet.synth.intonation import Intonation, pitch_contour
from cunet.synth.lyrics import lyric_lines
from cunet.synth.notes import Note
from cunet.synth.speech import (
    FRAME_PERIOD_MS,
    HOP,
    WORLD_RATE,
    Syllable,
    analyse,
    import_pyworld,
    require_espeak,
    speak,
    stretch_positions,
)

RELEASE_SECONDS = 0.25  # what `sing` adds after the last note's end
PHRASE_GAP = 0.3  # a longer rest ends a phrase (and leaves room for a breath)
PEAK = 0.5
_DT = FRAME_PERIOD_MS / 1000
_SILENT_LOG_POWER = -36.0


@dataclass(frozen=True)
class VoiceSpec:
    """A singer. `language` and `variant` pick the espeak-ng voice ("en-us" + "f2" -> "en-us+f2");
    `low`/`high`: comfortable MIDI range (a caller transposes melodies by octaves into it);
    `formant_shift`: spectral-envelope warp (>1 brighter and smaller, <1 darker and larger);
    `speed`: espeak-ng words per minute; `breathiness`: 0-1 noise added to the voiced sound;
    `breath_level_db`/`breath_probability`: the audible breath before a phrase; `looseness`:
    standard deviation (s) of syllable onsets around the beat; `melisma_probability`: chance that
    a syllable is carried over 2-3 notes. The other fields are those of `Intonation`."""

    language: str = "en-us"
    variant: str = "m3"
    low: int = 48
    high: int = 69
    formant_shift: float = 1.0
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
            raise CunetError(
                f"unknown voice setting {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
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
    variant = f"f{rng.integers(1, 6)}" if female else f"m{rng.integers(1, 9)}"
    return VoiceSpec(
        language=str(rng.choice(_LANGUAGES)),
        variant=variant,
        low=int(low),
        high=int(high),
        formant_shift=float(
            rng.uniform(1.0, 1.14) if female else rng.uniform(0.9, 1.04)
        ),
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
    short where the next one starts, fragments under 30 ms dropped."""
    ordered = sorted(
        (n for n in notes if n.duration > 0), key=lambda n: (n.start, -n.pitch)
    )
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
    """The line split at rests longer than PHRASE_GAP."""
    groups: list[list[Note]] = []
    for note in line:
        if groups and note.start - groups[-1][-1].end <= PHRASE_GAP:
            groups[-1].append(note)
        else:
            groups.append([note])
    return groups


def syllable_units(
    phrase: Sequence[Note], melisma: float, rng: np.random.Generator
) -> list[list[Note]]:
    """The notes of a phrase grouped by syllable: mostly one note each, sometimes 2-3 legato notes."""
    units: list[list[Note]] = []
    i = 0
    while i < len(phrase):
        size = 1
        if rng.random() < melisma:
            size = int(rng.integers(2, 4))
            while size > 1 and (
                i + size > len(phrase)
                or any(
                    phrase[j + 1].start - phrase[j].end > 0.05
                    for j in range(i, i + size - 1)
                )
            ):
                size -= 1
        units.append(list(phrase[i : i + size]))
        i += size
    return units


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
        first_frame, audio = _render_phrase(
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


def _render_phrase(
    units, syllables: Sequence[Syllable], voice: VoiceSpec, rest: float, rng
):
    """One phrase at WORLD_RATE: (first frame index, audio), the audio starting at that frame."""
    pyworld = import_pyworld()
    starts, ends = _unit_frames(units, voice.looseness, rng)
    breath, lead = _breath_frames(rest, voice, rng)
    breath = min(breath, max(0, int(starts[0]) - lead - 2))
    first = max(0, int(starts[0]) - breath - lead - 2)
    total = int(ends[-1]) + round(0.1 / _DT) - first
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
