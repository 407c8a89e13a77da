"""`FiLM`: feature-wise linear modulation of the encoder, the C-U-Net's conditioning.

Bodies use `keras.ops` only, so the layer runs on any Keras 3 backend.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cunet")
class FiLM(keras.layers.Layer):
    """Feature-wise linear modulation: `gamma * x + beta` (Perez et al. 2018).

    One layer serves both C-U-Net variants: gamma and beta of shape (batch, C) scale and
    shift each channel ("complex" FiLM); of shape (batch, 1) they scale and shift the whole
    feature map ("simple" FiLM). Both broadcast over frequency and time.

    Call arguments:
        inputs: list `[x, gamma, beta]`; x of shape (batch, freq, time, C), gamma and beta
            of shape (batch, C) or (batch, 1).

    Returns:
        A tensor of the shape of x.

    Example:
        >>> x = keras.random.normal((2, 8, 4, 3))
        >>> FiLM()([x, keras.ops.ones((2, 3)), keras.ops.zeros((2, 3))]).shape
        (2, 8, 4, 3)
    """

    def call(self, inputs):
        x, gamma, beta = inputs
        gamma = ops.expand_dims(ops.expand_dims(gamma, 1), 1)
        beta = ops.expand_dims(ops.expand_dims(beta, 1), 1)
        return gamma * x + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return super().get_config()  # no arguments of its own (name, dtype, trainable)
