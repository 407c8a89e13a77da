"""The whole separation chain written out plainly: one signal at once, one thread, no Wiener.

Read it top to bottom to see what `Separator` computes; tests use it as the oracle for the
block-streaming, threaded path (equal to float precision).
"""

from __future__ import annotations

import numpy as np

import cunet.audio.stft as spectral
from cunet.audio.resample import resample
from cunet.separation.grid import PatchLayout, SignalGrid
from cunet.separation.instruments import conditions, parse_instruments


def separate_reference(masks, config, x: np.ndarray, rate: int, instruments, overlap: float = 0.25) -> dict:
    """x (samples, channels) float32 at `rate`, a `MaskEstimator` and its model's `config` ->
    {spec text: (samples, channels) float32}, as `Separator(masks, config, overlap).separate`."""
    a, layout = config.audio, PatchLayout.from_config(config.patch, overlap)
    grid = SignalGrid.of(len(x), rate, a, layout)
    specs = parse_instruments(instruments, config)
    # 1. resample to the model rate; pad n_fft - hop samples in front so frame 0 ends at sample hop
    y = resample(x, rate, a.sample_rate)[: grid.model_samples]
    frames = (grid.patches - 1) * layout.step + layout.frames  # model frames of all patches
    padded = np.zeros((x.shape[1], (frames - 1) * a.hop_length + a.n_fft), np.float32)
    padded[:, a.n_fft - a.hop_length : a.n_fft - a.hop_length + len(y)] = y.T
    # 2. magnitudes (C, frames, F) cut into patches (P * C, F, T, 1), one every `step` frames
    mags = spectral.model_magnitude_numpy(padded, a)[..., : layout.freq_bins]
    starts = np.arange(grid.patches) * layout.step
    patches = np.stack([mags[:, s : s + layout.frames] for s in starts]).transpose(0, 1, 3, 2)[..., None]
    # 3. the input's STFT at its own rate, with the same padding in front
    pad, hop, n_fft = grid.input_pad, grid.input_hop, grid.input_n_fft
    signal = np.zeros((x.shape[1], (grid.input_frames - 1) * hop + n_fft), np.float32)
    signal[:, pad : pad + len(x)] = x.T
    spectrum = spectral.stft_numpy(signal, n_fft, hop)  # (C, U, K)
    # each input frame's centre in model frames, each input bin's frequency in model bins
    centres = (np.arange(grid.input_frames) * hop - pad + n_fft / 2) / rate
    t = (centres * a.sample_rate + (a.n_fft - a.hop_length) - a.n_fft / 2) / a.hop_length
    t = np.clip(t, 0, grid.model_frames - 1)
    f = np.arange(spectrum.shape[-1]) * rate / n_fft * a.n_fft / a.sample_rate
    inside = f <= layout.freq_bins - 1
    out = {}
    for spec, condition in zip(specs, conditions(specs, config)):
        # 4. patch masks, overlap-added with the trapezoidal weights
        m = masks(patches.reshape(-1, layout.freq_bins, layout.frames, 1), condition)
        m = m.reshape(grid.patches, x.shape[1], layout.freq_bins, layout.frames).transpose(0, 1, 3, 2)
        mask, weight = np.zeros((x.shape[1], frames, layout.freq_bins), np.float32), np.zeros(frames, np.float32)
        for s, patch_mask in zip(starts, m):
            mask[:, s : s + layout.frames] += patch_mask * layout.weights[None, :, None]
            weight[s : s + layout.frames] += layout.weights
        mask = (mask / weight[None, :, None])[:, : grid.model_frames]
        # 5. full band: interpolated in time and frequency, the top octave's mean above the band
        mask = _interpolate(mask, t, axis=1)
        top = mask[:, :, (layout.freq_bins - 1) // 2 :].mean(axis=-1, keepdims=True)
        full = np.concatenate(
            [
                _interpolate(mask, f[inside], axis=2),
                np.broadcast_to(top, top.shape[:2] + (int(np.count_nonzero(~inside)),)),
            ],
            -1,
        )
        # 6. masked input STFT, inverted at the input's rate; the padding cut off
        out[spec.text] = spectral.istft(spectrum * full, n_fft, hop)[:, pad : pad + len(x)].T
    return out


def _interpolate(m: np.ndarray, position: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of `m` along `axis` at fractional indices `position` (ascending)."""
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, m.shape[axis] - 1)
    w = (position - lower).astype(np.float32).reshape([-1] + [1] * (m.ndim - 1 - axis))
    return np.take(m, lower, axis) * (1 - w) + np.take(m, upper, axis) * w
