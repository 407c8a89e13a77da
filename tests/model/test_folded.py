"""Decoder blocks folded for export: both transposed-convolution forms and the folded model
equal Keras' layers in inference mode, and LiteRT runs the folded export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cunet.config import load_config
from cunet.kernels import folded
from cunet.kernels.convolutions import conv_transpose_subpixel
from cunet.kernels.folded import FoldedConv2DTranspose, conv_transpose_phases, folded_model
from model_fixtures import TINY_VARIANTS, randomize


@pytest.mark.parametrize("form", ["phases", "subpixel"])
@pytest.mark.parametrize("kernel_size", [5, 4, 3, (5, 3)])
@pytest.mark.parametrize("size", [(8, 6), (7, 5)])
def test_both_forms_equal_keras_transposed_convolution_with_bias_and_relu(form, kernel_size, size):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, *size, 5)).astype(np.float32)
    layer = keras.layers.Conv2DTranspose(6, kernel_size, strides=2, padding="same", activation="relu")
    layer.build(x.shape)
    kernel = rng.normal(size=tuple(layer.kernel.shape)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    layer.set_weights([kernel, bias])
    if form == "phases":
        got = conv_transpose_phases(tf.constant(x), kernel, bias, relu=True)
    else:
        got = conv_transpose_subpixel(tf.constant(x), tf.constant(kernel), tf.constant(bias), relu=True)
    expected = np.asarray(layer(x))
    assert got.shape == expected.shape == (2, 2 * size[0], 2 * size[1], 6)
    assert (expected == 0).mean() > 0.2 and (expected > 0).mean() > 0.2  # the ReLU is exercised
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4, rtol=1e-4)


def _tiny(variant):
    from cunet.model.unet import build_model

    config = load_config("tiny").replace(model=TINY_VARIANTS[variant])
    model = build_model(config, compile=False)
    randomize(model, seed=7)
    return model, config


def _inputs(model, config, n=3):
    rng = np.random.default_rng(0)
    patches = rng.uniform(0, 2, (n, config.patch.freq_bins, config.patch.frames, 1)).astype("float32")
    if not config.conditioned:
        return patches
    return [patches, np.tile(np.array([[0, 1, 0, 0.5]], "float32"), (n, 1))]


@pytest.mark.parametrize("phases_min_filters", [1, 1000])  # every block in one form, then the other
@pytest.mark.parametrize("variant", sorted(TINY_VARIANTS))
def test_folded_model_equals_the_model_in_inference_mode(variant, phases_min_filters, monkeypatch):
    monkeypatch.setattr(folded, "PHASES_MIN_FILTERS", phases_min_filters)
    model, config = _tiny(variant)
    copy = folded_model(model)
    blocks = [layer for layer in copy.layers if isinstance(layer, FoldedConv2DTranspose)]
    assert len(blocks) == config.model.n_layers  # every decoder block, the mask block included
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith("decoder") for layer in copy.layers
    )
    assert [b.relu for b in blocks] == [True] * (config.model.n_layers - 1) + [False]  # not before the sigmoid
    x = _inputs(model, config)
    expected = np.asarray(model(x, training=False))
    assert expected.std() > 0.01
    np.testing.assert_allclose(np.asarray(copy(x, training=False)), expected, atol=1e-5, rtol=1e-4)
    # the source model is untouched
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith("decoder")
        for layer in model.layers
    )


def test_a_transposed_convolution_with_another_consumer_is_not_folded():
    inputs = keras.Input((8, 6, 3))
    y = keras.layers.Conv2DTranspose(4, 5, strides=2, padding="same")(inputs)
    normalized = keras.layers.ReLU()(keras.layers.BatchNormalization()(y))
    model = keras.Model(inputs, keras.layers.Concatenate()([normalized, y]))
    copy = folded_model(model)
    assert not any(isinstance(layer, FoldedConv2DTranspose) for layer in copy.layers)
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(model(x)), atol=1e-6)


def test_litert_runs_the_phases_form(monkeypatch, tmp_path):
    from cunet.model.export import export_tflite, mask_network
    from cunet.separation.litert import LiteRTMasks

    monkeypatch.setattr(folded, "PHASES_MIN_FILTERS", 1)  # the tiny model's blocks have 1 to 8 filters
    model, config = _tiny("cunet")
    tflite = export_tflite(model, config, tmp_path / "model.tflite")
    patches, conditions = _inputs(model, config, n=4)
    expected = np.asarray(mask_network(model)([patches, conditions], training=False))[..., 0]
    got = LiteRTMasks(tflite, config, batch_size=3)(patches, conditions[0])
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
