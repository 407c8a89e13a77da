"""`FusedBatchNorm`: Keras' BatchNormalization, trained with TensorFlow's fused kernel."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="cunet")
class FusedBatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training pass runs as one fused TensorFlow op.

    Same weights, configuration, normalization and moving-average update as the Keras layer
    (tests compare outputs, moving statistics and gradients). Keras computes a training pass
    from a dozen elementwise ops and their gradients; on the TensorFlow backend this layer
    uses `FusedBatchNormV3` and its fused gradient instead, which makes a training step of
    the paper model about 9 % faster on a 2-core CPU (docs/BENCHMARKS.md). Everything else
    (inference, other backends, float16 inputs, other ranks, renorm, synchronized statistics)
    is the Keras layer unchanged.

    Call arguments:
        inputs: (batch, freq, time, C) for the fused path (channels last); any shape otherwise.
        training: batch statistics (and a moving-average update) when True.

    Returns:
        A tensor of the shape of inputs.
    """

    def _fused(self, inputs, training) -> bool:
        return (
            bool(training)
            and self.trainable
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and inputs.dtype == "float32"
            and not self.renorm
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if mask is not None or not self._fused(inputs, training):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones((channels,))
        offset = self.beta if self.center else tf.zeros((channels,))
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=scale,
            offset=offset,
            mean=tf.zeros((0,)),
            variance=tf.zeros((0,)),
            epsilon=self.epsilon,
            is_training=True,
        )
        # the op returns the unbiased variance; Keras averages the biased one
        count = tf.cast(tf.size(inputs) // channels, tf.float32)
        variance = variance * (count - 1) / tf.maximum(count, 1.0)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        return outputs
