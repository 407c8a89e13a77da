"""16-bit PCM wav files (as MUSDB18-HQ's), written byte for byte the same for the same samples.

A mixture written from a list of stems is the integer sum of the stems' own 16-bit samples, so
the files read back sum exactly (a track's mixture peaks at -1 dBFS: the sum cannot clip)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_PCM = 1
_SCALE = 32768.0  # libsndfile reads a 16-bit sample s as s / 32768
_BLOCK = 1 << 18  # frames interleaved at a time: a few MB of memory whatever the length


def _pcm16(block: np.ndarray) -> np.ndarray:
    """(samples, channels) float -> int32 samples on the 16-bit grid (rounded, clipped)."""
    return np.clip(np.rint(block * _SCALE), -32768, 32767).astype(np.int32)


def write_pcm16_wav(path: Path, audio: np.ndarray | list[np.ndarray], rate: int) -> None:
    """Write `audio` (channels, samples) as little-endian 16-bit PCM wav to `path`; given a list
    of such arrays, write the sum of their 16-bit samples, block by block."""
    arrays = audio if isinstance(audio, list) else [audio]
    channels, frames = arrays[0].shape
    size = frames * channels * 2
    header = b"".join(
        [
            b"RIFF",
            struct.pack("<I", 4 + 24 + 8 + size),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, _PCM, channels, rate, rate * 2 * channels, 2 * channels, 16),
            b"data",
            struct.pack("<I", size),
        ]
    )
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, frames, _BLOCK):
            block = sum(_pcm16(array[:, start : start + _BLOCK].T) for array in arrays)
            f.write(np.clip(block, -32768, 32767).astype("<i2").tobytes())
