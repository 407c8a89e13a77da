"""Audio in and out: read any format to (samples, channels) float32, write atomically, resample.

Arrays are always shaped (samples, channels), float32, at the file's own rate and channel
count: nothing is downmixed, resampled or truncated on the way in or out.
"""

from __future__ import annotations

import numpy as np


def resample(x, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample with soxr (high quality). x (samples,) or (samples, channels) -> same rank, float32.

    The output has round(samples * to_rate / from_rate) samples; equal rates return a copy.
    """
    x = np.asarray(x, dtype=np.float32)
    if int(from_rate) == int(to_rate):
        return x.copy()
    import soxr

    if x.shape[0] == 0:
        return np.zeros((0,) + x.shape[1:], np.float32)
    return np.asarray(soxr.resample(x, int(from_rate), int(to_rate), quality="HQ"), np.float32)
