"""The model's side of separation: signal -> magnitude patches -> patch masks -> frame masks.

For a range of patches, the input is resampled to the model rate, turned into normalized
magnitudes by the shared front end (`cunet.audio.stft.model_magnitude_numpy`) and cut into
patches, each channel on its own (every channel gets its own mask); a `MaskEstimator` gives
their masks. `overlap_add` joins patch masks into one mask per model frame with the layout's
trapezoidal weights.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

import cunet.audio.stft as spectral
from cunet.audio.reading import AudioSource
from cunet.audio.resample import resample
from cunet.config import AudioConfig
from cunet.separation.grid import PatchLayout, SignalGrid, Span
from cunet.separation.masks import MaskEstimator


def model_rate_signal(source: AudioSource, grid: SignalGrid, model_rate: int, samples: Span) -> np.ndarray:
    """Model-rate samples `samples` -> (channels, len(samples)) float32, zeros outside the signal.

    Resampling works on input segments aligned to the rates' common period, with a margin, so
    every range sees the same model-rate samples as one resampling of the whole signal.
    """
    a, b = samples.start, samples.stop
    if model_rate == grid.rate:
        return source.read(a, b).T
    g = math.gcd(model_rate, grid.rate)
    period_model, period_input = model_rate // g, grid.rate // g
    margin = max(model_rate // 4, 256)
    seg_start = max(0, ((a - margin) // period_model) * period_model)  # model-rate samples
    seg_stop = -(-(b + margin) // period_model) * period_model
    read_start = seg_start // period_model * period_input  # input samples
    read_stop = min(seg_stop // period_model * period_input, grid.samples)
    out = np.zeros((source.channels, b - a), np.float32)
    if read_stop <= read_start:
        return out
    seg = resample(source.read(read_start, read_stop), grid.rate, model_rate)
    lo, hi = max(a, seg_start), min(b, seg_start + len(seg), grid.model_samples)
    if hi > lo:
        out[:, lo - a : hi - a] = seg[lo - seg_start : hi - seg_start].T
    return out


def patch_magnitudes(
    source: AudioSource, grid: SignalGrid, audio: AudioConfig, layout: PatchLayout, patches: Span
) -> np.ndarray:
    """Magnitude patches `patches` -> (len(patches), channels, freq_bins, frames) float32."""
    pad = audio.n_fft - audio.hop_length
    start = patches.start * layout.step * audio.hop_length - pad
    n_frames = (len(patches) - 1) * layout.step + layout.frames
    stop = start + (n_frames - 1) * audio.hop_length + audio.n_fft
    signal = model_rate_signal(source, grid, audio.sample_rate, Span(start, stop))
    mags = spectral.model_magnitude_numpy(signal, audio)[..., : layout.freq_bins]  # (C, frames, F)
    offsets = [k * layout.step for k in range(len(patches))]
    return np.stack([mags[:, o : o + layout.frames] for o in offsets], axis=1).transpose(1, 0, 3, 2)


def patch_masks(
    estimator: MaskEstimator,
    source: AudioSource,
    grid: SignalGrid,
    audio: AudioConfig,
    layout: PatchLayout,
    conditions: list[Optional[np.ndarray]],
    patches: Span,
) -> list[np.ndarray]:
    """Masks of `patches` for each condition: (len(patches), channels, freq_bins, frames)."""
    mags = patch_magnitudes(source, grid, audio, layout, patches)
    flat = mags.reshape(-1, layout.freq_bins, layout.frames, 1)
    return [estimator(flat, condition).reshape(mags.shape) for condition in conditions]


def overlap_add(masks: dict, layout: PatchLayout, model_frames: Span) -> np.ndarray:
    """Patch masks {patch: (channels, freq_bins, frames)} -> the mask of `model_frames`,
    (channels, len(model_frames), freq_bins): weighted sum over patches / summed weights."""
    length = len(model_frames)
    channels = next(iter(masks.values())).shape[0]
    weight_sum = np.zeros(length, np.float32)
    out = np.zeros((channels, length, layout.freq_bins), np.float32)
    for patch in sorted(masks):
        first = patch * layout.step  # the patch's first model frame
        lo, hi = max(first, model_frames.start), min(first + layout.frames, model_frames.stop)
        if hi <= lo:
            continue
        w = layout.weights[lo - first : hi - first]
        weight_sum[lo - model_frames.start : hi - model_frames.start] += w
        part = masks[patch][:, :, lo - first : hi - first]  # (C, F, hi - lo)
        out[:, lo - model_frames.start : hi - model_frames.start] += part.transpose(0, 2, 1) * w[None, :, None]
    assert np.all(weight_sum > 0), "overlap-add weights must cover every frame"
    return out / weight_sum[None, :, None]
