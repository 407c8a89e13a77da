"""Wiener post-filter: share the mixture's STFT among sources by their estimated power.

Given magnitude estimates v_j (frames, bins) of sources j = 1..S of a mixture X, each source
gets the complex STFT  Y_j = v_j^p / (sum_k v_k^p + eps) * X  (p = 2: the Wiener gain, the
"soft mask" of Open-Unmix and norbert without EM iterations). The gains are in [0, 1] and sum
to 1 wherever any source is active, so the filtered sources add up to the mixture exactly;
every source keeps the mixture's phase. Pure NumPy, works for any leading axes (channels).

`expectation_maximization` then refines such estimates with the multichannel Wiener filter
(norbert's EM): each source also gets a spatial covariance matrix, so sources with the same
spectrum but different places in the stereo image are told apart.
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


def expectation_maximization(
    mixture_stft, estimates, iterations: int = 1, eps: float = EPS, chunk_bins: int = 128
) -> np.ndarray:
    """Multichannel Wiener filter refined by EM (Nugraha, Liutkus & Vincent 2016; as norbert).

    mixture_stft (channels, frames, bins) complex, estimates (S, channels, frames, bins)
    complex (e.g. from `wiener_filter`) -> refined estimates of the same shape, complex64.
    Each source j is modelled by a power v_j(t, f) (its mean over channels) and a spatial
    covariance R_j(f) (channels x channels, estimated over the given frames); each iteration
    sets y_j = v_j R_j (sum_k v_k R_k + eps I)^-1 x. The estimates still add up to the
    mixture (up to eps), and the stereo image of every source is used to tell them apart.
    Frequencies are processed in chunks of `chunk_bins` so memory stays small.
    """
    x_all = np.asarray(mixture_stft)
    y_all = np.asarray(estimates)
    out = np.empty(y_all.shape, np.complex64)
    channels = x_all.shape[0]
    eye = np.eye(channels)
    for lo in range(0, x_all.shape[-1], chunk_bins):
        x = np.moveaxis(x_all[..., lo : lo + chunk_bins], 0, -1).astype(np.complex128)  # (T, F, C)
        y = np.moveaxis(y_all[..., lo : lo + chunk_bins], 1, -1).astype(np.complex128)  # (S, T, F, C)
        for _ in range(iterations):
            v = np.mean(np.abs(y) ** 2, axis=-1)  # (S, T, F)
            yt = np.ascontiguousarray(y.transpose(0, 2, 3, 1))  # (S, F, C, T)
            r = (yt @ yt.conj().swapaxes(-1, -2)) / (eps + v.sum(axis=1))[..., None, None]  # (S, F, C, C)
            cxx = np.einsum("stf,sfcd->tfcd", v, r, optimize=True) + eps * eye
            gain_x = (_inverse(cxx) @ x[..., None])[..., 0]  # (T, F, C)
            y = v[..., None] * np.einsum("sfcd,tfd->stfc", r, gain_x, optimize=True)
        out[..., lo : lo + chunk_bins] = np.moveaxis(y, -1, 1)
    return out


def _inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of a stack of C x C matrices (closed form for 2 x 2, the stereo case)."""
    if m.shape[-1] != 2:
        return np.linalg.inv(m)
    a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
    det = a * d - b * c
    return np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / det[..., None, None]


def filter_masks(spectrum: np.ndarray, masks: list, iterations: int = 1) -> list:
    """The Wiener post-filter of one block of separation.

    spectrum (channels, frames, bins) complex, the input STFT; masks [(channels, frames, bins)]
    one per requested estimate. The estimates plus the rest of the mixture (1 - their sum)
    share the spectrum by power, then `iterations` EM steps refine them with each source's
    spatial covariance, estimated over the block. Returns the estimates' STFTs, the rest left out.
    """
    magnitude = np.abs(spectrum)
    rest = np.maximum(0.0, 1.0 - sum(masks))
    gains = wiener_gains([m * magnitude for m in masks] + [rest * magnitude])
    estimates = gains * spectrum[None]
    if iterations > 0:
        estimates = expectation_maximization(spectrum, estimates, iterations)
    return list(estimates[:-1])
