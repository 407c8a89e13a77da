"""Drum grooves of several styles on a meter's step grid, with fills and crashes (GM drum keys)."""

from __future__ import annotations

import numpy as np

from cunet.synth.grid import Grid, Meter
from cunet.synth.notes import Note

KICK, SIDE_STICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, OPEN_HAT = 36, 37, 38, 39, 42, 44, 46
CRASH, RIDE, TAMBOURINE, SHAKER = 49, 51, 54, 70
TOMS = (50, 48, 47, 45, 43, 41)  # high to low
# Per style and meter: kick, snare, hats (or ride) on the style's grid; "X" accent, "x" normal,
# "g" ghost. A 4/4 shuffle is written in triplets (12 steps), as 12/8.
_SHUFFLE = ("x.....x.x...", "...X.....X..", "x.xx.xx.xx.x")
_GROOVES = {
    ("rock", "4/4"): ("x.......x.x.....", "....X.......X...", "x.x.x.x.x.x.x.x."),
    ("pop", "4/4"): ("x.....x...x.....", "....X.......X...", "x.xxx.xxx.xxx.xx"),
    ("funk", "4/4"): ("x..x..x...x..x..", "..g.X..g.g..X..g", "xxxxxxxxxxxxxxxx"),
    ("halftime", "4/4"): ("x.........x..x..", "........X.......", "x.x.x.x.x.x.x.x."),
    ("electronic", "4/4"): ("x...x...x...x...", "....X.......X...", "..x...x...x...x."),
    ("ballad", "4/4"): ("x.......x.......", "....X.......X...", "x...x...x...x..."),
    ("disco", "4/4"): ("x...x...x...x...", "....X.......X...", "xxxxxxxxxxxxxxxx"),
    ("shuffle", "4/4"): _SHUFFLE,
    ("shuffle", "12/8"): _SHUFFLE,
    ("compound", "12/8"): ("x.....x.....", "...X.....X..", "xxxxxxxxxxxx"),
    ("rock", "3/4"): ("x.......x...", "....X...X...", "x.x.x.x.x.x."),
    ("pop", "3/4"): ("x.....x.....", "....X...X...", "x.x.x.x.x.x."),
    ("waltz", "3/4"): ("x...........", "....x...x...", "x.x.x.x.x.x."),
    ("compound", "6/8"): ("x.....", "...X..", "xxxxxx"),
    ("ballad", "6/8"): ("x.....", "...X..", "x.x.x."),
    ("rock", "5/4"): ("x.....x...x.........", "....X.......X.....X.", "x.x.x.x.x.x.x.x.x.x."),
    ("pop", "5/4"): ("x.......x.....x.....", "....X.......X.......", "x.x.x.x.x.x.x.x.x.x."),
}
_VELOCITY = {"X": 112, "x": 92, "g": 42}
# Drum kits of the GM percussion bank: standard, room, power, electronic, TR-808, jazz, brush.
KITS = {
    "rock": (0, 16, 8),
    "pop": (0, 8),
    "funk": (0, 8, 32),
    "halftime": (0, 16, 25),
    "electronic": (24, 25, 0),
    "ballad": (0, 40, 32),
    "disco": (0, 25),
    "shuffle": (0, 32, 40),
    "waltz": (0, 40),
    "compound": (0, 8, 40),
}


def styles_for(meter: Meter) -> list[str]:
    """The groove styles written for `meter`."""
    return sorted(style for style, name in _GROOVES if name == meter.name)


def drum_bar(
    style: str,
    meter: Meter,
    grid: Grid,
    bar: int,
    energy: float,
    variation: float,
    rng: np.random.Generator,
    ride: bool = False,
) -> list[Note]:
    """One bar of `style` starting at bar index `bar`; `variation` is the chance of each extra or
    dropped kick; `ride` plays the hat line on the ride cymbal (choruses)."""
    kick, snare, hats = _GROOVES[(style, meter.name)]
    steps = len(kick)
    step_seconds = grid.bar / steps
    start = grid.time(bar)
    notes = []
    for key, line in (
        (KICK, kick),
        (SNARE if style != "electronic" else CLAP, snare),
        (RIDE if ride else CLOSED_HAT, hats),
    ):
        for i, mark in enumerate(line):
            play = mark != "."
            if key == KICK and rng.random() < variation:
                play = not play if i % 2 == 0 else play
            if not play:
                continue
            velocity = _VELOCITY.get(mark, 80)
            played = key
            if key in (CLOSED_HAT, RIDE):
                velocity = 70 + (18 if i % (steps // meter.beats) == 0 else 0)
                played = OPEN_HAT if (style == "electronic" and key == CLOSED_HAT) else key
            notes.append(_hit(start + i * step_seconds, played, velocity, energy, rng))
    return notes


def fill(meter: Meter, grid: Grid, bar: int, energy: float, rng: np.random.Generator) -> list[Note]:
    """A fill over the last one or two beats of bar `bar`: snare and toms walking down."""
    beats = 1 if rng.random() < 0.6 else 2
    count = beats * meter.steps_per_beat
    first = meter.steps_per_bar - count
    drums = [SNARE] + list(TOMS[: 2 + rng.integers(4)])
    notes = [_hit(grid.time(bar, first), KICK, 96, energy, rng)]
    for i in range(count):
        if rng.random() < 0.2:
            continue
        drum = drums[min(len(drums) - 1, i * len(drums) // count)]
        notes.append(_hit(grid.time(bar, first + i), drum, 84 + 3 * i, energy, rng))
    return notes


def crash(grid: Grid, bar: int, energy: float, rng: np.random.Generator) -> list[Note]:
    return [_hit(grid.time(bar), CRASH, 110, energy, rng), _hit(grid.time(bar), KICK, 110, energy, rng)]


def percussion_bar(
    meter: Meter, grid: Grid, bar: int, energy: float, rng: np.random.Generator, instrument: int
) -> list[Note]:
    """A tambourine or shaker line: eighths (or every step in compound meters), beats accented."""
    per_beat = 2 if not meter.compound else 3
    step = grid.beat / per_beat
    return [
        _hit(grid.time(bar) + i * step, instrument, 90 if i % per_beat == 0 else 62, energy, rng)
        for i in range(meter.beats * per_beat)
    ]


def _hit(time: float, key: int, velocity: int, energy: float, rng: np.random.Generator) -> Note:
    jitter = float(rng.normal(0.0, 0.004))
    level = velocity * (0.7 + 0.35 * energy) + rng.normal(0.0, 5.0)
    return Note(max(0.0, time + jitter), 0.12, key, int(np.clip(level, 1, 127)))
