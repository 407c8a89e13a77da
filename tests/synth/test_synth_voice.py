"""The sung voice of `cunet synth`: pitch, timing, silence, determinism and the singer settings."""

import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest

from cunet.errors import CunetError
from cunet.synth import speech
from cunet.synth.intonation import Intonation, pitch_contour
from cunet.synth.lyrics import lyric_lines, vocabulary
from cunet.synth.notes import Note
from cunet.synth.voice import (
    PEAK,
    RELEASE_SECONDS,
    VoiceSpec,
    in_range,
    melody,
    phrases,
    random_voice,
    sing,
    syllable_units,
)

RATE = 16000
try:
    import pyworld
except ImportError:
    pyworld = None
if shutil.which("espeak-ng") is None:
    MISSING = "espeak-ng is not installed (sudo apt-get install espeak-ng)"
elif pyworld is None:
    MISSING = "pyworld is not installed (pip install 'cunet[synth]')"
else:
    MISSING = ""
needs_voice = pytest.mark.skipif(bool(MISSING), reason=MISSING or "espeak-ng and pyworld found")

# Two phrases of a tenor melody, 1.3 s apart, a short rest (1.05-1.3 s) inside the first.
PHRASE_ONE = [
    Note(0.3, 0.45, 57),
    Note(0.8, 0.25, 60),
    Note(1.3, 0.7, 64),
    Note(2.05, 0.45, 62),
]
PHRASE_TWO = [Note(3.8, 0.4, 55), Note(4.25, 0.4, 59), Note(4.7, 1.0, 62)]
MELODY = PHRASE_ONE + PHRASE_TWO
STEADY = VoiceSpec(
    vibrato_depth=0.0,
    drift_cents=0.0,
    scoop_probability=0.0,
    looseness=0.0,
    breath_probability=0.0,
)


def pitch_errors(audio: np.ndarray, notes, rate: int = RATE):
    """Cents between the sung f0 (WORLD DIO + StoneMask) and the written pitch in the middle of
    each note, and the fraction of those frames that are voiced."""
    audio = audio.astype(np.float64)
    f0, times = pyworld.dio(audio, rate, f0_floor=70.0, f0_ceil=1000.0)
    f0 = pyworld.stonemask(audio, f0, times, rate)
    target = np.zeros_like(f0)
    for note in notes:
        core = (times >= note.start + 0.08) & (times < note.end - 0.08)
        target[core] = 440.0 * 2 ** ((note.pitch - 69) / 12)
    voiced = (f0 > 0) & (target > 0)
    cents = 1200 * np.log2(f0[voiced] / target[voiced])
    return np.abs(cents), voiced.sum() / max(1, (target > 0).sum())


@pytest.fixture(scope="module")
def steady_song():
    """MELODY sung without vibrato, drift, scoops, breaths or timing looseness, at RATE."""
    if MISSING:
        pytest.skip(MISSING)
    return sing(MELODY, RATE, STEADY, seed=3)


def test_the_voice_sings_the_written_pitches_and_stays_silent_between_phrases(steady_song):
    audio = steady_song
    cents, voiced = pitch_errors(audio, MELODY)
    assert voiced > 0.8
    assert np.median(cents) < 20
    assert np.percentile(cents, 90) < 60
    between_phrases = audio[int(2.75 * RATE) : int(3.7 * RATE)]
    assert np.max(np.abs(between_phrases)) < 1e-3 * PEAK
    rest = audio[int(1.08 * RATE) : int(1.15 * RATE)]
    assert np.max(np.abs(rest)) < 1e-3 * PEAK
    assert np.sqrt(np.mean(audio[int(1.3 * RATE) : int(2.0 * RATE)] ** 2)) > 0.05


def test_vibrato_and_glides_stay_around_the_notes(steady_song):
    lively = VoiceSpec(vibrato_depth=50.0, glide_time=0.12, scoop_probability=1.0, drift_cents=10.0)
    audio = sing(MELODY, RATE, lively, seed=3)
    cents, voiced = pitch_errors(audio, MELODY)
    assert voiced > 0.8
    assert 10 < np.median(cents) < 60
    steady_cents, _ = pitch_errors(steady_song, MELODY)
    assert np.std(cents) > np.std(steady_cents)


