"""StridedConv2D and StridedConv2DTranspose compute and train exactly like Keras' layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cunet.kernels import convolutions
from cunet.kernels.convolutions import StridedConv2D, StridedConv2DTranspose


def _pair(ours, theirs, input_shape, **kwargs):
    """A Keras layer and ours with the same random weights."""
    layers = [theirs(**kwargs), ours(**kwargs)]
    for layer in layers:
        layer.build(input_shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 1, w.shape).astype(np.float32) for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _outputs_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        weighting = tf.reshape(tf.range(1.0, 1.0 + tf.cast(tf.size(y), tf.float32)), y.shape)
        loss = tf.reduce_sum(y * weighting / tf.cast(tf.size(y), tf.float32))
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, [x] + layer.trainable_weights)]


def _assert_same_as_keras(ours, theirs, x, **kwargs):
    x = tf.constant(x)
    (y_k, g_k), (y_o, g_o) = (_outputs_and_gradients(layer, x) for layer in _pair(ours, theirs, x.shape, **kwargs))
    np.testing.assert_allclose(y_o, y_k, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_o, g_k):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    return y_o


@pytest.mark.parametrize("kernel_size", [5, 4, 3, (5, 3)])
@pytest.mark.parametrize("size", [(8, 6), (7, 5), (16, 12)])
def test_conv2d_equals_keras(kernel_size, size):
    x = np.random.default_rng(1).normal(size=(2, *size, 3)).astype(np.float32)
    y = _assert_same_as_keras(
        StridedConv2D,
        keras.layers.Conv2D,
        x,
        filters=4,
        kernel_size=kernel_size,
        strides=2,
        padding="same",
        activation="relu",
    )
    assert y.shape == (2, -(-size[0] // 2), -(-size[1] // 2), 4)


@pytest.mark.parametrize("kernel_size", [5, 4, 3, (5, 3)])
@pytest.mark.parametrize("filters,size", [(1, (8, 6)), (3, (7, 5)), (6, (4, 3)), (6, (8, 6))])
def test_conv2d_transpose_equals_keras(kernel_size, filters, size):
    # (1, 8x6): sub-pixel forward; (3, 7x5): sub-pixel forward and matrix-product gradients;
    # (6, 4x3): matrix products forward and backward; (6, 8x6): the Keras layer
    x = np.random.default_rng(1).normal(size=(2, *size, 4)).astype(np.float32)
    y = _assert_same_as_keras(
        StridedConv2DTranspose,
        keras.layers.Conv2DTranspose,
        x,
        filters=filters,
        kernel_size=kernel_size,
        strides=2,
        padding="same",
        activation="sigmoid",
    )
    assert y.shape == (2, 2 * size[0], 2 * size[1], filters)


def test_each_form_is_taken(monkeypatch):
    calls = []
    for name in ("conv2d_gemm", "conv2d_transpose"):
        original = getattr(convolutions, name)
        monkeypatch.setattr(convolutions, name, lambda *a, _f=original, _n=name: calls.append((_n, a[2:])) or _f(*a))
    rng = np.random.default_rng(2)
    StridedConv2D(4, 5, strides=2, padding="same")(rng.normal(size=(1, 8, 6, 3)).astype(np.float32))
    StridedConv2D(4, 5, strides=2, padding="same")(rng.normal(size=(1, 16, 12, 3)).astype(np.float32))
    StridedConv2DTranspose(1, 5, strides=2, padding="same")(rng.normal(size=(1, 8, 6, 3)).astype(np.float32))
    StridedConv2DTranspose(8, 5, strides=2, padding="same")(rng.normal(size=(1, 4, 2, 3)).astype(np.float32))
    StridedConv2DTranspose(8, 5, strides=2, padding="same")(rng.normal(size=(1, 8, 6, 3)).astype(np.float32))
    assert calls == [("conv2d_gemm", ()), ("conv2d_transpose", (True, False)), ("conv2d_transpose", (False, True))]


def test_other_settings_are_the_keras_layer():
    x = np.random.default_rng(2).normal(size=(2, 6, 5, 3)).astype(np.float32)
    for ours, theirs in ((StridedConv2D, keras.layers.Conv2D), (StridedConv2DTranspose, keras.layers.Conv2DTranspose)):
        _assert_same_as_keras(ours, theirs, x, filters=2, kernel_size=3, strides=1, padding="valid")


def test_save_and_load(tmp_path):
    inputs = keras.Input((8, 6, 4))
    x = StridedConv2D(8, 5, strides=2, padding="same")(inputs)
    model = keras.Model(inputs, StridedConv2DTranspose(1, 5, strides=2, padding="same")(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).normal(size=(2, 8, 6, 4)).astype(np.float32)
    assert [type(layer) for layer in loaded.layers[1:]] == [StridedConv2D, StridedConv2DTranspose]
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5)
