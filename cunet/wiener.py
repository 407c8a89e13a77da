"""Wiener post-filter: share the mixture's STFT among sources by their estimated power.

Given magnitude estimates v_j (frames, bins) of sources j = 1..S of a mixture X, each source
gets the complex STFT  Y_j = v_j^p / (sum_k v_k^p + eps) * X  (p = 2: the Wiener gain, the
"soft mask" of Open-Unmix and norbert without EM iterations). The gains are in [0, 1] and sum
to 1 wherever any source is active, so the filtered sources add up to the mixture exactly;
every source keeps the mixture's phase. Pure NumPy, works for any leading axes (channels).
"""

from __future__ import annotations

import numpy as np

EPS = 1e-10


def wiener_gains(magnitudes, power: float = 2.0, eps: float = EPS) -> np.ndarray:
    """magnitudes (S, ...) >= 0 -> gains (S, ...) float32 in [0, 1] summing to 1 (or all 0).

    Where every source is silent (sum below eps) all gains are 0, never NaN.
    """
    v = np.power(np.maximum(np.asarray(magnitudes, np.float32), 0.0), power)
    total = v.sum(axis=0, keepdims=True)
    return np.where(total > eps, v / np.maximum(total, eps), 0.0).astype(np.float32)


def wiener_filter(mixture_stft, magnitudes, power: float = 2.0, eps: float = EPS) -> np.ndarray:
    """mixture_stft (...) complex and magnitudes (S, ...) -> source STFTs (S, ...) complex64."""
    gains = wiener_gains(magnitudes, power, eps)
    return (gains * np.asarray(mixture_stft)[None]).astype(np.complex64)
