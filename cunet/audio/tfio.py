"""The optional tensorflow-io audio backend (`pip install '.[tfio]'` from a clone).

tensorflow-io 0.37.1, its last release, loads its native ops only with TensorFlow 2.17.1;
with newer TensorFlow the import fails or the ops do not load. `tfio_status()` tells which,
once per process, and callers fall back to soundfile + soxr with a one-line notice.

Decoding happens in TensorFlow's graph (`tfio.audio.AudioIOTensor`, lazily sliced, so long
files are read block by block): wav, flac, mp3 and ogg. Resampling stays with soxr for every
backend: `tfio.audio.resample` delays its output by about 32 samples and, after that delay
is removed, still differs from soxr by -3 to -27 dB depending on the rate pair (see
docs/BENCHMARKS.md, "Audio decoding"), so results would depend on the backend.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

TFIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
_INT_SCALE = {"int16": 2.0**15, "int32": 2.0**31, "uint8": 2.0**7}


@functools.cache
def tfio_status() -> tuple[bool, str]:
    """(usable, reason): whether tensorflow-io imports and its audio ops run here."""
    try:
        import tensorflow as tf
        import tensorflow_io as tfio

        probe = tfio.audio.resample(tf.zeros((64, 1), tf.float32), rate_in=2, rate_out=1)
        if probe.shape[0] != 32:
            return False, f"tensorflow-io resample gave {probe.shape[0]} samples, expected 32"
    except ImportError:
        return False, "tensorflow-io is not installed (pip install '.[tfio]' from a clone)"
    except Exception as exc:  # NotFoundError and friends when the shared libraries do not load
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return False, f"tensorflow-io {tfio_version()} does not load with tensorflow {tf.__version__} ({first})"
    return True, f"tensorflow-io {tfio.__version__} with tensorflow {tf.__version__}"


def tfio_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tensorflow-io")
    except PackageNotFoundError:
        return "(not installed)"


class TfioFile:
    """A file decoded in-graph by tensorflow-io: `read(start, stop)` -> (n, channels) float32."""

    def __init__(self, path: Path):
        import tensorflow_io as tfio

        self.path = Path(path)
        self.tensor = tfio.audio.AudioIOTensor(str(path))
        self.rate = int(self.tensor.rate.numpy())
        self.frames, self.channels = (int(n) for n in self.tensor.shape.numpy())
        self.dtype = self.tensor.dtype.name

    def read(self, start: int, stop: int) -> np.ndarray:
        data = self.tensor[start:stop].numpy()
        if self.dtype in _INT_SCALE:
            return (data.astype(np.float32) / _INT_SCALE[self.dtype]).astype(np.float32)
        return data.astype(np.float32, copy=False)
