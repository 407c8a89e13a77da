"""Procedural songs from a seed: form, harmony, drums, bass, accompaniment and a lead melody."""

from __future__ import annotations

import math

import numpy as np

from cunet.synth import accompaniment, drums
from cunet.synth.grid import METER_WEIGHTS, METERS, Grid
from cunet.synth.harmony import Chord, Key, random_key, random_progression
from cunet.synth.melody import harmony_line, melody
from cunet.synth.song import Part, Section, Song

_ENERGY = {"intro": 0.45, "verse": 0.62, "chorus": 0.9, "bridge": 0.58, "outro": 0.48}
# Chance that a stem's part plays in a section: stems fall silent for whole sections as in songs.
_PLAYS = {
    "vocals": {"intro": 0.1, "verse": 0.88, "chorus": 0.96, "bridge": 0.6, "outro": 0.4},
    "drums": {"intro": 0.45, "verse": 0.9, "chorus": 0.97, "bridge": 0.7, "outro": 0.6},
    "bass": {"intro": 0.45, "verse": 0.92, "chorus": 0.97, "bridge": 0.75, "outro": 0.6},
    "other": {"intro": 0.8, "verse": 0.7, "chorus": 0.85, "bridge": 0.75, "outro": 0.75},
}
# GM programs of the accompaniment roles ("other" stem) and of the bass.
ROLE_PROGRAMS = {
    "block": (0, 1, 2, 4, 5, 7, 16, 17, 18, 24, 25, 26),
    "strum": (24, 25, 25, 26, 27, 28),
    "arpeggio": (0, 4, 5, 6, 8, 11, 12, 24, 46, 80, 81, 98, 107),
    "pad": (48, 49, 50, 51, 88, 89, 90, 91, 92, 94, 95, 19, 16),
    "stabs": (56, 57, 60, 61, 62, 63, 45, 48, 17),
    "power": (29, 30, 30),
    "counter": (40, 56, 65, 66, 68, 71, 73, 80, 81, 22),
}
BASS_PROGRAMS = (32, 33, 33, 34, 35, 36, 37, 38, 39, 43)
VOICE_PROGRAMS = (52, 53, 54, 85)  # choir aahs, voice oohs, synth voice, voice lead
_CENTERS = {"block": 62, "strum": 60, "arpeggio": 67, "pad": 62, "stabs": 67, "power": 52}


