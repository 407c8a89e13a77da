"""The folded sub-pixel mask block equals the model's last decoder block in inference mode."""

import keras
import numpy as np
import pytest

from cunet.config import load_config
from cunet.kernels.mask_head import split_mask_model
from cunet.model.parts import mask_block_of
from cunet.model.unet import build_model


def _randomized(config, seed=0):
    """Weights scaled up so that the mask varies, and a last BatchNorm with non-trivial
    statistics, so that folding it matters."""
    keras.utils.set_random_seed(seed)
    model = build_model(config, compile=False)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.endswith("conv"):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 10, rng.normal(0, 0.1, bias.shape).astype(np.float32)])
        if layer.name.endswith("_bn"):
            gamma, beta, mean, var = (rng.normal(0, 1, w.shape).astype(np.float32) for w in layer.get_weights())
            layer.set_weights([gamma, beta, mean * 0.1, np.abs(var) * 0.1 + 1e-3])
    return model


@pytest.mark.parametrize("kernel_size", [5, 4, 3])
@pytest.mark.parametrize("kind", ["cunet", "unet"])
def test_folded_head_equals_the_mask_block(kind, kernel_size):
    config = load_config("tiny").replace(
        model={"type": kind, "target": "vocals" if kind == "unet" else None, "kernel_size": kernel_size}
    )
    model = _randomized(config)
    mask_model = keras.Model(model.input, model.mask_block.mask.output)
    body, head = split_mask_model(mask_model, mask_block_of(mask_model))
    assert split_mask_model(model, mask_block_of(model))[0].output.shape == body.output.shape  # the UNet too
    rng = np.random.default_rng(1)
    x = rng.random((3, config.patch.freq_bins, config.patch.frames, 1)).astype(np.float32)
    inputs = [x, rng.random((3, len(config.instruments))).astype(np.float32)] if kind == "cunet" else x
    reference = mask_model(inputs, training=False).numpy()
    folded = head(body(inputs, training=False)).numpy()
    assert folded.shape == reference.shape == x.shape
    assert reference.std() > 0.02  # a mask that varies, not a saturated sigmoid
    # float32: the folded kernel sums in another order; with kernels scaled 10x, pre-sigmoid
    # values differ by up to about 1e-3, masks by a quarter of that
    np.testing.assert_allclose(folded, reference, atol=3e-4)


def test_models_without_the_block_keep_their_mask_layer():
    config = load_config("tiny")
    inputs = keras.Input((config.patch.freq_bins, config.patch.frames, 1))
    mask = keras.layers.Activation("sigmoid", name="mask")(keras.layers.Conv2D(1, 3, padding="same")(inputs))
    plain = keras.Model(inputs, mask)
    assert mask_block_of(plain) is None and split_mask_model(plain, mask_block_of(plain)) is None
