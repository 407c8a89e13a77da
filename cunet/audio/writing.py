"""Writing audio: (samples, channels) float32 to wav or flac, block by block, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from cunet.audio.formats import output_format
from cunet.fileio import atomic_path


class AudioWriter:
    """Write (samples, channels) blocks to `path` atomically: the file appears only on `close()`.

    wav is written as 32-bit float (no clipping); flac as 24-bit PCM (clipped to [-1, 1]).
    Use as a context manager; on an exception the partial file is removed.
    """

    def __init__(self, path: Union[str, Path], rate: int, channels: int, fmt: str = "wav"):
        self.path = Path(path)
        self.format, self.subtype = output_format(fmt)
        self.rate, self.channels = int(rate), int(channels)

    def __enter__(self):
        import soundfile as sf

        self._atomic = atomic_path(self.path, suffix=self.path.suffix)
        tmp = self._atomic.__enter__()
        try:
            self.file = sf.SoundFile(
                str(tmp), "w", self.rate, self.channels, subtype=self.subtype, format=self.format
            )
        except Exception as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32)
        if self.subtype.startswith("PCM"):
            block = np.clip(block, -1.0, 1.0)
        self.file.write(_interleaved(block))

    def __exit__(self, *exc):
        self.file.close()
        return self._atomic.__exit__(*exc)


def _interleaved(block: np.ndarray) -> np.ndarray:
    """(samples, channels) in C order. Copied channel by channel when it is a transposed view
    (separation yields (channels, samples).T): about 6x faster than numpy's generic copy."""
    if block.ndim != 2 or block.flags.c_contiguous:
        return block
    out = np.empty(block.shape, np.float32)
    for c in range(block.shape[1]):
        out[:, c] = block[:, c]
    return out


def write_audio(path: Union[str, Path], samples, rate: int, fmt: Optional[str] = None) -> Path:
    """Write (samples, channels) or (samples,) to `path` (wav or flac, by `fmt` or suffix), atomically."""
    path = Path(path)
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    with AudioWriter(path, rate, x.shape[1], fmt or path.suffix.lstrip(".").lower() or "wav") as w:
        w.write(x)
    return path
