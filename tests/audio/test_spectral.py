"""The shared STFT: the NumPy twin equals the TensorFlow one, and `istft` inverts both."""

import numpy as np
import pytest
import tensorflow as tf

from cunet.audio import spectral


@pytest.mark.parametrize("n_fft, hop, length", [(4096, 1024, 50_000), (1024, 256, 9_000), (1000, 300, 7_001)])
def test_numpy_stft_equals_tensorflow_stft_and_istft_inverts_it(n_fft, hop, length):
    x = np.random.default_rng(0).standard_normal((2, length)).astype(np.float32)
    reference = spectral.stft(x, n_fft, hop).numpy()
    spectrum = spectral.stft_numpy(x, n_fft, hop)
    assert spectrum.shape == reference.shape and spectrum.dtype == np.complex64
    np.testing.assert_allclose(spectrum, reference, atol=1e-6 * np.abs(reference).max())

    y = spectral.istft(spectrum, n_fft, hop)
    assert y.shape == (2, (spectrum.shape[1] - 1) * hop + n_fft) and y.dtype == np.float32
    inner = slice(n_fft, y.shape[1] - n_fft)  # where n_fft / hop frames overlap
    np.testing.assert_allclose(y[:, inner], x[:, inner], atol=1e-5)
    tf_inverse = tf.signal.inverse_stft(
        reference, n_fft, hop, n_fft, window_fn=tf.signal.inverse_stft_window_fn(hop, tf.signal.hann_window)
    ).numpy()
    np.testing.assert_allclose(y, tf_inverse, atol=1e-5)


def test_signals_shorter_than_one_frame_have_no_frames():
    x = np.ones((2, 10), np.float32)
    assert spectral.stft_numpy(x, 16, 4).shape == tuple(spectral.stft(x, 16, 4).shape) == (2, 0, 9)


def test_numpy_model_magnitude_equals_tensorflow_one():
    from cunet.config import AudioConfig

    audio = AudioConfig(sample_rate=8192, n_fft=1024, hop_length=256)
    x = np.random.default_rng(1).standard_normal((2, 20_000)).astype(np.float32)
    reference = spectral.model_magnitude(x, audio).numpy()
    magnitude = spectral.model_magnitude_numpy(x, audio)
    assert magnitude.shape == reference.shape == (2, 75, 512) and magnitude.dtype == np.float32
    np.testing.assert_allclose(magnitude, reference, atol=1e-6 * reference.max())
