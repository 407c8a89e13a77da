"""FluidSynth rendering of one part, offline and bit-exact: a fresh synthesizer per part.

Every part gets a new `fluid_synth_t` (no voices, tails or block offset left by an earlier part,
so a part sounds the same whatever was rendered before it in the process) sharing the process's
loaded SoundFonts. SoundFonts load with dynamic sample loading; the presets a process has used
recently stay selected on a holder synthesizer, so their samples are decoded once, not per part.
Events are placed on FluidSynth's 64-sample blocks. FluidSynth's own reverb and chorus are off
(effects are `cunet.synth.effects`' job)."""

from __future__ import annotations

import ctypes
from collections import OrderedDict

import numpy as np

from cunet.errors import CunetError
from cunet.synth.song import DRUM_KIT_BANK, Part

RATE = 44100
BLOCK = 64  # FluidSynth's internal block: events take effect on block boundaries
DEBIAN_PACKAGES = "sudo apt-get install fluidsynth fluid-soundfont-gm"
_SETTINGS = {
    "synth.reverb.active": 0,
    "synth.chorus.active": 0,
    "synth.dynamic-sample-loading": 1,
    "synth.polyphony": 256,
    "synth.cpu-cores": 1,
}
_GAIN = 0.5
_DRUM_CHANNEL = 9
_QUIET_LOG_LEVELS = (2, 3, 4)  # FLUID_WARN, FLUID_INFO, FLUID_DBG; errors still print
_DEFAULT_PRESETS = ((0, 0), (DRUM_KIT_BANK, 0))  # what a new synth selects on its channels
_PINNED_PER_SOUNDFONT = 40  # decoded presets kept per SoundFont, one per holder channel
_HOLDER_CHANNELS = _PINNED_PER_SOUNDFONT + 16


class FluidSynthError(CunetError):
    """FluidSynth or a SoundFont is missing or unusable."""


def import_fluidsynth():
    """The pyfluidsynth module with ctypes prototypes set, or a one-line FluidSynthError."""
    try:
        import fluidsynth
    except (ImportError, OSError) as error:
        raise FluidSynthError(f"the FluidSynth library is missing ({error}): {DEBIAN_PACKAGES}") from None
    lib, pointer, integer = fluidsynth._fl, ctypes.c_void_p, ctypes.c_int
    prototypes = {
        "new_fluid_synth": (pointer, [pointer]),
        "delete_fluid_synth": (None, [pointer]),
        "fluid_synth_get_sfont_by_id": (pointer, [pointer, integer]),
        "fluid_synth_add_sfont": (integer, [pointer, pointer]),
        "fluid_synth_remove_sfont": (integer, [pointer, pointer]),
        "fluid_synth_program_select": (integer, [pointer, integer, integer, integer, integer]),
        "fluid_synth_unset_program": (integer, [pointer, integer]),
        "fluid_synth_noteon": (integer, [pointer, integer, integer, integer]),
        "fluid_synth_noteoff": (integer, [pointer, integer, integer]),
        "fluid_synth_write_float": (integer, [pointer, integer, pointer, integer, integer, pointer, integer, integer]),
        "fluid_set_log_function": (pointer, [integer, pointer, pointer]),
    }
    for name, (restype, argtypes) in prototypes.items():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    for level in _QUIET_LOG_LEVELS:  # "no preset on channel n" for every fresh synth, and the like
        lib.fluid_set_log_function(level, None, None)
    return fluidsynth


