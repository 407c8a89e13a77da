"""The floor and the ceiling of every evaluation table: the mixture and the oracle ratio mask.

- `mixture_estimates`: the mixture itself as the estimate of every target. Any separator
  should beat it; its SDR is what "doing nothing" scores.
- `ideal_ratio_mask_estimates`: the oracle IRM1 of SiSEC 2018 (a magnitude ratio mask
  |S_j| / sum_k |S_k| computed from the true sources, applied to the mixture's STFT, full
  band, at the track's own rate and channels). It is the best any magnitude-masking
  separator with that STFT can do; `cunet.audio.stft.input_stft_settings` gives the STFT a `cunet.Separator`
  masks at the track rate (the model's window duration), so the ceiling is the one of our models.

Arrays are (samples, channels) float32, as everywhere in cunet.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from cunet.audio.stft import istft, stft_numpy

MIXTURE = "baseline-mixture"
IRM = "oracle-irm"
BASELINES = {"mixture": MIXTURE, "irm": IRM}


def mixture_estimates(mixture: np.ndarray, targets: Sequence[str]) -> dict:
    """name -> the mixture (samples, channels) for every target."""
    mixture = np.asarray(mixture, np.float32)
    return {name: mixture.copy() for name in targets}


def ideal_ratio_mask_estimates(
    mixture: np.ndarray,
    sources: Mapping[str, np.ndarray],
    targets: Sequence[str],
    n_fft: int,
    hop: int,
    power: float = 1.0,
) -> dict:
    """Oracle ratio-mask estimates: name -> (samples, channels) float32.

    mixture: (samples, channels); sources: every source of the track (they define the
    denominator of the mask), each (samples, channels). The mask of target j is
    |S_j|^p / sum_k |S_k|^p (p = `power`; 1 is SiSEC's IRM1), applied to the mixture STFT and
    inverted with the shared `cunet.audio.stft.istft`.
    """
    mixture = np.asarray(mixture, np.float32)
    missing = [t for t in targets if t not in sources]
    if missing:
        raise ValueError(f"no true source for target(s) {missing}")
    samples, channels = mixture.shape
    # Pad so every kept sample is covered by n_fft / hop frames (istft is exact there).
    pad = n_fft
    total = samples + 2 * pad
    frames = -(-(total - n_fft) // hop) + 1
    padded_length = (frames - 1) * hop + n_fft

    def spectrum(signal):
        x = np.zeros((channels, padded_length), np.float32)
        x[:, pad : pad + samples] = np.asarray(signal, np.float32).T
        return stft_numpy(x, n_fft, hop)

    eps = np.finfo(np.float32).tiny
    mix_spec = spectrum(mixture)
    magnitudes = {name: np.abs(spectrum(s)) ** power for name, s in sources.items()}
    denominator = sum(magnitudes.values()) + eps
    estimates = {}
    for name in targets:
        mask = magnitudes[name] / denominator
        signal = istft(mix_spec * mask, n_fft, hop)
        estimates[name] = np.ascontiguousarray(signal[:, pad : pad + samples].T, np.float32)
    return estimates
