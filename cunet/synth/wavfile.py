"""32-bit float wav files written byte for byte the same for the same samples.

libsndfile stamps float wavs with a PEAK chunk holding the time of writing, so the same track
rendered twice would differ in its bytes; this writer emits only the fmt, fact and data chunks."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_IEEE_FLOAT = 3
_BLOCK = 1 << 18  # frames interleaved at a time: a few MB of memory whatever the length


def write_float_wav(path: Path, audio: np.ndarray | list[np.ndarray], rate: int) -> None:
    """Write `audio` (channels, samples) as little-endian 32-bit float wav to `path`; given a list
    of such arrays, write their sum (float32, added in list order, block by block)."""
    arrays = audio if isinstance(audio, list) else [audio]
    channels, frames = arrays[0].shape
    size = frames * channels * 4
    header = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + 26 + 12 + 8 + size),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHHH", 18, _IEEE_FLOAT, channels, rate, rate * 4 * channels, 4 * channels, 32, 0),
            b"fact",
            struct.pack("<II", 4, frames),
            b"data",
            struct.pack("<I", size),
        ]
    )
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, frames, _BLOCK):
            block = np.array(arrays[0][:, start : start + _BLOCK].T, dtype="<f4")
            for other in arrays[1:]:
                block += other[:, start : start + _BLOCK].T
            f.write(block.tobytes())
