"""The STFT of cunet in NumPy/SciPy: no TensorFlow, for separation and evaluation on any host.

`cunet.audio.spectral` holds the TensorFlow twins (`stft`, `model_magnitude`, `to_patch`) that
run on-graph in training; `stft_numpy` equals `spectral.stft` to float precision, so the two
jobs can never disagree. Both functions here run single-threaded: callers parallelize over
blocks.

Conventions (for `AudioConfig` a): periodic Hann window of `a.n_fft` samples, hop
`a.hop_length`, no centering (frame t covers samples [t*hop, t*hop + n_fft)), the first
`a.n_fft // 2` bins kept (the Nyquist bin is dropped).

Normalization: magnitudes are divided by `window_sum / 2`, so a full-scale sine
(amplitude 1) peaks at about 1.0 in its bin whatever `n_fft` is. The normalization is a
fixed scale, independent of the signal, so nothing needs undoing after masking.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from cunet.config import AudioConfig


def patch_samples(audio: AudioConfig, frames: int) -> int:
    """Number of samples whose STFT has exactly `frames` frames."""
    return (frames - 1) * audio.hop_length + audio.n_fft


def input_stft_settings(audio: AudioConfig, rate: int) -> tuple[int, int]:
    """(n_fft, hop) of the full-band STFT at `rate` that model masks are mapped onto.

    The model's window duration scaled to `rate`, rounded to a power of two (at least 16),
    with the model's overlap ratio: 1024 / 256 at 8192 Hz -> 4096 / 1024 at 44100 Hz.
    """
    n_fft = int(2 ** max(4, round(math.log2(max(audio.n_fft * rate / audio.sample_rate, 1.0)))))
    return n_fft, max(1, n_fft * audio.hop_length // audio.n_fft)


def magnitude_scale(n_fft: int) -> float:
    """The normalization divisor: half the sum of the periodic Hann window (= n_fft / 4)."""
    return n_fft / 4.0


def stft_numpy(signal, n_fft: int, hop_length: int) -> np.ndarray:
    """`cunet.audio.spectral.stft` computed with NumPy/SciPy: signal (..., samples) -> (..., frames, n_fft // 2 + 1)
    complex64, equal to `stft` to float precision."""
    x = np.asarray(signal, np.float32)
    if x.shape[-1] < n_fft:
        return np.zeros(x.shape[:-1] + (0, n_fft // 2 + 1), np.complex64)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop_length, :]
    return scipy.fft.rfft(frames * _hann(n_fft), axis=-1).astype(np.complex64, copy=False)


def istft(spectrum, n_fft: int, hop_length: int) -> np.ndarray:
    """Inverse of `stft` by weighted overlap-add (NumPy/SciPy).

    spectrum (..., frames, n_fft // 2 + 1) -> (..., (frames - 1) * hop + n_fft) float32.
    Exact where at least n_fft / hop frames overlap, i.e. everywhere but the first and last
    n_fft - hop samples; callers pad their signal by that much on both sides. The synthesis
    window is the Hann window divided by the overlap-added squared window (TensorFlow's
    `inverse_stft_window_fn`).
    """
    spectrum = np.asarray(spectrum, np.complex64)
    frames = scipy.fft.irfft(spectrum, n=n_fft, axis=-1).astype(np.float32, copy=False)
    count = frames.shape[-2]
    segments = -(-n_fft // hop_length)
    window = _hann(n_fft)
    squares = np.zeros(segments * hop_length, np.float32)
    squares[:n_fft] = window**2
    frames *= window / np.tile(squares.reshape(segments, hop_length).sum(0), segments)[:n_fft]
    lead = frames.shape[:-2]
    if segments * hop_length != n_fft:
        frames = np.concatenate([frames, np.zeros(lead + (count, segments * hop_length - n_fft), np.float32)], -1)
    frames = frames.reshape(lead + (count, segments, hop_length))
    out = np.zeros(lead + (count + segments - 1, hop_length), np.float32)
    for r in range(segments):
        out[..., r : r + count, :] += frames[..., r, :]
    return out.reshape(lead + (-1,))[..., : max(0, (count - 1) * hop_length + n_fft)]


def _hann(n: int) -> np.ndarray:
    """The periodic Hann window of `tf.signal.hann_window`, float32."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def model_magnitude_numpy(signal, audio: AudioConfig) -> np.ndarray:
    """`cunet.audio.spectral.model_magnitude` computed with `stft_numpy` (equal to float precision), for the host."""
    spectrum = stft_numpy(signal, audio.n_fft, audio.hop_length)[..., : audio.n_fft // 2]
    return np.abs(spectrum) / np.float32(magnitude_scale(audio.n_fft))
