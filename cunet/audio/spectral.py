"""The spectral front end shared by training, separation and evaluation: TensorFlow twins.

Every magnitude a model sees or produces goes through `model_magnitude` (or its NumPy twin
`cunet.audio.stft.model_magnitude_numpy`), so the three jobs can never disagree. `stft`,
`model_magnitude` and the patch layout here are TensorFlow ops: they run on-graph in the
training step and eagerly on NumPy input alike. Separation and evaluation work on the host
with `cunet.audio.stft` (the same transform in NumPy/SciPy, equal to float precision), which
imports no TensorFlow; its names are re-exported here. Conventions and normalization: see
`cunet.audio.stft`.
"""

from __future__ import annotations

from cunet.audio.stft import (  # noqa: F401 (the NumPy front end, re-exported for older imports)
    _hann,
    input_stft_settings,
    istft,
    magnitude_scale,
    model_magnitude_numpy,
    patch_samples,
    stft_numpy,
)
from cunet.config import AudioConfig


def stft(signal, n_fft: int, hop_length: int):
    """Complex STFT. signal (..., samples) float32 -> (..., frames, n_fft // 2 + 1) complex64."""
    import tensorflow as tf  # here, not at the top: the NumPy functions serve TensorFlow-free hosts

    return tf.signal.stft(
        tf.convert_to_tensor(signal, tf.float32),
        frame_length=n_fft,
        frame_step=hop_length,
        fft_length=n_fft,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )


def model_magnitude(signal, audio: AudioConfig):
    """Normalized magnitude at the model's settings.

    signal (..., samples) float32 at `audio.sample_rate` -> (..., frames, n_fft // 2) float32.
    """
    import tensorflow as tf

    spectrum = stft(signal, audio.n_fft, audio.hop_length)[..., : audio.n_fft // 2]
    return tf.abs(spectrum) / magnitude_scale(audio.n_fft)


def to_patch(frames_by_bins, freq_bins: int):
    """(..., frames, bins) -> the model layout (..., freq_bins, frames, 1)."""
    import tensorflow as tf

    x = frames_by_bins[..., :freq_bins]
    rank = len(x.shape)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return tf.expand_dims(tf.transpose(x, perm), -1)
