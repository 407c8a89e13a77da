"""What the training step adds around a model: the spectral front end and the loss.

The input pipeline (`cunet.training.data`, or `cunet.training.sampler` on hosts without
TensorFlow) moves waveform chunks; their magnitude STFTs are computed inside the training step,
on the device that trains. A GPU then does the FFTs, and the CPU pipeline only gathers and mixes
samples. Everything here is `keras.ops`, so it runs on every Keras backend: on TensorFlow
`keras.ops.stft` is `tf.signal.stft` itself, on JAX the same transform (periodic Hann window,
no centering), equal to `cunet.audio.spectral.model_magnitude` to float precision.
"""

from __future__ import annotations

import keras

from cunet.audio import spectral
from cunet.config import AudioConfig, Config
from cunet.model.unet import compile_model


class MagnitudePatch(keras.layers.Layer):
    """Waveform chunks -> normalized magnitude patches (`spectral.model_magnitude`, `to_patch`).

    Args:
        audio: the model's `AudioConfig` (n_fft, hop).
        freq_bins: bins kept (the patch height).

    Call arguments:
        waveform: (batch, samples) float32, samples = `spectral.patch_samples(audio, frames)`.

    Returns:
        (batch, freq_bins, frames, 1) float32, always computed in float32.
    """

    def __init__(self, audio: AudioConfig, freq_bins: int, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.audio = audio
        self.freq_bins = freq_bins

    def call(self, waveform):
        return keras_patch(keras_magnitude(waveform, self.audio), self.freq_bins)


class PatchLoss(keras.losses.Loss):
    """`loss` between an estimate patch and the magnitude patch of the target waveform.

    Call arguments:
        y_true: target waveforms (batch, samples).
        y_pred: estimates (batch, freq_bins, frames, 1).
    """

    def __init__(self, loss: str, audio: AudioConfig, freq_bins: int, **kwargs):
        super().__init__(name=f"patch_{loss}", **kwargs)
        self.loss_fn = keras.losses.get(loss)
        self.front_end = MagnitudePatch(audio, freq_bins)

    def call(self, y_true, y_pred):
        return self.loss_fn(self.front_end(y_true), y_pred)


def keras_magnitude(waveform, audio: AudioConfig):
    """`cunet.audio.spectral.model_magnitude` in `keras.ops` (any backend).

    waveform (..., samples) float32 -> (..., frames, n_fft // 2) float32.
    """
    ops = keras.ops
    real, imag = ops.stft(
        ops.cast(waveform, "float32"), audio.n_fft, audio.hop_length, audio.n_fft, window="hann", center=False
    )
    bins = audio.n_fft // 2  # the Nyquist bin is dropped
    real, imag = real[..., :bins], imag[..., :bins]
    return ops.sqrt(real * real + imag * imag) / spectral.magnitude_scale(audio.n_fft)


def keras_patch(frames_by_bins, freq_bins: int):
    """`cunet.audio.spectral.to_patch` in `keras.ops`: (batch, frames, bins) -> (batch, freq_bins, frames, 1)."""
    return keras.ops.expand_dims(keras.ops.transpose(frames_by_bins[..., :freq_bins], (0, 2, 1)), -1)


def waveform_model(model: keras.Model, config: Config, **compile_kwargs) -> keras.Model:
    """`model` (on magnitude patches) behind the front end, for `fit` on `cunet.training.data` batches.

    Inputs "mixture" (batch, samples) and, for a C-U-Net, "condition" (batch, instruments);
    output the model's estimate patch. The weights are `model`'s own. It comes compiled with
    the config's optimizer and its loss against the target waveforms (`PatchLoss`);
    `compile_kwargs` go to `compile` (e.g. `jit_compile`).
    """
    samples = spectral.patch_samples(config.audio, config.patch.frames)
    mixture = keras.Input((samples,), name="mixture")
    magnitude = MagnitudePatch(config.audio, config.patch.freq_bins, name="front_end")(mixture)
    if config.conditioned:
        condition = keras.Input((len(config.instruments),), name="condition")
        inputs, estimate = [mixture, condition], model([magnitude, condition])
    else:
        inputs, estimate = mixture, model(magnitude)
    trainer = keras.Model(inputs, estimate, name=f"{model.name}_on_waveforms")
    loss = PatchLoss(config.training.loss, config.audio, config.patch.freq_bins)
    compile_model(trainer, config, loss=loss, **compile_kwargs)
    return trainer
