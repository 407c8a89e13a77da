"""Sample-rate conversion with soxr, the one resampler of every backend and pipeline."""

from __future__ import annotations

import numpy as np


def resample(x, from_rate: int, to_rate: int, quality: str = "HQ") -> np.ndarray:
    """Resample with soxr at `quality` ("HQ", "VHQ"). x (samples,) or (samples, channels) -> same rank, float32.

    The output has about samples * to_rate / from_rate samples; equal rates return a copy.
    """
    x = np.asarray(x, dtype=np.float32)
    if int(from_rate) == int(to_rate):
        return x.copy()
    if x.shape[0] == 0:
        return np.zeros((0,) + x.shape[1:], np.float32)
    import soxr

    return np.asarray(soxr.resample(x, int(from_rate), int(to_rate), quality=quality), np.float32)
