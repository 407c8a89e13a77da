"""SubPixelConv2DTranspose computes and trains exactly like keras.layers.Conv2DTranspose."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cunet.subpixel import SubPixelConv2DTranspose


def _pair(input_shape, **kwargs):
    """A Keras Conv2DTranspose and a SubPixelConv2DTranspose with the same random weights."""
    layers = [keras.layers.Conv2DTranspose(**kwargs), SubPixelConv2DTranspose(**kwargs)]
    for layer in layers:
        layer.build(input_shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 1, w.shape).astype(np.float32) for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers


@pytest.mark.parametrize("kernel_size", [5, 4, 3, (5, 3)])
@pytest.mark.parametrize("filters,size", [(1, (8, 6)), (3, (7, 5))])
def test_outputs_and_gradients_equal_keras(kernel_size, filters, size):
    x = tf.constant(np.random.default_rng(1).normal(size=(2, *size, 4)).astype(np.float32))
    results = []
    for layer in _pair(x.shape, filters=filters, kernel_size=kernel_size, strides=2, padding="same",
                       activation="sigmoid"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            weighting = tf.reshape(tf.range(1.0, 1.0 + tf.cast(tf.size(y), tf.float32)), y.shape)
            loss = tf.reduce_sum(y * weighting / tf.cast(tf.size(y), tf.float32))
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append((y.numpy(), [g.numpy() for g in grads]))
    (y_k, g_k), (y_s, g_s) = results
    assert y_s.shape == (2, 2 * size[0], 2 * size[1], filters)
    np.testing.assert_allclose(y_s, y_k, atol=1e-5)
    for a, b in zip(g_s, g_k):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_other_settings_are_the_keras_layer():
    x = np.random.default_rng(2).normal(size=(2, 6, 5, 3)).astype(np.float32)
    keras_layer, layer = _pair(x.shape, filters=2, kernel_size=3, strides=1, padding="valid")
    assert not layer._subpixel(tf.constant(x))
    np.testing.assert_allclose(layer(x), keras_layer(x), atol=1e-6)


def test_save_and_load(tmp_path):
    inputs = keras.Input((8, 6, 4))
    model = keras.Model(inputs, SubPixelConv2DTranspose(1, 5, strides=2, padding="same")(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).normal(size=(2, 8, 6, 4)).astype(np.float32)
    assert isinstance(loaded.layers[-1], SubPixelConv2DTranspose)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