def song_form(rng: np.random.Generator, total_bars: int, bar_seconds: float) -> list[tuple[str, int]]:
    """(section name, bars) covering exactly `total_bars` bars: intro, verses and choruses, a
    bridge after the second chorus, and an outro; sections last about as long as in songs
    (verses and choruses 15-25 s, in whole 4-bar phrases) whatever the tempo."""

    def bars(seconds: float, unit: int = 4) -> int:
        return max(unit, int(round(seconds * rng.uniform(0.8, 1.25) / bar_seconds / unit)) * unit)

    intro, outro = bars(8.0, 2), bars(8.0, 2)
    if intro + outro > total_bars // 2:  # a short song: intro, outro and what fits between
        intro = outro = max(1, total_bars // 4)
    body_end = total_bars - outro
    form = [("intro", intro)]
    verse, chorus = bars(20.0), bars(18.0)
    cycle = 0
    while sum(b for _, b in form) < body_end:
        form += [("verse", verse if rng.random() < 0.8 else verse // 2 or verse), ("chorus", chorus)]
        cycle += 1
        if cycle == 2 and rng.random() < 0.75:
            form.append(("bridge", bars(12.0)))
    sections, used = [], 0
    for name, length in form:
        length = min(length, body_end - used)
        if length >= 4 or (name == "intro" and length > 0):  # a shorter tail joins the outro
            sections.append((name, length))
            used += length
    sections.append(("outro", total_bars - used))
    return sections


def compose(rng: np.random.Generator, length: float, sung_share: float = 0.85) -> Song:
    """A song of `length` seconds; `sung_share` of the lead vocals are marked sung (the voice),
    the rest play a GM choir/voice program."""
    meter = METERS[rng.choice(list(METER_WEIGHTS), p=list(METER_WEIGHTS.values()))]
    tempo = float(rng.uniform(60, 180) if not meter.compound else rng.uniform(50, 110))
    grid = Grid(round(tempo, 2), meter)
    key = random_key(rng)
    style = str(rng.choice(drums.styles_for(meter)))
    form = song_form(rng, math.ceil(length / grid.bar), grid.bar)
    harmonic_rate = int(rng.choice((1, 1, 2))) if meter.name == "4/4" else 1
    progressions = {name: random_progression(rng, key, sevenths=rng.random() < 0.35) for name in _ENERGY}
    sections, chords_by_bar, bar = [], [], 0
    for name, bars in form:
        energy = float(np.clip(_ENERGY[name] + rng.normal(0, 0.06), 0.2, 1.0))
        sections.append((Section(name, grid.time(bar), grid.time(bar + bars), round(energy, 3)), bar, bars))
        progression = progressions[name]
        for k in range(bars):
            slot = k * harmonic_rate
            chords_by_bar.append([progression[(slot + i) % len(progression)] for i in range(harmonic_rate)])
        bar += bars
    plays = {stem: [rng.random() < table[s.name] for s, _, _ in sections] for stem, table in _PLAYS.items()}
    parts = [_drum_part(rng, grid, style, sections, plays["drums"])]
    parts.append(_bass_part(rng, grid, sections, chords_by_bar, plays["bass"]))
    parts += _other_parts(rng, grid, sections, chords_by_bar, key)
    parts += _vocal_parts(rng, grid, key, sections, chords_by_bar, plays["vocals"], sung_share)
    return Song(
        length=length,
        parts=tuple(p for p in parts if p.notes),
        tempo=grid.tempo,
        key=key.name,
        mode=key.mode,
        meter=meter.name,
        style=style,
        sections=tuple(s for s, _, _ in sections),
    )


def _drum_part(rng, grid, style, sections, plays) -> Part:
    kit = int(rng.choice(drums.KITS[style]))
    variation = float(rng.uniform(0.0, 0.12))
    notes = []
    for (section, first, bars), on in zip(sections, plays, strict=True):
        if not on:
            continue
        ride = section.name == "chorus" and rng.random() < 0.4
        notes += drums.crash(grid, first, section.energy, rng)
        for bar in range(first, first + bars):
            last = bar == first + bars - 1
            if last and rng.random() < 0.8:
                notes += drums.fill(grid.meter, grid, bar, section.energy, rng)
            else:
                notes += drums.drum_bar(style, grid.meter, grid, bar, section.energy, variation, rng, ride)
        if section.name == "chorus" and rng.random() < 0.3:
            instrument = int(rng.choice((drums.TAMBOURINE, drums.SHAKER)))
            for bar in range(first, first + bars):
                notes += drums.percussion_bar(grid.meter, grid, bar, section.energy * 0.8, rng, instrument)
    return Part("drums", "drums", kit, tuple(sorted(notes, key=lambda n: n.start)), drums=True, role=style)


def _bass_part(rng, grid, sections, chords_by_bar, plays) -> Part:
    program = int(rng.choice(BASS_PROGRAMS))
    pattern = str(rng.choice(accompaniment.BASS_PATTERNS))
    # the song's pattern, though a section type now and then has its own (a busier chorus...)
    by_section = {
        name: pattern if rng.random() < 0.7 else str(rng.choice(accompaniment.BASS_PATTERNS)) for name in _ENERGY
    }
    notes = []
    for (section, first, bars), on in zip(sections, plays, strict=True):
        for bar in range(first, first + bars) if on else ():
            following = chords_by_bar[min(bar + 1, len(chords_by_bar) - 1)][0]
            notes += accompaniment.bass_bar(
                by_section[section.name], grid, bar, chords_by_bar[bar], following, section.energy, rng
            )
    return Part("bass", "bass", program, tuple(notes), role=pattern)


def _other_parts(rng, grid, sections, chords_by_bar, key: Key) -> list[Part]:
    count = int(rng.choice((2, 2, 3, 3, 4)))
    roles = list(rng.choice(accompaniment.ROLES + ("counter",), size=count, replace=False))
    parts = []
    active = [[rng.random() < _PLAYS["other"][s.name] for s, _, _ in sections] for _ in roles]
    for k in range(len(sections)):  # some accompaniment in every section
        if not any(a[k] for a in active):
            active[int(rng.integers(len(roles)))][k] = True
    for role, plays in zip(roles, active, strict=True):
        program = int(rng.choice(ROLE_PROGRAMS[role]))
        notes = []
        if role == "counter":
            for (section, first, bars), on in zip(sections, plays, strict=True):
                if on:
                    notes += melody(
                        rng,
                        grid,
                        key,
                        _chord_lookup(chords_by_bar, grid),
                        first,
                        bars,
                        (67, 86),
                        section.energy * 0.8,
                        2,
                        0.2,
                    )
        else:
            center = _CENTERS[role] + int(rng.integers(-3, 4))
            rhythm = accompaniment.comp_rhythm(role, grid, rng)
            rhythms = {
                name: rhythm if rng.random() < 0.6 else accompaniment.comp_rhythm(role, grid, rng) for name in _ENERGY
            }
            for (section, first, bars), on in zip(sections, plays, strict=True):
                for bar in range(first, first + bars) if on else ():
                    notes += accompaniment.comp_bar(
                        role, grid, bar, chords_by_bar[bar], center, rhythms[section.name], section.energy, rng
                    )
        parts.append(Part(f"{role}", "other", program, tuple(sorted(notes, key=lambda n: n.start)), role=role))
    return parts


def _chord_lookup(chords_by_bar: list[list[Chord]], grid: Grid):
    def chord_at(bar: int, step: int) -> Chord:
        chords = chords_by_bar[min(bar, len(chords_by_bar) - 1)]
        return chords[step * len(chords) // grid.meter.steps_per_bar]

    return chord_at


def _vocal_parts(rng, grid, key, sections, chords_by_bar, plays, sung_share) -> list[Part]:
    if rng.random() < 0.03:  # now and then an instrumental
        return []
    low = int(rng.choice((48, 53, 55, 57)))
    register = (low, low + 17)
    phrase_bars = int(rng.choice((1, 2, 2, 4))) if grid.meter.steps_per_bar <= 12 else int(rng.choice((1, 2, 2)))
    density = float(rng.uniform(0.15, 0.5))
    by_name: dict[str, np.random.Generator] = {}
    lead = []
    for (section, first, bars), on in zip(sections, plays, strict=True):
        if not on:
            continue
        # a section's melody is drawn from a generator kept per section name: choruses repeat
        seed = by_name.setdefault(section.name, np.random.default_rng(int(rng.integers(2**32))))
        state = seed.bit_generator.state
        lead += melody(
            seed,
            grid,
            key,
            _chord_lookup(chords_by_bar, grid),
            first,
            bars,
            register,
            section.energy,
            phrase_bars,
            density,
        )
        seed.bit_generator.state = state
    sung = bool(rng.random() < sung_share)
    program = 0 if sung else int(rng.choice(VOICE_PROGRAMS))
    parts = [Part("lead vocal", "vocals", program, tuple(lead), sung=sung, role="lead")]
    if rng.random() < 0.35:
        harmony = harmony_line(lead, key, rng, share=float(rng.uniform(0.2, 0.6)))
        parts.append(Part("harmony vocal", "vocals", program, tuple(harmony), sung=sung, role="harmony"))
    return parts
