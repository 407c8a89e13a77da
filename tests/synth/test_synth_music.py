"""Procedural songs of `cunet synth`: a pure function of the seed, with real song structure."""

import numpy as np
import pytest

from cunet.musdb import STEMS
from cunet.synth import drums
from cunet.synth.grid import METERS
from cunet.synth.harmony import MODES, NOTE_NAMES, Key
from cunet.synth.music import compose, song_form

SONGS = [compose(np.random.default_rng(seed), 150.0) for seed in range(24)]


def test_same_seed_same_song():
    again = compose(np.random.default_rng(3), 150.0)
    assert again == SONGS[3]
    assert compose(np.random.default_rng(4), 150.0) != SONGS[3]


def test_songs_vary_in_tempo_meter_key_style_and_instruments():
    assert all(50 <= song.tempo <= 180 for song in SONGS)
    assert len({song.meter for song in SONGS}) >= 3
    assert len({song.style for song in SONGS}) >= 5
    assert len({(song.key, song.mode) for song in SONGS}) >= 10
    other_programs = {p.program for song in SONGS for p in song.parts if p.stem == "other"}
    bass_programs = {p.program for song in SONGS for p in song.parts if p.stem == "bass"}
    assert len(other_programs) >= 15 and len(bass_programs) >= 4


def test_sections_tile_the_song_and_notes_stay_inside():
    for song in SONGS:
        sections = song.sections
        assert sections[0].start == 0 and sections[-1].end >= song.length - 1e-9
        assert all(a.end == pytest.approx(b.start) for a, b in zip(sections, sections[1:]))
        assert {"verse", "chorus"} <= {s.name for s in sections}
        assert {s.stem for s in song.parts} <= set(STEMS)
        for part in song.parts:
            assert all(
                0 <= n.start < sections[-1].end + 1 and n.duration > 0 and 1 <= n.velocity <= 127 for n in part.notes
            ), part.name


def test_stems_fall_silent_for_whole_sections():
    silent = 0
    for song in SONGS:
        for stem in ("vocals", "drums", "bass"):
            notes = [n for p in song.parts if p.stem == stem for n in p.notes]
            for section in song.sections:
                if not any(section.start <= n.start < section.end for n in notes):
                    silent += 1
    assert silent >= len(SONGS)  # about one silent stem-section per song or more


def test_bass_follows_the_harmony_and_the_lead_is_singable():
    for song in SONGS:
        key = Key(tonic=NOTE_NAMES.index(song.key), mode=song.mode)
        (bass,) = [p for p in song.parts if p.stem == "bass"]
        in_key = np.mean([n.pitch % 12 in key.pitch_classes() for n in bass.notes])
        # a walking bass approaches the next root chromatically now and then
        assert in_key > (0.8 if bass.role == "walking" else 0.97), (song.key, song.mode, bass.role, in_key)
        assert all(28 <= n.pitch <= 60 for n in bass.notes)
        for lead in (p for p in song.parts if p.role == "lead"):
            starts = [n.start for n in lead.notes]
            assert starts == sorted(starts)
            assert all(a.end <= b.start + 0.03 for a, b in zip(lead.notes, lead.notes[1:]))
            assert len(lead.notes) >= 10


def test_drum_grooves_use_general_midi_drum_keys_with_fills():
    drum_keys = set(range(35, 82))
    for song in SONGS:
        (part,) = [p for p in song.parts if p.drums]
        assert {n.pitch for n in part.notes} <= drum_keys
        assert {drums.KICK} <= {n.pitch for n in part.notes}
    tom_songs = sum(any(n.pitch in drums.TOMS for p in s.parts if p.drums for n in p.notes) for s in SONGS)
    assert tom_songs >= len(SONGS) // 2
    for meter in METERS.values():
        assert drums.styles_for(meter), meter.name


def test_form_covers_any_length():
    rng = np.random.default_rng(0)
    for total in (1, 2, 3, 7, 16, 41, 120):
        form = song_form(rng, total, 2.0)
        assert sum(bars for _, bars in form) == total
        assert form[-1][0] == "outro" or total < 2


def test_modes_are_seven_note_scales():
    assert all(len(steps) == 7 and steps[0] == 0 for steps in MODES.values())
