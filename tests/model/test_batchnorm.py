"""FusedBatchNorm trains exactly like keras.layers.BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cunet.kernels.batchnorm import FusedBatchNorm


def _pair(channels, **kwargs):
    """A Keras BatchNormalization and a FusedBatchNorm with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    layers = [keras.layers.BatchNormalization(**kwargs), FusedBatchNorm(**kwargs)]
    for layer in layers:
        layer.build((None, 6, 5, channels))
    weights = [rng.normal(1, 0.5, w.shape).astype(np.float32) for w in layers[0].get_weights()]
    weights[-1] = np.abs(weights[-1])  # a variance
    for layer in layers:
        layer.set_weights(weights)
    return layers


@pytest.mark.parametrize("kwargs", [{"momentum": 0.9}, {"momentum": 0.5, "center": False, "scale": False}])
def test_training_pass_equals_keras(kwargs):
    x = tf.constant(np.random.default_rng(1).normal(2, 3, (4, 6, 5, 3)).astype(np.float32))
    results = []
    for layer in _pair(3, **kwargs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.range(1.0, 4.0))  # channel-dependent upstream gradient
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append((y.numpy(), [g.numpy() for g in grads], [w.numpy() for w in layer.non_trainable_weights]))
    (y_k, g_k, stats_k), (y_f, g_f, stats_f) = results
    np.testing.assert_allclose(y_f, y_k, atol=1e-5)
    for a, b in zip(g_f, g_k):
        np.testing.assert_allclose(a, b, atol=1e-4)
    for a, b in zip(stats_f, stats_k):  # moving mean and (biased-variance) moving variance
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_inference_and_other_ranks_are_the_keras_layer():
    keras_bn, fused = _pair(3)
    x = np.random.default_rng(2).normal(size=(4, 6, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(fused(x, training=False), keras_bn(x, training=False), atol=1e-6)
    flat = keras.layers.BatchNormalization(), FusedBatchNorm()
    v = np.random.default_rng(3).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_allclose(flat[1](v, training=True), flat[0](v, training=True), atol=1e-6)
