"""Meter and tempo: the step grid that procedural parts are written on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Meter:
    """A time signature as `beats` per bar, each of `steps_per_beat` grid steps (4: sixteenths
    of a quarter beat; 3: eighths of a dotted-quarter beat in compound meters)."""

    name: str
    beats: int
    steps_per_beat: int

    @property
    def steps_per_bar(self) -> int:
        return self.beats * self.steps_per_beat

    @property
    def compound(self) -> bool:
        return self.steps_per_beat == 3


METERS = {
    "4/4": Meter("4/4", 4, 4),
    "3/4": Meter("3/4", 3, 4),
    "6/8": Meter("6/8", 2, 3),
    "12/8": Meter("12/8", 4, 3),
    "5/4": Meter("5/4", 5, 4),
}
METER_WEIGHTS = {"4/4": 0.66, "3/4": 0.1, "6/8": 0.1, "12/8": 0.1, "5/4": 0.04}


@dataclass(frozen=True)
class Grid:
    """Tempo (beats per minute) on a meter: converts steps and bars to seconds."""

    tempo: float
    meter: Meter

    @property
    def step(self) -> float:
        return 60.0 / self.tempo / self.meter.steps_per_beat

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def bar(self) -> float:
        return self.beat * self.meter.beats

    def time(self, bar: int, step: float = 0.0) -> float:
        return bar * self.bar + step * self.step