@needs_voice
def test_sing_is_deterministic_sized_and_normalized():
    voice = random_voice(np.random.default_rng(7))
    notes = in_range(PHRASE_ONE, voice)
    first = sing(notes, 22050, voice, seed=11)
    again = sing(notes, 22050, voice, seed=11)
    other = sing(notes, 22050, voice, seed=12)
    assert first.dtype == np.float32
    assert len(first) == math.ceil(2.5 * 22050) + math.ceil(RELEASE_SECONDS * 22050)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.all(np.isfinite(first))
    assert np.max(np.abs(first)) == pytest.approx(PEAK, rel=1e-3)


@needs_voice
def test_a_breath_comes_just_before_a_phrase_and_nowhere_else():
    audio = sing(MELODY, RATE, VoiceSpec(breath_probability=1.0, breath_level_db=-20.0), seed=5)
    before = audio[int(3.35 * RATE) : int(3.75 * RATE)]
    earlier = audio[int(2.75 * RATE) : int(3.15 * RATE)]
    assert np.sqrt(np.mean(before**2)) > 1e-3
    assert np.max(np.abs(earlier)) < 1e-3 * PEAK


@needs_voice
def test_a_chord_is_sung_as_its_highest_note():
    chord = [Note(0.2, 1.2, 48), Note(0.2, 1.2, 55), Note(0.2, 1.2, 64)]
    audio = sing(chord, RATE, STEADY, seed=1)
    cents, voiced = pitch_errors(audio, [chord[-1]])
    assert voiced > 0.8 and np.median(cents) < 20


@needs_voice
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_singers_sing_in_their_language_and_range(seed):
    voice = random_voice(np.random.default_rng(seed))
    notes = in_range([Note(0.1, 0.4, 62), Note(0.5, 0.4, 64), Note(0.9, 0.6, 67)], voice)
    assert all(voice.low - 2 <= n.pitch <= voice.high + 2 for n in notes)
    audio = sing(notes, RATE, voice, seed=seed)
    cents, voiced = pitch_errors(audio, notes)
    assert voiced > 0.6 and np.median(cents) < 80


@needs_voice
def test_one_espeak_call_speaks_every_syllable_apart(monkeypatch):
    texts = ["love", "stop", "night", "a"]
    together = speech.speak(texts, "en-us+f2", 120)
    assert len(together) == len(texts)
    assert all(0.1 < len(piece) / speech.WORLD_RATE < 0.9 for piece in together)
    monkeypatch.setattr(speech, "_split_at_breaks", lambda audio, count: None)
    one_by_one = speech.speak(texts, "en-us+f2", 120)
    lengths = np.array([len(p) for p in together]) / np.array([len(p) for p in one_by_one])
    assert np.all((0.5 < lengths) & (lengths < 1.5))  # alone, a word is lengthened as clause-final
    with pytest.raises(CunetError, match="xx-nowhere"):
        speech.speak(texts, "xx-nowhere", 120)


def test_sing_without_espeak_names_the_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CunetError, match=r"sudo apt-get install espeak-ng"):
        sing(MELODY, RATE, VoiceSpec(), seed=0)
    monkeypatch.setattr(speech, "ESPEAK", "espeak-ng-not-here")
    with pytest.raises(CunetError, match=r"espeak-ng"):
        sing(MELODY, RATE, VoiceSpec(), seed=0)


def test_voice_settings_round_trip_through_json():
    rng = np.random.default_rng(0)
    voices = [random_voice(rng) for _ in range(20)]
    for voice in voices:
        assert VoiceSpec.from_dict(json.loads(json.dumps(voice.to_dict()))) == voice
        assert voice.low + 12 <= voice.high
    assert len({v.espeak_voice for v in voices}) > 5
    assert min(v.low for v in voices) < 48 and max(v.high for v in voices) > 72
    with pytest.raises(CunetError, match="vibrato_speed"):
        VoiceSpec.from_dict({**VoiceSpec().to_dict(), "vibrato_speed": 5.0})


