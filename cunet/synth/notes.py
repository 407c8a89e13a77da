"""The note: what every stage of the data engine passes on (music or MIDI in, audio out)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """One note: `start` and `duration` in seconds, `pitch` a MIDI number (60 = middle C),
    `velocity` 1-127 as in MIDI."""

    start: float
    duration: float
    pitch: int
    velocity: int = 100

    @property
    def end(self) -> float:
        return self.start + self.duration
