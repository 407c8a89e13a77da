"""The index spaces of one separation, each with its own name.

A signal of `samples` samples at `rate` is seen on two STFT grids (no centering: frame k covers
samples [k * hop - pad, k * hop - pad + n_fft) with pad = n_fft - hop, so every sample is
covered by whole frames and the inverse STFT is exact on [0, samples)):

- model frames: the STFT at the model's rate and settings (`config.audio`), which the network
  sees in patches;
- patches: `PatchLayout.frames` model frames each, one every `PatchLayout.step` frames from
  frame 0;
- input frames: an STFT of the input at its own rate with about the same window duration
  (`cunet.audio.stft.input_stft_settings`); masks are applied on this grid, and long
  signals are processed in blocks of input frames.

Ranges in every space are half-open `Span`s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cunet.audio.stft import input_stft_settings
from cunet.config import AudioConfig, PatchConfig


@dataclass(frozen=True)
class Span:
    """Indices [start, stop) of one index space (samples, frames or patches)."""

    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class PatchLayout:
    """Patches of `frames` model frames by `freq_bins` bins, overlapping by `overlap_frames`.

    `weights` (frames,) float32 are the trapezoidal overlap-add weights: linear ramps over the
    overlap, 1 in between, always > 0, so overlap-added masks have no seams.
    """

    frames: int
    freq_bins: int
    overlap_frames: int

    @classmethod
    def from_config(cls, patch: PatchConfig, overlap: float) -> "PatchLayout":
        """`overlap`: the fraction of a patch shared with the next one, 0 <= overlap < 1."""
        return cls(patch.frames, patch.freq_bins, min(int(round(overlap * patch.frames)), patch.frames - 1))

    @property
    def step(self) -> int:
        """Model frames from one patch's start to the next one's."""
        return self.frames - self.overlap_frames

    @cached_property
    def weights(self) -> np.ndarray:
        i = np.arange(self.frames, dtype=np.float64)
        ramp = self.overlap_frames + 1
        return np.minimum(1.0, np.minimum((i + 1) / ramp, (self.frames - i) / ramp)).astype(np.float32)

    def count(self, model_frames: int) -> int:
        """Patches needed to cover `model_frames` frames."""
        return 1 + max(0, math.ceil((model_frames - self.frames) / self.step))

    def covering(self, model_frames: Span, patch_count: int) -> Span:
        """The patches that overlap `model_frames`."""
        first = max(0, (model_frames.start - self.frames) // self.step + 1)
        last = min(patch_count - 1, (model_frames.stop - 1) // self.step)
        return Span(first, last + 1)


@dataclass(frozen=True)
class SignalGrid:
    """The sizes of one signal in every index space.

    samples, rate: the input; model_samples, model_frames: at the model's rate; patches: the
    patch count; input_n_fft, input_hop, input_frames: the input-rate STFT.
    """

    samples: int
    rate: int
    model_samples: int
    model_frames: int
    patches: int
    input_n_fft: int
    input_hop: int
    input_frames: int

    @classmethod
    def of(cls, samples: int, rate: int, audio: AudioConfig, layout: PatchLayout) -> "SignalGrid":
        model_samples = samples if rate == audio.sample_rate else int(round(samples * audio.sample_rate / rate))
        model_frames = max(1, (max(model_samples, 1) - 1 + audio.n_fft - audio.hop_length) // audio.hop_length + 1)
        n_fft, hop = input_stft_settings(audio, rate)
        input_frames = (samples - 1 + n_fft - hop) // hop + 1
        return cls(samples, rate, model_samples, model_frames, layout.count(model_frames), n_fft, hop, input_frames)

    @property
    def input_pad(self) -> int:
        """Samples the input STFT's first frame starts before sample 0."""
        return self.input_n_fft - self.input_hop

    def input_samples(self, input_frames: Span) -> Span:
        """The input samples read by the STFT frames `input_frames`."""
        start = input_frames.start * self.input_hop - self.input_pad
        return Span(start, (input_frames.stop - 1) * self.input_hop - self.input_pad + self.input_n_fft)

    def blocks(self, block_seconds: float) -> list[Span]:
        """Consecutive blocks of input frames of about `block_seconds` each, covering the signal."""
        size = max(1, int(round(block_seconds * self.rate / self.input_hop)))
        return [Span(u, min(u + size, self.input_frames)) for u in range(0, self.input_frames, size)]
