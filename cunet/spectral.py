"""The spectral front end shared by training, separation and evaluation.

Every magnitude a model sees or produces goes through `model_magnitude`, so the three jobs
can never disagree. All functions are TensorFlow ops: they run inside `tf.data` graphs and
eagerly on NumPy input alike.

Conventions (for `AudioConfig` a): periodic Hann window of `a.n_fft` samples, hop
`a.hop_length`, no centering (frame t covers samples [t*hop, t*hop + n_fft)), the first
`a.n_fft // 2` bins kept (the Nyquist bin is dropped).

Normalization: magnitudes are divided by `window_sum / 2`, so a full-scale sine
(amplitude 1) peaks at about 1.0 in its bin whatever `n_fft` is. The normalization is a
fixed scale, independent of the signal, so nothing needs undoing after masking.
"""

from __future__ import annotations

import math

import tensorflow as tf

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


def stft(signal, n_fft: int, hop_length: int):
    """Complex STFT. signal (..., samples) float32 -> (..., frames, n_fft // 2 + 1) complex64."""
    return tf.signal.stft(
        tf.convert_to_tensor(signal, tf.float32),
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )


def istft(spectrum, n_fft: int, hop_length: int):
    """Inverse of `stft` by weighted overlap-add.

    spectrum (..., frames, n_fft // 2 + 1) -> (..., (frames - 1) * hop + n_fft) float32.
    Exact where at least n_fft / hop frames overlap, i.e. everywhere but the first and last
    n_fft - hop samples; callers pad their signal by that much on both sides.
    """
    return tf.signal.inverse_stft(
        tf.convert_to_tensor(spectrum, tf.complex64),
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.inverse_stft_window_fn(hop_length, tf.signal.hann_window),
    )


def model_magnitude(signal, audio: AudioConfig):
    """Normalized magnitude at the model's settings.

    signal (..., samples) float32 at `audio.sample_rate` -> (..., frames, n_fft // 2) float32.
    """
    spectrum = stft(signal, audio.n_fft, audio.hop_length)[..., : audio.n_fft // 2]
    return tf.abs(spectrum) / magnitude_scale(audio.n_fft)


def to_patch(frames_by_bins, freq_bins: int):
    """(..., frames, bins) -> the model layout (..., freq_bins, frames, 1)."""
    x = frames_by_bins[..., :freq_bins]
    rank = len(x.shape)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return tf.expand_dims(tf.transpose(x, perm), -1)


def from_patch(patch):
    """The model layout (..., freq_bins, frames, 1) -> (..., frames, freq_bins)."""
    x = tf.squeeze(tf.convert_to_tensor(patch), -1)
    rank = len(x.shape)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return tf.transpose(x, perm)