class SoundFontBank:
    """The SoundFonts one process has loaded (path -> FluidSynth sfont), each on a holder synth."""

    def __init__(self):
        self.fluidsynth = import_fluidsynth()
        self.lib = self.fluidsynth._fl
        self._template = self.fluidsynth.Synth(gain=_GAIN, samplerate=float(RATE), channels=16, **_SETTINGS)
        self._holders: dict[str, tuple[object, int, int]] = {}
        self._pinned: dict[str, OrderedDict[tuple[int, int], int]] = {}

    def _holder(self, path: str):
        if path not in self._holders:
            holder = self.fluidsynth.Synth(gain=_GAIN, samplerate=float(RATE), channels=_HOLDER_CHANNELS, **_SETTINGS)
            sfid = holder.sfload(path)
            if sfid < 0:
                raise FluidSynthError(f"cannot load SoundFont {path}: {DEBIAN_PACKAGES}")
            sfont = self.lib.fluid_synth_get_sfont_by_id(holder.synth, sfid)
            self._holders[path] = (holder, sfid, sfont)
            self._pinned[path] = OrderedDict()
            for bank, program in _DEFAULT_PRESETS:
                self.pin(path, bank, program)
        return self._holders[path]

    def pin(self, path: str, bank: int, program: int) -> None:
        """Keep preset (bank, program) selected on the holder so its samples stay decoded; past
        `_PINNED_PER_SOUNDFONT` presets the least recently used one is released (memory bound)."""
        holder, sfid, _ = self._holder(path)
        pinned = self._pinned[path]
        key = (bank, program)
        if key in pinned:
            pinned.move_to_end(key)
            return
        if len(pinned) >= _PINNED_PER_SOUNDFONT:
            channel = pinned.pop(next(k for k in pinned if k not in _DEFAULT_PRESETS))
            self.lib.fluid_synth_unset_program(holder.synth, channel)
        else:
            channel = len(pinned)
        if self.lib.fluid_synth_program_select(holder.synth, channel, sfid, bank, program) == 0:
            pinned[key] = channel

    def render(self, part: Part, path: str, samples: int) -> np.ndarray:
        """`part` played by SoundFont `path`: (2, samples) float32 at `RATE`."""
        holder, _, sfont = self._holder(path)
        lib = self.lib
        synth = lib.new_fluid_synth(self._template.settings)
        try:
            sfid = lib.fluid_synth_add_sfont(synth, sfont)
            channel, bank, program = _select(lib, synth, sfid, part, path)
            self.pin(path, bank, program)
            return _play(lib, synth, channel, part, samples)
        finally:
            lib.fluid_synth_remove_sfont(synth, sfont)
            lib.delete_fluid_synth(synth)


def _select(lib, synth, sfid: int, part: Part, path: str) -> tuple[int, int, int]:
    """Select the part's preset, falling back to the bank's first preset (kit 0, piano) where the
    SoundFont lacks it; returns (channel, bank, program)."""
    channel = _DRUM_CHANNEL if part.drums else 0
    bank = DRUM_KIT_BANK if part.drums else 0
    for program in (part.program, 0):
        if lib.fluid_synth_program_select(synth, channel, sfid, bank, program) == 0:
            return channel, bank, program
    raise FluidSynthError(
        f"SoundFont {path} has neither bank {bank} program {part.program} nor program 0 "
        "of that bank: give General MIDI SoundFonts"
    )


def _events(part: Part, samples: int) -> list[tuple[int, int, int, int]]:
    """(block-aligned sample, order, pitch, velocity) sorted; order 0 note-off before 1 note-on."""
    events = []
    for note in part.notes:
        start = int(round(note.start * RATE / BLOCK)) * BLOCK
        end = max(start + BLOCK, int(round(note.end * RATE / BLOCK)) * BLOCK)
        if start >= samples or not 0 <= note.pitch <= 127:
            continue
        events.append((start, 1, note.pitch, max(1, min(127, note.velocity))))
        events.append((end, 0, note.pitch, 0))
    events.sort()
    return events


def _play(lib, synth, channel: int, part: Part, samples: int) -> np.ndarray:
    total = -(-samples // BLOCK) * BLOCK
    out = np.zeros((2, total), np.float32)
    left, right, stride = out[0].ctypes.data, out[1].ctypes.data, out.strides[1]
    position = 0
    sounding: dict[int, int] = {}  # pitch -> note-ons not yet ended (overlapping same pitches)
    for sample, kind, pitch, velocity in _events(part, total):
        sample = min(sample, total)
        if sample > position:
            _write(lib, synth, left + position * stride, right + position * stride, sample - position)
            position = sample
        if kind == 1:
            lib.fluid_synth_noteon(synth, channel, pitch, velocity)
            sounding[pitch] = sounding.get(pitch, 0) + 1
        else:
            sounding[pitch] -= 1
            if sounding[pitch] == 0:
                lib.fluid_synth_noteoff(synth, channel, pitch)
    if total > position:
        _write(lib, synth, left + position * stride, right + position * stride, total - position)
    return out[:, :samples]


def _write(lib, synth, left: int, right: int, frames: int) -> None:
    lib.fluid_synth_write_float(synth, frames, left, 0, 1, right, 0, 1)


_BANK: SoundFontBank | None = None


def bank() -> SoundFontBank:
    """This process's SoundFontBank (one per worker process)."""
    global _BANK
    if _BANK is None:
        _BANK = SoundFontBank()
    return _BANK
