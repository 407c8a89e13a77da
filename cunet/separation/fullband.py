"""Full band: model-frame masks mapped onto the STFT of the input, at the input's own rate.

A model mask (channels, model frames, freq_bins) is linearly interpolated in time (seconds,
`TimeMap`) and frequency (Hz, `FrequencyMap`) onto the input STFT grid. Above the model's top
bin (`freq_bins * model_rate / n_fft` Hz, 4 kHz for the paper model) each frame's mask is
extended with its mean over the model's top octave, so cymbals, sibilants and air follow the
instrument they belong to instead of being cut. A mask of 1 returns the input (to float
precision), a mask of 0 silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cunet.config import AudioConfig
from cunet.separation.grid import SignalGrid, Span


@dataclass(frozen=True)
class FrequencyMap:
    """Input STFT bins -> model bins. The first `inside` input bins lie within the model's
    band and interpolate model bins `lower`, `upper` (inside,) by `weight` (inside,); every
    bin above takes the mean of the model's top octave."""

    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray
    inside: int

    @classmethod
    def of(cls, grid: SignalGrid, audio: AudioConfig, freq_bins: int) -> "FrequencyMap":
        freqs = np.arange(grid.input_n_fft // 2 + 1) * grid.rate / grid.input_n_fft
        position = freqs * audio.n_fft / audio.sample_rate  # in model bins
        inside = int(np.count_nonzero(position <= freq_bins - 1))
        position = np.minimum(position, freq_bins - 1)[:inside]
        lower = np.floor(position).astype(int)
        upper = np.minimum(lower + 1, freq_bins - 1)
        return cls(lower, upper, (position - lower).astype(np.float32), inside)


@dataclass(frozen=True)
class TimeMap:
    """Input frames -> model frames, by frame centres in seconds: each input frame interpolates
    model frames `lower`, `upper` (frames,) by `weight` (1, frames, 1); `model_frames` is the
    span they lie in."""

    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, grid: SignalGrid, audio: AudioConfig, input_frames: Span) -> "TimeMap":
        u = np.arange(input_frames.start, input_frames.stop)
        centres = (u * grid.input_hop - grid.input_pad + grid.input_n_fft / 2) / grid.rate  # seconds
        t = (centres * audio.sample_rate + (audio.n_fft - audio.hop_length) - audio.n_fft / 2) / audio.hop_length
        t = np.clip(t, 0, grid.model_frames - 1)
        lower = np.floor(t).astype(int)
        upper = np.minimum(lower + 1, grid.model_frames - 1)
        return cls(lower, upper, (t - lower).astype(np.float32)[None, :, None])

    @property
    def model_frames(self) -> Span:
        return Span(int(self.lower.min()), int(self.upper.max()) + 1)


@dataclass(frozen=True)
class InputMask:
    """A mask on the input STFT grid, kept without its constant top: `band` (channels, frames,
    inside) for the bins within the model's band, `extension` (channels, frames, 1) for every
    bin above."""

    band: np.ndarray
    extension: np.ndarray

    @classmethod
    def of(cls, model_mask: np.ndarray, model_frames: Span, time: TimeMap, freq: FrequencyMap) -> "InputMask":
        """model_mask (channels, len(model_frames), freq_bins) -> its `InputMask`."""
        m = model_mask
        m = (
            m[:, time.lower - model_frames.start] * (1 - time.weight)
            + m[:, time.upper - model_frames.start] * time.weight
        )
        band = m[:, :, freq.lower] * (1 - freq.weight) + m[:, :, freq.upper] * freq.weight
        freq_bins = model_mask.shape[-1]
        top_octave = m[:, :, (freq_bins - 1) // 2 : freq_bins]
        return cls(band, top_octave.mean(axis=-1, keepdims=True))

    def apply(self, spectrum: np.ndarray) -> np.ndarray:
        """spectrum (channels, frames, bins) times this mask, without building the full mask."""
        inside = self.band.shape[-1]
        out = np.empty_like(spectrum)
        np.multiply(spectrum[..., :inside], self.band, out=out[..., :inside])
        np.multiply(spectrum[..., inside:], self.extension, out=out[..., inside:])
        return out

    def full(self, bins: int) -> np.ndarray:
        """This mask as one (channels, frames, bins) array."""
        top = np.broadcast_to(self.extension, self.band.shape[:2] + (bins - self.band.shape[-1],))
        return np.concatenate([self.band, top], -1)
