"""The song: what music (procedural or MIDI) hands to rendering: timed parts, each bound for a stem."""

from __future__ import annotations

from dataclasses import dataclass, field

from cunet.synth.notes import Note

DRUM_KIT_BANK = 128  # the GM percussion bank (MIDI channel 10)


@dataclass(frozen=True)
class Part:
    """One instrument of a song: its `notes` go to `stem`, played by GM `program` (0-127), or by
    drum kit `program` of the percussion bank when `drums`; `sung` vocal parts are sung by the
    voice (`cunet.synth.voice`) rather than a GM program. `role` says what the part plays
    (lead, chords, arpeggio, pad, groove...)."""

    name: str
    stem: str
    program: int
    notes: tuple[Note, ...]
    drums: bool = False
    sung: bool = False
    role: str = ""

    def describe(self) -> dict:
        return {
            "name": self.name,
            "stem": self.stem,
            "program": self.program,
            "drums": self.drums,
            "sung": self.sung,
            "role": self.role,
            "notes": len(self.notes),
        }


@dataclass(frozen=True)
class Section:
    """A stretch of the song (intro, verse, chorus, bridge, outro) from `start` to `end` seconds;
    `energy` in [0, 1] scales dynamics."""

    name: str
    start: float
    end: float
    energy: float


@dataclass(frozen=True)
class Song:
    """A song ready to render: `parts` over `length` seconds; tempo (BPM), key, mode and meter
    describe it (for the track's JSON); `style` names the groove or the MIDI source."""

    length: float
    parts: tuple[Part, ...]
    tempo: float
    key: str = ""
    mode: str = ""
    meter: str = ""
    style: str = ""
    sections: tuple[Section, ...] = field(default_factory=tuple)
    source: str | None = None

    def describe(self) -> dict:
        return {
            "length": round(self.length, 3),
            "tempo": round(self.tempo, 2),
            "key": self.key,
            "mode": self.mode,
            "meter": self.meter,
            "style": self.style,
            "source": self.source,
            "sections": [
                {"name": s.name, "start": round(s.start, 3), "end": round(s.end, 3), "energy": s.energy}
                for s in self.sections
            ],
            "parts": [p.describe() for p in self.parts],
        }