def test_in_range_moves_melodies_by_whole_octaves_into_the_singers_range():
    bass = VoiceSpec(low=40, high=60)
    soprano = VoiceSpec(low=60, high=79)
    high_tune = [Note(0.5 * i, 0.5, p) for i, p in enumerate([76, 79, 83, 81, 84])]
    assert [n.pitch for n in in_range(high_tune, bass)] == [40, 43, 47, 45, 48]
    assert [n.pitch for n in in_range(high_tune, soprano)] == [64, 67, 71, 69, 72]
    assert [n.start for n in in_range(high_tune, bass)] == [n.start for n in high_tune]


def test_the_melody_is_one_line():
    notes = [
        Note(0.0, 1.0, 60),
        Note(0.0, 1.0, 67),
        Note(0.5, 1.0, 62),
        Note(2.0, 0.01, 70),
    ]
    line = melody(notes)
    assert [(n.start, n.duration, n.pitch) for n in line] == [
        (0.0, 0.5, 67),
        (0.5, 1.0, 62),
    ]


def test_the_pitch_contour_glides_without_jumps_and_holds_the_notes():
    style = Intonation(0.08, 0.0, 80.0, 5.5, 60.0, 0.2, 0.0)
    onsets, ends, pitches = np.array([0, 100, 200]), np.array([100, 200, 300]), np.array([60, 64, 62])
    for seed in range(5):
        contour = pitch_contour(onsets, ends, pitches, 320, 0.005, style, np.random.default_rng(seed))
        assert np.max(np.abs(np.diff(contour))) < 0.45  # a 4-semitone glide over 80 ms, eased
        for onset, end, pitch in zip(onsets, ends, pitches):
            assert abs(np.mean(contour[onset + 20 : end - 10]) - pitch) < 0.15
            assert np.max(np.abs(contour[onset + 20 : end - 10] - pitch)) < 0.8


def test_phrases_end_at_long_rests_and_at_twenty_seconds():
    tune = [Note(0.0, 0.5, 60), Note(0.7, 0.5, 62), Note(1.6, 0.5, 64)]
    assert [len(p) for p in phrases(tune)] == [2, 1]
    unbroken = [Note(0.5 * i, 0.5, 60) for i in range(100)]
    assert [len(p) for p in phrases(unbroken)] == [40, 40, 20]


def test_melismas_carry_one_syllable_over_legato_notes_only():
    legato = [Note(0.5 * i, 0.5, 60 + i) for i in range(6)]
    detached = [Note(0.5 * i, 0.3, 60 + i) for i in range(6)]
    rng = np.random.default_rng(0)
    units = syllable_units(legato, 1.0, rng)
    assert [n for unit in units for n in unit] == legato
    assert all(2 <= len(unit) <= 3 for unit in units[:-1])
    assert [len(unit) for unit in syllable_units(detached, 1.0, rng)] == [1] * 6
    assert [len(unit) for unit in syllable_units(legato, 0.0, rng)] == [1] * 6


@needs_voice
def test_a_melisma_follows_every_note_it_carries():
    legato = [Note(0.2 + 0.35 * i, 0.35, p) for i, p in enumerate([60, 62, 64, 65, 67, 65])]
    audio = sing(legato, RATE, replace(STEADY, melisma_probability=1.0), seed=2)
    cents, voiced = pitch_errors(audio, legato)
    assert voiced > 0.8 and np.median(cents) < 25


def test_lyrics_fill_each_phrase_with_whole_words():
    rng = np.random.default_rng(3)
    lines = lyric_lines(rng, "en-us", [1, 4, 7, 2])
    assert [len(line) for line in lines] == [1, 4, 7, 2]
    syllables = {s for word in vocabulary("en-us") for s in word}
    assert all(s in syllables for line in lines for s in line)
    assert lines == lyric_lines(np.random.default_rng(3), "en-us", [1, 4, 7, 2])
    assert vocabulary("es-419") != vocabulary("en-gb")
